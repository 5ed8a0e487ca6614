/**
 * A second thread for page compression: {@linkcode ZstdPool} hands a page's bytes to a
 * worker thread (`_zstd_worker.ts`) through shared memory, so the encoder makes the next
 * pages while zstd compresses this one. The worker calls the same `zstdCompressSync` at the
 * same level as the encoder's own compressor, so a file's bytes do not depend on which
 * thread compressed which page.
 *
 * No message is sent either way (the slots' states are read with `Atomics`), no promise is
 * left pending and the worker is `unref`'d: it never keeps a process alive. It is started
 * on the first large page of a process ({@linkcode zstdPool}), and used once it is ready;
 * until then, and whenever every slot is busy, the encoder compresses on its own thread.
 *
 * A worker that dies (an error) or makes no progress for `workerStallMs()` while the
 * encoder waits for it is abandoned for good: it is terminated, dropped (the next large page
 * starts a new one, with new shared memory: a stalled thread may still write into the old),
 * and the encoder compresses the pages it held itself, to the same bytes. The encoder cannot
 * see a worker's `error` event while it waits (it waits with `Atomics.wait`), hence a
 * deadline measured as time without progress rather than an event.
 *
 * @example
 * ```ts
 * import { zstdPool } from "./zstd_pool.ts";
 * const pool = zstdPool(3); // undefined until the worker is ready
 * if (pool !== undefined) {
 *   const slot = pool.take();
 *   if (slot >= 0) {
 *     pool.submit(slot, new Uint8Array(4096));
 *     pool.result(slot); // the compressed bytes (a view, valid until release)
 *     pool.release(slot);
 *   }
 * }
 * ```
 * @module
 */
import { Worker } from "node:worker_threads";
import { type PoolLayout, SLOT } from "./_zstd_slots.ts";
import {
  awaitWorker,
  mayStartWorker,
  noteWorkerAbandoned,
  setWorkerFault,
  type WorkerFault,
} from "./_workers.ts";

/** Slots: pages in flight to the worker at once. */
const SLOTS = 3;
/** Bytes of a slot's input and of its output: a page of about 1 MiB with its levels. */
const SLOT_BYTES = 3 << 19;
/** Pages smaller than this are compressed in place (and do not start the worker). */
export const POOL_MIN_BYTES = 64 * 1024;

/** A worker compressing pages in shared slots (see the module documentation). */
export class ZstdPool {
  readonly level: number;
  readonly #control: Int32Array;
  readonly #inputs: Uint8Array[];
  readonly #outputs: Uint8Array[];
  /** Slots handed out by `take` and not yet released. */
  readonly #taken: boolean[];
  readonly #worker: Worker;
  /** Pages submitted so far. */
  submitted = 0;
  #abandoned = false;

