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

/**
 * The digest of a book event's payload: exactly `digestOf(bookText(levels, optionals))`,
 * hashed as the text is produced, without making it (no strings for the numbers, no
 * joined text): the lake's write path of book snapshots and changes.
 *
 * @example
 * ```ts
 * import { bookDigest, bookText, digestOf } from "./event_digest.ts";
 * import assert from "node:assert/strict";
 * const levels = { bidPrices: [100.5], bidSizes: [0.25], askPrices: [101], askSizes: [3] };
 * assert.equal(bookDigest(levels, [7, null]), digestOf(bookText(levels, [7, null])));
 * ```
 */
export function bookDigest(
  levels: BookLevelColumns,
  optionals: readonly (number | undefined | null)[],
): number {
  let h = FNV_OFFSET;
  h = hashList(h, levels.bidPrices, 0, levels.bidPrices.length);
  h = Math.imul(h ^ TAB, FNV_PRIME);
  h = hashList(h, levels.bidSizes, 0, levels.bidSizes.length);
  h = Math.imul(h ^ TAB, FNV_PRIME);
  h = hashList(h, levels.askPrices, 0, levels.askPrices.length);
  h = Math.imul(h ^ TAB, FNV_PRIME);
  h = hashList(h, levels.askSizes, 0, levels.askSizes.length);
  return hashOptionals(h, optionals);
}

/** Where one book event's levels are in longer level lists (end exclusive). */
export interface LevelRanges {
  readonly bidStart: number;
  readonly bidEnd: number;
  readonly askStart: number;
  readonly askEnd: number;
}

/**
 * {@linkcode bookDigest} of the levels `bidPrices[bidStart..bidEnd)` (bid sizes alike) and
 * `askPrices[askStart..askEnd)` of longer lists, such as the columns of many book events,
 * without a view per list.
 *
 * @example
 * ```ts
 * import { bookDigest, bookDigestIn } from "./event_digest.ts";
 * import assert from "node:assert/strict";
 * const levels = { bidPrices: [1, 100.5], bidSizes: [1, 0.25], askPrices: [101], askSizes: [3] };
 * const one = { bidPrices: [100.5], bidSizes: [0.25], askPrices: [101], askSizes: [3] };
 * const ranges = { bidStart: 1, bidEnd: 2, askStart: 0, askEnd: 1 };
 * assert.equal(bookDigestIn(levels, ranges, [null]), bookDigest(one, [null]));
 * ```
 */
export function bookDigestIn(
  levels: BookLevelColumns,
  ranges: LevelRanges,
  optionals: readonly (number | undefined | null)[],
): number {
  const { bidStart, bidEnd, askStart, askEnd } = ranges;
  let h = FNV_OFFSET;
  h = hashList(h, levels.bidPrices, bidStart, bidEnd);
  h = Math.imul(h ^ TAB, FNV_PRIME);
  h = hashList(h, levels.bidSizes, bidStart, bidEnd);
  h = Math.imul(h ^ TAB, FNV_PRIME);
  h = hashList(h, levels.askPrices, askStart, askEnd);
  h = Math.imul(h ^ TAB, FNV_PRIME);
  h = hashList(h, levels.askSizes, askStart, askEnd);
  return hashOptionals(h, optionals);
}

