/**
 * Autocorrelation of trade signs (order-flow persistence).
 * @module
 */
import pl from "nodejs-polars";
import { checkFrame, distinctList, positiveInt, requireColumn } from "./_frame.ts";

/** Options of {@linkcode tradeSignAutocorrelation}. */
export interface TradeSignAutocorrelationOptions {
  /** Sign column, +1 / -1 (default `sign`, as added by `signedVolume`). */
  readonly sign?: string;
  /** Lags in trades (default 1 to 10). */
  readonly lags?: readonly number[];
}

/**
 * The sample autocorrelation of the trade-sign sequence at each lag `k` (rows in frame
 * order; rows with a null sign are dropped first):
 *
 *     m = mean(s),  rho(k) = sum_{i=0}^{N-1-k} (s_i - m)(s_{i+k} - m) / sum_{i=0}^{N-1} (s_i - m)^2
 *
 * (the usual ACF estimator: one mean and one denominator over all `N` signs). Output:
 * `lag`, `autocorrelation`, `n` (pairs used, `N - k`). `autocorrelation` is null when
 * `N - k < 1` or every sign is equal (zero variance), NaN when a sign is NaN. The frame
 * is one series: filter one instrument first.
 *
 * @throws {TypeError} when the sign column is missing or not numeric.
 * @throws {RangeError} for empty, duplicated or non-positive lags.
 */
export function tradeSignAutocorrelation(
  frame: pl.DataFrame,
  options: TradeSignAutocorrelationOptions = {},
): pl.DataFrame {
  const fn = "tradeSignAutocorrelation";
  checkFrame(frame, fn);
  const { sign = "sign" } = options ?? {};
  const lags = distinctList(
    options?.lags ?? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    "lags",
    fn,
    (k) => positiveInt(k, "a lag", fn),
  );
  requireColumn(frame, sign, "number", fn);
  const s = frame.lazy().select(pl.col(sign).cast(pl.Float64).alias("s")).dropNulls()
    .collectSync();
  const n = s.height;
  const centered = pl.col("s").sub(pl.col("s").mean());
  const sums = s.lazy().select(
    centered.pow(2).sum().alias("den"),
    ...lags.map((k) => centered.mul(centered.shift(-k)).sum().alias(`l${k}`)),
  ).collectSync();
  const den = Number(sums.getColumn("den").get(0));
  const values = lags.map((k) => {
    if (n - k < 1 || den === 0) return null;
    return Number(sums.getColumn(`l${k}`).get(0)) / den;
  });
  return pl.DataFrame([
    pl.Series("lag", lags, pl.Int64),
    pl.Series("autocorrelation", values, pl.Float64),
    pl.Series("n", lags.map((k) => Math.max(0, n - k)), pl.Int64),
  ]);
}