  constructor(level: number) {
    this.level = level;
    const control = new SharedArrayBuffer(4 * SLOT.words(SLOTS));
    const slots = Array.from({ length: SLOTS }, () => ({
      input: new SharedArrayBuffer(SLOT_BYTES),
      output: new SharedArrayBuffer(SLOT_BYTES),
    }));
    this.#control = new Int32Array(control);
    this.#inputs = slots.map((s) => new Uint8Array(s.input));
    this.#outputs = slots.map((s) => new Uint8Array(s.output));
    this.#taken = slots.map(() => false);
    const layout: PoolLayout = { control, level, slots };
    this.#worker = new Worker(new URL("./_zstd_worker.ts", import.meta.url), {
      workerData: layout,
    });
    this.#worker.unref();
    this.#worker.on("error", () => this.#abandon());
  }

  /** Whether the worker is waiting for work. */
  get ready(): boolean {
    if (Atomics.load(this.#control, SLOT.dead) === 1) this.#abandon();
    return !this.#abandoned && Atomics.load(this.#control, SLOT.ready) === 1;
  }

  /** Whether the pool was given up (its worker died or stalled); it takes no more pages. */
  get abandoned(): boolean {
    return this.#abandoned;
  }

  /** Largest page a slot takes. */
  get capacity(): number {
    return SLOT_BYTES;
  }

  /** A free slot (now taken), or -1 when every slot is in use. */
  take(): number {
    if (this.#abandoned) return -1;
    for (let s = 0; s < SLOTS; s++) {
      if (!this.#taken[s]) {
        this.#taken[s] = true;
        return s;
      }
    }
    return -1;
  }

  /** Copies `bytes` (at most {@linkcode ZstdPool.capacity}) into `slot` for the worker. */
  submit(slot: number, bytes: Uint8Array): void {
    if (bytes.length > SLOT_BYTES) throw new RangeError("ZstdPool: page larger than a slot");
    this.#inputs[slot].set(bytes);
    Atomics.store(this.#control, SLOT.inputLength(slot), bytes.length);
    this.submitted++;
    Atomics.store(this.#control, SLOT.state(slot), SLOT.SUBMITTED);
    Atomics.add(this.#control, SLOT.wake, 1);
    Atomics.notify(this.#control, SLOT.wake);
  }

  /**
   * Waits for `slot`'s result: its compressed bytes (a view of the slot, valid until
   * {@linkcode ZstdPool.release}), or `undefined` when the worker could not compress them
   * into the slot (too large, or an error) or was abandoned (it died, or made no progress
   * for `workerStallMs()`): the caller compresses {@linkcode ZstdPool.input} itself.
   */
  result(slot: number): Uint8Array | undefined {
    const control = this.#control;
    const at = SLOT.state(slot);
    if (!this.#abandoned) {
      const wait = awaitWorker(control, {
        at,
        done: () => Atomics.load(control, at) !== SLOT.SUBMITTED,
        dead: () => Atomics.load(control, SLOT.dead) === 1,
        progress: () => Atomics.load(control, SLOT.beat),
      });
      if (wait !== "done") this.#abandon();
    }
    if (this.#abandoned || Atomics.load(control, at) !== SLOT.DONE) return undefined;
    return this.#outputs[slot].subarray(0, Atomics.load(control, SLOT.outputLength(slot)));
  }

  /** Whether `slot`'s result is there (or the pool was abandoned), without waiting. */
  done(slot: number): boolean {
    return this.#abandoned || Atomics.load(this.#control, SLOT.state(slot)) !== SLOT.SUBMITTED;
  }

  /**
   * The bytes submitted to `slot` (to compress them here when the worker could not). The
   * worker only reads inputs, so they stay intact after the pool is abandoned.
   */
  input(slot: number): Uint8Array {
    return this.#inputs[slot].subarray(0, Atomics.load(this.#control, SLOT.inputLength(slot)));
  }

  /** Frees `slot` (after its result is written). */
  release(slot: number): void {
    if (!this.#abandoned) Atomics.store(this.#control, SLOT.state(slot), SLOT.IDLE);
    this.#taken[slot] = false;
  }

  /**
   * For tests: makes the worker stall before its next page (`"stall"`, until `"none"`),
   * throw there (`"throw"`: it ends with an error), or end there silently (`"exit"`, as a
   * thread that stops running), without the pool knowing.
   */
  injectFault(fault: WorkerFault): void {
    setWorkerFault(this.#control, SLOT.fault, fault);
  }

  /** Gives the worker up for good: terminated, and no longer the process's pool. */
  #abandon(): void {
    if (this.#abandoned) return;
    this.#abandoned = true;
    noteWorkerAbandoned();
    if (pools.get(this.level) === this) pools.delete(this.level);
    this.#worker.terminate().catch(() => {});
  }
}

const pools = new Map<number, ZstdPool>();

/**
 * The process's pool for zstd `level` when its worker is ready; otherwise `undefined`, and
 * the worker is started (on the first call) for later pages.
 */
export function zstdPool(level: number): ZstdPool | undefined {
  let pool = pools.get(level);
  if (pool !== undefined && !pool.ready && pool.abandoned) pool = undefined;
  if (pool === undefined) {
    if (!mayStartWorker()) return undefined;
    pool = new ZstdPool(level);
    pools.set(level, pool);
    return undefined;
  }
  return pool.ready ? pool : undefined;
}
