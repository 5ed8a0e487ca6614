/**
 * Markers on a chart's main series: trades, signals and fills, drawn with
 * lightweight-charts' `createSeriesMarkers`.
 * @module
 */
import { microsToChartTime, rowsOf, timeToMicros, type TimeValue, toNumber } from "./_private.ts";
import type { SeriesSpec } from "./chart.ts";
import { themeColor } from "./theme.ts";

/** What a marker stands for; it chooses the default shape and place. */
export type MarkerKind = "trade" | "signal" | "fill";

/**
 * One marker. A trade row (`ts, price, size, side`), a backtest `Fill` or a signal row
 * works as is.
 */
export interface MarkerInput {
  /** Time (microseconds since the epoch, `Date` or ISO text). */
  readonly ts: TimeValue;
  /** `"buy"` / `"sell"` (also `"b"`, `"s"`, `1`, `-1`); anything else has no side. */
  readonly side?: string | number | null;
  /** Price: trades and fills are drawn at it. */
  readonly price?: number | bigint | null;
  /** Text beside the marker. */
  readonly text?: string;
  /** Overrides the kind of the options for this marker. */
  readonly kind?: MarkerKind;
  /** CSS colour (default: by side from the theme). */
  readonly color?: string;
}

/** Markers of one kind, from rows or a DataFrame. */
export interface MarkerSet {
  readonly kind: MarkerKind;
  readonly data: readonly MarkerInput[] | { toRecords(): Record<string, unknown>[] };
  /** Marker size (default 1; trades 0.6). */
  readonly size?: number;
}

/**
 * Markers as the `markers` columns of a series spec. Each marker goes to the last point of
 * the series at or before its time (a bar holding the trade); markers before the first
 * point or with an invalid time are left out and counted in `skipped`.
 *
 * - trade: a small circle at its price (in the bar when it has none);
 * - fill: an arrow at its price, up for a buy, down for a sell;
 * - signal: an arrow below the bar for a buy, above it for a sell, a circle without a side.
 */
export function markerColumns(
  sets: readonly MarkerSet[],
  seriesTimes: readonly number[],
): { markers: NonNullable<SeriesSpec["markers"]>; count: number; skipped: number } {
  const points: {
    time: number;
    position: string;
    shape: string;
    color: string;
    text: string;
    price: number | null;
    size: number;
  }[] = [];
  let skipped = 0;
  for (const set of sets) {
    const rows = rowsOf<MarkerInput>(set.data, "markers");
    for (const row of rows) {
      const time = snap(microsToChartTime(timeToMicros(row?.ts)), seriesTimes);
      if (time === undefined) {
        skipped++;
        continue;
      }
      points.push({ time, ...look(row, row.kind ?? set.kind, set.size) });
    }
  }
  points.sort((a, b) => a.time - b.time);
  const columns = {
    time: points.map((p) => p.time),
    position: points.map((p) => p.position),
    shape: points.map((p) => p.shape),
    color: points.map((p) => p.color),
    text: points.map((p) => p.text),
    price: points.map((p) => p.price),
    size: points.map((p) => p.size),
  };
  if (skipped > 0) {
    console.warn(`markers: skipped ${skipped} markers before the first point or without a time`);
  }
  return { markers: columns, count: points.length, skipped };
}

function sideOf(side: unknown): 1 | -1 | 0 {
  if (side === 1 || side === "buy" || side === "b" || side === "BUY" || side === "Buy") return 1;
  if (side === -1 || side === "sell" || side === "s" || side === "SELL" || side === "Sell") {
    return -1;
  }
  return 0;
}

function look(row: MarkerInput, kind: MarkerKind, size: number | undefined) {
  const side = sideOf(row.side);
  const price = row.price === undefined || row.price === null ? NaN : toNumber(row.price);
  const hasPrice = Number.isFinite(price);
  const color = row.color ??
    (side > 0
      ? themeColor("buy")
      : side < 0
      ? themeColor("sell")
      : themeColor(kind === "signal" ? "signal" : "text"));
  const text = row.text ?? "";
  if (kind === "trade") {
    return {
      position: hasPrice ? "atPriceMiddle" : "inBar",
      shape: "circle",
      color,
      text,
      price: hasPrice ? price : null,
      size: size ?? 0.6,
    };
  }
  if (kind === "fill") {
    return {
      position: hasPrice
        ? (side < 0 ? "atPriceTop" : "atPriceBottom")
        : side < 0
        ? "aboveBar"
        : "belowBar",
      shape: side < 0 ? "arrowDown" : side > 0 ? "arrowUp" : "square",
      color,
      text,
      price: hasPrice ? price : null,
      size: size ?? 1,
    };
  }
  return {
    position: side < 0 ? "aboveBar" : side > 0 ? "belowBar" : "inBar",
    shape: side < 0 ? "arrowDown" : side > 0 ? "arrowUp" : "circle",
    color,
    text,
    price: null,
    size: size ?? 1,
  };
}

/** The last of the ascending `times` at or before `t`, or undefined. */
function snap(t: number, times: readonly number[]): number | undefined {
  if (!Number.isFinite(t) || times.length === 0 || t < times[0]) return undefined;
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return times[lo];
}
