/**
 * Line charts: mid prices, spreads, equity curves; one or more series on one price axis.
 * @module
 */
import { microsToIso } from "../market/time.ts";
import { rowsOf, type TimeValue } from "./_private.ts";
import { Chart, type SeriesSpec } from "./chart.ts";
import {
  type IndicatorInput,
  type IndicatorOptions,
  indicatorSeries,
  withIndicators,
} from "./indicators.ts";
import type { ThemeName } from "./theme.ts";

/** A point of a line: time (microseconds since the epoch, `Date` or ISO text) and value. */
export interface LinePoint {
  readonly ts: TimeValue;
  readonly value: number | bigint;
}

/** One named line (or area, or histogram: `style`) drawn from rows. */
export type LineSeriesInput = IndicatorInput;

/** Options for {@linkcode lineChart}. */
export interface LineChartOptions extends IndicatorOptions {
  /** Colour theme (default `"light"`). */
  readonly theme?: ThemeName;
  /** Shown above the chart. */
  readonly title?: string;
  /** Height in pixels (default 320). */
  readonly height?: number;
  /** Value decimals on the axis (default: as many as the values need, 2 to 8). */
  readonly priceDecimals?: number;
  /** For a single array of rows: the value column (default `"value"`). */
  readonly value?: string;
  /** Fill the area under a single line (default `false`; several: `style: "area"`). */
  readonly area?: boolean;
}

/**
 * A line chart of one series (rows with `ts` and `value`, or another column named by
 * `options.value`) or of several named series, each a line, an area or a histogram
 * (`style`). Points are sorted by time; of points with the same time the last one is drawn.
 * Overlays, indicator panes and markers as for `candlestickChart` (markers go on the first
 * series).
 *
 * @example
 * ```ts ignore
 * import { lineChart } from "./mod.ts";
 * lineChart(quotes.map((q) => ({ ts: q.ts, value: (q.bidPrice + q.askPrice) / 2 })),
 *   { title: "BTC-USD mid" });
 * lineChart([{ name: "strategy", data: equity, value: "equity" }], { title: "Equity" });
 * ```
 */
export function lineChart(
  series:
    | readonly LinePoint[]
    | readonly Record<string, unknown>[]
    | readonly LineSeriesInput[]
    | { toRecords(): Record<string, unknown>[] },
  options: LineChartOptions = {},
): Chart {
  const height = options.height ?? 320;
  if (!(height >= 100)) throw new RangeError(`lineChart: height must be >= 100: ${height}`);
  const inputs = toInputs(series, options);
  const specs: SeriesSpec[] = [];
  let first = Infinity;
  let last = -Infinity;
  let points = 0;
  inputs.forEach((input, i) => {
    const area = options.area && inputs.length === 1;
    const built = indicatorSeries(area ? { ...input, style: "area" } : input, {
      pane: 0,
      paletteIndex: i,
      fn: "lineChart",
      decimals: options.priceDecimals,
      label: inputs.length > 1,
    });
    specs.push(built.spec);
    points += built.spec.columns.time.length;
    if (built.spec.columns.time.length) {
      first = Math.min(first, built.first);
      last = Math.max(last, built.last);
    }
  });
  const span = points ? ` ${microsToIso(first)} .. ${microsToIso(last)}` : "";
  const names = specs.map((s) => s.name).join(", ");
  const extra = withIndicators(specs, options, { firstFreePane: 1, height, fn: "lineChart" });
  return new Chart({
    title: options.title,
    height: height + extra.paneHeights.reduce((a, b) => a + b, 0),
    paneHeights: extra.paneHeights,
    series: extra.series,
    legend: extra.series.length > 1,
    theme: options.theme,
    summary: `Line chart${
      options.title ? ` "${options.title}"` : ""
    }: ${specs.length} series (${names}), ${points} points${span}${extra.summary}`,
  });
}

function toInputs(
  series: unknown,
  options: LineChartOptions,
): readonly LineSeriesInput[] {
  if (Array.isArray(series) && series.length > 0 && isSeriesInput(series[0])) {
    for (const s of series) {
      if (!isSeriesInput(s)) {
        throw new TypeError("lineChart: mix of named series and plain rows");
      }
    }
    return series as LineSeriesInput[];
  }
  const data = rowsOf<Record<string, unknown>>(series, "lineChart");
  return [{ name: options.title ?? options.value ?? "value", data, value: options.value }];
}

function isSeriesInput(x: unknown): x is LineSeriesInput {
  if (x === null || typeof x !== "object") return false;
  const s = x as Partial<LineSeriesInput>;
  return typeof s.name === "string" && s.data !== undefined && !("ts" in s);
}
