/**
 * The thread of {@linkcode UnzstdPool} (`unzstd_pool.ts`): claims the job's pages in order
 * (while the reader holds fewer than the ring's slots), decompresses each into its slot of
 * the ring ({@linkcode makePage}, which the reader also calls for pages it claims ahead)
 * and counts a beat. Posts no message. On an error outside a page it sets the dead word and ends.
 * @module
 */
import { workerData } from "node:worker_threads";
import { makePage, RING_SLOTS, type UnzstdLayout, viewsOf, WORD } from "./_unzstd_slots.ts";
import { EXIT_SILENTLY, honourWorkerFault } from "./_workers.ts";

const views = viewsOf(workerData as UnzstdLayout);
const control = views.control;

/** Claims and decompresses pages while there are some and a slot is free; whether it did. */
function work(): boolean {
  let worked = false;
  for (;;) {
    const i = Atomics.load(control, WORD.next);
    if (i >= Atomics.load(control, WORD.count)) return worked;
    if (i >= Atomics.load(control, WORD.consumed) + RING_SLOTS) return worked;
    Atomics.store(control, WORD.busy, 1);
    if (Atomics.compareExchange(control, WORD.next, i, i + 1) !== i) {
      Atomics.store(control, WORD.busy, 0);
      continue;
    }
    honourWorkerFault(control, WORD.fault, "unzstd worker");
    makePage(views, i);
    Atomics.store(control, WORD.busy, 0);
    Atomics.add(control, WORD.beat, 1);
    Atomics.notify(control, WORD.busy);
    worked = true;
  }
}

/** Serves jobs until an error. */
function serve(): never {
  Atomics.store(control, WORD.ready, 1);
  for (;;) {
    const seen = Atomics.load(control, WORD.wake);
    if (!work()) Atomics.wait(control, WORD.wake, seen);
  }
}

try {
  serve();
} catch (error) {
  if (error !== EXIT_SILENTLY) {
    Atomics.store(control, WORD.dead, 1);
    Atomics.store(control, WORD.busy, 0);
    for (let s = 0; s < RING_SLOTS; s++) Atomics.notify(control, WORD.slotPage(s));
    Atomics.notify(control, WORD.busy);
    throw error;
  }
}
