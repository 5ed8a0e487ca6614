/**
 * Range-based variance estimators on OHLC bars: Parkinson, Garman-Klass, Rogers-Satchell
 * and Yang-Zhang.
 *
 * Every estimator is a variance per bar (of log prices, in the bar's own time unit: square
 * root and scale by sqrt(bars per year) to annualise). With `window = N > 1` the column is
 * the mean over the last `N` bars (null for the first `N - 1` rows of each series).
 * @module
 */
import pl from "nodejs-polars";
import {
  checkFrame,
  checkTime,
  firstTrue,
  groupColumns,
  num,
  overGroups,
  positiveInt,
  requireColumn,
} from "./_frame.ts";

/** Options of the range estimators. */
export interface RangeVolatilityOptions {
  /** Bars per estimate (default 1 for Parkinson, Garman-Klass, Rogers-Satchell; Yang-Zhang needs >= 2). */
  readonly window?: number;
  /** Column names (defaults `open`, `high`, `low`, `close`, `ts`). */
  readonly open?: string;
  readonly high?: string;
  readonly low?: string;
  readonly close?: string;
  readonly time?: string;
  /** Columns that identify one series (for example `symbol`). */
  readonly by?: string | readonly string[];
  /** Name of the added column (default the estimator's: `parkinson`, ...). */
  readonly name?: string;
}

interface Ohlc {
  o: pl.Expr;
  h: pl.Expr;
  l: pl.Expr;
  c: pl.Expr;
  by: string[];
  window: number;
  name: string;
}

/** Checks a bar frame and returns its OHLC expressions. */
function ohlc(
  fn: string,
  bars: pl.DataFrame,
  options: RangeVolatilityOptions,
  defaults: { name: string; window: number; minWindow: number },
): Ohlc {
  checkFrame(bars, fn);
  const { open = "open", high = "high", low = "low", close = "close", time = "ts" } = options ??
    {};
  const window = positiveInt(options?.window ?? defaults.window, "window", fn, defaults.minWindow);
  const by = groupColumns(bars, options?.by, fn);
  for (const c of [open, high, low, close]) requireColumn(bars, c, "number", fn);
  checkTime(bars, time, fn, by);
  const [o, h, l, c] = [open, high, low, close].map(num);
  const rules: [pl.Expr, string][] = [
    [o.ltEq(0), `column "${open}" must be positive`],
    [l.ltEq(0), `column "${low}" must be positive`],
    [h.lt(l), `column "${high}" is below column "${low}"`],
    [h.lt(o).or(h.lt(c)), `column "${high}" is below open or close`],
    [l.gt(o).or(l.gt(c)), `column "${low}" is above open or close`],
  ];
  // Polars orders NaN above every number: compare only rows without NaN (NaN propagates).
  const numbers = o.isNotNan().and(h.isNotNan()).and(l.isNotNan()).and(c.isNotNan());
  for (const [bad, message] of rules) {
    const row = firstTrue(bars, bad.and(numbers));
    if (row >= 0) throw new RangeError(`${fn}: ${message} at row ${row}`);
  }
  return { o, h, l, c, by, window, name: options?.name ?? defaults.name };
}

function rollingMean(x: pl.Expr, window: number, by: string[]): pl.Expr {
  return window === 1
    ? x
    : overGroups(x.rollingMean({ windowSize: window, minPeriods: window }), by);
}

/**
 * Parkinson (1980) high-low variance per bar:
 *
 *     sigma^2 = ln(H / L)^2 / (4 ln 2)
 *
 * averaged over `window` bars. NaN or null prices give NaN.
 *
 * @throws {TypeError} when a column is missing or not numeric.
 * @throws {RangeError} for non-positive prices, a high below the low, open or close (or a
 * low above them), a bad window, or time missing or out of order.
 */
export function parkinson(bars: pl.DataFrame, options: RangeVolatilityOptions = {}): pl.DataFrame {
  const b = ohlc("parkinson", bars, options, { name: "parkinson", window: 1, minWindow: 1 });
  const x = b.h.div(b.l).log().pow(2).div(4 * Math.LN2);
  return bars.withColumns(rollingMean(x, b.window, b.by).alias(b.name));
}

