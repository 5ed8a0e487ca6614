/**
 * Time bars from trades, in Polars.
 * @module
 */
import pl from "nodejs-polars";
import {
  bucketStart,
  checkFrame,
  checkTime,
  type Duration,
  durationMicros,
  fromMicros,
  groupColumns,
  micros,
  num,
  requireColumn,
} from "./_frame.ts";

/** Options of {@linkcode timeBars}. */
export interface TimeBarOptions {
  /** Bar length, microseconds or text such as `"1m"`. */
  readonly every: Duration;
  /** Price column (default `price`). */
  readonly price?: string;
  /** Size column (default `size`). */
  readonly size?: string;
  /** Time column, Datetime or microseconds (default `ts`). */
  readonly time?: string;
  /** Columns that identify one series (for example `symbol`); kept in the output. */
  readonly by?: string | readonly string[];
  /**
   * Numeric columns summed per bar under their own name (for example `signed_volume`); nulls
   * (unsigned trades) are skipped, NaN propagates.
   */
  readonly sums?: readonly string[];
}

/**
 * OHLCV bars of `every` microseconds, one per bucket holding at least one trade (empty
 * buckets are omitted), ordered by `by` then time, with the same names as
 * `repo.bars(...).polars()`:
 *
 *     ts     = t - (t mod every)                 bucket start, the input's time type
 *     open   = first price, close = last price   in row order (ties in time keep it)
 *     high   = max price, low = min price
 *     volume = sum size, vwap = sum(price * size) / sum(size)
 *     trades = number of rows
 *
 * A NaN or null price or size makes the bar's affected values NaN (high and low skip
 * nothing: NaN is Polars' largest value, so `high` is NaN too).
 *
 * @throws {TypeError} when a column is missing or of the wrong type.
 * @throws {RangeError} for a bad `every`, or a time column with missing values or out of
 * order.
 */
export function timeBars(trades: pl.DataFrame, options: TimeBarOptions): pl.DataFrame {
  const fn = "timeBars";
  checkFrame(trades, fn);
  const every = durationMicros(options?.every, "every", fn);
  const { price = "price", size = "size", time = "ts" } = options;
  const by = groupColumns(trades, options.by, fn);
  const sums = [...(options.sums ?? [])];
  requireColumn(trades, price, "number", fn);
  requireColumn(trades, size, "number", fn);
  for (const c of sums) requireColumn(trades, c, "number", fn);
  const dtype = checkTime(trades, time, fn, by);
  const p = num(price);
  const s = num(size);
  return trades.lazy()
    .select(
      ...by.map((c) => pl.col(c)),
      bucketStart(micros(time, dtype), every).alias("__b"),
      p.alias("__p"),
      s.alias("__s"),
      ...sums.map((c) => pl.col(c).cast(pl.Float64).alias(`__sum_${c}`)),
    )
    .groupBy([...by, "__b"])
    .agg(
      pl.col("__p").first().alias("open"),
      pl.col("__p").max().alias("high"),
      pl.col("__p").min().alias("low"),
      pl.col("__p").last().alias("close"),
      pl.col("__s").sum().alias("volume"),
      pl.col("__p").mul(pl.col("__s")).sum().div(pl.col("__s").sum()).alias("vwap"),
      pl.col("__p").count().cast(pl.UInt32).alias("trades"),
      ...sums.map((c) => pl.col(`__sum_${c}`).sum().alias(c)),
    )
    .sort([...by, "__b"])
    .select(
      ...by.map((c) => pl.col(c)),
      fromMicros(pl.col("__b"), dtype).alias("ts"),
      pl.col("open"),
      pl.col("high"),
      pl.col("low"),
      pl.col("close"),
      pl.col("volume"),
      pl.col("vwap"),
      pl.col("trades"),
      ...sums.map((c) => pl.col(c)),
    )
    .collectSync();
}
