/**
 * AlphaPulse (`@alphapulse/lib`): what a notebook imports.
 *
 * Open the store the environment names, get trades and bars as Polars frames, Arrow tables
 * or rows, show them and chart them inline (offline):
 *
 * ```ts ignore
 * import { candlestickChart, openRepository, parseDuration, say, show } from "@alphapulse/lib";
 * const repo = await openRepository(); // $ALPHAPULSE_LAKE, or lake + buffer with DATABASE_URL
 * const [first] = await repo.instruments();
 * const bars = await repo.bars({ ...first, interval: parseDuration("1m") }).polars();
 * await show(candlestickChart(bars, { title: first.symbol, volume: true }));
 * const trades = await repo.trades(first).polars();
 * await say(`${trades.height} trades`);
 * await show(trades.head(10)); // a table with shape and column types
 * ```
 *
 * Sub-paths: `@alphapulse/lib/research` (books from the lake, ...), `/charts`, `/notebook`,
 * `/repositories`, `/lake`, `/book`, `/market`, `/buffer`, `/simulator`.
 * @module
 */
export * from "./market/mod.ts";
export {
  type ActivityBarQuery,
  type BarQuery,
  type BookSnapshotQuery,
  type InstrumentsOptions,
  type InstrumentSummary,
  type InstrumentTable,
  type InstrumentTableSummary,
  LakeRepository,
  type ListQuery,
  type MarketDataRepository,
  MemoryRepository,
  type PagedResult,
  PostgresRepository,
  type QueryResult,
  type RangeQuery,
  type SqlResult,
  UnifiedRepository,
} from "./repositories/mod.ts";
export { LakeSink, ParquetLake } from "./lake/mod.ts";
export { BookKeeper, OrderBook } from "./book/mod.ts";
export {
  candlestickChart,
  chartLibrary,
  depthHeatmap,
  equityChart,
  htmlReport,
  lineChart,
} from "./charts/mod.ts";
export { frameHtml, say, show, summary } from "./notebook/mod.ts";
export {
  type OpenedRepository,
  openRepository,
  type OpenRepositoryOptions,
  type RepositoryKind,
} from "./open_repository.ts";
export { DEMO_PRODUCTS, laggedVenueTrades, SyntheticMarket } from "./simulator/mod.ts";
export { databaseUrl, defaultLakeRoot } from "./config.ts";
export {
  ActionLog,
  actionLogRows,
  backtest,
  BacktestResult,
  type Fill,
  type Order,
  type OrderRequest,
  repositoryFeed,
  type Strategy,
  type TradingContext,
  verifyActionLog,
} from "./backtest/mod.ts";
export * from "./research/mod.ts";
