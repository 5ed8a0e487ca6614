/**
 * Time bars from trades, in Polars.
 * @module
 */
import pl from "nodejs-polars";
import {
  bucketStart,
  checkSource,
  type DeferredCheck,
  type Duration,
  durationMicros,
  fromMicros,
  groupColumns,
  micros,
  num,
  positiveCheck,
  requireColumn,
  type Source,
  timeChecks,
} from "./_frame.ts";
import { logReturnExpr } from "./returns.ts";
import { barPass, sideCode } from "./_bar_pass.ts";
import { type SignedVolumeOptions, signExpr } from "./signed_volume.ts";

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
  /**
   * Also compute each bar's realized variance from trade-to-trade log returns in the same
   * pass (column `realized_variance`, the same value as `realizedVariance` with the same
   * `every`; null for a bar without a return, i.e. a series' first bar holding one trade).
   * Prices must then be positive.
   */
  readonly realizedVariance?: boolean;
  /**
   * Also sum each bar's signed volume (column `signed_volume`), signing trades in the same
   * pass exactly as `signedVolume` does: `true` for its defaults, or its `side` /
   * `tickRule` options (the tick rule reads `price`). Unsigned trades are skipped.
   */
  readonly signedVolume?: boolean | Pick<SignedVolumeOptions, "side" | "tickRule">;
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
 * `trades` may be a LazyDataFrame (for example `pl.scanParquet` over lake files): the trades
 * are then never materialized. Either way every data check (time order, side values,
 * positive prices) runs inside the bar pass, not as passes of its own.
 *
 * A NaN or null price makes the bar's `high`, `low` and `vwap` NaN (and `open` / `close`
 * when it is the first / last trade); a NaN or null size makes `volume` and `vwap` NaN.
 *
 * @throws {TypeError} when a column is missing or of the wrong type.
 * @throws {RangeError} for a bad `every`, a time column with missing values or out of
 * order, or (with `realizedVariance`) a non-positive price.
 */
export function timeBars(trades: Source, options: TimeBarOptions): pl.DataFrame {
  const fn = "timeBars";
  checkSource(trades, fn);
  const every = durationMicros(options?.every, "every", fn);
  const { price = "price", size = "size", time = "ts" } = options;
  const by = groupColumns(trades, options.by, fn);
  const sums = [...(options.sums ?? [])];
  requireColumn(trades, price, "number", fn);
  requireColumn(trades, size, "number", fn);
  for (const c of sums) requireColumn(trades, c, "number", fn);
  const { dtype, checks } = timeChecks(trades, time, fn, by);
  const withRv = options.realizedVariance === true;
  const signing = options.signedVolume;
  if (signing && sums.includes("signed_volume")) {
    throw new TypeError(`${fn}: signed_volume is both summed and computed; pick one`);
  }
  let sign: pl.Expr | undefined;
  if (signing) {
    const signed = signExpr(trades, { ...(signing === true ? {} : signing), price }, by, fn);
    sign = signed.sign;
    checks.push(...signed.checks);
  }
  if (withRv) checks.push(positiveCheck(trades, price, fn));
  const extra = [
    ...sums,
    ...(sign ? ["signed_volume"] : []),
    ...(withRv ? ["realized_variance"] : []),
  ];
  if (by.length === 0) {
    return finish(
      seriesPass(trades, { every, price, size, time, dtype, sums, withRv, checks, signing }),
      by,
      dtype,
      extra,
    );
  }
  const p = num(price);
  const s = num(size);
  // The data checks run inside the bar pass (one flag per bar), not as passes of their own.
  const bars = (pl.DataFrame.isDataFrame(trades) ? trades.lazy() : trades)
    .select(
      ...by.map((c) => pl.col(c)),
      bucketStart(micros(time, dtype), every).alias("__b"),
      p.alias("__p"),
      s.alias("__s"),
      ...sums.map((c) => pl.col(c).cast(pl.Float64).alias(`__sum_${c}`)),
      ...(withRv ? [logReturnExpr(price, by).alias("__r")] : []),
      ...(sign ? [sign.mul(s).alias("__sv")] : []),
      ...checks.map((c, i) => c.bad.fillNull(false).alias(`__check${i}`)),
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
      pl.col("__p").isNan().any().alias("__nan"),
      ...sums.map((c) => pl.col(`__sum_${c}`).sum().alias(c)),
      ...(sign ? [pl.col("__sv").sum().alias("signed_volume")] : []),
      ...(withRv
        ? [
          pl.when(pl.col("__r").count().eq(0)).then(pl.lit(null))
            .otherwise(pl.col("__r").pow(2).sum()).cast(pl.Float64).alias("realized_variance"),
        ]
        : []),
      ...checks.map((_, i) => pl.col(`__check${i}`).any().alias(`__check${i}`)),
    )
    .collectSync();
  if (checks.length > 0 && bars.height > 0) {
    const failed = bars.select(...checks.map((_, i) => pl.col(`__check${i}`).any())).row(0);
    const i = failed.findIndex((v) => v === true);
    if (i >= 0) checks[i].raise();
  }
  return finish(bars, by, dtype, extra);
}

