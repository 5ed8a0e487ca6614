/**
 * An L2 price-level order book for one instrument.
 * @module
 */
import type { BookSide, PriceLevel } from "../market/types.ts";

/** Options for {@linkcode OrderBook}. */
export interface OrderBookOptions {
  /**
   * Keep at most this many levels per side after every snapshot and change (Kraken sends no
   * deletes for levels that fall out of the subscribed depth). Unlimited by default.
   */
  readonly depth?: number;
}

/**
 * An L2 book: absolute sizes per price level, size 0 deletes, deletes of absent levels are
 * ignored and counted. Each side is a sorted array of prices with a parallel array of sizes,
 * kept so that the best price is the **last** element (bids ascending, asks descending):
 * the busiest updates, at and near the top, then insert and remove at the array end, and the
 * best bid and ask are O(1) reads.
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
 * ```
 */
export class OrderBook {
  /** Bid prices ascending (best last). */
  #bidPx: number[] = [];
  #bidSz: number[] = [];
  /** Ask prices descending (best last). */
  #askPx: number[] = [];
  #askSz: number[] = [];
  readonly #depth: number;
  /** Deletes of levels that were not in the book, since construction. */
  absentDeletes = 0;

  constructor(options: OrderBookOptions = {}) {
    const depth = options.depth ?? Infinity;
    if (!(depth > 0)) throw new RangeError(`depth must be positive, got ${depth}`);
    this.#depth = depth;
  }

  /** Replaces the whole book. */
  applySnapshot(bids: readonly PriceLevel[], asks: readonly PriceLevel[]): void {
    this.clear();
    this.applyChange(bids, asks);
  }

  /** Applies absolute-size changes to both sides, then truncates to the depth. */
  applyChange(bids: readonly PriceLevel[], asks: readonly PriceLevel[]): void {
    for (let i = 0; i < bids.length; i++) this.#set(true, bids[i][0], bids[i][1]);
    for (let i = 0; i < asks.length; i++) this.#set(false, asks[i][0], asks[i][1]);
    if (this.#depth !== Infinity) this.truncate(this.#depth);
  }

  /** Sets one level's absolute size (0 deletes). Does not truncate. */
  update(side: BookSide, price: number, size: number): void {
    this.#set(side === "bid", price, size);
  }

  #set(bid: boolean, price: number, size: number): void {
    const px = bid ? this.#bidPx : this.#askPx;
    const sz = bid ? this.#bidSz : this.#askSz;
    // Binary search for the position of price in the side's order.
    let lo = 0;
    let hi = px.length;
    // Fast path: at or beyond the best (the end).
    const n = px.length;
    if (n > 0 && (bid ? price >= px[n - 1] : price <= px[n - 1])) {
      lo = px[n - 1] === price ? n - 1 : n;
    } else {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (bid ? px[mid] < price : px[mid] > price) lo = mid + 1;
        else hi = mid;
      }
    }
    const found = lo < n && px[lo] === price;
    if (size === 0) {
      if (found) {
        px.splice(lo, 1);
        sz.splice(lo, 1);
      } else {
        this.absentDeletes++;
      }
    } else if (found) {
      sz[lo] = size;
    } else if (lo === n) {
      px.push(price);
      sz.push(size);
    } else {
      px.splice(lo, 0, price);
      sz.splice(lo, 0, size);
    }
  }

  /** Keeps the best `depth` levels per side. */
  truncate(depth: number): void {
    if (this.#bidPx.length > depth) {
      const drop = this.#bidPx.length - depth;
      this.#bidPx.splice(0, drop);
      this.#bidSz.splice(0, drop);
    }
    if (this.#askPx.length > depth) {
      const drop = this.#askPx.length - depth;
      this.#askPx.splice(0, drop);
      this.#askSz.splice(0, drop);
    }
  }

  /** Removes every level. */
  clear(): void {
    this.#bidPx = [];
    this.#bidSz = [];
    this.#askPx = [];
    this.#askSz = [];
  }

  /** Best bid price, NaN when there is no bid. */
  get bestBid(): number {
    const n = this.#bidPx.length;
    return n ? this.#bidPx[n - 1] : NaN;
  }
  /** Size at the best bid, NaN when there is no bid. */
  get bestBidSize(): number {
    const n = this.#bidSz.length;
    return n ? this.#bidSz[n - 1] : NaN;
  }
  /** Best ask price, NaN when there is no ask. */
  get bestAsk(): number {
    const n = this.#askPx.length;
    return n ? this.#askPx[n - 1] : NaN;
  }
  /** Size at the best ask, NaN when there is no ask. */
  get bestAskSize(): number {
    const n = this.#askSz.length;
    return n ? this.#askSz[n - 1] : NaN;
  }
  /** Number of bid levels. */
  get bidDepth(): number {
    return this.#bidPx.length;
  }
  /** Number of ask levels. */
  get askDepth(): number {
    return this.#askPx.length;
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
    return this.#bidPx.length > 0 && this.#askPx.length > 0 && this.bestBid >= this.bestAsk;
  }

  /** The best `n` levels of each side, best first. */
  top(n = 10): { bids: PriceLevel[]; asks: PriceLevel[] } {
    return { bids: topOf(this.#bidPx, this.#bidSz, n), asks: topOf(this.#askPx, this.#askSz, n) };
  }
}

function topOf(px: number[], sz: number[], n: number): PriceLevel[] {
  const out: PriceLevel[] = [];
  for (let i = px.length - 1; i >= 0 && out.length < n; i--) out.push([px[i], sz[i]]);
  return out;
}
