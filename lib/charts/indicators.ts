/**
 * Indicator series a chart draws besides its main series: lines, areas and histograms over
 * the main pane (overlays) or in panes of their own below it, and markers on the main
 * series. Shared by `candlestickChart`, `lineChart` and `equityChart`.
 * @module
 */
import { priceDecimals, rowsOf } from "./_private.ts";
import type { SeriesKind, SeriesSpec } from "./chart.ts";
import { markerColumns, type MarkerSet } from "./markers.ts";
import { extractColumns, reportSkipped } from "./series_data.ts";
import { themeColor } from "./theme.ts";

/** How an indicator is drawn. */
export type IndicatorStyle = "line" | "area" | "histogram";

/** One named series drawn from rows with a `ts` column and a value column. */
export interface IndicatorInput {
  /** Legend and axis label. */
  readonly name: string;
  /** Rows (`ts` plus the value column) or a nodejs-polars DataFrame. */
  readonly data: readonly Record<string, unknown>[] | { toRecords(): Record<string, unknown>[] };
  /** The value column (default `"value"`). */
  readonly value?: string;
  /** CSS colour (default: the theme's palette in order). */
  readonly color?: string;
  /** Default `"line"`. */
  readonly style?: IndicatorStyle;
  /** Line width in pixels (default 2). */
  readonly lineWidth?: number;
}

/** Options every chart with a main series takes for indicators and markers. */
export interface IndicatorOptions {
  /** Series drawn over the main pane, on the main price axis (moving averages, VWAP...). */
  readonly overlays?: readonly IndicatorInput[];
  /** Panes below the main one, each with one or more series (RSI, spread, imbalance...). */
  readonly panes?: readonly (IndicatorInput | readonly IndicatorInput[])[];
  /** Height in pixels of each indicator pane (default a fifth of the chart height). */
  readonly paneHeight?: number;
  /** Markers on the main series: trades, signals, fills. */
  readonly markers?: readonly MarkerSet[];
}

const KINDS: Readonly<Record<IndicatorStyle, SeriesKind>> = {
  line: "Line",
  area: "Area",
  histogram: "Histogram",
};

/** A series spec from one input; `first`/`last` in microseconds (NaN when empty). */
export function indicatorSeries(
  input: IndicatorInput,
  where: { pane: number; paletteIndex: number; fn: string; decimals?: number; label?: boolean },
): { spec: SeriesSpec; first: number; last: number } {
  if (input === null || typeof input !== "object" || typeof input.name !== "string") {
    throw new TypeError(`${where.fn}: a series needs a name and data`);
  }
  const style = input.style ?? "line";
  const kind = KINDS[style];
  if (!kind) throw new RangeError(`${where.fn}: unknown style ${String(style)}`);
  const field = input.value ?? "value";
  const cols = extractColumns(rowsOf(input.data, where.fn), "ts", [field]);
  reportSkipped(where.fn, input.name, cols);
  const values = cols.values[field];
  const decimals = where.decimals ?? priceDecimals(values);
  const color = input.color ?? themeColor("palette", where.paletteIndex);
  const options: Record<string, unknown> = {
    color,
    title: where.label === false ? "" : input.name,
    priceLineVisible: false,
    priceFormat: { type: "price", precision: decimals, minMove: 10 ** -decimals },
  };
  if (style !== "histogram") options.lineWidth = input.lineWidth ?? 2;
  if (style === "area") {
    Object.assign(options, {
      lineColor: color,
      topColor: tokenAlpha(color, "55"),
      bottomColor: tokenAlpha(color, "08"),
    });
  }
  return {
    spec: {
      kind,
      name: input.name,
      pane: where.pane,
      options,
      columns: { time: cols.time, value: values },
    },
    first: cols.first,
    last: cols.last,
  };
}

/** `color` with an alpha suffix, for theme tokens and `#rrggbb` colours (others as they are). */
export function tokenAlpha(color: string, alpha: string): string {
  if (color.startsWith("theme:")) return color.replace(/:[0-9a-fA-F]{2}$/, "") + ":" + alpha;
  if (/^#[0-9a-fA-F]{6}$/.test(color)) return color + alpha;
  return color;
}

/**
 * Adds overlays and indicator panes after the chart's own series (`firstFreePane` is the
 * first pane index not used by them) and markers to the first series. Returns the panes'
 * heights (for panes from `firstFreePane` on) and a summary fragment.
 */
export function withIndicators(
  own: SeriesSpec[],
  options: IndicatorOptions,
  layout: { firstFreePane: number; height: number; fn: string },
): { series: SeriesSpec[]; paneHeights: number[]; summary: string } {
  const series = [...own];
  let palette = own.length;
  for (const overlay of options.overlays ?? []) {
    series.push(indicatorSeries(overlay, { pane: 0, paletteIndex: palette++, fn: layout.fn }).spec);
  }
  const paneHeights: number[] = [];
  const paneHeight = options.paneHeight ?? Math.round(layout.height / 5);
  if (!(paneHeight >= 20)) throw new RangeError(`${layout.fn}: paneHeight must be >= 20`);
  (options.panes ?? []).forEach((group, i) => {
    const inputs = Array.isArray(group) ? group : [group as IndicatorInput];
    for (const input of inputs) {
      series.push(
        indicatorSeries(input, {
          pane: layout.firstFreePane + i,
          paletteIndex: palette++,
          fn: layout.fn,
        }).spec,
      );
    }
    paneHeights.push(paneHeight);
  });
  const parts: string[] = [];
  if (options.overlays?.length) parts.push(`${options.overlays.length} overlays`);
  if (options.panes?.length) parts.push(`${options.panes.length} indicator panes`);
  if (options.markers?.length && series.length > 0) {
    const { markers, count } = markerColumns(options.markers, series[0].columns.time);
    series[0] = { ...series[0], markers };
    parts.push(`${count} markers`);
  }
  return { series, paneHeights, summary: parts.length ? `; ${parts.join(", ")}` : "" };
}
