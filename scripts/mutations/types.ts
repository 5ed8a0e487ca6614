/**
 * One deliberate bug for `deno task mutate`: a plausible mistake put into the code to check
 * that the tests named next to it fail. The runner applies one at a time, runs `tests`, and
 * restores the file.
 *
 * @module
 */

/** A deliberate bug and the tests expected to catch it. */
export interface Mutation {
  /** Stable id, `<area>/<short-name>`, e.g. `venues/advanced-trade-price-size-swap`. */
  readonly id: string;
  /** The bug in one line, as a reviewer would describe it. */
  readonly description: string;
  /** The file it goes into, relative to the project root. */
  readonly file: string;
  /** Text that occurs exactly once in `file` (the runner refuses an ambiguous or stale one). */
  readonly find: string;
  /** What replaces `find`. */
  readonly replace: string;
  /** Test files (relative to the project root) of which at least one must fail. */
  readonly tests: readonly string[];
}
