/**
 * The `Chart` value: a chart description with embedded data that renders to a
 * self-contained HTML fragment (offline) and displays inline in the Deno Jupyter kernel.
 * @module
 */
import { escapeHtml, jsonForScript, scriptSafe, uniqueElementId } from "./_private.ts";
import { loadChartLibrary } from "./library.ts";
import { RUNTIME_GLOBAL, RUNTIME_SOURCE } from "./_runtime.ts";
import { resolveThemeColors, type Theme, type ThemeName, themeOf } from "./theme.ts";

/** Series types of lightweight-charts that charts here use. */
export type SeriesKind = "Candlestick" | "Histogram" | "Line" | "Area";

/**
 * One series: its kind, lightweight-charts series options, the pane it goes to and its
 * data as columns (`time` in seconds since the epoch plus value columns such as `open`,
 * `close`, `value` or `color`), which keeps the embedded JSON small.
 */
export interface SeriesSpec {
  readonly kind: SeriesKind;
  /** A label for legends and summaries. */
  readonly name: string;
  /** Pane index: 0 is the main pane. */
  readonly pane: number;
  /** Options passed to `chart.addSeries`. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Columns of equal length; `time` is required. */
  readonly columns: Readonly<Record<string, readonly (number | string | null)[]>> & {
    readonly time: readonly number[];
  };
  /**
   * Markers drawn on this series with `createSeriesMarkers`, as columns: `time` (a time of
   * the series), `position`, `shape`, `color`, `text`, and `price` for price positions.
   */
  readonly markers?: Readonly<Record<string, readonly (number | string | null)[]>> & {
    readonly time: readonly number[];
  };
  /** A depth heatmap drawn under this series (its carrier; see `depthHeatmap`). */
  readonly heatmap?: HeatmapSpec;
}

/**
 * Cells of a time x price grid of resting size. Column `i` is drawn centred on `times[i]`
 * (a time of the carrier series) one bar wide; a cell spans `price +- step / 2`.
 */
export interface HeatmapSpec {
  /** Column times, seconds since the epoch, ascending. */
  readonly times: readonly number[];
  /** Price bucket height. */
  readonly step: number;
  /** Price range the pane shows. */
  readonly minPrice: number;
  readonly maxPrice: number;
  /** Size drawn fully opaque (larger sizes too); smaller sizes fade with `sqrt(size / fullSize)`. */
  readonly fullSize: number;
  readonly bidColor: string;
  readonly askColor: string;
  /** Cells as columns: column index, bucket centre price, size, side (0 bid, 1 ask). */
  readonly cells: {
    readonly t: readonly number[];
    readonly price: readonly number[];
    readonly size: readonly number[];
    readonly side: readonly number[];
  };
}

/** Everything needed to draw a chart. */
export interface ChartSpec {
  /** Shown above the chart. */
  readonly title?: string;
  /** Total height in pixels. */
  readonly height: number;
  /** Heights of panes after the first, in pixels (e.g. the volume pane). */
  readonly paneHeights?: readonly number[];
  readonly series: readonly SeriesSpec[];
  /** Show a legend of series names and colours above the chart (default `false`). */
  readonly legend?: boolean;
  /** Plain-text description used for `text/plain` output. */
  readonly summary: string;
  /** Colour theme (default `"light"`); colours in the spec may be theme tokens. */
  readonly theme?: ThemeName;
}

/** Options for {@linkcode Chart.toHTML}. */
export interface ChartHtmlOptions {
  /**
   * Inline the lightweight-charts library (guarded so it is defined once per page).
   * Default `true`; `htmlReport` passes `false` and includes it once in the head.
   */
  readonly includeLibrary?: boolean;
  /** Draw in this theme instead of the chart's own (`htmlReport` passes its theme). */
  readonly theme?: ThemeName;
}

/**
 * lightweight-charts lays its panes and price scales out in an HTML table; host pages
 * (JupyterLab's output CSS, for one, sets `table-layout: fixed` and cell padding) squeeze
 * the price scale and cut its labels. This resets table styling inside our charts only.
 */
const CONTAINER_STYLE = "<style>.alphapulse-chart table,.alphapulse-chart tr," +
  ".alphapulse-chart td,.alphapulse-chart th{padding:0!important;margin:0!important;" +
  "border:0!important;border-spacing:0!important;background:transparent!important;" +
  "max-width:none!important;text-align:left!important;vertical-align:top!important;}" +
  ".alphapulse-chart table{table-layout:auto!important;border-collapse:separate!important;}" +
  "</style>";

/**
 * A chart with its data embedded. Build one with `candlestickChart` or `lineChart`;
 * evaluate it as the last expression of a Deno Jupyter cell to see it inline, or put
 * `toHTML()` into a page (works offline: the library is inlined).
 *
 * @example
 * ```ts ignore
 * import { candlestickChart } from "./mod.ts";
 * const chart = candlestickChart(bars, { title: "BTC-USD 1m" });
 * await Deno.writeTextFile("chart.html", chart.toHTML());
 * ```
 */
export class Chart {
  /** The description this chart renders. */
  readonly spec: ChartSpec;

