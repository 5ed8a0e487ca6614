/**
 * Lead-lag between two aligned series by cross-correlation over lags.
 * @module
 */
import pl from "nodejs-polars";
import { checkFrame, requireColumn } from "./_frame.ts";

/** Options of {@linkcode leadLag}. */
export interface LeadLagOptions {
  /** The possibly leading column (for example `binance_log_return`). */
  readonly x: string;
  /** The possibly lagging column. */
  readonly y: string;
  /**
   * Lags in rows to try: a list (negative allowed), or `maxLag` for `-maxLag..maxLag`.
   * Default `maxLag: 10`.
   */
  readonly lags?: readonly number[];
  readonly maxLag?: number;
  /** Pick the lag of largest absolute correlation instead of largest correlation. */
  readonly absolute?: boolean;
}

/** Result of {@linkcode leadLag}. */
export interface LeadLagResult {
  /** `lag`, `correlation`, `n` (pairs used), one row per lag tried, in the order given. */
  readonly table: pl.DataFrame;
  /**
   * The lag of largest correlation (ties: smallest |lag|, then the negative one), or null
   * when no correlation is defined. Positive: `x` leads `y` by that many rows.
   */
  readonly lag: number | null;
  /** Its correlation (null with `lag`). */
  readonly correlation: number | null;
}

/**
 * Cross-correlation of `x` with `y` shifted by each lag `k` (rows of one aligned frame,
 * for example from `asofAlign` plus `logReturns`):
 *
 *     c(k) = corr(x_t, y_{t+k})   over the rows where both are present (not null)
 *
 * Pearson correlation. `c(k)` is null with fewer than 3 pairs or a constant side, NaN
 * when a value used is NaN (NaN correlations are never picked as the best lag).
 *
 * @throws {TypeError} when a column is missing or not numeric.
 * @throws {RangeError} for lags that are not whole numbers, or duplicated.
 */
export function leadLag(frame: pl.DataFrame, options: LeadLagOptions): LeadLagResult {
  const fn = "leadLag";
  checkFrame(frame, fn);
  const { x, y } = options ?? {};
  requireColumn(frame, x, "number", fn);
  requireColumn(frame, y, "number", fn);
  const lags = lagList(options, fn);
  const base = frame.lazy().select(
    pl.col(x).cast(pl.Float64).alias("x"),
    pl.col(y).cast(pl.Float64).alias("y"),
  );
  const values: (number | null)[] = [];
  const counts: number[] = [];
  for (const k of lags) {
    const pairs = base.select(pl.col("x"), pl.col("y").shift(-k).alias("y")).dropNulls();
    const out = pairs.select(
      pl.len().alias("n"),
      pl.pearsonCorr("x", "y").alias("c"),
      pl.col("x").std().alias("sx"),
      pl.col("y").std().alias("sy"),
    ).collectSync().row(0);
    const n = Number(out[0]);
    counts.push(n);
    const sx = out[2] as number | null;
    const sy = out[3] as number | null;
    values.push(n < 3 || sx === 0 || sy === 0 ? null : out[1] as number);
  }
  let best = -1;
  for (let i = 0; i < lags.length; i++) {
    const v = values[i];
    if (v === null || Number.isNaN(v)) continue;
    if (best < 0) {
      best = i;
      continue;
    }
    const a = options.absolute ? Math.abs(v) : v;
    const b = options.absolute ? Math.abs(values[best]!) : values[best]!;
    const closer = Math.abs(lags[i]) < Math.abs(lags[best]) ||
      (Math.abs(lags[i]) === Math.abs(lags[best]) && lags[i] < lags[best]);
    if (a > b || (a === b && closer)) best = i;
  }
  return {
    table: pl.DataFrame([
      pl.Series("lag", lags, pl.Int64),
      pl.Series("correlation", values, pl.Float64),
      pl.Series("n", counts, pl.Int64),
    ]),
    lag: best < 0 ? null : lags[best],
    correlation: best < 0 ? null : values[best],
  };
}

function lagList(options: LeadLagOptions, fn: string): number[] {
  let lags: readonly number[];
  if (options.lags !== undefined) lags = options.lags;
  else {
    const max = options.maxLag ?? 10;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new RangeError(`${fn}: maxLag must be a whole number >= 0, got ${max}`);
    }
    lags = Array.from({ length: 2 * max + 1 }, (_, i) => i - max);
  }
  if (!Array.isArray(lags) || lags.length === 0) {
    throw new RangeError(`${fn}: lags must be a non-empty list`);
  }
  for (const k of lags) {
    if (!Number.isSafeInteger(k)) {
      throw new RangeError(`${fn}: a lag must be a whole number, got ${k}`);
    }
  }
  if (new Set(lags).size !== lags.length) throw new RangeError(`${fn}: lags has duplicates`);
  return [...lags];
}
