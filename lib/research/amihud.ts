/**
 * Amihud (2002) illiquidity on bars.
 * @module
 */
import pl from "nodejs-polars";
import {
  checkFrame,
  checkPositive,
  checkTime,
  firstTrue,
  groupColumns,
  num,
  overGroups,
  positiveInt,
  requireColumn,
} from "./_frame.ts";

/** Options of {@linkcode amihudIlliquidity}. */
export interface AmihudOptions {
  /** Bars averaged per value (default 1: the per-bar ratio). */
  readonly window?: number;
  /** Close column (default `close`). */
  readonly close?: string;
  /** Volume column (default `volume`). */
  readonly volume?: string;
  /**
   * Price that turns volume into traded value: a VWAP column (default `vwap` when the frame
   * has one, else the close).
   */
  readonly vwap?: string;
  /** Time column (default `ts`). */
  readonly time?: string;
  /** Columns that identify one series. */
  readonly by?: string | readonly string[];
  /** Multiplier of the ratio (default 1; 1e6 gives "per million traded"). */
  readonly scale?: number;
  /** Name of the added column (default `amihud`). */
  readonly name?: string;
}

/**
 * Adds Amihud's illiquidity ratio: absolute return per unit of traded value,
 *
 *     ILLIQ_t = scale * |ln(C_t / C_{t-1})| / (volume_t * vwap_t)
 *
 * averaged over the last `window` bars (null for a series' first bar, which has no return,
 * and until `window` ratios exist). A bar with zero traded value gives NaN (the ratio is
 * undefined), as do NaN or null inputs.
 *
 * @throws {TypeError} when a column is missing or of the wrong type.
 * @throws {RangeError} for a non-positive close or VWAP, a negative volume, a bad window,
 * or time missing or out of order.
 */
export function amihudIlliquidity(bars: pl.DataFrame, options: AmihudOptions = {}): pl.DataFrame {
  const fn = "amihudIlliquidity";
  checkFrame(bars, fn);
  const { close = "close", volume = "volume", time = "ts", name = "amihud", scale = 1 } = options ??
    {};
  const vwap = options?.vwap ?? (bars.schema["vwap"] ? "vwap" : close);
  const window = positiveInt(options?.window ?? 1, "window", fn);
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new RangeError(`${fn}: scale must be a positive number, got ${scale}`);
  }
  const by = groupColumns(bars, options?.by, fn);
  for (const c of [close, volume, vwap]) requireColumn(bars, c, "number", fn);
  checkTime(bars, time, fn, by);
  checkPositive(bars, close, fn);
  checkPositive(bars, vwap, fn);
  const row = firstTrue(bars, num(volume).lt(0));
  if (row >= 0) throw new RangeError(`${fn}: column "${volume}" is negative at row ${row}`);
  const c = num(close);
  const value = num(volume).mul(num(vwap));
  const r = overGroups(c.div(c.shift(1)).log().abs(), by);
  const ratio = pl.when(value.eq(0)).then(pl.lit(Number.NaN)).otherwise(r.div(value).mul(scale))
    .cast(pl.Float64);
  // Keep the structural null of the first bar (when/otherwise would keep it too).
  const x = pl.when(r.isNull()).then(pl.lit(null)).otherwise(ratio).cast(pl.Float64);
  const out = window === 1
    ? x
    : overGroups(x.rollingMean({ windowSize: window, minPeriods: window }), by);
  return bars.withColumns(out.alias(name));
}
