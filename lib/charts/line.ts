/**
 * Line charts: mid prices, spreads, equity curves; one or more series on one price axis.
 * @module
 */
import { microsToIso } from "../market/time.ts";
import { priceDecimals, rowsOf, type TimeValue } from "./_private.ts";
import { Chart, type SeriesSpec } from "./chart.ts";
import { extractColumns, reportSkipped } from "./series_data.ts";

/** A point of a line: time (microseconds since the epoch, `Date` or ISO text) and value. */
export interface LinePoint {
  readonly ts: TimeValue;
  readonly value: number | bigint;
}

/** One named line drawn from rows. */
export interface LineSeriesInput {
  /** Legend label. */
  readonly name: string;
  /** Rows with a `ts` column and the value column. */
  readonly data: readonly Record<string, unknown>[] | { toRecords(): Record<string, unknown>[] };
  /** The value column (default `"value"`). */
  readonly value?: string;
  /** CSS colour (default: from a palette). */
  readonly color?: string;
}

/** Options for {@linkcode lineChart}. */
export interface LineChartOptions {
  /** Shown above the chart. */
  readonly title?: string;
  /** Height in pixels (default 320). */
  readonly height?: number;
  /** Value decimals on the axis (default: as many as the values need, 2 to 8). */
  readonly priceDecimals?: number;
  /** For a single array of rows: the value column (default `"value"`). */
  readonly value?: string;
  /** Fill the area under a single line (default `false`). */
  readonly area?: boolean;
}

const PALETTE = ["#2962ff", "#ff6d00", "#2e7d32", "#aa00ff", "#c62828", "#00838f"];

/**
 * A line chart of one series (rows with `ts` and `value`, or another column named by
 * `options.value`) or of several named series. Points are sorted by time; of points with
 * the same time the last one is drawn.
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
    const field = input.value ?? "value";
    const cols = extractColumns(rowsOf(input.data, "lineChart"), "ts", [field]);
    reportSkipped("lineChart", input.name, cols);
    const values = cols.values[field];
    const decimals = options.priceDecimals ?? priceDecimals(values);
    const color = input.color ?? PALETTE[i % PALETTE.length];
    const area = options.area && inputs.length === 1;
    specs.push({
      kind: area ? "Area" : "Line",
      name: input.name,
      pane: 0,
      options: {
        color,
        lineWidth: 2,
        title: inputs.length > 1 ? input.name : "",
        priceFormat: { type: "price", precision: decimals, minMove: 10 ** -decimals },
        ...(area ? { lineColor: color, topColor: color + "55", bottomColor: color + "08" } : {}),
      },
      columns: { time: cols.time, value: values },
    });
    points += cols.time.length;
    if (cols.time.length) {
      first = Math.min(first, cols.first);
      last = Math.max(last, cols.last);
    }
  });
  const span = points ? ` ${microsToIso(first)} .. ${microsToIso(last)}` : "";
  const names = specs.map((s) => s.name).join(", ");
  return new Chart({
    title: options.title,
    height,
    series: specs,
    legend: specs.length > 1,
    summary: `Line chart${
      options.title ? ` "${options.title}"` : ""
    }: ${specs.length} series (${names}), ${points} points${span}`,
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
