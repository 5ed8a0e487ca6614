/**
 * Book digests on two threads: {@linkcode computeDigests} splits the digests of a batch of
 * book rows (`BookColumns` whose level arrays are in shared memory) between this thread and
 * a worker (`_digest_worker.ts`), chunk by chunk, whoever is free taking the next one. Both
 * compute `bookDigestIn`, so the values are those of a digest computed while appending.
 * With a {@linkcode DigestStream} (`splitEvents`) the worker starts while the rows are still
 * being appended: each whole chunk of rows copied is handed to it at once.
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
  postedJob,
  runChunks,
  WORD,
} from "./_digest_job.ts";
import type { BookColumns } from "./book_columns.ts";
import {
  awaitWorker,
  mayStartWorker,
  noteWorkerAbandoned,
  setWorkerFault,
  type WorkerFault,
} from "./parquet/_workers.ts";

/** Fewer rows than this are digested on this thread alone (and do not start the worker). */
export const PARALLEL_MIN_ROWS = 4 * CHUNK_ROWS;

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
   * Posts `job` (no chunk published yet); returns its id, or `undefined` when the worker
   * has not let go of its last job within the deadline (it is then abandoned).
   */
  begin(job: Omit<DigestJob, "id">): number | undefined {
    const control = this.control;
    const last = this.#jobs;
    if (!this.#await(() => Atomics.load(control, WORD.acknowledged) === last, last)) {
      this.abandon();
      return undefined;
    }
    const id = ++this.#jobs;
    Atomics.store(control, WORD.claim, 0);
    Atomics.store(control, WORD.finished, 0);
    Atomics.store(control, WORD.available, 0);
    Atomics.store(control, WORD.sealed, 0);
    Atomics.store(control, WORD.rows, job.rows);
    this.port.postMessage(postedJob({ ...job, id }));
    Atomics.add(control, WORD.wake, 1);
    Atomics.notify(control, WORD.wake);
    return id;
  }

  /** Publishes the first `chunks` chunks of the current job (their row data is written). */
  publish(chunks: number): void {
    Atomics.store(this.control, WORD.available, chunks);
    Atomics.notify(this.control, WORD.available);
  }

  /**
   * Seals job `id` at `rows` rows (their row data written), takes chunks along with the
   * worker (marking this thread's in `mine`), waits for every chunk and for the worker to
   * let go of the job. False when the worker failed or stalled: it is then abandoned, and
   * only the chunks marked in `mine` are done.
   */
  finish(job: DigestJob, rows: number, mine: Uint8Array): boolean {
    const control = this.control;
    const chunks = Math.ceil(rows / CHUNK_ROWS);
    Atomics.store(control, WORD.rows, rows);
    Atomics.store(control, WORD.available, chunks);
    Atomics.store(control, WORD.sealed, 1);
    Atomics.notify(control, WORD.available);
    runChunks(job, control, mine);
    // The worker may still be reading the job's arrays until it acknowledges the job.
    const done = () =>
      Atomics.load(control, WORD.finished) >= chunks &&
      Atomics.load(control, WORD.acknowledged) === job.id;
    if (this.#await(done, job.id) && Atomics.load(control, WORD.dead) === 0) return true;
    this.abandon();
    return false;
  }

  /**
   * Waits until `done()`; false when the worker died, acknowledged job `id` unfinished, or
   * made no progress (chunks finished, job acknowledged) for `workerStallMs()`.
   */
  #await(done: () => boolean, id: number): boolean {
    const control = this.control;
    const wait = awaitWorker(control, {
      at: WORD.finished,
      done,
      // Acknowledged with a chunk unfinished: the worker gave up a chunk it had claimed.
      dead: () =>
        Atomics.load(control, WORD.dead) === 1 || Atomics.load(control, WORD.acknowledged) === id,
      // Both only grow: their sum moves whenever either does.
      progress: () =>
        Atomics.load(control, WORD.finished) + Atomics.load(control, WORD.acknowledged),
    });
    return wait === "done" || done();
  }

  /**
   * For tests: makes the worker stall after claiming its next chunk (`"stall"`, until
   * `"none"`), throw there (`"throw"`: it ends with an error), or end there silently
   * (`"exit"`, as a thread that stops running).
   */
  injectFault(fault: WorkerFault): void {
    setWorkerFault(this.control, WORD.fault, fault);
  }

  /** Gives the worker up for good: terminated, and no longer the process's worker. */
  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    abandonedWorkers++;
    noteWorkerAbandoned();
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
  if (worker === undefined && !mayStartWorker()) return false;
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

