/**
 * An L2 price-level order book for one instrument.
 * @module
 */
import type { BookSide, PriceLevel } from "../market/types.ts";
import { ABSENT_DELETE, BookSideLevels } from "./_book_side.ts";

/** Options for {@linkcode OrderBook}. */
export interface OrderBookOptions {
  /**
   * Keep at most this many levels per side after every snapshot and change (Kraken sends no
   * deletes for levels that fall out of the subscribed depth). Unlimited by default.
   */
  readonly depth?: number;
}

/** One level of a book as a plain row ({@linkcode OrderBook.toRows}). */
export interface BookRow {
  readonly side: BookSide;
  /** 0 for the best level of the side, 1 for the next, ... */
  readonly level: number;
  readonly price: number;
  readonly size: number;
}

/**
 * An L2 book: absolute sizes per price level, size 0 deletes, deletes of absent levels are
 * ignored and counted in {@linkcode OrderBook.absentDeletes}.
 *
 * Prices are the doubles {@linkcode parseDecimal} makes of the venue's text: distinct decimal
 * prices of up to 15 significant digits are distinct doubles, so they key levels exactly
 * (see `lib/market/types.ts`). Each side is a sorted run in typed arrays with the best level
 * last: updates at and near the top (most of them) move few or no elements, best bid and ask
 * are O(1) reads, and truncation to a depth is O(1). Reading a level allocates nothing
 * ({@linkcode OrderBook.priceAt}, {@linkcode OrderBook.sizeAt}).
 *
 * @example
 * ```ts
 * import { OrderBook } from "./order_book.ts";
 * import assert from "node:assert/strict";
 * const book = new OrderBook();
 * book.applySnapshot([[100, 1], [99, 2]], [[101, 3]]);
 * book.update("bid", 100.5, 4);
 * assert.equal(book.bestBid, 100.5);
 * assert.equal(book.spread, 0.5);
 * assert.equal(book.priceAt("bid", 1), 100);
 * ```
 */
export class OrderBook {
  readonly #bids = new BookSideLevels();
  readonly #asks = new BookSideLevels();
  #depth: number;
  /** Deletes of levels that were not in the book, since construction. */
  absentDeletes = 0;

  constructor(options: OrderBookOptions = {}) {
    this.#depth = checkDepth(options.depth ?? Infinity);
  }

  /** Levels kept per side after each snapshot and change (`Infinity`: all). */
  get maxDepth(): number {
    return this.#depth;
  }
  set maxDepth(depth: number) {
    this.#depth = checkDepth(depth);
  }

  /** Replaces the whole book (then truncates to {@linkcode OrderBook.maxDepth}). */
  applySnapshot(bids: readonly PriceLevel[], asks: readonly PriceLevel[]): void {
    // Sorted snapshots (what venues send) load in O(n); anything else goes level by level.
    const bidsLoaded = this.#bids.load(bids, false);
    const asksLoaded = this.#asks.load(asks, true);
    if (!bidsLoaded) this.#bids.clear();
    if (!asksLoaded) this.#asks.clear();
    this.applyChange(bidsLoaded ? EMPTY : bids, asksLoaded ? EMPTY : asks);
  }

  /** Applies absolute-size changes to both sides, then truncates to the depth. */
  applyChange(bids: readonly PriceLevel[], asks: readonly PriceLevel[]): void {
    const b = this.#bids;
    const a = this.#asks;
    let absent = 0;
    for (let i = 0; i < bids.length; i++) {
      const level = bids[i];
      if (b.set(level[0], level[1]) === ABSENT_DELETE) absent++;
    }
    for (let i = 0; i < asks.length; i++) {
      const level = asks[i];
      if (a.set(-level[0], level[1]) === ABSENT_DELETE) absent++;
    }
    this.absentDeletes += absent;
    const depth = this.#depth;
    if (depth !== Infinity) {
      b.truncate(depth);
      a.truncate(depth);
    }
  }

  /** Sets one level's absolute size (0 deletes). Does not truncate. */
  update(side: BookSide, price: number, size: number): void {
    const result = side === "bid" ? this.#bids.set(price, size) : this.#asks.set(-price, size);
    if (result === ABSENT_DELETE) this.absentDeletes++;
  }

