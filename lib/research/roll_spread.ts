/**
 * Roll's effective spread from the serial covariance of price changes.
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

/** Options of {@linkcode rollSpread}. */
export interface RollSpreadOptions {
  /** Window length (microseconds or `"1h"`); omitted: one window over the whole series. */
  readonly every?: Duration;
  /** Price column (default `price`). */
  readonly price?: string;
  /** Time column (default `ts`). */
  readonly time?: string;
  /** Columns that identify one series. */
  readonly by?: string | readonly string[];
}

/**
 * Roll (1984) spread per window:
 *
 *     d_i = p_i - p_{i-1}
 *     gamma = cov(d_i, d_{i-1}) over the pairs with both d_i and d_{i-1} in the window
 *           = sum (a - mean a)(b - mean b) / (n - 1),  a = d_i, b = d_{i-1}
 *     spread = 2 sqrt(-gamma) when gamma < 0
 *
 * Output: `by` columns, `ts` (window start), `n` (pairs), `autocovariance` (gamma, null
 * when `n < 2`), `roll_spread` (in price units; null when gamma >= 0, where the model does
 * not apply, or when gamma is null). NaN prices give NaN.
 *
 * @throws {TypeError} when a column is missing or of the wrong type.
 * @throws {RangeError} for a bad `every`, or time missing or out of order.
 */
export function rollSpread(frame: pl.DataFrame, options: RollSpreadOptions = {}): pl.DataFrame {
  const fn = "rollSpread";
  checkFrame(frame, fn);
  const { price = "price", time = "ts" } = options ?? {};
  const by = groupColumns(frame, options?.by, fn);
  requireColumn(frame, price, "number", fn);
  const dtype = checkTime(frame, time, fn, by);
  const keys = [...by, "__b"];
  const over = (e: pl.Expr) => e.over(keys[0], ...keys.slice(1));
  const d = overGroups(num(price).diff(1, "ignore"), by);
  return frame.lazy()
    .select(
      ...by.map((c) => pl.col(c)),
      windowKey(options?.every, time, dtype, by, fn),
      d.alias("__d"),
    )
    .withColumns(
      overGroups(pl.col("__d").shift(1), by).alias("__d1"),
      overGroups(pl.col("__b").shift(1), by).alias("__b1"),
    )
    .withColumns(
      pl.when(
        pl.col("__b1").eq(pl.col("__b")).and(pl.col("__d").isNotNull()).and(
          pl.col("__d1").isNotNull(),
        ),
      )
        .then(pl.lit(true)).otherwise(pl.lit(false)).alias("__ok"),
    )
    .withColumns(
      pl.when(pl.col("__ok")).then(pl.col("__d")).otherwise(pl.lit(null)).cast(pl.Float64).alias(
        "__a",
      ),
      pl.when(pl.col("__ok")).then(pl.col("__d1")).otherwise(pl.lit(null)).cast(pl.Float64).alias(
        "__c",
      ),
    )
    .withColumns(
      pl.col("__a").sub(over(pl.col("__a").mean())).mul(
        pl.col("__c").sub(over(pl.col("__c").mean())),
      )
        .alias("__xy"),
    )
    .groupBy(keys)
    .agg(pl.col("__a").count().cast(pl.UInt32).alias("n"), pl.col("__xy").sum().alias("__s"))
    .sort(keys)
    .withColumns(
      pl.when(pl.col("n").lt(2)).then(pl.lit(null))
        .otherwise(pl.col("__s").div(pl.col("n").cast(pl.Float64).sub(1))).cast(pl.Float64)
        .alias("autocovariance"),
    )
    .select(
      ...by.map((c) => pl.col(c)),
      windowStart(dtype),
      pl.col("n"),
      pl.col("autocovariance"),
      pl.when(pl.col("autocovariance").lt(0))
        .then(pl.col("autocovariance").mul(-1).pow(0.5).mul(2))
        .when(pl.col("autocovariance").isNan()).then(pl.lit(Number.NaN))
        .otherwise(pl.lit(null)).cast(pl.Float64).alias("roll_spread"),
    )
    .collectSync();
}
