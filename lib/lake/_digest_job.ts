/**
 * The work both threads of {@linkcode DigestPool} do (`digest_pool.ts`): the digests of a
 * chunk of book rows from level arrays and a job's row data, exactly as
 * `BookColumns.appendChecked` computes them (`bookDigestIn`, a missing optional integer
 * held as NaN hashed as null), and the shared words that hand chunks out.
 * @module
 */
import { bookDigestIn } from "../market/event_digest.ts";

/** Rows per chunk of a job. */
export const CHUNK_ROWS = 256;

/** Indices of the pool's control words. */
export const WORD = {
  /** 1 once the worker waits for jobs. */
  ready: 0,
  /** Incremented (and notified) by the caller when it posts a job. */
  wake: 1,
  /** The next chunk to take (`Atomics.add`). */
  claim: 2,
  /** Chunks finished. */
  finished: 3,
  /** The id of the last job the worker is done with. */
  acknowledged: 4,
  /** Set to 1 by the worker when it ends on an error (it takes no more jobs). */
  dead: 5,
  /** A fault tests ask the worker for after it claims its next chunk (`FAULT`); 0 for none. */
  fault: 6,
  /** Chunks whose row data is written (the caller publishes them as it copies rows). */
  available: 7,
  /** 1 once `available` and `rows` are final (no more chunks come). */
  sealed: 8,
  /** Rows of the job (final once sealed; until then at least those of published chunks). */
  rows: 9,
  count: 10,
} as const;

/**
 * A job: rows `[0, rows)` of a batch, their digests to compute (the rows of the chunks
 * published so far: see `WORD.available`).
 */
export interface DigestJob {
  readonly id: number;
  /** Room for rows in `offsets` (the stride between bid and ask offsets), `WORD.rows` at most. */
  readonly rows: number;
  /** Whether the rows are book changes (three optionals) rather than snapshots (two). */
  readonly changes: boolean;
  readonly bidPrices: Float64Array;
  readonly bidSizes: Float64Array;
  readonly askPrices: Float64Array;
  readonly askSizes: Float64Array;
  /** `rows + 1` bid offsets then `rows + 1` ask offsets. */
  readonly offsets: Int32Array;
  /** Per row: first sequence, sequence, checksum (NaN when missing). */
  readonly optionals: Float64Array;
  /** Where the digests go. */
  readonly digests: Int32Array;
}

/** A typed array as posted: its buffer and where it is (see {@linkcode PostedJob}). */
type Posted = { buffer: ArrayBufferLike; offset: number; length: number };

/**
 * A {@linkcode DigestJob} as posted to the worker: each array as its shared buffer and
 * range, made into a typed array there (a typed array cloned by `postMessage` is read far
 * more slowly than one the worker makes over the same buffer).
 */
export type PostedJob = Pick<DigestJob, "id" | "rows" | "changes"> & {
  readonly arrays: Record<ArrayName, Posted>;
};

type ArrayName = (typeof ARRAY_NAMES)[number];
const ARRAY_NAMES = [
  "bidPrices",
  "bidSizes",
  "askPrices",
  "askSizes",
  "offsets",
  "optionals",
  "digests",
] as const;

/** `job` for `postMessage`. */
export function postedJob(job: DigestJob): PostedJob {
  const arrays = {} as Record<ArrayName, Posted>;
  for (const name of ARRAY_NAMES) {
    const a = job[name];
    arrays[name] = { buffer: a.buffer, offset: a.byteOffset, length: a.length };
  }
  return { id: job.id, rows: job.rows, changes: job.changes, arrays };
}

/** The job of a {@linkcode PostedJob}, its typed arrays made here. */
export function jobOf(posted: PostedJob): DigestJob {
  const f64 = (p: Posted) => new Float64Array(p.buffer, p.offset, p.length);
  const i32 = (p: Posted) => new Int32Array(p.buffer, p.offset, p.length);
  const a = posted.arrays;
  return {
    id: posted.id,
    rows: posted.rows,
    changes: posted.changes,
    bidPrices: f64(a.bidPrices),
    bidSizes: f64(a.bidSizes),
    askPrices: f64(a.askPrices),
    askSizes: f64(a.askSizes),
    offsets: i32(a.offsets),
    optionals: f64(a.optionals),
    digests: i32(a.digests),
  };
}

/** How long a thread waiting for chunks to be published sleeps before it looks again. */
const PUBLISH_WAIT_MS = 20;

/**
 * Takes and computes published chunks of `job` until the job is sealed and none is left
 * (waiting for chunks while it is not sealed); marks each chunk it computed in `mine`
 * (when given), and calls `claimed` after each claim (the worker's fault hook).
 */
export function runChunks(
  job: DigestJob,
  control: Int32Array,
  mine?: Uint8Array,
  claimed?: () => void,
): void {
  for (;;) {
    const sealed = Atomics.load(control, WORD.sealed) === 1;
    const available = Atomics.load(control, WORD.available);
    const chunk = Atomics.load(control, WORD.claim);
    if (chunk >= available) {
      if (sealed) return;
      Atomics.wait(control, WORD.available, available, PUBLISH_WAIT_MS);
      continue;
    }
    if (Atomics.compareExchange(control, WORD.claim, chunk, chunk + 1) !== chunk) continue;
    claimed?.();
    if (mine !== undefined) mine[chunk] = 1;
    const rows = Atomics.load(control, WORD.rows);
    digestRows(job, chunk * CHUNK_ROWS, Math.min(rows, (chunk + 1) * CHUNK_ROWS));
    Atomics.add(control, WORD.finished, 1);
    Atomics.notify(control, WORD.finished);
  }
}

const orNull = (x: number) => Number.isNaN(x) ? null : x;

/** The digests of rows `[from, to)` of `job`. */
export function digestRows(job: DigestJob, from: number, to: number): void {
  const levels = job;
  const { offsets, optionals, digests, rows } = job;
  const ranges = { bidStart: 0, bidEnd: 0, askStart: 0, askEnd: 0 };
  const snapshotOptionals: (number | null)[] = [null, null];
  const changeOptionals: (number | null)[] = [null, null, null];
  for (let i = from; i < to; i++) {
    ranges.bidStart = offsets[i];
    ranges.bidEnd = offsets[i + 1];
    ranges.askStart = offsets[rows + 1 + i];
    ranges.askEnd = offsets[rows + 2 + i];
    let values: (number | null)[];
    if (job.changes) {
      values = changeOptionals;
      values[0] = orNull(optionals[3 * i]);
      values[1] = orNull(optionals[3 * i + 1]);
      values[2] = orNull(optionals[3 * i + 2]);
    } else {
      values = snapshotOptionals;
      values[0] = orNull(optionals[3 * i + 1]);
      values[1] = orNull(optionals[3 * i + 2]);
    }
    digests[i] = bookDigestIn(levels, ranges, values);
  }
}
