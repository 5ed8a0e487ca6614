/**
 * Research functions, Polars-first: Polars DataFrames in, DataFrames out, each formula in
 * its JSDoc (`timeBars` also takes a LazyDataFrame such as a Parquet scan, and then never
 * materializes the trades).
 *
 * Conventions (all functions):
 * - column names default to the repository's (`price`, `size`, `side`, `ts` on trades;
 *   `open`, `high`, `low`, `close`, `volume`, `vwap`, `ts` on bars) and are options;
 * - time is a Datetime column or microseconds since the epoch (integer or float); outputs
 *   keep the input's kind; durations are microseconds or text such as `"5m"`;
 * - a missing column or one of the wrong type is a `TypeError` naming it; time with a
 *   missing value or out of order (within `by` groups) is a `RangeError` naming the
 *   column and row (sort first); bad arguments are `RangeError`s;
 * - null in a numeric input is read as NaN and NaN propagates into every result computed
 *   from it; null in a result means "no value by construction" (no previous row, a horizon
 *   past the end of the data, an empty window). Documented exceptions: a null sign or
 *   signed volume is an unsigned trade (left out of sums and regressions); the information
 *   coefficient and quantile returns leave out rows with a null or NaN in either input, and
 *   lead-lag rows with a null, and report how many rows they used (`n`);
 * - an empty frame gives an empty result with the documented columns (per-lag and
 *   per-column summaries give their rows with null values and `n = 0`); a single row gives
 *   nulls where a value needs two.
 *
 * ```ts ignore
 * import { forwardReturns, kyleLambda, markouts, timeBars, yangZhang } from "../lib/mod.ts";
 * const trades = await repo.trades(btc).polars();
 * // 1-minute bars with signed volume (tick rule where the side is unknown) and realized
 * // variance, in one pass over the trades:
 * const bars = timeBars(trades, { every: "1m", signedVolume: true, realizedVariance: true });
 * const lambda = kyleLambda(bars, { every: "1h", price: "close" }); // impact per hour
 * const labeled = forwardReturns(bars, { horizons: ["5m", "15m"], price: "close" });
 * const vol = yangZhang(bars, { window: 30 });
 * const after = markouts(trades, { horizons: ["1s", "10s", "1m"], bps: true });
 * ```
 *
 * Order books rebuilt from the lake (`bookHistory`, `loadBookEvents`; `bookSeries` as typed arrays) and sampled into
 * series (top levels, spread, mid, microprice, depth and order-flow imbalance), and quotes
 * derived from books (`quotesFromBooks`):
 *
 * ```ts ignore
 * import { openRepository } from "../mod.ts";
 * import { bookHistory } from "./mod.ts";
 * const repo = await openRepository({ kind: "lake" });
 * const book = await bookHistory(repo, { exchange: "coinbase", symbol: "BTC-USD" }, { every: 1e6 });
 * ```
 * @module
 */
export type { Duration, Source } from "./_frame.ts";
export { logReturnExpr, type LogReturnOptions, logReturns } from "./returns.ts";
export {
  type ForwardReturnOptions,
  forwardReturns,
  type ForwardTradeReturnOptions,
  forwardTradeReturns,
} from "./forward_returns.ts";
export { type TimeBarOptions, timeBars } from "./bars.ts";
export { bipowerVariation, type RealizedOptions, realizedVariance } from "./realized_variance.ts";
export {
  garmanKlass,
  parkinson,
  type RangeVolatilityOptions,
  rogersSatchell,
  yangZhang,
} from "./range_volatility.ts";
export {
  signedVolume,
  type SignedVolumeOptions,
  tickRule,
  tickRuleExpr,
  type TickRuleOptions,
} from "./signed_volume.ts";
export { tradeSignAutocorrelation, type TradeSignAutocorrelationOptions } from "./trade_sign.ts";
export { kyleLambda, type KyleLambdaOptions } from "./kyle_lambda.ts";
export { amihudIlliquidity, type AmihudOptions } from "./amihud.ts";
export { rollSpread, type RollSpreadOptions } from "./roll_spread.ts";
export { type MarkoutOptions, markouts } from "./markouts.ts";
export { asofAlign, type AsofAlignOptions } from "./align.ts";
export { leadLag, type LeadLagOptions, type LeadLagResult } from "./lead_lag.ts";
export {
  icDecay,
  informationCoefficient,
  type InformationCoefficientOptions,
} from "./information_coefficient.ts";
export { type QuantileReturnOptions, quantileReturns } from "./quantile_returns.ts";
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
export { type BookSeries, bookSeries, type BookSeriesOptions } from "./book_series.ts";