  /** Sets one bid level's absolute size (0 deletes). Does not truncate. */
  updateBid(price: number, size: number): void {
    if (this.#bids.set(price, size) === ABSENT_DELETE) this.absentDeletes++;
  }

  /** Sets one ask level's absolute size (0 deletes). Does not truncate. */
  updateAsk(price: number, size: number): void {
    if (this.#asks.set(-price, size) === ABSENT_DELETE) this.absentDeletes++;
  }

  /**
   * Keeps the best `depth` levels per side.
   * @throws {RangeError} unless `depth` is a non-negative number.
   */
  truncate(depth: number): void {
    if (!(depth >= 0)) throw new RangeError(`depth must be >= 0, got ${depth}`);
    this.#bids.truncate(depth);
    this.#asks.truncate(depth);
  }

  /** Removes every level. */
  clear(): void {
    this.#bids.clear();
    this.#asks.clear();
  }

  /** Best bid price, NaN when there is no bid. */
  get bestBid(): number {
    const s = this.#bids;
    return s.end > s.start ? s.keys[s.end - 1] : NaN;
  }
  /** Size at the best bid, NaN when there is no bid. */
  get bestBidSize(): number {
    const s = this.#bids;
    return s.end > s.start ? s.sizes[s.end - 1] : NaN;
  }
  /** Best ask price, NaN when there is no ask. */
  get bestAsk(): number {
    const s = this.#asks;
    return s.end > s.start ? -s.keys[s.end - 1] : NaN;
  }
  /** Size at the best ask, NaN when there is no ask. */
  get bestAskSize(): number {
    const s = this.#asks;
    return s.end > s.start ? s.sizes[s.end - 1] : NaN;
  }
  /** Number of bid levels. */
  get bidDepth(): number {
    return this.#bids.end - this.#bids.start;
  }
  /** Number of ask levels. */
  get askDepth(): number {
    return this.#asks.end - this.#asks.start;
  }
  /** Mid price, NaN unless both sides have a level. */
  get mid(): number {
    return (this.bestBid + this.bestAsk) / 2;
  }
  /** Best ask minus best bid, NaN unless both sides have a level. */
  get spread(): number {
    return this.bestAsk - this.bestBid;
  }
  /** True when the best bid is at or above the best ask: a book that cannot be right. */
  get crossed(): boolean {
    const b = this.#bids;
    const a = this.#asks;
    return b.end > b.start && a.end > a.start && b.keys[b.end - 1] >= -a.keys[a.end - 1];
  }

  /**
   * Size-weighted mid: `(bid * askSize + ask * bidSize) / (bidSize + askSize)`, which leans
   * towards the side with less size. NaN unless both sides have a level.
   */
  get microprice(): number {
    const bidSize = this.bestBidSize;
    const askSize = this.bestAskSize;
    return (this.bestBid * askSize + this.bestAsk * bidSize) / (bidSize + askSize);
  }

  /** Price of the `i`-th best level of a side (0 = best), NaN past the last level. */
  priceAt(side: BookSide, i: number): number {
    if (side === "bid") {
      const s = this.#bids;
      const j = s.end - 1 - i;
      return i >= 0 && j >= s.start ? s.keys[j] : NaN;
    }
    const s = this.#asks;
    const j = s.end - 1 - i;
    return i >= 0 && j >= s.start ? -s.keys[j] : NaN;
  }

  /** Size of the `i`-th best level of a side (0 = best), NaN past the last level. */
  sizeAt(side: BookSide, i: number): number {
    const s = side === "bid" ? this.#bids : this.#asks;
    const j = s.end - 1 - i;
    return i >= 0 && j >= s.start ? s.sizes[j] : NaN;
  }

  /**
   * Copies the best `n` levels of a side, best first, into `prices` and `sizes` (which must
   * hold `n`); returns how many were copied. Allocates nothing: for hot paths (checksums).
   */
  copyLevels(side: BookSide, n: number, prices: Float64Array, sizes: Float64Array): number {
    const s = side === "bid" ? this.#bids : this.#asks;
    const count = Math.min(s.end - s.start, n, prices.length, sizes.length);
    const keys = s.keys;
    const sz = s.sizes;
    const sign = side === "bid" ? 1 : -1;
    for (let k = 0, j = s.end - 1; k < count; k++, j--) {
      prices[k] = sign * keys[j];
      sizes[k] = sz[j];
    }
    return count;
  }

  /** Size at `price` on a side, 0 when there is no such level. */
  sizeAtPrice(side: BookSide, price: number): number {
    const s = side === "bid" ? this.#bids : this.#asks;
    const key = side === "bid" ? price : -price;
    let lo = s.start;
    let hi = s.end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s.keys[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo < s.end && s.keys[lo] === key ? s.sizes[lo] : 0;
  }

  /** Total size of the best `levels` levels of a side. */
  sizeOf(side: BookSide, levels: number): number {
    const s = side === "bid" ? this.#bids : this.#asks;
    const stop = Math.max(s.start, s.end - levels);
    let total = 0;
    for (let j = s.end - 1; j >= stop; j--) total += s.sizes[j];
    return total;
  }

  /**
   * Order-book imbalance over the best `levels` levels:
   * `(bidSize - askSize) / (bidSize + askSize)`, in [-1, 1]; NaN for an empty book.
   */
  imbalance(levels = 1): number {
    const bid = this.sizeOf("bid", levels);
    const ask = this.sizeOf("ask", levels);
    return (bid - ask) / (bid + ask);
  }

  /**
   * Total size of a side's levels priced within `bps` basis points of the mid (bids at or
   * above `mid * (1 - bps / 10_000)`, asks at or below `mid * (1 + bps / 10_000)`).
   * NaN unless both sides have a level.
   */
  sizeWithinBps(side: BookSide, bps: number): number {
    const mid = this.mid;
    if (Number.isNaN(mid)) return NaN;
    let total = 0;
    if (side === "bid") {
      const s = this.#bids;
      const limit = mid * (1 - bps / 10_000);
      for (let j = s.end - 1; j >= s.start && s.keys[j] >= limit; j--) total += s.sizes[j];
    } else {
      const s = this.#asks;
      const limit = -(mid * (1 + bps / 10_000));
      for (let j = s.end - 1; j >= s.start && s.keys[j] >= limit; j--) total += s.sizes[j];
    }
    return total;
  }

  /** The best `n` levels of each side, best first. */
  top(n = 10): { bids: PriceLevel[]; asks: PriceLevel[] } {
    return { bids: topOf(this.#bids, n, 1), asks: topOf(this.#asks, n, -1) };
  }

  /**
   * The book as plain rows, bids then asks, each side best first; `n` levels per side
   * (all by default).
   */
  toRows(n = Infinity): BookRow[] {
    const rows: BookRow[] = [];
    for (const side of ["bid", "ask"] as const) {
      const s = side === "bid" ? this.#bids : this.#asks;
      const sign = side === "bid" ? 1 : -1;
      const stop = Math.max(s.start, s.end - n);
      for (let j = s.end - 1, level = 0; j >= stop; j--, level++) {
        rows.push({ side, level, price: sign * s.keys[j], size: s.sizes[j] });
      }
    }
    return rows;
  }

  /**
   * Prices and sizes of a side's best `n` levels (all by default), best first, as new
   * typed arrays: the cheap path to columnar formats (see `bookToArrow`).
   */
  sideColumns(side: BookSide, n = Infinity): { prices: Float64Array; sizes: Float64Array } {
    const s = side === "bid" ? this.#bids : this.#asks;
    const count = Math.min(s.end - s.start, n);
    const prices = new Float64Array(count);
    const sizes = new Float64Array(count);
    const sign = side === "bid" ? 1 : -1;
    for (let k = 0, j = s.end - 1; k < count; k++, j--) {
      prices[k] = sign * s.keys[j];
      sizes[k] = s.sizes[j];
    }
    return { prices, sizes };
  }
}

const EMPTY: readonly PriceLevel[] = [];

function checkDepth(depth: number): number {
  if (!(depth > 0)) throw new RangeError(`depth must be positive, got ${depth}`);
  return depth;
}

function topOf(s: BookSideLevels, n: number, sign: number): PriceLevel[] {
  const out: PriceLevel[] = [];
  const stop = Math.max(s.start, s.end - n);
  for (let j = s.end - 1; j >= stop; j--) out.push([sign * s.keys[j], s.sizes[j]]);
  return out;
}
