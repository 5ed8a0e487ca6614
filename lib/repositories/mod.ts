/**
 * Repositories: one read interface over every store — {@linkcode MarketDataRepository}
 * (instruments, trades, time and activity bars, quotes, book snapshots) — implemented by
 * all four:
 *
 * - {@linkcode LakeRepository}: the Parquet lake (`await LakeRepository.open({ root })`).
 * - {@linkcode PostgresRepository}: the PostgreSQL hot buffer (recent days).
 * - {@linkcode UnifiedRepository}: lake history plus buffer recency, each event once.
 * - {@linkcode MemoryRepository}: events in memory, for tests and backtests.
 *
 * Each query returns a lazy {@linkcode QueryResult} with `rows()`, `polars()` and `arrow()`.
 * Trades, quotes and book snapshots take `limit`, `order` and `cursor` (pushed down into
 * each store) and return a {@linkcode PagedResult} with `page()` and `next()`.
 * The helpers that build such results from Polars frames or column arrays are exported for
 * other stores.
 *
 * @example
 * ```ts ignore
 * import { LakeRepository } from "./mod.ts";
 * const repo = await LakeRepository.open({ root: "data/lake" });
 * const btc = { exchange: "coinbase", symbol: "BTC-USD" };
 * const trades = await repo.trades(btc).polars();
 * const day = { ...btc, start: Date.UTC(2024, 2, 9) * 1000, end: Date.UTC(2024, 2, 10) * 1000 };
 * const quotes = await repo.quotes(day).polars(); // opens only that day's files
 * const books = await repo.bookSnapshots({ ...day, depth: 10 }).arrow(); // List<Float64> levels
 * const latest = repo.trades({ ...btc, limit: 100, order: "desc" }); // reads the last day only
 * const { rows, cursor } = await latest.page(); // cursor: where the 100 before them start
 * const before = await latest.next(); // that next page, or undefined
 * await repo.close();
 * ```
 * @module
 */
export type {
  ActivityBarQuery,
  ActivityMeasure,
  BarQuery,
  BookSnapshotQuery,
  InstrumentsOptions,
  InstrumentSummary,
  InstrumentTable,
  InstrumentTableSummary,
  ListQuery,
  MarketDataRepository,
  Page,
  PagedResult,
  PageOrder,
  QueryResult,
  RangeQuery,
} from "./repository.ts";
export { INSTRUMENT_TABLES, isInstrumentTable } from "./repository.ts";
export { LakeRepository, type LakeRepositoryOptions } from "./lake_repository.ts";
export type { SqlResult } from "./_lake_sql.ts";
export {
  type AddCounts,
  MemoryRepository,
  type MemoryRepositoryOptions,
} from "./memory_repository.ts";
export type { ActionWriteCounts } from "./_memory_actions.ts";
export { PostgresRepository, type PostgresRepositoryOptions } from "./postgres_repository.ts";
export { UnifiedRepository, type UnifiedRepositoryOptions } from "./unified_repository.ts";
export {
  ACTIVITY_BAR_INTERVAL,
  activityBarColumns,
  type ActivityTradeColumns,
} from "./_activity_bars.ts";
export {
  BAR_COLUMNS,
  type BarColumns,
  barColumnsResult,
  columnsQueryResult,
  polarsQueryResult,
  polarsToArrow,
  TRADE_COLUMNS,
  type TradeColumns,
  tradeColumnsResult,
} from "./_result.ts";
export {
  BOOK_SNAPSHOT_COLUMNS,
  type BookSnapshotColumns,
  bookSnapshotColumnsResult,
  bookSnapshotFrameResult,
  QUOTE_COLUMNS,
  type QuoteColumns,
  quoteColumnsResult,
  quoteFrameResult,
} from "./_event_result.ts";