/** The optional integers' text (`\t` before each) fed into `h`, as a 32-bit digest. */
function hashOptionals(h: number, optionals: readonly (number | undefined | null)[]): number {
  for (let i = 0; i < optionals.length; i++) {
    const value = optionals[i];
    h = Math.imul(h ^ TAB, FNV_PRIME);
    if (value === undefined || value === null) {
      h = Math.imul(h ^ BACKSLASH, FNV_PRIME);
      h = Math.imul(h ^ LETTER_N, FNV_PRIME);
    } else {
      h = hashNumber(h, value);
    }
  }
  return h | 0;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const TAB = 9;
const BACKSLASH = 92;
const LETTER_N = 78;
const COMMA = 44;
const DOT = 46;
const MINUS = 45;
const ZERO = 48;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

/** `numberListText(values[start..end))` fed into the FNV-1a state `h`. */
function hashList(h: number, values: ArrayLike<number>, start: number, end: number): number {
  h = Math.imul(h ^ OPEN_BRACE, FNV_PRIME);
  for (let i = start; i < end; i++) {
    if (i > start) h = Math.imul(h ^ COMMA, FNV_PRIME);
    h = hashNumber(h, values[i]);
  }
  return Math.imul(h ^ CLOSE_BRACE, FNV_PRIME);
}

/** Powers of ten up to the most fraction digits the fast path of `renderNumber` tries. */
const POW10 = Array.from({ length: 11 }, (_, d) => 10 ** d);
/** Powers of ten up to 10^14, to count the digits of an integer below 1e15. */
const POW10_15 = Array.from({ length: 15 }, (_, d) => 10 ** d);

/**
 * The text of recently hashed numbers: a direct-mapped cache of `String(x)`'s characters,
 * slot chosen by the bits of `x`. Book levels repeat from one event to the next (the
 * same prices and sizes), so most numbers are hashed from their cached characters
 * without working out their decimal again; the digest is the same either way.
 */
const CACHE_BITS = 12;
const SLOTS = 1 << CACHE_BITS;
/** Characters kept per slot: `String` writes at most 24 for a number. */
const TEXT_MAX = 32;
/** The number each slot holds the text of (NaN: none; NaN is never equal to itself). */
const CACHED = new Float64Array(SLOTS).fill(NaN);
const CACHED_LENGTH = new Uint8Array(SLOTS);
const CACHED_TEXT = new Uint8Array(SLOTS * TEXT_MAX);
/** The bits of the number being hashed, to pick its slot. */
const BITS = new Float64Array(1);
const BITS_WORDS = new Uint32Array(BITS.buffer);

/**
 * `String(x)` fed into the FNV-1a state `h`, from its characters in the cache (written
 * there first when `x` is not cached: see {@linkcode renderNumber}). `0` and `-0` may share
 * a slot's text: `String` writes both as `0`.
 */
function hashNumber(h: number, x: number): number {
  if (typeof x !== "number") return hashText(h, "" + x);
  BITS[0] = x;
  const slot = Math.imul(BITS_WORDS[0] ^ BITS_WORDS[1], 0x9e3779b1) >>> (32 - CACHE_BITS);
  const at = slot * TEXT_MAX;
  if (CACHED[slot] !== x) {
    const length = renderNumber(x, at);
    if (length < 0) return hashText(h, "" + x);
    CACHED[slot] = x;
    CACHED_LENGTH[slot] = length;
  }
  const end = at + CACHED_LENGTH[slot];
  for (let i = at; i < end; i++) h = Math.imul(h ^ CACHED_TEXT[i], FNV_PRIME);
  return h;
}

/** The UTF-16 code units of `text` fed into the FNV-1a state `h`. */
function hashText(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h;
}

/**
 * Writes `String(x)` into `CACHED_TEXT` from `at`; returns its length, or -1 when it is
 * longer than a slot holds. Fast path: a number whose shortest decimal has at most 15
 * significant digits and 10 fraction digits, in the range `String` writes without an
 * exponent (1e-6 <= |x| < 1e15): the smallest count `d` of fraction digits whose decimal
 * `k / 10^d` (`k` an integer below 1e15) rounds to `x` gives the digits `String` writes
 * (no decimal with fewer digits rounds to `x`, and two decimals of at most 15 significant
 * digits never round to the same number). Anything else goes through `String`.
 */
function renderNumber(x: number, at: number): number {
  const a = x < 0 ? -x : x;
  if (x === 0) {
    CACHED_TEXT[at] = ZERO; // String(-0) is "0" too
    return 1;
  }
  if (a >= 1e-6 && a < 1e15) {
    let d = 0;
    if (a < 1e12) {
      // Two fraction digits first (prices in cents, sizes in quarters): when `k / 100`
      // rounds to `x`, the fewest fraction digits are 2 less k's trailing zeros (a decimal
      // with fewer digits that rounds to `x` is `k` without them); when it does not, no
      // decimal of 0 or 1 fraction digits does either, and the search goes on from 3.
      let k = Math.round(a * 100);
      if (k / 100 === a) {
        d = 2;
        while (d > 0 && k % 10 === 0) {
          k /= 10;
          d--;
        }
        if (x < 0) CACHED_TEXT[at] = MINUS;
        return renderDecimal(k, d, x < 0 ? at + 1 : at) + (x < 0 ? 1 : 0);
      }
      d = 3;
    }
    for (; d < POW10.length; d++) {
      const p = POW10[d];
      const k = Math.round(a * p);
      if (k >= 1e15) break;
      if (k / p === a) {
        if (x < 0) CACHED_TEXT[at] = MINUS;
        return renderDecimal(k, d, x < 0 ? at + 1 : at) + (x < 0 ? 1 : 0);
      }
    }
  }
  const text = "" + x;
  if (text.length > TEXT_MAX) return -1;
  for (let i = 0; i < text.length; i++) CACHED_TEXT[at + i] = text.charCodeAt(i);
  return text.length;
}

/**
 * Writes the decimal `k / 10^d` (`k` a positive integer below 1e15) as `String` writes it
 * into `CACHED_TEXT` from `at` (at most 17 characters); returns its length. The digits are
 * written right to left, straight into place: by 32-bit integer arithmetic (a division by
 * 10 is a multiplication there) for `k` below 2^31, else by floating point.
 */
function renderDecimal(k: number, d: number, at: number): number {
  let n = 1; // digits of k
  while (n < 15 && k >= POW10_15[n]) n++;
  // "0." and d - n zeros before the digits when k < 10^d; else a dot d digits from the end.
  const length = n <= d ? d + 2 : d > 0 ? n + 1 : n;
  const last = at + length - 1;
  const dot = d > 0 ? last - d : -1;
  const stop = n <= d ? at + 1 : at;
  if (k < 2_147_483_648) {
    let rest = k | 0;
    for (let to = last; to >= stop; to--) {
      if (to === dot) {
        CACHED_TEXT[to] = DOT;
        continue;
      }
      const next = (rest / 10) | 0;
      CACHED_TEXT[to] = ZERO + (rest - next * 10);
      rest = next;
    }
  } else {
    let rest = k;
    for (let to = last; to >= stop; to--) {
      if (to === dot) {
        CACHED_TEXT[to] = DOT;
        continue;
      }
      const next = Math.floor(rest / 10);
      CACHED_TEXT[to] = ZERO + (rest - next * 10);
      rest = next;
    }
  }
  if (n <= d) CACHED_TEXT[at] = ZERO;
  return length;
}

/** Canonical text of a feed status's payload. */
export function statusText(status: string, reason: string): string {
  return escapeText(status) + "\t" + escapeText(reason);
}
