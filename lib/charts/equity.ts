/**
 * Equity and drawdown in one chart: the equity line in the main pane and, below it, the
 * drawdown from the running peak as an area.
 * @module
 */
import { microsToIso } from "../market/time.ts";
import { priceDecimals, rowsOf } from "./_private.ts";
import { Chart, type SeriesSpec } from "./chart.ts";
import { type IndicatorOptions, tokenAlpha, withIndicators } from "./indicators.ts";
import { extractColumns, reportSkipped } from "./series_data.ts";
import { themeColor, type ThemeName } from "./theme.ts";

/** Options for {@linkcode equityChart}. */
export interface EquityChartOptions extends IndicatorOptions {
  readonly title?: string;
  /** Colour theme (default `"light"`). */
  readonly theme?: ThemeName;
  /** The equity column (default `"equity"`, else `"value"` when rows have no `equity`). */
  readonly value?: string;
  /** Height in pixels of the equity pane (default 320). */
  readonly height?: number;
  /** Height in pixels of the drawdown pane (default 120). */
  readonly drawdownHeight?: number;
  /** Draw a benchmark equity over the strategy's (rows with `ts` and the same column). */
  readonly benchmark?: readonly Record<string, unknown>[] | {
    toRecords(): Record<string, unknown>[];
  };
}

/**
 * Drawdown in percent below the running peak: `100 * (equity / max(equity so far) - 1)`,
 * 0 at a new peak and negative below it. A non-positive peak makes the value NaN (a
 * drawdown from a peak at or below zero has no percentage).
 */
export function drawdownPercent(equity: readonly number[]): number[] {
  let peak = -Infinity;
  return equity.map((e) => {
    if (e > peak) peak = e;
    return peak > 0 ? 100 * (e / peak - 1) : NaN;
  });
}

/**
 * An equity line with its drawdown (percent below the running peak) as an area in a pane
 * below; the summary gives the maximum drawdown and when it bottomed.
 *
 * Input rows carry `ts` and the equity (`equity` or `value`, or `options.value`), as an
 * array or a nodejs-polars DataFrame; rows with an invalid time or equity are skipped with
 * one warning.
 *
 * @example
 * ```ts ignore
 * import { equityChart } from "./mod.ts";
 * const { equityTs, equity } = result.record;
 * equityChart(equityTs.map((ts, i) => ({ ts, equity: equity[i] })), { theme: "dark" });
 * ```
 */
export function equityChart(
  equity: readonly Record<string, unknown>[] | { toRecords(): Record<string, unknown>[] },
  options: EquityChartOptions = {},
): Chart {
  const rows = rowsOf<Record<string, unknown>>(equity, "equityChart");
  const height = options.height ?? 320;
  const ddHeight = options.drawdownHeight ?? 120;
  if (!(height >= 100)) throw new RangeError(`equityChart: height must be >= 100: ${height}`);
  if (!(ddHeight >= 40)) throw new RangeError(`equityChart: drawdownHeight must be >= 40`);
  const field = options.value ?? (rows.length > 0 && !("equity" in rows[0]) ? "value" : "equity");
  const cols = extractColumns(rows, "ts", [field]);
  reportSkipped("equityChart", options.title ?? "equity", cols);
  const values = cols.values[field];
  const drawdown = drawdownPercent(values);
  const decimals = priceDecimals(values);
  const line = themeColor("palette", 0);
  const ddTimes: number[] = [];
  const ddValues: number[] = [];
  drawdown.forEach((d, i) => {
    if (Number.isFinite(d)) {
      ddTimes.push(cols.time[i]);
      ddValues.push(d);
    }
  });
  const series: SeriesSpec[] = [{
    kind: "Line",
    name: "equity",
    pane: 0,
    options: {
      color: line,
      lineWidth: 2,
      title: "",
      priceFormat: { type: "price", precision: decimals, minMove: 10 ** -decimals },
    },
    columns: { time: cols.time, value: values },
  }];
  if (options.benchmark) {
    const bench = extractColumns(rowsOf(options.benchmark, "equityChart"), "ts", [field]);
    reportSkipped("equityChart", "benchmark", bench);
    series.push({
      kind: "Line",
      name: "benchmark",
      pane: 0,
      options: { color: themeColor("mutedText"), lineWidth: 1, lineStyle: 2, title: "" },
      columns: { time: bench.time, value: bench.values[field] },
    });
  }
  series.push(drawdownSeries(ddTimes, ddValues));
  const extra = withIndicators(series, options, { firstFreePane: 2, height, fn: "equityChart" });
  let worst = 0;
  for (let i = 1; i < ddValues.length; i++) if (ddValues[i] < ddValues[worst]) worst = i;
  const maxDd = ddValues.length
    ? `, max drawdown ${ddValues[worst].toFixed(2)}% at ${
      microsToIso(Math.round(ddTimes[worst] * 1e6))
    }`
    : "";
  return new Chart({
    title: options.title,
    height: height + ddHeight + extra.paneHeights.reduce((a, b) => a + b, 0),
    paneHeights: [ddHeight, ...extra.paneHeights],
    series: extra.series,
    legend: extra.series.length > 1,
    theme: options.theme,
    summary: `Equity chart${options.title ? ` "${options.title}"` : ""}: ${values.length} points` +
      `${maxDd}${extra.summary}`,
  });
}

/** The drawdown pane's area series (percent below the running peak). */
function drawdownSeries(time: number[], value: number[]): SeriesSpec {
  const dd = themeColor("drawdown");
  return {
    kind: "Area",
    name: "drawdown %",
    pane: 1,
    options: {
      lineColor: dd,
      color: dd,
      topColor: tokenAlpha(dd, "10"),
      bottomColor: tokenAlpha(dd, "66"),
      invertFilledArea: true,
      lineWidth: 1,
      title: "drawdown %",
      priceLineVisible: false,
      priceFormat: { type: "price", precision: 2, minMove: 0.01 },
    },
    columns: { time, value },
  };
}
