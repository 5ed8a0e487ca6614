/**
 * Kyle's lambda: price impact per unit of signed volume, by regression per window.
 * @module
 */
import pl from "nodejs-polars";
import {
  checkFrame,
  checkTime,
  type Duration,
  groupColumns,
  num,
  overGroups,
  requireColumn,
} from "./_frame.ts";
import { windowKey, windowStart } from "./_windows.ts";

/** Options of {@linkcode kyleLambda}. */
export interface KyleLambdaOptions {
  /** Window length (microseconds or `"1h"`); omitted: one window over the whole series. */
  readonly every?: Duration;
  /** Price column (default `price`; `close` on bars). */
  readonly price?: string;
  /** Signed volume column (default `signed_volume`, as added by `signedVolume` or summed into bars). */
  readonly signedVolume?: string;
  /** Time column (default `ts`). */
  readonly time?: string;
  /** Columns that identify one series. */
  readonly by?: string | readonly string[];
}

/**
 * Kyle's lambda per window: the ordinary least-squares slope of the price change on the
 * signed volume over the rows of the window (trades, or bars with summed signed volume):
 *
 *     y_i = p_i - p_{i-1}   (over the whole series; the first row has none and is left out)
 *     x_i = signed volume of row i
 *     lambda = sum (x - mean x)(y - mean y) / sum (x - mean x)^2
 *     intercept = mean y - lambda mean x,   r2 = [sum (x - mx)(y - my)]^2 / [sum (x - mx)^2 sum (y - my)^2]
 *
 * Rows with a null signed volume (unsigned trades) are left out. Output: `by` columns,
 * `ts` (window start), `n` (rows used), `lambda`, `intercept`, `r2`. All three are null
 * when `n < 2` or the signed volume does not vary in the window (and `r2` also when the
 * price does not move); NaN when an input is NaN.
 *
 * @throws {TypeError} when a column is missing or of the wrong type.
 * @throws {RangeError} for a bad `every`, or time missing or out of order.
 */
export function kyleLambda(frame: pl.DataFrame, options: KyleLambdaOptions = {}): pl.DataFrame {
  const fn = "kyleLambda";
  checkFrame(frame, fn);
  const { price = "price", signedVolume = "signed_volume", time = "ts" } = options ?? {};
  const by = groupColumns(frame, options?.by, fn);
  requireColumn(frame, price, "number", fn);
  requireColumn(frame, signedVolume, "number", fn);
  const dtype = checkTime(frame, time, fn, by);
  const keys = [...by, "__b"];
  const y0 = overGroups(num(price).diff(1, "ignore"), by);
  // A null signed volume means an unsigned trade (left out); x itself is not NaN-filled.
  const x0 = pl.col(signedVolume).cast(pl.Float64);
  const valid = y0.isNotNull().and(x0.isNotNull());
  const dx = pl.col("__x").sub(pl.col("__x").mean().over(keys[0], ...keys.slice(1)));
  const dy = pl.col("__y").sub(pl.col("__y").mean().over(keys[0], ...keys.slice(1)));
  return frame.lazy()
    .select(
      ...by.map((c) => pl.col(c)),
      windowKey(options?.every, time, dtype, by, fn),
      pl.when(valid).then(x0).otherwise(pl.lit(null)).cast(pl.Float64).alias("__x"),
      pl.when(valid).then(y0).otherwise(pl.lit(null)).cast(pl.Float64).alias("__y"),
    )
    .withColumns(dx.alias("__dx"), dy.alias("__dy"))
    .groupBy(keys)
    .agg(
      pl.col("__x").count().cast(pl.UInt32).alias("n"),
      pl.col("__dx").mul(pl.col("__dy")).sum().alias("__sxy"),
      pl.col("__dx").pow(2).sum().alias("__sxx"),
      pl.col("__dy").pow(2).sum().alias("__syy"),
      pl.col("__x").mean().alias("__mx"),
      pl.col("__y").mean().alias("__my"),
    )
    .sort(keys)
    .withColumns(
      pl.when(pl.col("n").lt(2).or(pl.col("__sxx").eq(0))).then(pl.lit(null))
        .otherwise(pl.col("__sxy").div(pl.col("__sxx"))).cast(pl.Float64).alias("lambda"),
    )
    .select(
      ...by.map((c) => pl.col(c)),
      windowStart(dtype),
      pl.col("n"),
      pl.col("lambda"),
      pl.col("__my").sub(pl.col("lambda").mul(pl.col("__mx"))).alias("intercept"),
      pl.when(pl.col("lambda").isNull().or(pl.col("__syy").eq(0))).then(pl.lit(null))
        .otherwise(pl.col("__sxy").pow(2).div(pl.col("__sxx").mul(pl.col("__syy"))))
        .cast(pl.Float64).alias("r2"),
    )
    .collectSync();
}
