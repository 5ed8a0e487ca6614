/**
 * The seeded generator of the backtester (latency draws, synthetic streams): SplitMix32, a
 * 32-bit state advanced by the golden-ratio constant and mixed with two multiply-xorshift
 * rounds. Small, fast and the same on every machine, which is all a reproducible run needs.
 * @module
 */

/** Seeded uniform and integer draws. */
export class Random {
  #state: number;

  /** @throws {TypeError} unless `seed` is an integer. */
  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${seed}`);
    this.#state = seed | 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x9e3779b9) | 0;
    let z = this.#state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return ((z ^ (z >>> 15)) >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
}
