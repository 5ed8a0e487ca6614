/**
 * Reconnect delays: exponential backoff with full jitter, capped.
 * @module
 */

/** Options for {@linkcode Backoff}. */
export interface BackoffOptions {
  /** First delay ceiling in milliseconds (default 1,000). */
  readonly initialMs?: number;
  /** Largest delay ceiling in milliseconds (default 32,000). */
  readonly maxMs?: number;
  /** Random source in [0, 1) (default `Math.random`; injectable for tests). */
  readonly random?: () => number;
}

/**
 * Full-jitter exponential backoff: the n-th delay is uniform in
 * `[0, min(maxMs, initialMs * 2^n))`, so a fleet of collectors does not reconnect in
 * lockstep after an outage.
 *
 * @example
 * ```ts
 * import { Backoff } from "./backoff.ts";
 * import assert from "node:assert/strict";
 * const backoff = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.5 });
 * assert.equal(backoff.next(), 50);
 * assert.equal(backoff.next(), 100);
 * backoff.reset();
 * assert.equal(backoff.next(), 50);
 * ```
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 1_000;
    this.#maxMs = options.maxMs ?? 32_000;
    this.#random = options.random ?? Math.random;
    if (!(this.#initialMs > 0) || !(this.#maxMs >= this.#initialMs)) {
      throw new RangeError("backoff needs 0 < initialMs <= maxMs");
    }
  }

  /** Failed attempts since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next attempt, in milliseconds. */
  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return Math.floor(this.#random() * ceiling);
  }

  /** Starts over (after a connection proved healthy). */
  reset(): void {
    this.#attempt = 0;
  }
}
