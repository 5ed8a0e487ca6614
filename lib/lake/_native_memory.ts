/**
 * Releases the native memory of Polars frames the lake is done with. nodejs-polars frees a
 * frame's native buffers only when V8 collects its JS wrapper, and a process whose JS heap
 * stays small (book events held as typed arrays) rarely runs the full collection that
 * reaches wrappers which outlived a few minor ones: the native memory of every write piles
 * up. {@linkcode NativeMemory.used} counts the bytes of frames made and, past a threshold,
 * and past the JS heap's size runs a full collection (V8's `gc`, exposed through `node:v8`
 * flags; it costs about a millisecond per MB of JS heap).
 * @module
 */
import v8 from "node:v8";
import vm from "node:vm";

let collect: (() => void) | undefined | null;

/** V8's full collection, or `null` when the runtime does not expose it. */
function fullCollection(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc");
    collect = typeof gc === "function" ? gc as () => void : null;
  } catch {
    collect = null;
  }
  return collect;
}

/** Counts native bytes made and collects past `threshold` (see the module documentation). */
export class NativeMemory {
  readonly #threshold: number;
  #made = 0;
  /** Full collections run so far. */
  collections = 0;

  constructor(threshold = 32 * 1024 * 1024) {
    if (!(threshold > 0)) throw new RangeError(`threshold must be > 0, got ${threshold}`);
    this.#threshold = threshold;
  }

  /** Notes `bytes` of native frames made (and dropped); collects past the threshold. */
  used(bytes: number): void {
    this.#made += bytes;
    if (this.#made < this.#threshold) return;
    // A full collection costs about the JS heap's size: not more often than native bytes
    // of that size are made (a process holding a large heap pays no more than it frees).
    if (this.#made < Deno.memoryUsage().heapUsed) return;
    this.#made = 0;
    const gc = fullCollection();
    if (gc) {
      gc();
      this.collections++;
    }
  }
}
