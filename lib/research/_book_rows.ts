/**
 * One book side's sampled top levels, written into the level columns a block of rows at a
 * time: a row only names a version of the side (a new one when the side changed), and a
 * block's rows are copied column by column. Writing 2 x levels columns row by row touches
 * as many pages per row; column by column each column is written in one sequential run.
 * @module
 */

/** Rows per block (a power of two). */
export const BLOCK = 1024;
// Versions a block can hold: its first (the previous block's last) and one per row.
const SLOTS = BLOCK + 1;

/** The levels of one side as the rows of a block see them (see the module doc). */
export class SideRows {
  readonly #levels: number;
  // Version `v`'s level `k` (0-based) at `[k * SLOTS + v]`.
  readonly #prices: Float64Array;
  readonly #sizes: Float64Array;
  // Version `v`'s sizes summed over levels 0..k at `[v * levels + k]`.
  readonly #cum: Float64Array;
  /** Version of each row of the block. */
  readonly #version = new Int32Array(BLOCK);
  #count = 0;
  /** The version the next rows name. */
  current = -1;

  constructor(levels: number) {
    this.#levels = levels;
    this.#prices = new Float64Array(levels * SLOTS);
    this.#sizes = new Float64Array(levels * SLOTS);
    this.#cum = new Float64Array(levels * SLOTS);
  }

  /**
   * Adds a version: the `known` best levels of `prices`/`sizes`, then absent levels (NaN
   * price, size `beyond`); every level NaN when not `valid`.
   */
  push(
    valid: boolean,
    prices: Float64Array,
    sizes: Float64Array,
    known: number,
    beyond: number,
  ): void {
    const v = this.#count++;
    const levels = this.#levels;
    const p = this.#prices;
    const s = this.#sizes;
    const cum = this.#cum;
    const base = v * levels;
    let sum = 0;
    let k = 0;
    if (valid) {
      for (; k < known; k++) {
        p[k * SLOTS + v] = prices[k];
        s[k * SLOTS + v] = sizes[k];
        sum = k === 0 ? sizes[0] : sum + sizes[k];
        cum[base + k] = sum;
      }
    }
    const absent = valid ? beyond : NaN;
    for (; k < levels; k++) {
      p[k * SLOTS + v] = NaN;
      s[k * SLOTS + v] = absent;
      sum = k === 0 ? absent : sum + absent;
      cum[base + k] = sum;
    }
    this.current = v;
  }

  /** Row `r` of the block shows the current version. */
  mark(r: number): void {
    this.#version[r] = this.current;
  }

  /** Level 1's price of the current version. */
  get price1(): number {
    return this.#prices[this.current];
  }

  /** Sizes of the current version summed over levels 1..k+1 (0-based `k`). */
  cum(k: number): number {
    return this.#cum[this.current * this.#levels + k];
  }

  /**
   * Copies the block's first `rows` rows into the columns from row `at`, and starts a new
   * block whose first version is the current one.
   */
  flush(
    prices: readonly Float64Array[],
    sizes: readonly Float64Array[],
    at: number,
    rows: number,
  ): void {
    const version = this.#version;
    const p = this.#prices;
    const s = this.#sizes;
    for (let k = 0; k < this.#levels; k++) {
      const pk = prices[k];
      const sk = sizes[k];
      const o = k * SLOTS;
      for (let r = 0; r < rows; r++) {
        const v = version[r] + o;
        pk[at + r] = p[v];
        sk[at + r] = s[v];
      }
    }
    if (this.current < 0) return;
    this.#copyVersion(this.current, 0);
    this.#count = 1;
    this.current = 0;
  }

  #copyVersion(from: number, to: number): void {
    if (from === to) return;
    const levels = this.#levels;
    for (let k = 0; k < levels; k++) {
      this.#prices[k * SLOTS + to] = this.#prices[k * SLOTS + from];
      this.#sizes[k * SLOTS + to] = this.#sizes[k * SLOTS + from];
      this.#cum[to * levels + k] = this.#cum[from * levels + k];
    }
  }
}
