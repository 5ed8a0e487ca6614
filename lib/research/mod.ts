/**
 * Research: Polars frames in, frames out. Order books rebuilt from the lake and sampled into
 * series (top levels, spread, mid, microprice, depth and order-flow imbalance), and quotes
 * derived from books.
 *
 * @example
 * ```ts ignore
 * import { openRepository } from "../mod.ts";
 * import { bookHistory } from "./mod.ts";
 * const repo = await openRepository({ kind: "lake" });
 * const book = await bookHistory(repo, { exchange: "coinbase", symbol: "BTC-USD" }, { every: 1e6 });
 * ```
 * @module
 */
export {
  bookHistory,
  bookHistoryFromEvents,
  type BookHistoryOptions,
  type BookSource,
  loadBookEvents,
  ofiStep,
  quotesFromBooks,
  type QuotesFromBooksOptions,
  type SnapshotOrder,
} from "./book_history.ts";
