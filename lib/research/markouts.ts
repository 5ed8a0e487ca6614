/**
 * Markouts: how the price moved for a trade's taker after it.
 * @module
 */
import pl from "nodejs-polars";
import {
  checkFrame,
  checkTime,
  distinctList,
  type Duration,
  durationLabel,
  durationMicros,
  firstTrue,
  int,
  micros,
  num,
  requireColumn,
} from "./_frame.ts";

/** Options of {@linkcode markouts}. */
export interface MarkoutOptions {
  /** Horizons, microseconds or text such as `"1s"`; one column each. */
  readonly horizons: readonly Duration[];
  /**
   * The reference price series (default: the trades themselves). For mid markouts pass
   * quotes with a mid column:
   * `quotes.withColumns(pl.col("bid_price").add(pl.col("ask_price")).div(2).alias("mid"))`
   * and `referencePrice: "mid"`.
   */
  readonly reference?: pl.DataFrame;
  /** Reference value column (default `price`). */
  readonly referencePrice?: string;
  /** Reference time column (default the trades' `time`). */
  readonly referenceTime?: string;
  /** Trade price column (default `price`). */
  readonly price?: string;
  /** Taker side column, `buy` / `sell` (default `side`); other values leave the trade unsigned. */
  readonly side?: string;
  /** A numeric sign column (+1 / -1, for example from `signedVolume`) used instead of `side`. */
  readonly sign?: string;
  /** Trade time column (default `ts`). */
  readonly time?: string;
  /** Markouts in basis points of the trade price instead of price units (default false). */
  readonly bps?: boolean;
  /** Prefix of the added columns (default `markout_`): `markout_1s`, `markout_5m`. */
  readonly prefix?: string;
}

/**
 * Adds one markout column per horizon `h`:
 *
 *     markout_h(i) = s_i * (M(t_i + h) - p_i)          (times 1e4 / p_i with `bps`)
 *     s_i = +1 for a buy, -1 for a sell (the taker's side), M(t) = reference value of the
 *     last reference row with time <= t (as-of join looking back)
 *
 * Positive means the price moved in the taker's favour. Null where the trade is unsigned,
 * where `t_i + h` is after the reference's last time (the data does not reach the
 * horizon) or no reference row is at or before it. NaN or null prices give NaN. The
 * frame is one instrument; filter first.
 *
 * @throws {TypeError} when a column is missing or of the wrong type.
 * @throws {RangeError} for bad horizons, or a time column (trades or reference) with
 * missing values or out of order.
 */
export function markouts(trades: pl.DataFrame, options: MarkoutOptions): pl.DataFrame {
  const fn = "markouts";
  checkFrame(trades, fn);
  const horizons = distinctList(
    options?.horizons,
    "horizons",
    fn,
    (h) => durationMicros(h, "a horizon", fn),
  );
  const { price = "price", side = "side", time = "ts", prefix = "markout_" } = options;
  const reference = options.reference ?? trades;
  checkFrame(reference, fn);
  const refPrice = options.referencePrice ?? "price";
  const refTime = options.referenceTime ?? time;
  requireColumn(trades, price, "number", fn);
  let sign: pl.Expr;
  if (options.sign !== undefined) {
    requireColumn(trades, options.sign, "number", fn);
    sign = pl.col(options.sign).cast(pl.Float64);
    const row = firstTrue(trades, sign.abs().neq(1).and(sign.isNotNan()));
    if (row >= 0) {
      throw new RangeError(`${fn}: column "${options.sign}" must be +1 or -1, not at row ${row}`);
    }
  } else {
    requireColumn(trades, side, "text", fn);
    const s = pl.col(side).cast(pl.Utf8);
    sign = pl.when(s.eq(pl.lit("buy"))).then(pl.lit(1)).when(s.eq(pl.lit("sell")))
      .then(pl.lit(-1)).otherwise(pl.lit(null)).cast(pl.Float64);
  }
  const tType = checkTime(trades, time, fn);
  requireColumn(reference, refPrice, "number", fn);
  const rType = checkTime(reference, refTime, fn);
  const right = reference.lazy().select(
    micros(refTime, rType).alias("__rt"),
    num(refPrice).alias("__m"),
  );
  const lastRef = reference.height === 0
    ? null
    : Number(reference.lazy().select(micros(refTime, rType).max()).collectSync().row(0)[0]);
  const keep = trades.columns;
  let lazy = trades.lazy().withColumns(
    micros(time, tType).alias("__t"),
    num(price).alias("__p"),
    sign.alias("__s"),
  );
  const names: string[] = [];
  for (const h of horizons) {
    const name = `${prefix}${durationLabel(h)}`;
    names.push(name);
    let move = pl.col("__m").sub(pl.col("__p")).mul(pl.col("__s"));
    if (options.bps) move = move.div(pl.col("__p")).mul(1e4);
    const beyond = lastRef === null ? pl.lit(true) : pl.col("__k").gt(int(lastRef));
    lazy = lazy.withColumns(pl.col("__t").add(int(h)).alias("__k"))
      .joinAsof(right, {
        leftOn: "__k",
        rightOn: "__rt",
        strategy: "backward",
        checkSortedness: false,
      })
      .withColumns(
        pl.when(beyond).then(pl.lit(null)).otherwise(move).cast(pl.Float64).alias(name),
      )
      .drop("__k", "__rt", "__m");
  }
  return lazy.select(...keep.map((c) => pl.col(c)), ...names.map((c) => pl.col(c)))
    .collectSync();
}
