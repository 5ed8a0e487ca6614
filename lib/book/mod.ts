/**
 * Order books: an exact, fast L2 {@linkcode OrderBook}, the {@linkcode BookKeeper} that
 * keeps one per symbol for a venue feed and runs the venue's integrity checks (Kraken CRC32,
 * Binance update-id chaining, connection sequences, crossed books), and export of a book to
 * rows or Arrow.
 *
 * @example
 * ```ts
 * import { BookKeeper } from "./mod.ts";
 * import assert from "node:assert/strict";
 * const keeper = new BookKeeper({ exchange: "binance" });
 * const header = { exchange: "binance", symbol: "BTC-USDT", ts: 1, recvTs: 1 };
 * keeper.apply({ ...header, kind: "book_snapshot", sequence: 10, bids: [[99, 1]], asks: [[101, 1]] });
 * keeper.apply({ ...header, kind: "book_change", firstSequence: 8, sequence: 12, bids: [[100, 2]], asks: [] });
 * assert.equal(keeper.book("BTC-USDT")?.bestBid, 100);
 * const status = keeper.apply({ ...header, kind: "book_change", firstSequence: 14, sequence: 15, bids: [], asks: [] });
 * assert.equal(status?.status, "reset"); // 13 is missing
 * ```
 * @module
 */
export { type BookRow, OrderBook, type OrderBookOptions } from "./order_book.ts";
export { BookKeeper, type BookKeeperOptions, type BookKeeperStats } from "./book_keeper.ts";
export {
  binanceIntegrity,
  type BookIntegrity,
  bookIntegrity,
  connectionSequenceIntegrity,
  INTEGRITY_RULES,
  type IntegrityRule,
  type KeptBook,
  krakenIntegrity,
  type SequenceVerdict,
} from "./integrity.ts";
export { krakenChecksum, type KrakenChecksumOptions } from "./kraken_checksum.ts";
export { bookToArrow, type BookToArrowOptions } from "./arrow.ts";
