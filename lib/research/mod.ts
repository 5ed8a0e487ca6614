/**
 * Research functions, Polars-first: Polars DataFrames in, DataFrames out, each formula in
 * its JSDoc.
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
 *   past the end of the data, an empty window);
 * - an empty frame gives an empty result with the documented columns; a single row gives
 *   nulls where a value needs two.
 *
 * ```ts ignore
 * import { forwardReturns, kyleLambda, realizedVariance, signedVolume, timeBars } from "../lib/mod.ts";
 * const trades = signedVolume(await repo.trades(btc).polars());
 * const bars = timeBars(trades, { every: "1m", sums: ["signed_volume"] });
 * const rv = realizedVariance(trades, { every: "1m" });
 * const lambda = kyleLambda(bars, { every: "1h", price: "close" });
 * const labeled = forwardReturns(bars, { horizons: ["5m"], price: "close" });
 * ```
 * @module
 */
export { type Duration } from "./_frame.ts";
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
