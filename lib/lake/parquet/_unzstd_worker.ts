/**
 * The thread of {@linkcode UnzstdPool} (`unzstd_pool.ts`): claims the job's pages in order
 * (while the reader holds fewer than the ring's slots), decompresses each into its slot of
 * the ring with the reader's own `zstdDecompressInto`, records which page the slot holds and
 * counts a beat. Posts no message. On an error outside a page it sets the dead word and ends.
 * @module
 */
import { workerData } from "node:worker_threads";
import { RING_SLOTS, TABLE_WORDS, type UnzstdLayout, WORD } from "./_unzstd_slots.ts";
import { EXIT_SILENTLY, honourWorkerFault } from "./_workers.ts";
import { zstdDecompressInto } from "./_zstd_into.ts";

const layout = workerData as UnzstdLayout;
const control = new Int32Array(layout.control);
const table = new Int32Array(layout.table);
const input = new Uint8Array(layout.input);
const ring = new Uint8Array(layout.ring);

/** Decompresses page `i` into its slot; the slot's page word (`i`, or `-2 - i` if not). */
function decompress(i: number, slot: Uint8Array): number {
  const [at, length, raw] = [
    table[i * TABLE_WORDS],
    table[i * TABLE_WORDS + 1],
    table[i * TABLE_WORDS + 2],
  ];
  if (raw + 1 > slot.length) return -2 - i;
  try {
    const out = zstdDecompressInto(input.subarray(at, at + length), raw, slot);
    if (out.buffer !== slot.buffer) slot.set(out);
    return i;
  } catch {
    return -2 - i; // The reader decompresses the page itself (and meets the error there).
  }
}

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
    const bytes = Atomics.load(control, WORD.slotBytes);
    const s = i % RING_SLOTS;
    const page = decompress(i, ring.subarray(s * bytes, (s + 1) * bytes));
    Atomics.store(control, WORD.slotPage(s), page);
    Atomics.store(control, WORD.busy, 0);
    Atomics.add(control, WORD.beat, 1);
    Atomics.notify(control, WORD.slotPage(s));
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
