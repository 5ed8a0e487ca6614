/**
 * The kinds of stored book events (`BookEvents.kind`), in a module of their own so that a
 * rebuild's worker (`_side_replay_worker.ts`) loads them without the Polars reader.
 * @module
 */

/** A snapshot: the whole book (both sides replaced). */
export const SNAPSHOT = 0;
/** A book change: absolute sizes, 0 deletes. */
export const CHANGE = 1;
/** A reset or disconnect: the book is invalid until the next snapshot. */
export const RESET = 2;
