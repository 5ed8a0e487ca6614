/**
 * Rich display in the Deno Jupyter kernel: frames as tables with shape and types, charts
 * (the chart library sent once per kernel), Markdown. Outside a kernel the same calls print
 * plain text, so a notebook's code also runs as a script.
 * @module
 */
import pl from "nodejs-polars";
import { Table } from "apache-arrow";
import { frameHtml, type FrameHtmlOptions } from "./frame_html.ts";

/** A MIME bundle: `text/html`, `text/markdown`, `text/plain`, ... */
export type MimeBundle = Record<string, string>;

/** Options of {@linkcode show}. */
export type ShowOptions = FrameHtmlOptions;

/**
 * After a display, this long a pause lets the kernel publish it while the cell still runs:
 * the kernel can otherwise publish it after the cell finished, and a headless run
 * (nbconvert, CI) misses it.
 */
const SETTLE_MS = 50;

/** The rich form of a value: frames, series, Arrow tables and row arrays as tables. */
export function mimeBundle(value: unknown, options: ShowOptions = {}): MimeBundle | undefined {
  if (value instanceof Table) return mimeBundle(arrowToFrame(value), options);
  if (isFrame(value)) {
    return { "text/html": frameHtml(value, options), "text/plain": String(value) };
  }
  if (isSeries(value)) return mimeBundle(pl.DataFrame([value]), options);
  if (Array.isArray(value) && value.length > 0 && value.every(isPlainObject)) {
    return mimeBundle(pl.DataFrame(value as Record<string, unknown>[]), options);
  }
  const display = (value as { [k: symbol]: unknown } | null)?.[Symbol.for("Jupyter.display")];
  if (typeof display === "function") return display.call(value) as MimeBundle;
  return undefined;
}

/**
 * Shows a value under the cell and waits until the kernel has it: a Polars frame or series,
 * an Arrow table or an array of plain objects as a table (shape, column types, values; see
 * `frameHtml`), a chart inline, text as Markdown, anything else as the kernel shows it.
 * Outside a kernel it prints the plain-text form.
 *
 * @example
 * ```ts ignore
 * import { show } from "@alphapulse/lib";
 * await show(trades.head(10));
 * await show(candlestickChart(bars));
 * ```
 */
export async function show(value: unknown, options: ShowOptions = {}): Promise<void> {
  if (typeof value === "string") return await say(value);
  const bundle = mimeBundle(value, options);
  const jupyter = kernel();
  if (jupyter === undefined) {
    console.log(bundle?.["text/plain"] ?? value);
    return;
  }
  if (bundle === undefined) await jupyter.display(value);
  else await jupyter.display(bundle, { raw: true });
  await settle();
}

/** Shows Markdown text under the cell (printed as is outside a kernel). */
export async function say(markdown: string): Promise<void> {
  const jupyter = kernel();
  if (jupyter === undefined) {
    console.log(markdown);
    return;
  }
  await jupyter.display({ "text/markdown": markdown, "text/plain": markdown }, { raw: true });
  await settle();
}

/** `Deno.jupyter` inside the kernel, `undefined` anywhere else. */
function kernel(): typeof Deno.jupyter | undefined {
  try {
    return Deno.jupyter;
  } catch {
    return undefined;
  }
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
}

function isFrame(v: unknown): v is pl.DataFrame {
  return typeof v === "object" && v !== null && typeof (v as pl.DataFrame).getColumns ===
      "function" &&
    typeof (v as pl.DataFrame).height === "number";
}

function isSeries(v: unknown): v is pl.Series {
  return typeof v === "object" && v !== null && typeof (v as pl.Series).toArray === "function" &&
    typeof (v as pl.Series).dtype === "object" && typeof (v as pl.Series).name === "string";
}

function isPlainObject(v: unknown): boolean {
  return typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/** An Arrow table as a Polars frame (through its rows: for display-sized tables). */
function arrowToFrame(table: Table): pl.DataFrame {
  const rows = table.toArray().map((r) => (r as { toJSON(): Record<string, unknown> }).toJSON());
  return rows.length > 0 ? pl.DataFrame(rows) : pl.DataFrame({});
}
