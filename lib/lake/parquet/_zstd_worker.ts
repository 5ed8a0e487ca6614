/**
 * The thread of {@linkcode ZstdPool} (`zstd_pool.ts`): waits on the pool's control words,
 * compresses each submitted slot's input with `zstdCompressSync` at the pool's level (the
 * same call the encoder makes on its own thread, so the bytes are the same), writes the
 * result into the slot's output and marks the slot done. Posts no message: the encoder
 * reads the slots' states (`Atomics`).
 * @module
 */
import { workerData } from "node:worker_threads";
import { constants, zstdCompressSync } from "node:zlib";
import { type PoolLayout, SLOT } from "./_zstd_slots.ts";

const layout = workerData as PoolLayout;
const control = new Int32Array(layout.control);
const options = { params: { [constants.ZSTD_c_compressionLevel]: layout.level } };

Atomics.store(control, SLOT.ready, 1);
Atomics.notify(control, SLOT.ready);
for (;;) {
  const seen = Atomics.load(control, SLOT.wake);
  let worked = false;
  for (let s = 0; s < layout.slots.length; s++) {
    if (Atomics.load(control, SLOT.state(s)) !== SLOT.SUBMITTED) continue;
    worked = true;
    const { input, output } = layout.slots[s];
    const length = Atomics.load(control, SLOT.inputLength(s));
    let state: number = SLOT.FAILED;
    try {
      const compressed = zstdCompressSync(new Uint8Array(input, 0, length), options);
      if (compressed.length <= output.byteLength) {
        new Uint8Array(output).set(compressed);
        Atomics.store(control, SLOT.outputLength(s), compressed.length);
        state = SLOT.DONE;
      }
    } catch {
      // The encoder compresses the page itself.
    }
    Atomics.store(control, SLOT.state(s), state);
    Atomics.notify(control, SLOT.state(s));
  }
  if (!worked) Atomics.wait(control, SLOT.wake, seen);
}
