/**
 * Fast paths for the Coinbase Exchange book messages, which are nearly all of the traffic:
 * `l2update` (`{"type":"l2update","product_id":"..","changes":[["buy","p","s"],..],"time":".."}`)
 * and `snapshot` (`{"type":"snapshot","product_id":"..","asks":[["p","s"],..],"bids":[..]}`).
 *
 * They copy the frame's bytes once (`TextEncoder.encodeInto`, native) and read those instead
 * of `JSON.parse` + `parseDecimal`: typed-array reads are several times cheaper than
 * `charCodeAt` on the sliced strings a replay produces, and JSON.parse builds objects and
 * strings that are thrown away at once. Only the exact layouts Coinbase sends are accepted.
 * Anything else (other key order, whitespace, escapes, non-ASCII, extra keys, a value
 * `parseDecimal` or `parseIsoMicros` would reject or treat specially) returns `false`, and
 * the adapter's `JSON.parse` path handles the frame: both paths produce the same events and
 * the same error reports (`tests/book_coinbase_fast_test.ts` holds them to it).
 * @module
 */
import type { MarketEvent, PriceLevel } from "../../lib/market/types.ts";
import { MAX_SIGNIFICANT_DIGITS } from "../../lib/market/decimal.ts";
import { MIN_VALID_MICROS } from "../../lib/market/time.ts";
import { normalizeSymbol } from "../../lib/market/symbols.ts";

/** How every `l2update` frame starts. */
export const L2UPDATE_PREFIX = '{"type":"l2update","product_id":"';
/** How every `snapshot` frame starts. */
export const SNAPSHOT_PREFIX = '{"type":"snapshot","product_id":"';

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const L2UPDATE = ascii(L2UPDATE_PREFIX);
const SNAPSHOT = ascii(SNAPSHOT_PREFIX);
const CHANGES = ascii('","changes":[');
const TIME = ascii('],"time":"');
const BUY = ascii('["buy","');
const SELL = ascii('["sell","');
const ASKS = ascii('","asks":');
const BIDS = ascii(',"bids":');

const TWO_POW_53 = 2 ** 53;
/** Exact powers of ten (10^0 .. 10^22 are exact doubles). */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

const encoder = new TextEncoder();
/** The current frame's UTF-8 bytes (grown as needed, reused). */
let bytes = new Uint8Array(4096);
/** Where the last scan stopped (the index of the closing quote). */
let scanEnd = 0;

/**
 * Parses a Coinbase book frame (`l2update` or `snapshot`) on the fast path, appending its
 * event to `out`; false, appending nothing, when the adapter's full parser must handle it.
 * `utf8`, when given, holds the frame's bytes as received (copied instead of encoding
 * `frame` again).
 */
export function scanBookFrame(
  frame: string,
  exchange: string,
  recvTs: number,
  out: MarketEvent[],
  utf8?: Uint8Array,
): boolean {
  // A cheap look at the type's first letters (`"type":"l2` or `"type":"sn`) first.
  const c9 = frame.charCodeAt(9);
  const c10 = frame.charCodeAt(10);
  const l2update = c9 === 108 /* l */ && c10 === 50; /* 2 */
  if (!l2update && !(c9 === 115 /* s */ && c10 === 110 /* n */)) return false;
  const n = frame.length;
  if (bytes.length < n * 3 + 1) bytes = new Uint8Array(n * 4 + 1);
  // Non-ASCII makes more bytes than chars: not a layout we take.
  if (utf8 !== undefined) {
    if (utf8.length !== n) return false;
    bytes.set(utf8);
  } else if (encoder.encodeInto(frame, bytes).written !== n) {
    return false;
  }
  bytes[n] = 0; // a sentinel: no scan reads past the frame into an older one
  return l2update
    ? scanL2update(bytes, n, frame, exchange, recvTs, out)
    : scanSnapshot(bytes, n, frame, exchange, recvTs, out);
}

/** True when `b` holds `token` at `i`. */
function at(b: Uint8Array, i: number, token: Uint8Array): boolean {
  for (let k = 0; k < token.length; k++) if (b[i + k] !== token[k]) return false;
  return true;
}

/**
 * Parses the decimal starting at `start` up to a closing quote; sets `scanEnd`. Returns NaN
 * unless the text is a plain non-negative decimal that `parseDecimal` accepts and that
 * converts exactly as `m / 10^f` (m < 2^53, f <= 22: one correctly rounded division, so the
 * result equals `+text`).
 */
