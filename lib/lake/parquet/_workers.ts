/**
 * What the lake's worker pools (`zstd_pool.ts`, `unzstd_pool.ts`, `../digest_pool.ts`) share
 * about their threads: the wait for a worker ({@linkcode awaitWorker}) and how long it may see
 * no progress before the worker is abandoned ({@linkcode workerStallMs}), how many abandoned workers a process tolerates
 * ({@linkcode workerAbandonLimit}), and the faults tests inject through one shared word each
 * pool reserves: the caller sets it ({@linkcode setWorkerFault}), the worker honours it at
 * its next unit of work ({@linkcode honourWorkerFault}).
 * @module
 */

/** How long a wait for a worker sleeps before it looks at the worker's progress again. */
export const WAIT_SLICE_MS = 50;

/**
 * Milliseconds without progress after which a waiting encoder abandons the worker: 2,000.
 * A page of about 1 MiB compresses in 5 to 20 ms, so this is over 100 pages' time; a
 * runnable thread is scheduled within tens of milliseconds even under `nice -n 19` on a
 * loaded machine, so only a dead, stopped or looping thread goes 2 s without progress.
 * Abandoning one that was merely slow costs a new worker, never different bytes.
 */
let stallMs = 2_000;

/**
 * Workers (of both pools) a process abandons before it stops starting new ones: 8. Deno
 * 2.9.6 cannot stop a thread that waits in `Atomics.wait`, so an abandoned worker may stay as
 * a sleeping thread with its shared memory; past this many, the writes run on the calling
 * thread alone.
 */
let abandonLimit = 8;
let abandoned = 0;

/**
 * The number of workers abandoned after which no new one is started; with `limit`, sets it
 * first (tests lower it). Throws `RangeError` for a negative or non-integer `limit`.
 */
export function workerAbandonLimit(limit?: number): number {
  if (limit !== undefined) {
    if (!(Number.isInteger(limit) && limit >= 0)) {
      throw new RangeError(`workerAbandonLimit: limit must be an integer >= 0, got ${limit}`);
    }
    abandonLimit = limit;
  }
  return abandonLimit;
}

/** Counts a worker abandoned (either pool). */
export function noteWorkerAbandoned(): void {
  abandoned++;
}

/** Workers of this process abandoned so far (either pool), for tests. */
export function abandonedWorkers(): number {
  return abandoned;
}

/** Whether a new worker may be started ({@linkcode workerAbandonLimit} not reached). */
export function mayStartWorker(): boolean {
  return abandoned < abandonLimit;
}

/**
 * The deadline (milliseconds without progress) of waits for the worker; with `ms`, sets it
 * first (tests shorten it). Throws `RangeError` for a negative or non-finite `ms`.
 */
export function workerStallMs(ms?: number): number {
  if (ms !== undefined) {
    if (!(Number.isFinite(ms) && ms >= 0)) {
      throw new RangeError(`workerStallMs: ms must be finite and >= 0, got ${ms}`);
    }
    stallMs = ms;
  }
  return stallMs;
}

/** How {@linkcode awaitWorker} ended. */
export type WorkerWait = "done" | "dead" | "stalled";

/**
 * The one wait of every pool for its worker: sleeps on control word `at` in slices of
 * {@linkcode WAIT_SLICE_MS} until `done()`; `"dead"` as soon as `dead()` says the worker
 * cannot finish, `"stalled"` once `progress()` (a number that changes whenever the worker
 * gets on) has not changed for {@linkcode workerStallMs} and still not `done()`.
 */
export function awaitWorker(
  control: Int32Array,
  o: {
    readonly at: number;
    readonly done: () => boolean;
    readonly dead: () => boolean;
    readonly progress: () => number;
  },
): WorkerWait {
  let mark = o.progress();
  let since = performance.now();
  for (;;) {
    if (o.done()) return "done";
    if (o.dead()) return "dead";
    Atomics.wait(control, o.at, Atomics.load(control, o.at), WAIT_SLICE_MS);
    const now = o.progress();
    if (now !== mark) {
      mark = now;
      since = performance.now();
    } else if (performance.now() - since >= stallMs) return o.done() ? "done" : "stalled";
  }
}

/** Faults a test can make a worker show. */
export type WorkerFault = "none" | "stall" | "throw" | "exit";

/** The fault word's values. */
export const FAULT = {
  NONE: 0,
  /** Wait (without working) until the word changes, holding the unit of work taken. */
  STALL: 1,
  /** Throw outside the work's own error handling: the thread ends with an error. */
  THROW: 2,
  /** End silently (no error, no dead word), as a thread that stops running. */
  EXIT: 3,
} as const;

const WORDS: Readonly<Record<WorkerFault, number>> = {
  none: FAULT.NONE,
  stall: FAULT.STALL,
  throw: FAULT.THROW,
  exit: FAULT.EXIT,
};

/** Sets word `index` of `control` to `fault` and wakes a worker waiting on it. */
export function setWorkerFault(control: Int32Array, index: number, fault: WorkerFault): void {
  Atomics.store(control, index, WORDS[fault]);
  Atomics.notify(control, index);
}

/** Thrown by {@linkcode honourWorkerFault} to end a worker silently (`FAULT.EXIT`). */
export const EXIT_SILENTLY: unique symbol = Symbol("exit silently");

/**
 * In a worker: stalls while word `index` asks it to, then throws what it asks for (an
 * `Error` naming `who`, or {@linkcode EXIT_SILENTLY}).
 */
export function honourWorkerFault(control: Int32Array, index: number, who: string): void {
  while (Atomics.load(control, index) === FAULT.STALL) {
    Atomics.wait(control, index, FAULT.STALL);
  }
  const word = Atomics.load(control, index);
  if (word === FAULT.EXIT) throw EXIT_SILENTLY;
  if (word === FAULT.THROW) throw new Error(`${who}: fault injected by a test`);
}
