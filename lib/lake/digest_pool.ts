/**
 * Book digests on two threads: {@linkcode computeDigests} splits the digests of a batch of
 * book rows (`BookColumns` whose level arrays are in shared memory) between this thread and
 * a worker (`_digest_worker.ts`), chunk by chunk, whoever is free taking the next one. Both
 * compute `bookDigestIn`, so the values are those of a digest computed while appending.
 *
 * The worker is started on the first large batch of a process and used once it is ready
 * (until then, and for small batches, this thread computes every digest). It is `unref`'d,
 * receives a job as a message it reads synchronously, and signals through shared words:
 * no promise is left pending and it never keeps a process alive.
 *
 * A worker that dies (an error) or makes no progress for `workerStallMs()` (the deadline
 * shared with the zstd pool, `parquet/zstd_pool.ts`) while this thread waits for it is
 * abandoned for good: terminated and dropped, so the next large batch starts a new one with
 * new shared memory (a stalled thread may still write into the old). This thread then
 * computes the chunks the worker had not handed back, into a new array: the same values.
 *
 * @example
 * ```ts
 * import { computeDigests } from "./digest_pool.ts";
 * import { BookColumns } from "./book_columns.ts";
 * const columns = new BookColumns("book_snapshots", 50);
 * columns.appendChecked({
 *   kind: "book_snapshot", exchange: "x", symbol: "Y", ts: 1, recvTs: 1,
 *   bids: [[100, 1]], asks: [[101, 2]],
 * }, Infinity, true);
 * computeDigests(columns, 0);
 * ```
 * @module
 */
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import {
  CHUNK_ROWS,
  type DigestJob,
  digestRows,
  FAULT,
  postedJob,
  runChunks,
  WORD,
} from "./_digest_job.ts";
import type { BookColumns } from "./book_columns.ts";
import { type WorkerFault, workerStallMs } from "./parquet/zstd_pool.ts";

/** Fewer rows than this are digested on this thread alone (and do not start the worker). */
export const PARALLEL_MIN_ROWS = 4 * CHUNK_ROWS;
/** How long a wait sleeps before it looks at the worker's progress again. */
const WAIT_SLICE_MS = 50;