function scanDecimal(b: Uint8Array, n: number, start: number): number {
  let i = start;
  let m = 0;
  let fraction = -1; // digits after the point, -1 before it
  let digits = 0; // significant digits so far (leading zeros skipped)
  let lastNonZero = 0;
  for (; i < n; i++) {
    const c = b[i];
    if (c === 34 /* " */) break;
    if (c === 46 /* . */) {
      if (fraction >= 0 || i === start) return NaN;
      fraction = 0;
      continue;
    }
    if (c < 48 || c > 57) return NaN;
    m = m * 10 + (c - 48);
    if (fraction >= 0) fraction++;
    if (digits > 0 || c !== 48) {
      digits++;
      if (c !== 48 || fraction < 0) lastNonZero = digits;
    }
  }
  scanEnd = i;
  // Unterminated, empty, "1.", or longer than parseDecimal accepts.
  if (i === n || i === start || fraction === 0 || i - start > 40) return NaN;
  if (lastNonZero > MAX_SIGNIFICANT_DIGITS || !(m < TWO_POW_53)) return NaN;
  if (fraction <= 0) return m;
  return fraction < POW10.length ? m / POW10[fraction] : NaN;
}

/** Two ASCII digits at `i` as a number, or NaN. */
function two(b: Uint8Array, i: number): number {
  const x = b[i] - 48;
  const y = b[i + 1] - 48;
  return x >= 0 && x <= 9 && y >= 0 && y <= 9 ? x * 10 + y : NaN;
}

/** The last `YYYY-MM-DDTHH:MM:` seen and its microseconds: most frames share the minute. */
const cachedMinute = new Uint8Array(17);
let cachedMinuteMicros = NaN;

/**
 * `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z"` at `start` to microseconds; NaN for anything else (or a
 * day past 28, left to `parseIsoMicros`). Sets `scanEnd` (at the closing quote).
 */
function scanIsoMicros(b: Uint8Array, start: number): number {
  if (cachedMinuteMicros === cachedMinuteMicros && at(b, start, cachedMinute)) {
    const second = two(b, start + 17);
    if (!(second <= 59)) return NaN;
    const micros = scanFraction(b, start + 19);
    return cachedMinuteMicros + second * 1_000_000 + micros;
  }
  const year = two(b, start) * 100 + two(b, start + 2);
  const month = two(b, start + 5);
  const day = two(b, start + 8);
  const hour = two(b, start + 11);
  const minute = two(b, start + 14);
  const second = two(b, start + 17);
  if (
    b[start + 4] !== 45 || b[start + 7] !== 45 || b[start + 10] !== 84 ||
    b[start + 13] !== 58 || b[start + 16] !== 58 || !(month >= 1 && month <= 12) ||
    !(day >= 1 && day <= 28) || !(hour <= 23) || !(minute <= 59) || !(second <= 59) ||
    !(year >= 0)
  ) {
    return NaN;
  }
  const micros = scanFraction(b, start + 19);
  if (micros !== micros) return NaN;
  // Days since the epoch from the civil date (proleptic Gregorian).
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  const days = era * 146097 + doe - 719468;
  const minuteMicros = (days * 86400 + hour * 3600 + minute * 60) * 1_000_000;
  cachedMinute.set(b.subarray(start, start + 17));
  cachedMinuteMicros = minuteMicros;
  return minuteMicros + second * 1_000_000 + micros;
}

/**
 * `[.f{1,9}]Z"` at `i`: the fraction's microseconds, truncated as `parseIsoMicros` does;
 * sets `scanEnd`.
 */
function scanFraction(b: Uint8Array, i: number): number {
  let micros = 0;
  if (b[i] === 46 /* . */) {
    i++;
    let scale = 100_000;
    const first = i;
    for (; i < first + 9; i++) {
      const c = b[i] - 48;
      if (!(c >= 0 && c <= 9)) break;
      micros += c * scale;
      scale /= 10;
    }
    if (i === first) return NaN;
    micros = Math.floor(micros);
  }
  if (b[i] !== 90 /* Z */ || b[i + 1] !== 34) return NaN;
  scanEnd = i + 1;
  return micros;
}

/** Product ids seen, by a hash of their text: saves slicing and map lookups per frame. */
const SYMBOL_CACHE_SIZE = 256;
const cachedIds: Uint8Array[] = Array.from({ length: SYMBOL_CACHE_SIZE }, () => new Uint8Array());
const cachedSymbols: string[] = new Array(SYMBOL_CACHE_SIZE).fill("");
let idHash = 0;

/** Index of the closing quote of the product id starting at `start`; -1 if none. */
function scanProductId(b: Uint8Array, n: number, start: number): number {
  let hash = 0;
  for (let i = start; i < n; i++) {
    const c = b[i];
    if (c === 34 /* " */) {
      idHash = hash;
      return i === start ? -1 : i;
    }
    if (c === 92 /* backslash */ || c < 32) return -1;
    hash = (hash * 31 + c) | 0;
  }
  return -1;
}

