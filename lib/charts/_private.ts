/**
 * Helpers shared by the chart and report builders: escaping, time conversion, ids.
 * @module
 */
import { MICROS_PER_MILLI, MICROS_PER_SECOND, parseIsoMicros } from "../market/time.ts";

/** A time as the model carries it (microseconds since the epoch) or as tables hand it out. */
export type TimeValue = number | bigint | Date | string;

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/**
 * JSON that is safe inside a `<script>` element: `<`, `>`, `&` and the JavaScript line
 * separators are written as `\u` escapes, so no `</script>` or `<!--` can appear.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * Makes JavaScript source safe to place inside a `<script>` element: `</script` becomes
 * `<\/script`, which means the same inside JavaScript strings and regular expressions.
 */
export function scriptSafe(source: string): string {
  return source.replace(/<\/(script)/gi, "<\\/$1");
}

/**
 * Converts a time to microseconds since the epoch: numbers and bigints are microseconds
 * (the model's unit), `Date`s and ISO text are converted. Returns `NaN` when invalid.
 */
export function timeToMicros(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Date) return value.getTime() * MICROS_PER_MILLI;
  if (typeof value === "string") {
    const micros = parseIsoMicros(value);
    if (!Number.isNaN(micros)) return micros;
    const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
    return ms * MICROS_PER_MILLI;
  }
  return NaN;
}

/** Microseconds to the chart's time unit (seconds since the epoch, fraction allowed). */
export function microsToChartTime(micros: number): number {
  return micros / MICROS_PER_SECOND;
}

/** Coerces a numeric cell (number, bigint, numeric text) to a number; `NaN` otherwise. */
export function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && value.trim() !== "") return Number(value);
  return NaN;
}

let idCounter = 0;

/** An element id unique within a page, also across separately rendered notebook cells. */
export function uniqueElementId(prefix: string): string {
  idCounter++;
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return `${prefix}-${random}-${idCounter}`;
}

/**
 * The number of price decimals to show (2 to 8): the most any value needs in its text form
 * rounded to 10 significant digits (so arithmetic noise such as `0.1 + 0.2` does not count),
 * but no more than keep 8 significant digits for the largest value.
 */
export function priceDecimals(values: Iterable<number>): number {
  let decimals = 2;
  let largest = 0;
  let seen = 0;
  for (const value of values) {
    if (!Number.isFinite(value) || value === 0) continue;
    const abs = Math.abs(value);
    if (abs > largest) largest = abs;
    const text = String(Number(abs.toPrecision(10)));
    let d: number;
    const exp = text.indexOf("e-");
    if (exp >= 0) {
      const mantissa = text.slice(0, exp);
      const dot = mantissa.indexOf(".");
      d = Number(text.slice(exp + 2)) + (dot < 0 ? 0 : mantissa.length - dot - 1);
    } else {
      const dot = text.indexOf(".");
      d = dot < 0 ? 0 : text.length - dot - 1;
    }
    if (d > decimals) decimals = d;
    if (++seen >= 5_000) break;
  }
  const integerDigits = largest >= 1 ? Math.floor(Math.log10(largest)) + 1 : 0;
  return Math.max(2, Math.min(decimals, 8, 8 - integerDigits));
}

/**
 * Returns rows from an array, or from a table-like object with `toRecords()` (a
 * nodejs-polars DataFrame), or throws a TypeError naming the function.
 */
export function rowsOf<T>(input: unknown, fn: string): readonly T[] {
  if (Array.isArray(input)) return input;
  if (
    input !== null && typeof input === "object" &&
    typeof (input as { toRecords?: unknown }).toRecords === "function"
  ) {
    return (input as { toRecords(): T[] }).toRecords();
  }
  throw new TypeError(`${fn}: expected an array of rows or a DataFrame, got ${typeof input}`);
}
