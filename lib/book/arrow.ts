/**
 * A book as an Apache Arrow table (for DuckDB, Polars, notebooks).
 * @module
 */
import { type Table, tableFromArrays } from "apache-arrow";
import type { OrderBook } from "./order_book.ts";

/** Options for {@linkcode bookToArrow}. */
export interface BookToArrowOptions {
  /** Levels per side (all by default). */
  readonly levels?: number;
}

/**
 * The book as an Arrow table with columns `side` (`"bid"`/`"ask"`), `level` (0 = best,
 * int32), `price` and `size` (float64): bids best first, then asks best first. Built from
 * typed arrays, so the numeric columns are copied once.
 *
 * @example
 * ```ts
 * import { OrderBook } from "./order_book.ts";
 * import { bookToArrow } from "./arrow.ts";
 * import assert from "node:assert/strict";
 * const book = new OrderBook();
 * book.applySnapshot([[100, 1], [99, 2]], [[101, 3]]);
 * const table = bookToArrow(book);
 * assert.equal(table.numRows, 3);
 * assert.equal(table.getChild("price")?.get(1), 99);
 * ```
 */
export function bookToArrow(book: OrderBook, options: BookToArrowOptions = {}): Table {
  const levels = options.levels ?? Infinity;
  const bids = book.sideColumns("bid", levels);
  const asks = book.sideColumns("ask", levels);
  const nb = bids.prices.length;
  const n = nb + asks.prices.length;
  const price = new Float64Array(n);
  const size = new Float64Array(n);
  const level = new Int32Array(n);
  const side: string[] = new Array(n);
  price.set(bids.prices, 0);
  price.set(asks.prices, nb);
  size.set(bids.sizes, 0);
  size.set(asks.sizes, nb);
  for (let i = 0; i < n; i++) {
    const bid = i < nb;
    level[i] = bid ? i : i - nb;
    side[i] = bid ? "bid" : "ask";
  }
  return tableFromArrays({ side, level, price, size });
}