/** The canonical symbol of the product id in `frame[start, end)`. */
function symbolAt(b: Uint8Array, frame: string, start: number, end: number): string {
  const slot = idHash & (SYMBOL_CACHE_SIZE - 1);
  const id = cachedIds[slot];
  if (id.length === end - start && at(b, start, id)) return cachedSymbols[slot];
  const symbol = normalizeSymbol(frame.slice(start, end));
  cachedIds[slot] = b.slice(start, end);
  cachedSymbols[slot] = symbol;
  return symbol;
}

/**
 * Reads `[["p","s"],..]` (or `[]`) at `i` into `levels`; returns the index after the closing
 * `]`, or -1. Prices must be > 0 and sizes >= 0, as in the adapter's `levels`.
 */
function scanLevels(b: Uint8Array, n: number, i: number, levels: PriceLevel[]): number {
  if (b[i] !== 91 /* [ */) return -1;
  i++;
  if (b[i] === 93 /* ] */) return i + 1;
  for (;;) {
    if (b[i] !== 91 || b[i + 1] !== 34 /* " */) return -1;
    const price = scanDecimal(b, n, i + 2);
    if (!(price > 0) || b[scanEnd + 1] !== 44 /* , */ || b[scanEnd + 2] !== 34) return -1;
    const size = scanDecimal(b, n, scanEnd + 3);
    if (!(size >= 0) || b[scanEnd + 1] !== 93) return -1;
    levels.push([price, size]);
    i = scanEnd + 2;
    const c = b[i];
    if (c === 44) {
      i++;
      continue;
    }
    return c === 93 ? i + 1 : -1;
  }
}

/** A `snapshot` frame (asks first, then bids, no time: the receive time stands in). */
function scanSnapshot(
  b: Uint8Array,
  n: number,
  frame: string,
  exchange: string,
  recvTs: number,
  out: MarketEvent[],
): boolean {
  if (!at(b, 0, SNAPSHOT)) return false;
  const idStart = SNAPSHOT.length;
  const idEnd = scanProductId(b, n, idStart);
  if (idEnd < 0 || !at(b, idEnd, ASKS)) return false;
  const asks: PriceLevel[] = [];
  let i = scanLevels(b, n, idEnd + ASKS.length, asks);
  if (i < 0 || !at(b, i, BIDS)) return false;
  const bids: PriceLevel[] = [];
  i = scanLevels(b, n, i + BIDS.length, bids);
  if (i < 0 || i + 1 !== n || b[i] !== 125 /* } */) return false;
  const symbol = symbolAt(b, frame, idStart, idEnd);
  out.push({ kind: "book_snapshot", exchange, symbol, ts: recvTs, recvTs, bids, asks });
  return true;
}

/** An `l2update` frame. */
function scanL2update(
  b: Uint8Array,
  n: number,
  frame: string,
  exchange: string,
  recvTs: number,
  out: MarketEvent[],
): boolean {
  if (!at(b, 0, L2UPDATE)) return false;
  const idStart = L2UPDATE.length;
  const idEnd = scanProductId(b, n, idStart);
  if (idEnd < 0 || !at(b, idEnd, CHANGES)) return false;
  let i = idEnd + CHANGES.length;
  const bids: PriceLevel[] = [];
  const asks: PriceLevel[] = [];
  for (;;) {
    // ["buy","p","s"] or ["sell","p","s"]
    let bid: boolean;
    if (at(b, i, BUY)) {
      bid = true;
      i += BUY.length;
    } else if (at(b, i, SELL)) {
      bid = false;
      i += SELL.length;
    } else {
      return false;
    }
    const price = scanDecimal(b, n, i);
    if (!(price > 0) || b[scanEnd + 1] !== 44 /* , */ || b[scanEnd + 2] !== 34) return false;
    const size = scanDecimal(b, n, scanEnd + 3);
    if (!(size >= 0) || b[scanEnd + 1] !== 93 /* ] */) return false;
    (bid ? bids : asks).push([price, size]);
    i = scanEnd + 2;
    const c = b[i];
    if (c === 44 /* , */) {
      i++;
      continue;
    }
    if (c === 93 /* ] */) break;
    return false;
  }
  if (!at(b, i, TIME)) return false;
  const ts = scanIsoMicros(b, i + TIME.length);
  if (!(ts >= MIN_VALID_MICROS) || scanEnd + 2 !== n || b[scanEnd + 1] !== 125 /* } */) {
    return false;
  }
  const symbol = symbolAt(b, frame, idStart, idEnd);
  out.push({ kind: "book_change", exchange, symbol, ts, recvTs, bids, asks });
  return true;
}
