/**
 * Forward-return labels over time horizons and over trade-count horizons.
 * @module
 */
import pl from "nodejs-polars";
import {
  checkFrame,
  checkPositive,
  checkTime,
  distinctList,
  type Duration,
  durationLabel,
  durationMicros,
  groupColumns,
  int,
  micros,
  num,
  overGroups,
  positiveInt,
  requireColumn,
} from "./_frame.ts";

/** Options of {@linkcode forwardReturns}. */
export interface ForwardReturnOptions {
  /** Horizons, microseconds or text such as `"5m"`; one column each. */
  readonly horizons: readonly Duration[];
  /** Price column (default `price`; use `close` on bars). */
  readonly price?: string;
  /** Time column, Datetime or microseconds (default `ts`). */
  readonly time?: string;
  /** Columns that identify one series (for example `symbol`). */
  readonly by?: string | readonly string[];
  /** Prefix of the added columns (default `fwd_`): `fwd_5m`, `fwd_1h`, `fwd_1500us`. */
  readonly prefix?: string;
}

/**
 * Adds one forward log return per time horizon `h`:
 *
 *     fwd_h(i) = ln(P(t_i + h) / p_i),   P(t) = price of the last row with time <= t
 *
 * (an as-of join looking back from `t_i + h`, so among rows sharing a time the last one
 * counts). The label is null where `t_i + h` is after the series' last time: the data does
 * not reach the horizon. NaN or null prices give NaN labels.
 *
 * @throws {TypeError} when a column is missing or of the wrong type.
 * @throws {RangeError} for an empty, duplicated or non-positive horizon, a non-positive
 * price, or a time column with missing values or out of order.
 */
export function forwardReturns(frame: pl.DataFrame, options: ForwardReturnOptions): pl.DataFrame {
  const fn = "forwardReturns";
  checkFrame(frame, fn);
  const { price = "price", time = "ts", prefix = "fwd_" } = options ?? {};
  const horizons = distinctList(
    options?.horizons,
    "horizons",
    fn,
    (h) => durationMicros(h, "a horizon", fn),
  );
  const by = groupColumns(frame, options.by, fn);
  requireColumn(frame, price, "number", fn);
  const dtype = checkTime(frame, time, fn, by);
  checkPositive(frame, price, fn);

  const keep = frame.columns;
  let left = frame.lazy().withColumns(
    micros(time, dtype).alias("__t"),
    num(price).alias("__p"),
  ).withColumns(overGroups(pl.col("__t").max(), by).alias("__last"));
  const right = left.select(
    ...by.map((c) => pl.col(c)),
    pl.col("__t").alias("__rt"),
    pl.col("__p").alias("__rp"),
  );
  const names: string[] = [];
  for (const h of horizons) {
    const name = `${prefix}${durationLabel(h)}`;
    names.push(name);
    left = left
      .withColumns(pl.col("__t").add(int(h)).alias("__k"))
      .joinAsof(right, {
        leftOn: "__k",
        rightOn: "__rt",
        strategy: "backward",
        checkSortedness: false,
        ...(by.length > 0 ? { by } : {}),
      })
      .withColumns(
        pl.when(pl.col("__k").gt(pl.col("__last"))).then(pl.lit(null))
          .otherwise(pl.col("__rp").div(pl.col("__p")).log()).cast(pl.Float64).alias(name),
      )
      .drop("__k", "__rt", "__rp");
  }
  return left.select(...keep.map((c) => pl.col(c)), ...names.map((c) => pl.col(c))).collectSync();
}

/** Options of {@linkcode forwardTradeReturns}. */
export interface ForwardTradeReturnOptions {
  /** Horizons in rows (trades): `k` compares a trade with the `k`-th trade after it. */
  readonly horizons: readonly number[];
  /** Price column (default `price`). */
  readonly price?: string;
  /** Time column (default `ts`), checked to be in order. */
  readonly time?: string;
  /** Columns that identify one series. */
  readonly by?: string | readonly string[];
  /** Prefix of the added columns (default `fwd_`): `fwd_10t`. */
  readonly prefix?: string;
}

/**
 * Adds one forward log return per trade-count horizon `k`:
 *
 *     fwd_kt(i) = ln(p_{i+k} / p_i)
 *
 * null on the last `k` rows of each series. NaN or null prices give NaN labels.
 *
 * @throws {TypeError} when a column is missing or of the wrong type.
 * @throws {RangeError} for an empty, duplicated or non-positive horizon, a non-positive
 * price, or a time column with missing values or out of order.
 */
export function forwardTradeReturns(
  frame: pl.DataFrame,
  options: ForwardTradeReturnOptions,
): pl.DataFrame {
  const fn = "forwardTradeReturns";
  checkFrame(frame, fn);
  const { price = "price", time = "ts", prefix = "fwd_" } = options ?? {};
  const horizons = distinctList(
    options?.horizons,
    "horizons",
    fn,
    (k) => positiveInt(k, "a horizon", fn),
  );
  const by = groupColumns(frame, options.by, fn);
  requireColumn(frame, price, "number", fn);
  checkTime(frame, time, fn, by);
  checkPositive(frame, price, fn);
  const p = num(price);
  return frame.withColumns(
    ...horizons.map((k) => overGroups(p.shift(-k).div(p).log(), by).alias(`${prefix}${k}t`)),
  );
}
