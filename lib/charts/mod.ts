/**
 * Charts for notebooks and reports, drawn with TradingView lightweight-charts and working
 * offline: the library's standalone build is read from `node_modules` and inlined into
 * every output, never loaded from a CDN.
 *
 * - {@linkcode candlestickChart}: OHLCV bars with a volume pane.
 * - {@linkcode lineChart}: mid prices, spreads, equity curves; lines, areas, histograms.
 * - Indicators over the main pane (`overlays`), in panes below it (`panes`) and `markers`
 *   (trades, signals, fills) on candlestick, line and equity charts.
 * - {@linkcode equityChart}: equity with its drawdown pane.
 * - {@linkcode depthHeatmap}: resting book size on a time x price grid (from `bookHistory`).
 * - Every chart and `htmlReport` take `theme: "dark" | "light"`.
 * - {@linkcode Chart}: `toHTML()` gives a self-contained fragment; as the last expression
 *   of a Deno Jupyter cell a chart renders inline.
 * - {@linkcode htmlReport}: a complete offline HTML document of headings, tables and charts.
 *
 * @example
 * ```ts ignore
 * import { candlestickChart, htmlReport } from "./mod.ts";
 * const chart = candlestickChart(bars, { title: "BTC-USD 1m", volume: true });
 * await Deno.writeTextFile("report.html", htmlReport({
 *   title: "Session",
 *   sections: [{ heading: "Bars", chart }],
 * }));
 * ```
 * @module
 */
export {
  Chart,
  type ChartHtmlOptions,
  type ChartSpec,
  type SeriesKind,
  type SeriesSpec,
} from "./chart.ts";
export { candlestickChart, type CandlestickChartOptions, type OhlcvRow } from "./candlestick.ts";
export { lineChart, type LineChartOptions, type LinePoint, type LineSeriesInput } from "./line.ts";
export { formatCell, htmlReport, type HtmlReportOptions, type ReportSection } from "./report.ts";
export { type ChartLibrary, loadChartLibrary } from "./library.ts";
export { chartLibrary, chartLibraryScript, chartRuntimeScript } from "./chart.ts";
export type { TimeValue } from "./_private.ts";
export { type HeatmapSpec } from "./chart.ts";
export { type IndicatorInput, type IndicatorOptions, type IndicatorStyle } from "./indicators.ts";
export { type MarkerInput, type MarkerKind, type MarkerSet } from "./markers.ts";
export { drawdownPercent, equityChart, type EquityChartOptions } from "./equity.ts";
export { depthHeatmap, type DepthHeatmapOptions, type DepthLevel } from "./heatmap.ts";
export { type Theme, type ThemeName, themeOf } from "./theme.ts";
