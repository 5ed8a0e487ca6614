/**
 * The `Chart` value: a chart description with embedded data that renders to a
 * self-contained HTML fragment (offline) and displays inline in the Deno Jupyter kernel.
 * @module
 */
import { escapeHtml, jsonForScript, scriptSafe, uniqueElementId } from "./_private.ts";
import { loadChartLibrary } from "./library.ts";

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
  readonly columns: Readonly<Record<string, readonly (number | string)[]>> & {
    readonly time: readonly number[];
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
}

/** Options for {@linkcode Chart.toHTML}. */
export interface ChartHtmlOptions {
  /**
   * Inline the lightweight-charts library (guarded so it is defined once per page).
   * Default `true`; `htmlReport` passes `false` and includes it once in the head.
   */
  readonly includeLibrary?: boolean;
}

const RUNTIME_GLOBAL = "__alphapulseCharts";

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

/** Browser code that turns a spec into a chart; defined once per page. */
const RUNTIME_SOURCE = `
window.${RUNTIME_GLOBAL} = window.${RUNTIME_GLOBAL} || {
  render: function (id, spec) {
    var el = document.getElementById(id);
    var L = window.LightweightCharts;
    if (el && !L) {
      // The library comes with the first chart of a notebook: wait for it a little.
      var self = this, tries = (arguments[2] || 0) + 1;
      if (tries < 200) { setTimeout(function () { self.render(id, spec, tries); }, 50); return; }
      el.textContent = "lightweight-charts is not on this page: show(chartLibrary()) loads it";
      return;
    }
    if (!el) return;
    var chart = L.createChart(el, {
      autoSize: true,
      height: spec.height,
      layout: { background: { color: "#ffffff" }, textColor: "#333", fontSize: 12 },
      grid: { vertLines: { color: "#f0f3fa" }, horzLines: { color: "#f0f3fa" } },
      timeScale: { timeVisible: true, secondsVisible: spec.secondsVisible, borderColor: "#d1d4dc" },
      rightPriceScale: { borderColor: "#d1d4dc" },
      localization: { timeFormatter: function (t) { return new Date(t * 1000).toISOString().replace("T", " ").replace(/\\.000Z$|Z$/, ""); } },
    });
    spec.series.forEach(function (s) {
      var series = chart.addSeries(L[s.kind + "Series"], s.options, s.pane);
      var cols = s.columns, names = Object.keys(cols), n = cols.time.length, data = new Array(n);
      for (var i = 0; i < n; i++) {
        var row = {};
        for (var k = 0; k < names.length; k++) row[names[k]] = cols[names[k]][i];
        data[i] = row;
      }
      series.setData(data);
    });
    var panes = chart.panes();
    (spec.paneHeights || []).forEach(function (h, i) { if (panes[i + 1]) panes[i + 1].setHeight(h); });
    chart.timeScale().fitContent();
    el.alphapulseChart = chart;
  }
};`;

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
    const parts: string[] = [
      CONTAINER_STYLE,
      `<div class="alphapulse-chart" style="margin:8px 0;">`,
    ];
    if (spec.title || spec.legend) parts.push(headerHtml(spec));
    parts.push(
      `<div id="${id}" style="position:relative;width:100%;height:${spec.height}px;"></div>`,
      `</div>`,
    );
    if (options.includeLibrary ?? true) parts.push(chartLibraryScript());
    parts.push(chartRuntimeScript());
    const payload = {
      height: spec.height,
      paneHeights: spec.paneHeights ?? [],
      secondsVisible: secondsMatter(spec),
      series: spec.series.map(({ kind, pane, options, columns }) => ({
        kind,
        pane,
        options,
        columns,
      })),
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

function headerHtml(spec: ChartSpec): string {
  const legend = spec.legend
    ? spec.series.map((s) => {
      const color = typeof s.options.color === "string" ? s.options.color : "#2962ff";
      return `<span style="margin-right:12px;"><span style="display:inline-block;width:10px;` +
        `height:10px;background:${escapeHtml(color)};margin-right:4px;"></span>${
          escapeHtml(s.name)
        }</span>`;
    }).join("")
    : "";
  const title = spec.title ? `<strong>${escapeHtml(spec.title)}</strong> ` : "";
  return `<div style="font:13px/1.6 system-ui,sans-serif;color:#333;">${title}${legend}</div>`;
}

/** Show seconds on the time axis when points are closer than a minute. */
function secondsMatter(spec: ChartSpec): boolean {
  for (const s of spec.series) {
    const t = s.columns.time;
    for (let i = 1; i < t.length && i < 1_000; i++) if (t[i] - t[i - 1] < 60) return true;
  }
  return false;
}
