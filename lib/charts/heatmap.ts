/**
 * A book depth heatmap: resting size on a time x price grid, bids and asks in two colours
 * with opacity growing with size, and the mid price drawn over it. lightweight-charts has no
 * heatmap series: the grid is painted by a series primitive under a carrier series, so the
 * time and price axes, zoom and crosshair are the chart's own.
 * @module
 */
import { microsToIso } from "../market/time.ts";
import { microsToChartTime, priceDecimals, rowsOf, timeToMicros, toNumber } from "./_private.ts";
import { Chart, type HeatmapSpec, type SeriesSpec } from "./chart.ts";
import { themeColor, type ThemeName } from "./theme.ts";

/** One resting level in long form: `side` is `"bid"`/`"ask"` (also `"buy"`/`"sell"`). */
export interface DepthLevel {
  readonly ts: unknown;
  readonly price: number | bigint;
  readonly size: number | bigint;
  readonly side: string;
}

/** Options for {@linkcode depthHeatmap}. */
export interface DepthHeatmapOptions {
  readonly title?: string;
  /** Colour theme (default `"light"`). */
  readonly theme?: ThemeName;
  /** Height in pixels (default 420). */
  readonly height?: number;
  /**
   * Price bucket height; sizes of levels in one bucket are summed. Default: the smallest
   * gap between distinct prices, widened so the price range has at most 300 buckets.
   */
  readonly priceStep?: number;
  /** Levels per side read from a wide frame (default: all `bid_price_k` columns there are). */
  readonly levels?: number;
  /**
   * Most time columns drawn (default 1500): with more distinct times, rows are taken at
   * evenly spaced times (the book as it was then) and the summary says so.
   */
  readonly maxColumns?: number;
  /** Size drawn fully opaque (default: the 95th percentile of cell sizes). */
  readonly fullSize?: number;
  /** Draw the mid price over the grid (default `true` when the input has it). */
  readonly mid?: boolean;
}

interface Level {
  t: number;
  price: number;
  size: number;
  side: 0 | 1;
}

/**
 * A depth heatmap from a `bookHistory` frame (wide: `ts`, `bid_price_k`, `bid_size_k`,
 * `ask_price_k`, `ask_size_k`, optional `mid`), from its rows, or from long rows
 * `{ ts, price, size, side }`. Levels with a NaN price or a size that is not positive are
 * empty and not drawn; rows with an invalid time (or a long row without a side) are skipped
 * with one warning.
 *
 * @example
 * ```ts ignore
 * import { bookHistory } from "../research/mod.ts";
 * import { depthHeatmap } from "./mod.ts";
 * const book = await bookHistory(repo, { exchange: "binance", symbol: "BTCUSDT" },
 *   { levels: 20, every: 1_000_000 });
 * depthHeatmap(book, { title: "BTCUSDT depth", theme: "dark" });
 * ```
 */
export function depthHeatmap(
  book: readonly Record<string, unknown>[] | { toRecords(): Record<string, unknown>[] },
  options: DepthHeatmapOptions = {},
): Chart {
  const height = options.height ?? 420;
  if (!(height >= 100)) throw new RangeError(`depthHeatmap: height must be >= 100: ${height}`);
  const maxColumns = options.maxColumns ?? 1500;
  if (!(maxColumns >= 2)) throw new RangeError(`depthHeatmap: maxColumns must be >= 2`);
  if (options.priceStep !== undefined && !(options.priceStep > 0)) {
    throw new RangeError(`depthHeatmap: priceStep must be positive: ${options.priceStep}`);
  }
  const rows = rowsOf<Record<string, unknown>>(book, "depthHeatmap");
  const { times, levels, mids, invalid, thinned } = readLevels(rows, options, maxColumns);
  if (invalid > 0) {
    console.warn(`depthHeatmap: skipped ${invalid} rows with an invalid time or side`);
  }
  const step = options.priceStep ?? defaultStep(levels);
  const cells = bucket(levels, step);
  const fullSize = options.fullSize ?? percentile(cells.size, 0.95);
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of cells.price) {
    lo = Math.min(lo, p);
    hi = Math.max(hi, p);
  }
  if (!Number.isFinite(lo)) lo = hi = 0;
  const heatmap: HeatmapSpec = {
    times,
    step,
    minPrice: lo - step / 2,
    maxPrice: hi + step / 2,
    fullSize: fullSize > 0 ? fullSize : 1,
    bidColor: themeColor("bidHeat"),
    askColor: themeColor("askHeat"),
    cells,
  };
  const showMid = (options.mid ?? true) && mids.some((m) => Number.isFinite(m));
  const decimals = priceDecimals([...cells.price.slice(0, 1000), step]);
  const carrier: SeriesSpec = {
    kind: "Line",
    name: showMid ? "mid" : "depth",
    pane: 0,
    options: {
      color: themeColor("text"),
      lineWidth: 1,
      lineVisible: showMid,
      lastValueVisible: showMid,
      priceLineVisible: false,
      crosshairMarkerVisible: showMid,
      title: showMid ? "mid" : "",
      priceFormat: { type: "price", precision: decimals, minMove: 10 ** -decimals },
    },
    columns: {
      time: times,
      value: showMid
        ? mids.map((m) => Number.isFinite(m) ? m : null)
        : times.map(() => (lo + hi) / 2),
    },
    heatmap,
  };
  const span = times.length
    ? ` ${microsToIso(Math.round(times[0] * 1e6))} .. ${
      microsToIso(Math.round(times[times.length - 1] * 1e6))
    }`
    : "";
  return new Chart({
    title: options.title,
    height,
    series: [carrier],
    theme: options.theme,
    summary: `Depth heatmap${options.title ? ` "${options.title}"` : ""}: ${times.length} times` +
      ` x ${Math.round((hi - lo) / step) + 1} price buckets of ${step}, ${cells.t.length} cells` +
      `${thinned ? ` (every ${thinned}th time of ${thinned * times.length} or so)` : ""}${span}`,
  });
}

