/**
 * The shared memory of {@linkcode ZstdPool} and its thread: a control array of 32-bit words
 * (a ready flag, a wake counter, a progress counter, a dead flag, a test fault, and per slot
 * its state and input / output lengths) and per slot an input and an output buffer.
 * @module
 */

/** What the pool hands its thread (`workerData`). */
export interface PoolLayout {
  readonly control: SharedArrayBuffer;
  readonly level: number;
  readonly slots: readonly { input: SharedArrayBuffer; output: SharedArrayBuffer }[];
}

/** Indices into the control words, and the slot states. */
export const SLOT = {
  /** Set to 1 by the thread once it waits for work. */
  ready: 0,
  /** Incremented (and notified) by the encoder when it submits a slot. */
  wake: 1,
  /** Incremented by the thread after each slot it finishes (the encoder's sign of life). */
  beat: 2,
  /** Set to 1 by the thread when it ends on an error (it takes no more slots). */
  dead: 3,
  /** A fault tests ask the thread for before its next slot (`FAULT`); 0 for none. */
  fault: 4,
  state: (s: number): number => 5 + 3 * s,
  inputLength: (s: number): number => 6 + 3 * s,
  outputLength: (s: number): number => 7 + 3 * s,
  /** Words for `slots` slots. */
  words: (slots: number): number => 5 + 3 * slots,
  /** Free (or its result taken). */
  IDLE: 0,
  /** Input written, waiting for the thread. */
  SUBMITTED: 1,
  /** Output written. */
  DONE: 2,
  /** Not compressed (the result did not fit the output, or an error): the encoder does it. */
  FAILED: 3,
} as const;
