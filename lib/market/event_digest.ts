/**
 * The idempotency key of events that have no venue id (quotes, book changes, book
 * snapshots, feed statuses): `(exchange, symbol, ts, recvTs, digest)`, where `digest` is a
 * 32-bit FNV-1a hash of the event's payload written as canonical text. The PostgreSQL
 * buffer and the Parquet lake compute it the same way, so an event stored directly in the
 * lake and the same event exported from the buffer collapse into one row.
 *
 * Canonical text: the payload fields in table-column order, joined by a tab; numbers as
 * `String(n)`; number lists as `{a,b,c}`; a missing optional integer as `\N`; text with
 * backslash, tab, newline and carriage return escaped as `\\`, `\t`, `\n`, `\r` (this is
 * also PostgreSQL's COPY text format, so the buffer's writer sends the same text).
 *
 * @example
 * ```ts
 * import { digestOf, quoteText } from "./event_digest.ts";
 * const digest = digestOf(quoteText(100.5, 2, 100.75, 1));
 * if (!Number.isInteger(digest)) throw new Error("a 32-bit integer");
 * ```
 * @module
 */
import type { BookChange, BookSnapshot, PriceLevel } from "./types.ts";

/** FNV-1a over UTF-16 code units of `text`, as a signed 32-bit integer. */
export function digestOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** Escapes backslash, tab, newline and carriage return (COPY text format). */
export function escapeText(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(
    /[\\\t\n\r]/g,
    (c) => c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
  );
}

/** A number list as `{a,b,c}` (`{}` when empty). */
function numberListText(values: ArrayLike<number>): string {
  if (values.length === 0) return "{}";
  let out = "{" + values[0];
  for (let i = 1; i < values.length; i++) out += "," + values[i];
  return out + "}";
}

/** An optional integer as its text, or `\N` when missing. */
function optionalText(value: number | undefined | null): string {
  return value === undefined || value === null ? "\\N" : String(value);
}

/** Canonical text of a quote's payload. */
export function quoteText(
  bidPrice: number,
  bidSize: number,
  askPrice: number,
  askSize: number,
): string {
  return bidPrice + "\t" + bidSize + "\t" + askPrice + "\t" + askSize;
}

/** The level lists of a book event, split into prices and sizes per side. */
export interface BookLevelColumns {
  readonly bidPrices: ArrayLike<number>;
  readonly bidSizes: ArrayLike<number>;
  readonly askPrices: ArrayLike<number>;
  readonly askSizes: ArrayLike<number>;
}

/**
 * The levels of a book event as the stores keep them: a snapshot's sides sorted best first
 * (bids by price descending, asks ascending; stable) and cut to `depth` levels; a change's
 * levels as received. The digest of a book event is over these lists.
 */
export function storedBookLevels(
  event: BookSnapshot | BookChange,
  depth: number,
): { bidPrices: number[]; bidSizes: number[]; askPrices: number[]; askSizes: number[] } {
  const snapshot = event.kind === "book_snapshot";
  const [bidPrices, bidSizes] = splitLevels(
    snapshot ? topLevels(event.bids, true, depth) : event.bids,
  );
  const [askPrices, askSizes] = splitLevels(
    snapshot ? topLevels(event.asks, false, depth) : event.asks,
  );
  return { bidPrices, bidSizes, askPrices, askSizes };
}

function topLevels(
  levels: readonly PriceLevel[],
  descending: boolean,
  depth: number,
): readonly PriceLevel[] {
  const sorted = [...levels].sort((a, b) => descending ? b[0] - a[0] : a[0] - b[0]);
  return sorted.length > depth ? sorted.slice(0, depth) : sorted;
}

function splitLevels(levels: readonly PriceLevel[]): [number[], number[]] {
  const prices = new Array<number>(levels.length);
  const sizes = new Array<number>(levels.length);
  for (let i = 0; i < levels.length; i++) {
    prices[i] = levels[i][0];
    sizes[i] = levels[i][1];
  }
  return [prices, sizes];
}

/**
 * Canonical text of a book event's payload: the four level lists, then the optional
 * integers in column order (book changes: first sequence, sequence, checksum; snapshots:
 * sequence, checksum).
 */
export function bookText(
  levels: BookLevelColumns,
  optionals: readonly (number | undefined | null)[],
): string {
  let text = numberListText(levels.bidPrices) + "\t" + numberListText(levels.bidSizes) + "\t" +
    numberListText(levels.askPrices) + "\t" + numberListText(levels.askSizes);
  for (const value of optionals) text += "\t" + optionalText(value);
  return text;
}

/** Canonical text of a feed status's payload. */
export function statusText(status: string, reason: string): string {
  return escapeText(status) + "\t" + escapeText(reason);
}