/** Row data of rows `[0, rows)` of `columns` from row `base` on, in arrays of its own. */
function localData(columns: BookColumns, base: number, rows: number) {
  const data = {
    offsets: new Int32Array(2 * rows + 2),
    optionals: new Float64Array(3 * rows),
    digests: new Int32Array(rows),
  };
  copyRowData(columns, { ...data, rows }, base, 0, rows);
  return data;
}

/** Copies the offsets and optionals of job rows `[a, b)` (column rows from `base`) into `job`. */
function copyRowData(
  columns: BookColumns,
  job: Pick<DigestJob, "offsets" | "optionals" | "rows">,
  base: number,
  a: number,
  b: number,
): void {
  job.offsets.set(columns.bidOffsets.values.subarray(base + a, base + b + 1), a);
  job.offsets.set(columns.askOffsets.values.subarray(base + a, base + b + 1), job.rows + 1 + a);
  const first = columns.firstSequence.values;
  const sequence = columns.sequence.values;
  const checksum = columns.checksum.values;
  const optionals = job.optionals;
  for (let i = a; i < b; i++) {
    optionals[3 * i] = first[base + i];
    optionals[3 * i + 1] = sequence[base + i];
    optionals[3 * i + 2] = checksum[base + i];
  }
}

/** The level arrays of `columns` (bid prices, bid sizes, ask prices, ask sizes). */
function levelsOf(columns: BookColumns): Float64Array[] {
  return [columns.bidPrices, columns.bidSizes, columns.askPrices, columns.askSizes]
    .map((g) => g.values);
}

/**
 * The digests of book rows appended from row `base` on, shared with the worker while the
 * rows are still being appended: call {@linkcode DigestStream.advance} after each append
 * (it hands the worker each whole chunk of rows copied), then
 * {@linkcode DigestStream.finish} (it fills in the digests). Made by
 * {@linkcode digestStream}. When an append grows a level array (the worker reads the old
 * one), no more rows are handed out: this thread computes the rest.
 */
export class DigestStream {
  readonly #columns: BookColumns;
  readonly #pool: DigestWorker;
  readonly #job: DigestJob;
  readonly #base: number;
  readonly #levels: Float64Array[];
  /** Rows handed to the worker (whole chunks). */
  #published = 0;
  #stopped = false;
  #finished = false;

  constructor(columns: BookColumns, pool: DigestWorker, job: DigestJob, base: number) {
    this.#columns = columns;
    this.#pool = pool;
    this.#job = job;
    this.#base = base;
    this.#levels = levelsOf(columns);
  }