/**
 * Garman-Klass (1980) variance per bar:
 *
 *     sigma^2 = 0.5 ln(H / L)^2 - (2 ln 2 - 1) ln(C / O)^2
 *
 * averaged over `window` bars. NaN or null prices give NaN. See {@linkcode parkinson} for
 * errors.
 */
export function garmanKlass(
  bars: pl.DataFrame,
  options: RangeVolatilityOptions = {},
): pl.DataFrame {
  const b = ohlc("garmanKlass", bars, options, { name: "garman_klass", window: 1, minWindow: 1 });
  const hl = b.h.div(b.l).log();
  const co = b.c.div(b.o).log();
  const x = hl.pow(2).mul(0.5).sub(co.pow(2).mul(2 * Math.LN2 - 1));
  return bars.withColumns(rollingMean(x, b.window, b.by).alias(b.name));
}

/** `ln(H/C) ln(H/O) + ln(L/C) ln(L/O)`. */
function rsTerm(b: Ohlc): pl.Expr {
  return b.h.div(b.c).log().mul(b.h.div(b.o).log())
    .add(b.l.div(b.c).log().mul(b.l.div(b.o).log()));
}

/**
 * Rogers-Satchell (1991) drift-independent variance per bar:
 *
 *     sigma^2 = ln(H / C) ln(H / O) + ln(L / C) ln(L / O)
 *
 * averaged over `window` bars. NaN or null prices give NaN. See {@linkcode parkinson} for
 * errors.
 */
export function rogersSatchell(
  bars: pl.DataFrame,
  options: RangeVolatilityOptions = {},
): pl.DataFrame {
  const b = ohlc("rogersSatchell", bars, options, {
    name: "rogers_satchell",
    window: 1,
    minWindow: 1,
  });
  return bars.withColumns(rollingMean(rsTerm(b), b.window, b.by).alias(b.name));
}

/**
 * Yang-Zhang (2000) variance over the last `N = window` bars (default 20, at least 2):
 *
 *     o_i = ln(O_i / C_{i-1})        "overnight": previous close to this open
 *     c_i = ln(C_i / O_i)            open to close
 *     V_o = sample variance of o over the N bars (divisor N - 1), V_c likewise of c
 *     V_rs = mean Rogers-Satchell term over the N bars
 *     k = 0.34 / (1.34 + (N + 1) / (N - 1))
 *     sigma^2 = V_o + k V_c + (1 - k) V_rs
 *
 * The first bar of a series has no previous close, so the first value is on row `N` (the
 * `N + 1`-th bar); earlier rows are null. On 24-hour markets the "overnight" return is the
 * gap between one bar's close and the next bar's open. NaN or null prices give NaN. See
 * {@linkcode parkinson} for errors.
 */
export function yangZhang(bars: pl.DataFrame, options: RangeVolatilityOptions = {}): pl.DataFrame {
  const b = ohlc("yangZhang", bars, options, { name: "yang_zhang", window: 20, minWindow: 2 });
  const n = b.window;
  const k = 0.34 / (1.34 + (n + 1) / (n - 1));
  const overnight = overGroups(b.o.div(b.c.shift(1)).log(), b.by);
  const openClose = b.c.div(b.o).log();
  const roll = { windowSize: n, minPeriods: n, ddof: 1 };
  const vo = overGroups(overnight.rollingVar(roll), b.by);
  const vc = overGroups(openClose.rollingVar(roll), b.by);
  // V_rs over the same rows as V_o: rows whose overnight return exists.
  const rs = pl.when(overnight.isNull()).then(pl.lit(null)).otherwise(rsTerm(b)).cast(pl.Float64);
  const vrs = overGroups(rs.rollingMean({ windowSize: n, minPeriods: n }), b.by);
  const valid = overGroups(overnight.rollingVar(roll), b.by).isNotNull();
  const x = pl.when(valid).then(vo.add(vc.mul(k)).add(vrs.mul(1 - k))).otherwise(pl.lit(null))
    .cast(pl.Float64);
  return bars.withColumns(x.alias(b.name));
}
