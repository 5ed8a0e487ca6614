/**
 * The thread of {@linkcode ZstdPool} (`zstd_pool.ts`): waits on the pool's control words,
 * compresses each submitted slot's input with `zstdCompressSync` at the pool's level (the
 * same call the encoder makes on its own thread, so the bytes are the same), writes the
 * result into the slot's output, marks the slot done and counts a beat. Posts no message:
 * the encoder reads the slots' states (`Atomics`). On an error outside a page's compression
 * it sets the dead word (the encoder then compresses every page itself) and ends.
 * @module
 */
import { workerData } from "node:worker_threads";
import { constants, zstdCompressSync } from "node:zlib";
import { type PoolLayout, SLOT } from "./_zstd_slots.ts";
import { EXIT_SILENTLY, honourWorkerFault } from "./_workers.ts";

const layout = workerData as PoolLayout;
const control = new Int32Array(layout.control);
const options = { params: { [constants.ZSTD_c_compressionLevel]: layout.level } };

/** Honours a test's fault request, before a page. */
function fault(): void {
  honourWorkerFault(control, SLOT.fault, "zstd worker");
}

/** Compresses slot `s` into its output; returns its new state. */
function compress(s: number): number {
  const { input, output } = layout.slots[s];
  const length = Atomics.load(control, SLOT.inputLength(s));
  try {
    const compressed = zstdCompressSync(new Uint8Array(input, 0, length), options);
    if (compressed.length > output.byteLength) return SLOT.FAILED;
    new Uint8Array(output).set(compressed);
    Atomics.store(control, SLOT.outputLength(s), compressed.length);
    return SLOT.DONE;
  } catch {
    return SLOT.FAILED; // The encoder compresses the page itself.
  }
}

/** Serves slots until an error. */
function serve(): never {
  Atomics.store(control, SLOT.ready, 1);
  Atomics.notify(control, SLOT.ready);
  for (;;) {
    const seen = Atomics.load(control, SLOT.wake);
    let worked = false;
    for (let s = 0; s < layout.slots.length; s++) {
      if (Atomics.load(control, SLOT.state(s)) !== SLOT.SUBMITTED) continue;
      fault();
      worked = true;
      Atomics.store(control, SLOT.state(s), compress(s));
      Atomics.add(control, SLOT.beat, 1);
      Atomics.notify(control, SLOT.state(s));
    }
    if (!worked) Atomics.wait(control, SLOT.wake, seen);
  }
}

try {
  serve();
} catch (error) {
  if (error !== EXIT_SILENTLY) {
    Atomics.store(control, SLOT.dead, 1);
    for (let s = 0; s < layout.slots.length; s++) Atomics.notify(control, SLOT.state(s));
    throw error;
  }
}
