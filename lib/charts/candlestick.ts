/**
 * Candlestick charts of OHLCV bars, with volume in a pane below.
 * @module
 */
import { microsToIso } from "../market/time.ts";
import { priceDecimals, rowsOf, type TimeValue } from "./_private.ts";
import { Chart, type SeriesSpec } from "./chart.ts";
import { extractColumns, reportSkipped } from "./series_data.ts";
import { type IndicatorOptions, withIndicators } from "./indicators.ts";
import { themeColor, type ThemeName } from "./theme.ts";

/**
 * A row with OHLCV columns: a model `Bar`, a repository row, or a DataFrame record.
 * `ts` is the bar's open time in microseconds since the epoch (or a `Date` / ISO text).
 */
export interface OhlcvRow {
  readonly ts: TimeValue;
  readonly open: number | bigint;
  readonly high: number | bigint;
  readonly low: number | bigint;
  readonly close: number | bigint;
  readonly volume?: number | bigint;
}

/** Options for {@linkcode candlestickChart}. */
export interface CandlestickChartOptions extends IndicatorOptions {
  /** Colour theme (default `"light"`). */
  readonly theme?: ThemeName;
  /** Shown above the chart; default `"<exchange> <symbol>"` when the rows carry them. */
  readonly title?: string;
  /** Height in pixels of candles and volume (default 420); indicator panes add theirs. */
  readonly height?: number;
  /** Draw volume in a pane below the candles (default `true`). */
  readonly volume?: boolean;
  /** Price decimals on the axis (default: as many as the prices need, 2 to 8). */
  readonly priceDecimals?: number;
}

const UP = themeColor("up");
const DOWN = themeColor("down");

/**
 * A candlestick chart of bars (time ascending or not; rows with invalid values are
 * skipped with one warning). Accepts an array of rows or a nodejs-polars DataFrame.
 * Indicators go over the candles (`overlays`) or into panes below the volume (`panes`);
 * trades, signals and fills are drawn as `markers` on the bar that holds them.
 *
 * @example
 * ```ts ignore
 * import { candlestickChart } from "./mod.ts";
 * const bars = await repo.bars({ exchange: "coinbase", symbol: "BTC-USD", interval: 60e6 }).rows();
 * candlestickChart(bars, { title: "BTC-USD 1m" }); // last expression of a notebook cell
 * candlestickChart(bars, {
 *   theme: "dark",
 *   overlays: [{ name: "SMA 20", data: sma, value: "sma" }],
 *   panes: [{ name: "imbalance", data: book, value: "imbalance_5" }],
 *   markers: [{ kind: "fill", data: result.fills }],
 * });
 * ```
 */
export function candlestickChart(
  bars: readonly OhlcvRow[] | { toRecords(): OhlcvRow[] },
  options: CandlestickChartOptions = {},
): Chart {
  const rows = rowsOf<OhlcvRow>(bars, "candlestickChart");
  const height = options.height ?? 420;
  if (!(height >= 100)) throw new RangeError(`candlestickChart: height must be >= 100: ${height}`);
  const showVolume = options.volume ?? true;
  const title = options.title ?? defaultTitle(rows);
  const cols = extractColumns(
    rows,
    "ts",
    ["open", "high", "low", "close"],
    showVolume ? ["volume"] : [],
  );
  reportSkipped("candlestickChart", title || "bars", cols);
  const { open, high, low, close, volume } = cols.values;
  const decimals = options.priceDecimals ??
    Math.max(priceDecimals(close), priceDecimals(open));
  const series: SeriesSpec[] = [{
    kind: "Candlestick",
    name: "price",
    pane: 0,
    options: {
      upColor: UP,
      downColor: DOWN,
      borderVisible: false,
      wickUpColor: UP,
      wickDownColor: DOWN,
      priceFormat: { type: "price", precision: decimals, minMove: 10 ** -decimals },
    },
    columns: { time: cols.time, open, high, low, close },
  }];
  if (showVolume) {
    series.push({
      kind: "Histogram",
      name: "volume",
      pane: 1,
      options: { priceFormat: { type: "volume" }, priceLineVisible: false },
      columns: {
        time: cols.time,
        value: volume,
        color: volume.map((_, i) => close[i] >= open[i] ? UP + ":99" : DOWN + ":99"),
      },
    });
  }
  const n = cols.time.length;
  const span = n ? ` ${microsToIso(cols.first)} .. ${microsToIso(cols.last)}` : "";
  const extra = withIndicators(series, options, {
    firstFreePane: showVolume ? 2 : 1,
    height,
    fn: "candlestickChart",
  });
  const paneHeights = [...(showVolume ? [Math.round(height * 0.22)] : []), ...extra.paneHeights];
  return new Chart({
    title,
    height: height + extra.paneHeights.reduce((a, b) => a + b, 0),
    paneHeights,
    series: extra.series,
    theme: options.theme,
    summary: `Candlestick chart${title ? ` "${title}"` : ""}: ${n} bars${span}${extra.summary}`,
  });
}

function defaultTitle(rows: readonly OhlcvRow[]): string {
  const first = rows[0] as { exchange?: unknown; symbol?: unknown } | undefined;
  if (!first) return "";
  const parts = [first.exchange, first.symbol].filter((p) => typeof p === "string");
  return parts.join(" ");
}
