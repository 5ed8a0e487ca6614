/**
 * AlphaPulse: what a notebook imports.
 *
 * Open the lake through a repository, get trades and bars as Polars frames, Arrow tables or
 * rows, and chart them inline (offline):
 *
 * ```ts ignore
 * import { candlestickChart, LakeRepository, parseDuration } from "../lib/mod.ts";
 * const repo = await LakeRepository.open({ root: "../data/lake" });
 * const [first] = await repo.instruments();
 * const bars = await repo.bars({ ...first, interval: parseDuration("1m") }).rows();
 * candlestickChart(bars, { title: first.symbol, volume: true }); // renders in Jupyter
 * const trades = await repo.trades(first).polars();
 * const quotes = await repo.quotes(first).polars(); // best bid/offer, where collected
 * const books = await repo.bookSnapshots({ ...first, depth: 10 }).rows();
 * ```
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
  type MarketDataRepository,
  MemoryRepository,
  PostgresRepository,
  type QueryResult,
  type RangeQuery,
  UnifiedRepository,
} from "./repositories/mod.ts";
export { LakeSink, ParquetLake } from "./lake/mod.ts";
export { BookKeeper, OrderBook } from "./book/mod.ts";
export { candlestickChart, htmlReport, lineChart } from "./charts/mod.ts";
export { DEMO_PRODUCTS, SyntheticMarket } from "./simulator/mod.ts";
export { databaseUrl, defaultLakeRoot } from "./config.ts";
export * from "./research/mod.ts";