function readLevels(
  rows: readonly Record<string, unknown>[],
  options: DepthHeatmapOptions,
  maxColumns: number,
) {
  const timed: { micros: number; row: Record<string, unknown> }[] = [];
  let invalid = 0;
  for (const row of rows) {
    const micros = row && typeof row === "object" ? timeToMicros(row.ts) : NaN;
    if (Number.isFinite(micros)) timed.push({ micros, row });
    else invalid++;
  }
  timed.sort((a, b) => a.micros - b.micros);
  const first = timed[0]?.row;
  const wide = first !== undefined && "bid_price_1" in first;
  let depth = 0;
  if (wide) {
    while (`bid_price_${depth + 1}` in first) depth++;
    if (options.levels !== undefined) depth = Math.min(depth, options.levels);
  }
  // Distinct times, thinned evenly to at most maxColumns (each keeps its last row).
  const distinct: number[] = [];
  for (const { micros } of timed) {
    if (distinct[distinct.length - 1] !== micros) distinct.push(micros);
  }
  const thinned = distinct.length > maxColumns ? Math.ceil(distinct.length / maxColumns) : 0;
  const kept = new Set<number>();
  distinct.forEach((t, i) => {
    if (!thinned || i % thinned === 0) kept.add(t);
  });
  const times: number[] = [];
  const mids: number[] = [];
  const levels: Level[] = [];
  let column = -1;
  let lastMicros = NaN;
  for (const { micros, row } of timed) {
    if (!kept.has(micros)) continue;
    if (micros !== lastMicros) {
      column++;
      lastMicros = micros;
      times.push(microsToChartTime(micros));
      mids.push(NaN);
    } else if (wide) {
      // A later wide row at the same time replaces the earlier one's levels.
      while (levels.length > 0 && levels[levels.length - 1].t === column) levels.pop();
    }
    if (wide) {
      for (let k = 1; k <= depth; k++) {
        pushLevel(levels, column, row[`bid_price_${k}`], row[`bid_size_${k}`], 0);
        pushLevel(levels, column, row[`ask_price_${k}`], row[`ask_size_${k}`], 1);
      }
      const mid = "mid" in row
        ? toNumber(row.mid)
        : (toNumber(row.bid_price_1) + toNumber(row.ask_price_1)) / 2;
      mids[column] = mid;
    } else {
      const side = String(row.side).toLowerCase();
      const s = side === "bid" || side === "buy" || side === "b" ? 0 : 1;
      if (s === 1 && !(side === "ask" || side === "sell" || side === "a" || side === "s")) {
        invalid++;
        continue;
      }
      pushLevel(levels, column, row.price, row.size, s);
    }
  }
  return { times, levels, mids, invalid, thinned };
}

function pushLevel(levels: Level[], t: number, p: unknown, s: unknown, side: 0 | 1): void {
  const price = toNumber(p);
  const size = toNumber(s);
  if (Number.isFinite(price) && size > 0 && Number.isFinite(size)) {
    levels.push({ t, price, size, side });
  }
}

function defaultStep(levels: readonly Level[]): number {
  const prices = [...new Set(levels.map((l) => l.price))].sort((a, b) => a - b);
  if (prices.length < 2) return 1;
  let gap = Infinity;
  for (let i = 1; i < prices.length; i++) gap = Math.min(gap, prices[i] - prices[i - 1]);
  const range = prices[prices.length - 1] - prices[0];
  return Number(Math.max(gap, range / 300).toPrecision(6));
}

/** Sums sizes per (column, price bucket, side); bucket centres are multiples of `step`. */
function bucket(levels: readonly Level[], step: number): HeatmapSpec["cells"] {
  const sums = new Map<string, { t: number; b: number; side: number; size: number }>();
  for (const l of levels) {
    const b = Math.round(l.price / step);
    const key = `${l.t}:${b}:${l.side}`;
    const cell = sums.get(key);
    if (cell) cell.size += l.size;
    else sums.set(key, { t: l.t, b, side: l.side, size: l.size });
  }
  const t: number[] = [];
  const price: number[] = [];
  const size: number[] = [];
  const side: number[] = [];
  for (const c of sums.values()) {
    t.push(c.t);
    price.push(Number((c.b * step).toPrecision(12)));
    size.push(c.size);
    side.push(c.side);
  }
  return { t, price, size, side };
}

function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return 1;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
