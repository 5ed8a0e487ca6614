/**
 * A second thread for page decompression on reads: {@linkcode UnzstdPool} is handed the
 * compressed pages a reader is about to decode, in the order it will ask for them
 * ({@linkcode UnzstdPool.begin}), and its thread (`_unzstd_worker.ts`) decompresses them
 * ahead of the reader into a ring of shared slots, so decompression of the next pages
 * overlaps the decoding of this one. The thread calls the reader's own `zstdDecompressInto`,
 * so a page's bytes do not depend on which thread made them.
 *
 * No message is sent either way (shared words read with `Atomics`) and the worker is
 * `unref`'d. The reader asks for page `k` ({@linkcode UnzstdPool.take}): made already, it
 * gets a view of the slot; not claimed yet by the thread (not started, or behind), the
 * reader claims it and decompresses it itself (`undefined`); claimed, it makes the next
 * unclaimed pages into their slots meanwhile, and waits at most {@linkcode PATIENCE_MS}. A
 * worker that dies, or makes no progress for `workerStallMs()` while the next job
 * waits for the page it still holds, is abandoned for good (the policy of `_workers.ts`, shared with the write pools) and the
 * reader decompresses every page itself, to the same bytes.
 * @module
 */
import { isMainThread, Worker } from "node:worker_threads";
import {
  makePage,
  RING_SLOTS,
  TABLE_WORDS,
  type UnzstdLayout,
  type UnzstdViews,
  viewsOf,
  WORD,
} from "./_unzstd_slots.ts";
import {
  awaitWorker,
  mayStartWorker,
  noteWorkerAbandoned,
  setWorkerFault,
  type WorkerFault,
} from "./_workers.ts";

/** Largest input (compressed pages of one job), page table and ring. */
const MAX_INPUT = 1 << 30;
const MAX_TABLE = 1 << 24;
const MAX_RING = 1 << 28;

/**
 * How long the reader waits for a page the worker is decompressing before it decompresses
 * the page itself: 3 ms (a page takes under 1 ms).
 */
export const PATIENCE_MS = 3;

/** One compressed page of a job: its bytes and its size once decompressed. */
export interface CompressedPage {
  readonly bytes: Uint8Array;
  readonly raw: number;
}

/** A worker decompressing a reader's next pages (see the module documentation). */
export class UnzstdPool {
  readonly #control: Int32Array;
  readonly #layout: UnzstdLayout;
  readonly #views: UnzstdViews;
  /** The page this thread made into each slot (they do not count as served). */
  readonly #mine = new Array<number>(RING_SLOTS).fill(-1);
  readonly #worker: Worker;
  #abandoned = false;
  /** Pages of the current job (0 when none). */
  #count = 0;
  /** Pages the worker made that the reader took (for tests). */
  served = 0;

