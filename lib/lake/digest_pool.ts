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

/** Fewer rows than this are digested on this thread alone (and do not start the worker). */
export const PARALLEL_MIN_ROWS = 4 * CHUNK_ROWS;

class DigestWorker {
  readonly control = new Int32Array(new SharedArrayBuffer(4 * WORD.count));
  readonly port: MessagePort;
  readonly #worker: Worker;
  /** Reused row data of jobs (offsets, optionals, digests), grown as needed. */
  #scratch = new SharedArrayBuffer(0);
  #jobs = 0;
  failed = false;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.#worker = new Worker(new URL("./_digest_worker.ts", import.meta.url), {
      workerData: { control: this.control.buffer, port: port2 },
      transferList: [port2],
    });
    this.#worker.unref();
    port1.unref();
    this.#worker.on("error", () => this.failed = true);
  }

  get ready(): boolean {
    return !this.failed && Atomics.load(this.control, WORD.ready) === 1;
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

  /** Posts `job`, takes chunks along with the worker, waits for every chunk and the worker. */
  run(job: Omit<DigestJob, "id">): boolean {
    const id = ++this.#jobs;
    const control = this.control;
    Atomics.store(control, WORD.claim, 0);
    Atomics.store(control, WORD.finished, 0);
    this.port.postMessage(postedJob({ ...job, id }));
    Atomics.add(control, WORD.wake, 1);
    Atomics.notify(control, WORD.wake);
    runChunks({ ...job, id }, control);
    const chunks = Math.ceil(job.rows / CHUNK_ROWS);
    for (let f; (f = Atomics.load(control, WORD.finished)) < chunks;) {
      if (Atomics.load(control, WORD.acknowledged) === id) return false; // the worker failed
      Atomics.wait(control, WORD.finished, f, 50);
    }
    // The worker may still be reading the job's arrays: wait until it lets go.
    while (Atomics.load(control, WORD.acknowledged) !== id) {
      Atomics.wait(control, WORD.acknowledged, Atomics.load(control, WORD.acknowledged), 50);
    }
    return true;
  }
}

let worker: DigestWorker | undefined;
let parallelJobs = 0;

/**
 * Starts the worker (when it is not running) and tells whether it is ready; batches of at
 * least {@linkcode PARALLEL_MIN_ROWS} rows start it on their own.
 */
export function startDigestWorker(): boolean {
  if (worker === undefined || worker.failed) worker = new DigestWorker();
  return worker.ready;
}

/** Jobs of this process whose digests the worker shared (for tests). */
export function parallelDigestJobs(): number {
  return parallelJobs;
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
  if (pool !== undefined && pool.run(job)) parallelJobs++;
  else digestRows({ ...job, id: 0 }, 0, rows);
  columns.digest.values.set(data.digests, from);
}