class DigestWorker {
  readonly control = new Int32Array(new SharedArrayBuffer(4 * WORD.count));
  readonly port: MessagePort;
  readonly #worker: Worker;
  /** Reused row data of jobs (offsets, optionals, digests), grown as needed. */
  #scratch = new SharedArrayBuffer(0);
  #jobs = 0;
  /** Whether the worker was given up (it died or stalled); it takes no more jobs. */
  abandoned = false;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.#worker = new Worker(new URL("./_digest_worker.ts", import.meta.url), {
      workerData: { control: this.control.buffer, port: port2 },
      transferList: [port2],
    });
    this.#worker.unref();
    port1.unref();
    this.#worker.on("error", () => this.abandon());
  }

  get ready(): boolean {
    if (Atomics.load(this.control, WORD.dead) === 1) this.abandon();
    return !this.abandoned && Atomics.load(this.control, WORD.ready) === 1;
  }

  /** The shared row data of a job of `rows` rows. */
  scratch(rows: number): Pick<DigestJob, "offsets" | "optionals" | "digests"> {
    const bytes = 8 * 3 * rows + 4 * (2 * rows + 2) + 4 * rows;
    if (this.#scratch.byteLength < bytes) this.#scratch = new SharedArrayBuffer(bytes * 1.25);
    const optionals = new Float64Array(this.#scratch, 0, 3 * rows);
    const offsets = new Int32Array(this.#scratch, optionals.byteLength, 2 * rows + 2);
    const digests = new Int32Array(
      this.#scratch,
      optionals.byteLength + offsets.byteLength,
      rows,
    );
    return { offsets, optionals, digests };
  }

  /**
   * Posts `job`, takes chunks along with the worker (marking this thread's in `mine`),
   * waits for every chunk and for the worker to let go of the job. False when the worker
   * failed or stalled: it is then abandoned, and only the chunks marked in `mine` are done.
   */
  run(job: Omit<DigestJob, "id">, mine: Uint8Array): boolean {
    const id = ++this.#jobs;
    const control = this.control;
    Atomics.store(control, WORD.claim, 0);
    Atomics.store(control, WORD.finished, 0);
    this.port.postMessage(postedJob({ ...job, id }));
    Atomics.add(control, WORD.wake, 1);
    Atomics.notify(control, WORD.wake);
    runChunks({ ...job, id }, control, mine);
    const chunks = Math.ceil(job.rows / CHUNK_ROWS);
    // The worker may still be reading the job's arrays until it acknowledges the job.
    const done = () =>
      Atomics.load(control, WORD.finished) >= chunks &&
      Atomics.load(control, WORD.acknowledged) === id;
    if (this.#await(done, id) && Atomics.load(control, WORD.dead) === 0) return true;
    this.abandon();
    return false;
  }

  /**
   * Waits until `done()`; false when the worker died, acknowledged job `id` unfinished, or
   * made no progress (chunks finished, job acknowledged) for `workerStallMs()`.
   */
  #await(done: () => boolean, id: number): boolean {
    const control = this.control;
    let finished = Atomics.load(control, WORD.finished);
    let acknowledged = Atomics.load(control, WORD.acknowledged);
    let since = performance.now();
    for (;;) {
      if (done()) return true;
      if (Atomics.load(control, WORD.dead) === 1) return false;
      const f = Atomics.load(control, WORD.finished);
      const a = Atomics.load(control, WORD.acknowledged);
      // Acknowledged with a chunk unfinished: the worker gave up a chunk it had claimed.
      if (a === id) return done();
      if (f !== finished || a !== acknowledged) {
        finished = f;
        acknowledged = a;
        since = performance.now();
      } else if (performance.now() - since >= workerStallMs()) {
        return done();
      }
      Atomics.wait(control, WORD.finished, f, WAIT_SLICE_MS);
    }
  }

  /**
   * For tests: makes the worker stall after claiming its next chunk (`"stall"`, until
   * `"none"`), throw there (`"throw"`: it ends with an error), or end there silently
   * (`"exit"`, as a thread that stops running).
   */
  injectFault(fault: WorkerFault): void {
    const word = { none: FAULT.NONE, stall: FAULT.STALL, throw: FAULT.THROW, exit: FAULT.EXIT }[
      fault
    ];
    Atomics.store(this.control, WORD.fault, word);
    Atomics.notify(this.control, WORD.fault);
  }

  /** Gives the worker up for good: terminated, and no longer the process's worker. */
  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    abandonedWorkers++;
    if (worker === this) worker = undefined;
    this.port.close();
    this.#worker.terminate().catch(() => {});
  }
}

let worker: DigestWorker | undefined;
let parallelJobs = 0;
let abandonedWorkers = 0;

/**
 * Starts the worker (when it is not running) and tells whether it is ready; batches of at
 * least {@linkcode PARALLEL_MIN_ROWS} rows start it on their own.
 */
export function startDigestWorker(): boolean {
  if (worker !== undefined && !worker.ready && worker.abandoned) worker = undefined;
  worker ??= new DigestWorker();
  return worker.ready;
}

/** Jobs of this process whose digests the worker shared (for tests). */
export function parallelDigestJobs(): number {
  return parallelJobs;
}

/** Workers of this process abandoned because they died or stalled (for tests). */
export function abandonedDigestWorkers(): number {
  return abandonedWorkers;
}

/**
 * For tests: asks the current worker for a fault (see `DigestWorker.injectFault`); returns
 * a function that clears the fault of that same worker (a stalled one resumes), or
 * `undefined` when no worker is ready.
 */
export function injectDigestFault(fault: WorkerFault): (() => void) | undefined {
  const target = worker;
  if (target === undefined || !target.ready) return undefined;
  target.injectFault(fault);
  return () => target.injectFault("none");
}

/**
 * Fills in the digests of rows `[from, columns.length)` of `columns`, appended with their
 * digests left out (`appendChecked(event, latest, true)`).
 */
export function computeDigests(columns: BookColumns, from: number): void {
  const rows = columns.length - from;
  if (rows <= 0) return;
  const levels = [columns.bidPrices, columns.bidSizes, columns.askPrices, columns.askSizes]
    .map((g) => g.values);
  const shared = levels.every((v) => v.buffer instanceof SharedArrayBuffer);
  let pool: DigestWorker | undefined;
  if (shared && rows >= PARALLEL_MIN_ROWS && startDigestWorker()) pool = worker;
  const data = pool?.scratch(rows) ?? {
    offsets: new Int32Array(2 * rows + 2),
    optionals: new Float64Array(3 * rows),
    digests: new Int32Array(rows),
  };
  data.offsets.set(columns.bidOffsets.values.subarray(from, from + rows + 1));
  data.offsets.set(columns.askOffsets.values.subarray(from, from + rows + 1), rows + 1);
  const first = columns.firstSequence.values;
  const sequence = columns.sequence.values;
  const checksum = columns.checksum.values;
  for (let i = 0; i < rows; i++) {
    data.optionals[3 * i] = first[from + i];
    data.optionals[3 * i + 1] = sequence[from + i];
    data.optionals[3 * i + 2] = checksum[from + i];
  }
  const job = {
    rows,
    changes: columns.kind === "book_changes",
    bidPrices: levels[0],
    bidSizes: levels[1],
    askPrices: levels[2],
    askSizes: levels[3],
    ...data,
  };
  if (pool === undefined) {
    digestRows({ ...job, id: 0 }, 0, rows);
    columns.digest.values.set(data.digests, from);
    return;
  }
  const mine = new Uint8Array(Math.ceil(rows / CHUNK_ROWS));
  if (pool.run(job, mine)) {
    parallelJobs++;
    columns.digest.values.set(data.digests, from);
    return;
  }
  // The abandoned worker may still write its claimed chunks into `data.digests`: this
  // thread's chunks are copied out of it, the others computed into a new array.
  const digests = new Int32Array(rows);
  const fallback = { ...job, digests, id: 0 };
  for (let c = 0; c < mine.length; c++) {
    const start = c * CHUNK_ROWS;
    const end = Math.min(rows, start + CHUNK_ROWS);
    if (mine[c] === 1) digests.set(data.digests.subarray(start, end), start);
    else digestRows(fallback, start, end);
  }
  columns.digest.values.set(digests, from);
}
