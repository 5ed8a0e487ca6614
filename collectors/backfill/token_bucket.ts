/**
 * A token bucket that hands out reservations: a caller takes its tokens at once and is told
 * how long to wait before using them, so requests are spaced at the venue's rate in the order
 * they were asked for, and a burst up to the bucket's capacity goes out without waiting.
 * @module
 */

/** Options for {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens the bucket holds when full (the largest burst). */
  readonly capacity: number;
  /** Tokens added per second. */
  readonly refillPerSecond: number;
  /** The clock, in milliseconds (default `performance.now`). */
  readonly now?: () => number;
}

/**
 * Reservations against a refilling budget (a venue's request weight per interval).
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./token_bucket.ts";
 * import assert from "node:assert/strict";
 * let now = 0;
 * const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 1, now: () => now });
 * assert.equal(bucket.reserve(), 0);
 * assert.equal(bucket.reserve(), 0);
 * assert.equal(bucket.reserve(), 1000); // the third waits for one token to refill
 * now = 1000;
 * assert.equal(bucket.reserve(), 1000); // the fourth after the third
 * ```
 */
export class TokenBucket {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly #now: () => number;
  /** Tokens available at `#at`; negative when reservations run ahead of the refill. */
  #tokens: number;
  #at: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.capacity > 0)) throw new RangeError("capacity must be > 0");
    if (!(options.refillPerSecond > 0)) throw new RangeError("refillPerSecond must be > 0");
    this.capacity = options.capacity;
    this.refillPerSecond = options.refillPerSecond;
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = options.capacity;
    this.#at = this.#now();
  }

  /**
   * Takes `cost` tokens now; returns the milliseconds to wait before spending them (0 when
   * the bucket had them). A cost above the capacity is a programmer error (it could never
   * be served in one burst).
   */
  reserve(cost = 1): number {
    if (!(cost > 0) || cost > this.capacity) {
      throw new RangeError(`cost must be in (0, ${this.capacity}], got ${cost}`);
    }
    this.#refill();
    this.#tokens -= cost;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.refillPerSecond) * 1000;
  }

  /** Tokens available now (negative while reservations wait). */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#at);
    this.#at = now;
    this.#tokens = Math.min(this.capacity, this.#tokens + (elapsed / 1000) * this.refillPerSecond);
  }
}