/** What {@linkcode seriesPass} reads (the checks in `timeBars`' order). */
interface SeriesPassInput {
  every: number;
  price: string;
  size: string;
  time: string;
  dtype: pl.DataType;
  sums: readonly string[];
  withRv: boolean;
  checks: readonly DeferredCheck[];
  signing: TimeBarOptions["signedVolume"];
}

/**
 * The bars of one series (no `by`) in one typed-array pass (`_bar_pass.ts`): Polars only
 * reads the columns (and codes the side), so no per-row intermediate column is built.
 * Checks raise in `timeBars`' order: missing time, time order, side values, positive price.
 */
function seriesPass(trades: Source, input: SeriesPassInput): pl.DataFrame {
  const { signing, checks, sums, withRv } = input;
  const options = signing === true || !signing ? {} : signing;
  const sign = !signing ? "none" : options.tickRule ?? "fallback";
  const frame = (pl.DataFrame.isDataFrame(trades) ? trades.lazy() : trades).select(
    num(input.price).alias("__p"),
    num(input.size).alias("__s"),
    micros(input.time, input.dtype).alias("__t"),
    ...(sign === "fallback" || sign === "never"
      ? [sideCode(options.side ?? "side").alias("__c")]
      : []),
    ...sums.map((c, i) => pl.col(c).cast(pl.Float64).fillNull(0).alias(`__sum${i}`)),
  ).collectSync();
  if (frame.getColumn("__t").nullCount() > 0) checks[0].raise();
  const { bars, flags } = barPass(frame, {
    every: input.every,
    sign,
    realizedVariance: withRv,
    sums,
  });
  if (flags.unordered) checks[1].raise();
  if (flags.badSide) checks[2].raise();
  if (withRv && flags.nonPositive) checks[checks.length - 1].raise();
  return bars;
}

/** Sorts the bars and gives them the documented columns (NaN prices shown in high / low). */
function finish(
  bars: pl.DataFrame,
  by: readonly string[],
  dtype: pl.DataType,
  extra: readonly string[],
): pl.DataFrame {
  const nan = pl.col("__nan");
  return bars.lazy()
    .sort([...by, "__b"])
    .select(
      ...by.map((c) => pl.col(c)),
      fromMicros(pl.col("__b"), dtype).alias("ts"),
      pl.col("open"),
      // Polars' max and min skip NaN; a NaN price must show in the bar instead.
      pl.when(nan).then(pl.lit(Number.NaN)).otherwise(pl.col("high")).alias("high"),
      pl.when(nan).then(pl.lit(Number.NaN)).otherwise(pl.col("low")).alias("low"),
      pl.col("close"),
      pl.col("volume"),
      pl.col("vwap"),
      pl.col("trades"),
      ...extra.map((c) => pl.col(c)),
    )
    .collectSync();
}
