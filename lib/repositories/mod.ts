/**
 * Repositories: one read interface ({@linkcode MarketDataRepository}) over every store.
 *
 * - {@linkcode LakeRepository}: the Parquet lake (`await LakeRepository.open({ root })`).
 * - {@linkcode MemoryRepository}: trades in memory, for tests and backtests.
 *
 * Each query returns a lazy {@linkcode QueryResult} with `rows()`, `polars()` and `arrow()`.
 * The helpers that build such results from Polars frames or column arrays are exported for
 * other stores.
 *
 * @example
 * ```ts ignore
 * import { LakeRepository } from "./mod.ts";
 * const repo = await LakeRepository.open({ root: "data/lake" });
 * const df = await repo.trades({ exchange: "coinbase", symbol: "BTC-USD" }).polars();
 * await repo.close();
 * ```
 * @module
 */
export type {
  ActivityBarQuery,
  ActivityMeasure,
  BarQuery,
  InstrumentSummary,
  MarketDataRepository,
  QueryResult,
  RangeQuery,
} from "./repository.ts";
export { LakeRepository, type LakeRepositoryOptions } from "./lake_repository.ts";
export { type AddCounts, MemoryRepository } from "./memory_repository.ts";
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
