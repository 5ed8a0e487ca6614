/**
 * Standalone HTML reports: headings, text, tables and charts in one offline file.
 * @module
 */
import { microsToIso, MIN_VALID_MICROS } from "../market/time.ts";
import { escapeHtml } from "./_private.ts";
import { Chart, chartLibraryScript, chartRuntimeScript } from "./chart.ts";
import { type ThemeName, themeOf } from "./theme.ts";

/** One section of a report; every part is optional and drawn in this order. */
export interface ReportSection {
  /** Section heading. */
  readonly heading?: string;
  /** Paragraphs of plain text (escaped). */
  readonly text?: string | readonly string[];
  /** Rows drawn as a table; columns are the keys of the first row unless `columns` is set. */
  readonly table?: readonly Record<string, unknown>[];
  /** Column order and selection for `table`. */
  readonly columns?: readonly string[];
  /** Most table rows shown (default 500); the rest is summarised in a line. */
  readonly maxRows?: number;
  /** One or more charts. */
  readonly chart?: Chart | readonly Chart[];
}

/** Input of {@linkcode htmlReport}. */
export interface HtmlReportOptions {
  /** Document title and top heading. */
  readonly title: string;
  readonly sections: readonly ReportSection[];
  /** Shown under the title, e.g. where the data came from. */
  readonly subtitle?: string;
  /**
   * Page theme (default `"light"`). When given, every chart is drawn in it too; without it
   * each chart keeps its own theme.
   */
  readonly theme?: ThemeName;
}

/**
 * A complete standalone HTML document (the chart library inlined once, no network
 * access needed) with the given sections.
 *
 * Table cells: numbers keep up to 10 significant digits; columns named `ts`, `recvTs`,
 * `first`, `last`, `start`, `end` or ending in `_ts` holding epoch microseconds are shown as
 * ISO times; `Date`s as ISO; objects as JSON.
 *
 * @example
 * ```ts ignore
 * import { candlestickChart, htmlReport } from "./mod.ts";
 * const html = htmlReport({
 *   title: "BTC-USD session",
 *   sections: [
 *     { heading: "Instruments", table: await repo.instruments() },
 *     { heading: "1-minute bars", chart: candlestickChart(bars) },
 *   ],
 * });
 * await Deno.writeTextFile("report.html", html);
 * ```
 */
export function htmlReport(options: HtmlReportOptions): string {
  if (typeof options?.title !== "string") throw new TypeError("htmlReport: title is required");
  if (!Array.isArray(options.sections)) {
    throw new TypeError("htmlReport: sections must be an array");
  }
  const theme = themeOf(options.theme);
  const body: string[] = [`<h1>${escapeHtml(options.title)}</h1>`];
  if (options.subtitle) body.push(`<p class="subtitle">${escapeHtml(options.subtitle)}</p>`);
  for (const section of options.sections) body.push(sectionHtml(section, options.theme));
  const hasCharts = options.sections.some((s) => s.chart !== undefined);
  return `<!DOCTYPE html>
<html lang="en" data-theme="${theme.name}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title>
<style>
html { background: ${theme.background}; color-scheme: ${theme.name}; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: ${theme.text};
  background: ${theme.background}; max-width: 1200px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; }
.subtitle { color: ${theme.mutedText}; margin-top: 0; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border-bottom: 1px solid ${theme.border}; padding: 4px 10px; text-align: right; }
th { background: ${theme.tableHeader}; } td.text, th.text { text-align: left; }
.more { color: ${theme.mutedText}; font-size: 12px; }
</style>
${hasCharts ? chartLibraryScript() + "\n" + chartRuntimeScript() : ""}
</head>
<body>
${body.join("\n")}
</body>
</html>
`;
}

function sectionHtml(section: ReportSection, theme: ThemeName | undefined): string {
  const out: string[] = ["<section>"];
  if (section.heading) out.push(`<h2>${escapeHtml(section.heading)}</h2>`);
  const text = section.text === undefined
    ? []
    : typeof section.text === "string"
    ? [section.text]
    : section.text;
  for (const p of text) out.push(`<p>${escapeHtml(p)}</p>`);
  if (section.table) out.push(tableHtml(section.table, section.columns, section.maxRows ?? 500));
  const charts = section.chart === undefined
    ? []
    : section.chart instanceof Chart
    ? [section.chart]
    : section.chart as readonly Chart[];
  for (const chart of charts) {
    if (!(chart instanceof Chart)) throw new TypeError("htmlReport: chart must be a Chart");
    out.push(chart.toHTML({ includeLibrary: false, theme }));
  }
  out.push("</section>");
  return out.join("\n");
}

function tableHtml(
  rows: readonly Record<string, unknown>[],
  columns: readonly string[] | undefined,
  maxRows: number,
): string {
  if (rows.length === 0) return `<p class="more">(no rows)</p>`;
  const cols = columns ?? Object.keys(rows[0]);
  const shown = rows.slice(0, Math.max(0, maxRows));
  const isText = cols.map((c) => shown.some((r) => typeof r[c] === "string"));
  const head = cols.map((c, i) => `<th${isText[i] ? ' class="text"' : ""}>${escapeHtml(c)}</th>`);
  const lines = [`<table>`, `<thead><tr>${head.join("")}</tr></thead>`, `<tbody>`];
  for (const row of shown) {
    const cells = cols.map((c, i) =>
      `<td${isText[i] ? ' class="text"' : ""}>${escapeHtml(formatCell(c, row[c]))}</td>`
    );
    lines.push(`<tr>${cells.join("")}</tr>`);
  }
  lines.push(`</tbody>`, `</table>`);
  if (rows.length > shown.length) {
    lines.push(`<p class="more">${rows.length - shown.length} more rows not shown</p>`);
  }
  return lines.join("\n");
}

const TIME_COLUMN = /^(ts|recvTs|first|last|start|end)$|_ts$/;

/** Formats one table cell as text. */
export function formatCell(column: string, value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (
      TIME_COLUMN.test(column) && Number.isInteger(value) && value >= MIN_VALID_MICROS &&
      value < 1e16
    ) {
      return microsToIso(value);
    }
    if (Number.isInteger(value) || !Number.isFinite(value)) return String(value);
    return String(Number(value.toPrecision(10)));
  }
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
