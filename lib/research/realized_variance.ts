/**
 * Realized variance and bipower variation per time window.
 * @module
 */
import pl from "nodejs-polars";
import {
  bucketStart,
  checkFrame,
  checkPositive,
  checkTime,
  type Duration,
  durationMicros,
  fromMicros,
  groupColumns,
  micros,
  overGroups,
  requireColumn,
} from "./_frame.ts";
import { logReturnExpr } from "./returns.ts";

/** Options of {@linkcode realizedVariance} and {@linkcode bipowerVariation}. */
export interface RealizedOptions {
  /**
   * Window length, microseconds or text such as `"1h"`; windows start at multiples of it.
   * Omitted: one window over the whole frame (per series), at its first time.
   */
  readonly every?: Duration;
  /** Price column (default `price`; use `close` for bar-sampled returns). */
  readonly price?: string;
  /** Time column, Datetime or microseconds (default `ts`). */
  readonly time?: string;
  /** Columns that identify one series (for example `symbol`). */
  readonly by?: string | readonly string[];
}

/**
 * Realized variance per window, from the log returns between consecutive rows
 * (`r_i = ln(p_i / p_{i-1})`, computed over the whole series, so the return into a window's
 * first row belongs to that window):
 *
 *     RV_w = sum_{i in w} r_i^2
 *
 * Output: `by` columns, `ts` (window start, the input's time type), `n` (returns in the
 * window), `realized_variance` (null when `n = 0`, i.e. the series' first row alone).
 * Windows without rows are omitted. A NaN or null price makes its windows NaN.
 *
 * @throws {TypeError} when a column is missing or of the wrong type.
 * @throws {RangeError} for a bad `every`, a non-positive price, or time missing or out of
 * order.
 */
export function realizedVariance(frame: pl.DataFrame, options: RealizedOptions = {}): pl.DataFrame {
  return realized("realizedVariance", frame, options, "rv");
}

/**
 * Bipower variation per window (Barndorff-Nielsen and Shephard), robust to jumps, from
 * pairs of consecutive returns that both belong to the window:
 *
 *     BV_w = (pi / 2) * sum_{i, i-1 in w} |r_i| |r_{i-1}|,   r_i = ln(p_i / p_{i-1})
 *
 * (`pi / 2 = mu_1^-2`, `mu_1 = E|Z| = sqrt(2 / pi)`; no small-sample factor). Output:
 * `by` columns, `ts` (window start), `n` (pairs in the window), `bipower_variation` (null
 * when `n = 0`). A NaN or null price makes its windows NaN.
 *
 * @throws {TypeError} when a column is missing or of the wrong type.
 * @throws {RangeError} for a bad `every`, a non-positive price, or time missing or out of
 * order.
 */
export function bipowerVariation(frame: pl.DataFrame, options: RealizedOptions = {}): pl.DataFrame {
  return realized("bipowerVariation", frame, options, "bv");
}

function realized(
  fn: string,
  frame: pl.DataFrame,
  options: RealizedOptions,
  kind: "rv" | "bv",
): pl.DataFrame {
  checkFrame(frame, fn);
  const { price = "price", time = "ts" } = options ?? {};
  const every = options?.every === undefined
    ? undefined
    : durationMicros(options.every, "every", fn);
  const by = groupColumns(frame, options?.by, fn);
  requireColumn(frame, price, "number", fn);
  const dtype = checkTime(frame, time, fn, by);
  checkPositive(frame, price, fn);
  const t = micros(time, dtype);
  const bucket = every === undefined ? overGroups(t.first(), by) : bucketStart(t, every);
  let lazy = frame.lazy().select(
    ...by.map((c) => pl.col(c)),
    bucket.alias("__b"),
    logReturnExpr(price, by).alias("__r"),
  );
  let value: pl.Expr;
  let n: pl.Expr;
  if (kind === "rv") {
    value = pl.col("__r").pow(2).sum();
    n = pl.col("__r").count();
  } else {
    lazy = lazy.withColumns(
      pl.when(overGroups(pl.col("__b").shift(1), by).eq(pl.col("__b")))
        .then(pl.col("__r").abs().mul(overGroups(pl.col("__r").shift(1), by).abs()))
        .otherwise(pl.lit(null)).cast(pl.Float64).alias("__x"),
    );
    value = pl.col("__x").sum().mul(Math.PI / 2);
    n = pl.col("__x").count();
  }
  const name = kind === "rv" ? "realized_variance" : "bipower_variation";
  return lazy
    .groupBy([...by, "__b"])
    .agg(n.cast(pl.UInt32).alias("n"), value.alias("__v"))
    .sort([...by, "__b"])
    .select(
      ...by.map((c) => pl.col(c)),
      fromMicros(pl.col("__b"), dtype).alias("ts"),
      pl.col("n"),
      pl.when(pl.col("n").eq(0)).then(pl.lit(null)).otherwise(pl.col("__v")).cast(pl.Float64)
        .alias(name),
    )
    .collectSync();
}