  /** Hands the worker the whole chunks of rows appended since the last call. */
  advance(): void {
    const rows = this.#columns.length - this.#base;
    if (rows - this.#published < CHUNK_ROWS || this.#stopped) return;
    if (!this.#intact(rows)) {
      this.#stopped = true;
      return;
    }
    const upto = rows - rows % CHUNK_ROWS;
    copyRowData(this.#columns, this.#job, this.#base, this.#published, upto);
    this.#published = upto;
    this.#pool.publish(upto / CHUNK_ROWS);
  }

  /**
   * Fills in the digests of every row appended since the stream began (once; later calls
   * do nothing). Call it also when the rows are given up (`finally`): the worker lets go.
   */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    const columns = this.#columns;
    const base = this.#base;
    const rows = columns.length - base;
    if (!this.#stopped && this.#intact(rows)) {
      copyRowData(columns, this.#job, base, this.#published, rows);
      this.#published = rows;
    }
    const sealed = this.#published;
    const mine = new Uint8Array(Math.ceil(sealed / CHUNK_ROWS));
    const ok = this.#pool.finish(this.#job, sealed, mine);
    if (ok) parallelJobs++;
    if (ok && sealed === rows) {
      columns.digest.values.set(this.#job.digests.subarray(0, rows), base);
      return;
    }
    // Rows this thread computes: those past the worker's (a level array grew), and, when
    // the worker was abandoned (it may still write into the job's digests), the chunks it
    // took; the others are copied out of the job's digests.
    const levels = levelsOf(columns);
    const local = {
      ...localData(columns, base, rows),
      id: 0,
      rows,
      changes: this.#job.changes,
      bidPrices: levels[0],
      bidSizes: levels[1],
      askPrices: levels[2],
      askSizes: levels[3],
    };
    for (let start = 0; start < rows; start += CHUNK_ROWS) {
      const end = Math.min(rows, start + CHUNK_ROWS);
      if (end <= sealed && (ok || mine[start / CHUNK_ROWS] === 1)) {
        local.digests.set(this.#job.digests.subarray(start, end), start);
      } else {
        digestRows(local, start, end);
      }
    }
    columns.digest.values.set(local.digests, base);
  }

  /** Whether the job still describes `rows` rows: same level arrays, room for them. */
  #intact(rows: number): boolean {
    const now = levelsOf(this.#columns);
    return rows <= this.#job.rows && now.every((v, i) => v === this.#levels[i]);
  }
}

/**
 * A {@linkcode DigestStream} for rows appended to `columns` from row `base` on, at most
 * `rows` of them; `undefined` (digests are then computed by {@linkcode computeDigests})
 * when `rows` is below {@linkcode PARALLEL_MIN_ROWS}, the level arrays are not shared
 * memory or the worker is not ready (this starts it).
 */
export function digestStream(
  columns: BookColumns,
  base: number,
  rows: number,
): DigestStream | undefined {
  if (rows < PARALLEL_MIN_ROWS) return undefined;
  const levels = levelsOf(columns);
  if (!levels.every((v) => v.buffer instanceof SharedArrayBuffer)) return undefined;
  if (!startDigestWorker()) return undefined;
  const pool = worker!;
  const job = batchJob(columns, levels, rows, pool.scratch(rows));
  const id = pool.begin(job);
  return id === undefined ? undefined : new DigestStream(columns, pool, { ...job, id }, base);
}

/** The job of `rows` rows of `columns` (levels `levels`), with its row data `data`. */
function batchJob(
  columns: BookColumns,
  levels: readonly Float64Array[],
  rows: number,
  data: Pick<DigestJob, "offsets" | "optionals" | "digests">,
): Omit<DigestJob, "id"> {
  return {
    rows,
    changes: columns.kind === "book_changes",
    bidPrices: levels[0],
    bidSizes: levels[1],
    askPrices: levels[2],
    askSizes: levels[3],
    ...data,
  };
}

/**
 * Fills in the digests of rows `[from, columns.length)` of `columns`, appended with their
 * digests left out (`appendChecked(event, latest, true)`): shared with the worker for a
 * large batch (see {@linkcode digestStream}).
 */
export function computeDigests(columns: BookColumns, from: number): void {
  const rows = columns.length - from;
  if (rows <= 0) return;
  const stream = digestStream(columns, from, rows);
  if (stream !== undefined) return stream.finish();
  const data = localData(columns, from, rows);
  digestRows({ id: 0, ...batchJob(columns, levelsOf(columns), rows, data) }, 0, rows);
  columns.digest.values.set(data.digests, from);
}
