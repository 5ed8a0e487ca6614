/**
 * Faults tests inject into the lake's worker threads (the zstd pool's and the digest pool's),
 * through one shared word each pool reserves: the caller sets it
 * ({@linkcode setWorkerFault}), the worker honours it at its next unit of work
 * ({@linkcode honourWorkerFault}).
 * @module
 */

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