  constructor() {
    const growable = (max: number) => new SharedArrayBuffer(0, { maxByteLength: max });
    this.#layout = {
      control: new SharedArrayBuffer(4 * WORD.words),
      table: growable(MAX_TABLE),
      input: growable(MAX_INPUT),
      ring: growable(MAX_RING),
    };
    this.#views = viewsOf(this.#layout);
    this.#control = this.#views.control;
    this.#worker = new Worker(new URL("./_unzstd_worker.ts", import.meta.url), {
      workerData: this.#layout,
      name: "unzstd",
    });
    this.#worker.unref();
    this.#worker.on("error", () => this.#abandon());
  }

  /** Whether the worker is waiting for work (it takes pages only then). */
  get ready(): boolean {
    return !this.abandoned && Atomics.load(this.#control, WORD.ready) === 1;
  }

  /** Whether the pool was given up (its worker died or stalled). */
  get abandoned(): boolean {
    if (!this.#abandoned && Atomics.load(this.#control, WORD.dead) === 1) this.#abandon();
    return this.#abandoned;
  }

  /**
   * Starts a job of `pages` (ending the previous one): `false` (no job) when the pool is
   * abandoned or the pages do not fit its memory.
   */
  begin(pages: readonly CompressedPage[]): boolean {
    this.end();
    // The thread may still write the last job's page it holds; past the deadline, abandoned.
    const c = this.#control;
    if (!this.abandoned) {
      const wait = awaitWorker(c, {
        at: WORD.busy,
        done: () => Atomics.load(c, WORD.busy) === 0,
        dead: () => Atomics.load(c, WORD.dead) === 1,
        progress: () => Atomics.load(c, WORD.beat),
      });
      if (wait !== "done") this.#abandon();
    }
    if (this.abandoned || pages.length === 0) return false;
    let input = 0;
    let largest = 0;
    for (const p of pages) [input, largest] = [input + p.bytes.length, Math.max(largest, p.raw)];
    const slotBytes = (largest + 1 + 63) & ~63;
    const tableBytes = 4 * TABLE_WORDS * pages.length;
    const { table, input: inputBuffer, ring } = this.#layout;
    if (input > MAX_INPUT || slotBytes * RING_SLOTS > MAX_RING || tableBytes > MAX_TABLE) {
      return false;
    }
    if (table.byteLength < tableBytes) table.grow(tableBytes);
    if (inputBuffer.byteLength < input) inputBuffer.grow(input);
    if (ring.byteLength < slotBytes * RING_SLOTS) ring.grow(slotBytes * RING_SLOTS);
    const words = new Int32Array(table);
    const bytes = new Uint8Array(inputBuffer);
    let at = 0;
    for (let i = 0; i < pages.length; i++) {
      const p = pages[i];
      bytes.set(p.bytes, at);
      words[i * TABLE_WORDS] = at;
      words[i * TABLE_WORDS + 1] = p.bytes.length;
      words[i * TABLE_WORDS + 2] = p.raw;
      at += p.bytes.length;
    }
    Atomics.store(c, WORD.slotBytes, slotBytes);
    for (let s = 0; s < RING_SLOTS; s++) Atomics.store(c, WORD.slotPage(s), -1);
    this.#mine.fill(-1);
    Atomics.store(c, WORD.consumed, 0);
    Atomics.store(c, WORD.count, pages.length);
    Atomics.store(c, WORD.next, 0);
    this.#count = pages.length;
    this.#wake();
    return true;
  }

  /**
   * Page `k` of the job (`k` one more than the page asked before, from 0), decompressed: a
   * view of its slot (valid until the next `take` or `end`), or `undefined` for the caller
   * to decompress it itself: nobody had claimed it, the worker did not finish it within
   * {@linkcode PATIENCE_MS}, or the worker is gone. While the worker works on page `k`, the
   * caller's thread decompresses pages after it into their slots rather than wait.
   */
  take(k: number, raw: number): Uint8Array | undefined {
    if (k >= this.#count || this.abandoned) return undefined;
    const c = this.#control;
    // Pages before `k` are no longer held: their slots are free.
    Atomics.store(c, WORD.consumed, k);
    this.#wake();
    const s = k % RING_SLOTS;
    const made = (v: number) => v === k || v === -2 - k;
    let page = Atomics.load(c, WORD.slotPage(s));
    if (!made(page)) {
      if (Atomics.compareExchange(c, WORD.next, k, k + 1) === k) return undefined;
      page = this.#help(k);
    }
    if (page !== k) return undefined;
    if (this.#mine[s] !== k) this.served++;
    const bytes = Atomics.load(c, WORD.slotBytes);
    return new Uint8Array(this.#layout.ring, s * bytes, raw);
  }

  /**
   * While the worker makes page `k`: makes the next unclaimed pages whose slots are free,
   * else waits (at most {@linkcode PATIENCE_MS} after the last page made here); the word of
   * `k`'s slot.
   */
  #help(k: number): number {
    const c = this.#control;
    const at = WORD.slotPage(k % RING_SLOTS);
    const made = (v: number) => v === k || v === -2 - k;
    let page = Atomics.load(c, at);
    let until = performance.now() + PATIENCE_MS;
    while (!made(page)) {
      const j = Atomics.load(c, WORD.next);
      if (
        j < this.#count && j < k + RING_SLOTS &&
        Atomics.compareExchange(c, WORD.next, j, j + 1) === j
      ) {
        makePage(this.#views, j);
        this.#mine[j % RING_SLOTS] = j;
        until = performance.now() + PATIENCE_MS;
      } else {
        const left = until - performance.now();
        if (left <= 0) break;
        Atomics.wait(c, at, page, left);
      }
      page = Atomics.load(c, at);
    }
    return page;
  }

  /**
   * Ends the job: no page is claimed after it (the page the worker may be working on is
   * waited for by the next {@linkcode UnzstdPool.begin}).
   */
  end(): void {
    if (this.#count === 0) return;
    this.#count = 0;
    if (!this.#abandoned) Atomics.store(this.#control, WORD.next, 0x7fffffff);
  }

  /**
   * For tests: makes the worker stall after it claims its next page (`"stall"`, until
   * `"none"`), throw there (`"throw"`) or end there silently (`"exit"`).
   */
  injectFault(fault: WorkerFault): void {
    setWorkerFault(this.#control, WORD.fault, fault);
  }

  #wake(): void {
    Atomics.add(this.#control, WORD.wake, 1);
    Atomics.notify(this.#control, WORD.wake);
  }

  /** Gives the worker up for good: terminated, and no longer the process's pool. */
  #abandon(): void {
    if (this.#abandoned) return;
    this.#abandoned = true;
    noteWorkerAbandoned();
    if (pool === this) pool = undefined;
    this.#worker.terminate().catch(() => {});
  }
}

let pool: UnzstdPool | undefined;

/**
 * The process's decompression pool, started on the first call (its thread may not be ready
 * yet: the reader then decompresses the pages itself until it is); `undefined` once too many
 * workers were abandoned, and in a worker thread (workers start no workers).
 */
export function unzstdPool(): UnzstdPool | undefined {
  if (pool !== undefined && pool.abandoned) pool = undefined;
  if (pool === undefined) {
    if (!mayStartWorker() || !isMainThread) return undefined;
    pool = new UnzstdPool();
  }
  return pool;
}