  constructor(spec: ChartSpec) {
    if (!(spec.height > 0)) throw new RangeError(`chart height must be positive: ${spec.height}`);
    themeOf(spec.theme); // a RangeError for an unknown theme now, not when drawn
    this.spec = spec;
  }

  /** The chart's title, or `""`. */
  get title(): string {
    return this.spec.title ?? "";
  }

  /**
   * A self-contained HTML fragment: a container `div` with a unique id, the inlined
   * lightweight-charts library (defined once per page) and a script that draws the chart
   * from data embedded as JSON. Every call yields a new id, so a fragment can be placed on
   * a page more than once.
   */
  toHTML(options: ChartHtmlOptions = {}): string {
    const id = uniqueElementId("alphapulse-chart");
    const spec = this.spec;
    const theme = themeOf(options.theme ?? spec.theme);
    const parts: string[] = [
      CONTAINER_STYLE,
      `<div class="alphapulse-chart" style="margin:8px 0;">`,
    ];
    if (spec.title || spec.legend) parts.push(headerHtml(spec, theme));
    parts.push(
      `<div id="${id}" data-theme="${theme.name}" ` +
        `style="position:relative;width:100%;height:${spec.height}px;"></div>`,
      `</div>`,
    );
    if (options.includeLibrary ?? true) parts.push(chartLibraryScript());
    parts.push(chartRuntimeScript());
    const payload = {
      height: spec.height,
      paneHeights: spec.paneHeights ?? [],
      secondsVisible: secondsMatter(spec),
      theme: {
        background: theme.background,
        text: theme.text,
        grid: theme.grid,
        border: theme.border,
      },
      series: spec.series.map(({ kind, pane, options, columns, markers, heatmap }) =>
        resolveThemeColors({ kind, pane, options, columns, markers, heatmap }, theme)
      ),
    };
    parts.push(
      `<script>window.${RUNTIME_GLOBAL}.render(${jsonForScript(id)}, ${
        jsonForScript(payload)
      });</script>`,
    );
    return parts.join("\n");
  }

  /** A one-line description of the chart. */
  toString(): string {
    return this.spec.summary;
  }

  /**
   * Rich output for the Deno Jupyter kernel: HTML plus a plain-text summary. The chart
   * library is inlined into the first chart a kernel displays only; later charts use it
   * from the page (see {@linkcode chartLibrary} to send it again).
   */
  [Symbol.for("Jupyter.display")](): Record<string, string> {
    const first = !chartLibrarySent();
    markChartLibrarySent();
    return { "text/html": this.toHTML({ includeLibrary: first }), "text/plain": this.spec.summary };
  }
}

const SENT = Symbol.for("alphapulse.chartLibrarySent");

/** Whether this kernel (process) already displayed the chart library. */
function chartLibrarySent(): boolean {
  return (globalThis as Record<symbol, unknown>)[SENT] === true;
}

function markChartLibrarySent(): void {
  (globalThis as Record<symbol, unknown>)[SENT] = true;
}

/**
 * The chart library as a notebook output: `show(chartLibrary())` (or the value as a cell's
 * last expression) puts it on the page, for a page that lost the first chart's output.
 */
export function chartLibrary(): { [key: symbol]: () => Record<string, string> } {
  return {
    [Symbol.for("Jupyter.display")]: () => {
      markChartLibrarySent();
      const { version } = loadChartLibrary();
      return {
        "text/html": chartLibraryScript() + chartRuntimeScript(),
        "text/plain": `lightweight-charts ${version}`,
      };
    },
  };
}

/**
 * A `<script>` element defining `window.LightweightCharts` unless the page already has it.
 * @throws {Deno.errors.NotFound} when lightweight-charts is not installed.
 */
export function chartLibraryScript(): string {
  const { source } = loadChartLibrary();
  return `<script>if (!window.LightweightCharts) {\n${scriptSafe(source)}\n}</script>`;
}

/** A `<script>` element defining the small render function used by chart fragments. */
export function chartRuntimeScript(): string {
  return `<script>${RUNTIME_SOURCE}</script>`;
}

function headerHtml(spec: ChartSpec, theme: Theme): string {
  const legend = spec.legend
    ? spec.series.map((s) => {
      const color = typeof s.options.color === "string"
        ? resolveThemeColors(s.options.color, theme)
        : theme.palette[0];
      return `<span style="margin-right:12px;"><span style="display:inline-block;width:10px;` +
        `height:10px;background:${escapeHtml(color)};margin-right:4px;"></span>${
          escapeHtml(s.name)
        }</span>`;
    }).join("")
    : "";
  const title = spec.title ? `<strong>${escapeHtml(spec.title)}</strong> ` : "";
  return `<div style="font:13px/1.6 system-ui,sans-serif;color:${theme.text};` +
    `background:${theme.background};padding:2px 4px;">${title}${legend}</div>`;
}

/** Show seconds on the time axis when points are closer than a minute. */
function secondsMatter(spec: ChartSpec): boolean {
  for (const s of spec.series) {
    const t = s.columns.time;
    for (let i = 1; i < t.length && i < 1_000; i++) if (t[i] - t[i - 1] < 60) return true;
  }
  return false;
}
