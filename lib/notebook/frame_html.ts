/**
 * Polars frames as HTML tables for notebooks and reports: the shape and each column's type
 * above the values, times with microseconds, long frames cut in the middle.
 * @module
 */
import pl from "nodejs-polars";

/** Options of {@linkcode frameHtml}. */
export interface FrameHtmlOptions {
  /** Rows shown; a longer frame shows its first and last `maxRows / 2` (default 20). */
  readonly maxRows?: number;
  /** Columns shown; a wider frame shows its first and last `maxColumns / 2` (default 40). */
  readonly maxColumns?: number;
  /** A caption before the shape (a title). */
  readonly title?: string;
}

/** A readable name of a Polars type: `Float64`, `Datetime(us)`, `List(Float64)`, `String`. */
export function dtypeName(dtype: pl.DataType): string {
  return String(dtype).replace(/^DataType\((.*)\)$/s, "$1").replace(/,\)/g, ")");
}

const STYLE = "border-collapse:collapse;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;";

/**
 * A frame as one `<table>`: a caption with the title and `shape: (rows, columns)`, a header
 * row of column names, a row of their types (`class="dtypes"`), then the values. Datetime
 * columns show as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC, to the microsecond), floats with at
 * most 10 significant digits, null as `null`, lists as `[a, b, ...]`; text is escaped.
 *
 * @example
 * ```ts
 * import pl from "nodejs-polars";
 * import { frameHtml } from "./frame_html.ts";
 * import assert from "node:assert/strict";
 * const html = frameHtml(pl.DataFrame({ price: [1.5, 2], side: ["buy", "sell"] }));
 * assert.ok(html.includes("shape: (2, 2)") && html.includes("<td>Float64</td>"));
 * ```
 * @throws {RangeError} when `maxRows` or `maxColumns` is not a whole number >= 2.
 */
export function frameHtml(frame: pl.DataFrame, options: FrameHtmlOptions = {}): string {
  const maxRows = options.maxRows ?? 20;
  const maxColumns = options.maxColumns ?? 40;
  for (const [name, v] of [["maxRows", maxRows], ["maxColumns", maxColumns]] as const) {
    if (!(Number.isInteger(v) && v >= 2)) {
      throw new RangeError(`${name} must be a whole number >= 2, got ${v}`);
    }
  }
  const [height, width] = [frame.height, frame.width];
  const names = frame.columns;
  const shownColumns = width > maxColumns
    ? [...names.slice(0, maxColumns / 2 | 0), "…", ...names.slice(width - (maxColumns / 2 | 0))]
    : names;
  const half = maxRows / 2 | 0;
  const parts = height > maxRows ? [frame.head(half), frame.tail(half)] : [frame];
  const out: string[] = [`<table class="alphapulse-frame" style="${STYLE}">`];
  const title = options.title ? `<strong>${escapeHtml(options.title)}</strong> ` : "";
  out.push(
    `<caption style="text-align:left;caption-side:top;">${title}shape: (${height}, ${width})` +
      `</caption>`,
  );
  out.push("<thead><tr>");
  for (const c of shownColumns) {
    out.push(`<th>${escapeHtml(c)}</th>`);
  }
  out.push(`</tr><tr class="dtypes" style="color:#888;">`);
  for (const c of shownColumns) {
    out.push(`<td>${c === "…" ? "" : escapeHtml(dtypeName(frame.getColumn(c).dtype))}</td>`);
  }
  out.push("</tr></thead><tbody>");
  parts.forEach((part, p) => {
    if (p > 0) {
      out.push(`<tr class="ellipsis">${shownColumns.map(() => "<td>…</td>").join("")}</tr>`);
    }
    const cells = shownColumns.map((c) => (c === "…" ? undefined : cellTexts(part.getColumn(c))));
    for (let r = 0; r < part.height; r++) {
      out.push("<tr>");
      for (const column of cells) out.push(`<td>${column === undefined ? "…" : column[r]}</td>`);
      out.push("</tr>");
    }
  });
  out.push("</tbody></table>");
  return out.join("");
}

/** A column's values as escaped cell texts. */
function cellTexts(series: pl.Series): string[] {
  const name = dtypeName(series.dtype);
  if (name.startsWith("Datetime")) {
    const us = series.cast(pl.Datetime("us")).dt.strftime("%Y-%m-%d %H:%M:%S%.6f");
    return (us.toArray() as (string | null)[]).map((v) => (v === null ? "null" : v));
  }
  return (series.toArray() as unknown[]).map((v) => escapeHtml(formatValue(v)));
}

/** One value as text (see {@linkcode frameHtml}). */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "number") {
    return Number.isInteger(v) || !Number.isFinite(v)
      ? String(v)
      : String(Number(v.toPrecision(10)));
  }
  if (typeof v === "bigint") return String(v);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const items = Array.from(v as ArrayLike<unknown>);
    const shown = items.slice(0, 6).map(formatValue);
    return `[${shown.join(", ")}${items.length > 6 ? `, … ${items.length} items` : ""}]`;
  }
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** `&`, `<`, `>`, `"` and `'` as entities. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
