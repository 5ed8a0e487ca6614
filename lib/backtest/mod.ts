/**
 * Backtesting on the same `MarketEvent` stream that live collection, replay and the
 * repositories share: a strategy API that runs unchanged in a backtest and, later, live; an
 * event-driven engine with L2 fills, queue position, latency and fees; results as Polars
 * frames and metrics; a hash-chained action log with bit-identical replay; and a vectorized
 * path for bar strategies over many parameter sets.
 *
 * @example
 * ```ts
 * import { backtest, type Strategy } from "./mod.ts";
 * import assert from "node:assert/strict";
 * const at = { exchange: "sim", symbol: "BTC-USD", recvTs: 0 };
 * const buyOnce: Strategy = {
 *   name: "buy-once",
 *   onBook(_e, ctx) {
 *     if (ctx.openOrders().length === 0 && ctx.position("sim", "BTC-USD") === 0) {
 *       ctx.submit({ exchange: "sim", symbol: "BTC-USD", side: "buy", type: "market", size: 1.5 });
 *     }
 *   },
 * };
 * const result = await backtest({
 *   strategy: buyOnce,
 *   instruments: [{ exchange: "sim", symbol: "BTC-USD", tickSize: 0.5 }],
 *   feed: [{ ...at, ts: 1, kind: "book_snapshot", bids: [[99, 1]], asks: [[101, 1], [102, 3]] }],
 * });
 * assert.deepEqual(result.fills.map((f) => [f.price, f.size]), [[101, 1], [102, 0.5]]);
 * ```
 * @module
 */
export type { BookView, InstrumentSpec, Strategy, TradingContext } from "./strategy.ts";
export type {
  Fill,
  Liquidity,
  Order,
  OrderAmendment,
  OrderReport,
  OrderRequest,
  OrderSide,
  OrderStatus,
  OrderType,
  TimeInForce,
  Timer,
} from "./types.ts";
export { backtest, type BacktestOptions } from "./backtest.ts";
export type { BacktestConfig, LatencyConfig, ResolvedConfig } from "./config.ts";
export { type LatencySpec } from "./latency.ts";
export { type QueueSpec } from "./queue.ts";
export { type FeeSchedule, type FeeSpec } from "./fees.ts";
export {
  batches,
  eventTime,
  type FeedSource,
  mergeFeeds,
  repositoryFeed,
  type RepositoryFeedOptions,
} from "./feed.ts";
export { BacktestResult } from "./results.ts";
export { computeMetrics, type Metrics } from "./metrics.ts";
export { type ActionEntry, ActionLog, verifyActionLog } from "./action_log.ts";
export { actionLogRows, type ActionLogRowsOptions } from "./stored_log.ts";
export type { PositionRow, RunRecord } from "./_run_record.ts";
export { replay, type ReplayOptions, type ReplayVerdict } from "./replay.ts";
export { syntheticL2Feed, type SyntheticL2Options } from "./synthetic.ts";
export {
  marketMaker,
  type MarketMakerParams,
  movingAverageCross,
  type MovingAverageParams,
} from "./strategies.ts";
export {
  type Column,
  crossSignals,
  fromSignals,
  type FromSignalsOptions,
  type VectorizedResult,
} from "./vectorized.ts";
export { backtestReport, type BacktestReportOptions, equityCharts, metricRows } from "./report.ts";
