/**
 * Kraken's book checksum (websocket v1 and v2).
 * @module
 */
import { CRC32_SLICE } from "./_crc32.ts";
import type { OrderBook } from "./order_book.ts";

/** How to format a book's numbers the way the venue wrote them. */
export interface KrakenChecksumOptions {
  /** Digits after the point in the pair's prices (`pair_decimals`, v2 `price_precision`). */
  readonly priceDecimals: number;
  /** Digits after the point in the pair's sizes (`lot_decimals`, v2 `qty_precision`). */
  readonly sizeDecimals: number;
  /** Levels per side that enter the checksum (default 10). */
  readonly levels?: number;
}

/**
 * Kraken's CRC32 checksum of a book: for the 10 best asks (lowest first), then the 10 best
 * bids (highest first), the price and then the size, each written with the pair's decimals,
 * the decimal point removed and leading zeros stripped, all concatenated; CRC-32 (IEEE),
 * unsigned. Numbers are formatted from the doubles through integer ticks (`price * 10^d`,
 * exact below 2^53) without building strings, so one call at depth 10 costs well under a
 * microsecond; larger values fall back to `toFixed`, which is exact for every value
 * `parseDecimal` accepts.
 *
 * @example
 * ```ts
 * import { OrderBook } from "./order_book.ts";
 * import { krakenChecksum } from "./kraken_checksum.ts";
 * import assert from "node:assert/strict";
 * const book = new OrderBook();
 * book.applySnapshot([[0.05005, 0.00000500]], [[0.05010, 0.00100000]]);
 * // CRC-32 of "5010" "100000" "5005" "500" (Python: zlib.crc32(b"50101000005005500")):
 * assert.equal(krakenChecksum(book, { priceDecimals: 5, sizeDecimals: 8 }), 1296599444);
 * ```
 * @throws {RangeError} when a decimals option is not an integer in 0..20.
 */
export function krakenChecksum(book: OrderBook, options: KrakenChecksumOptions): number {
  const { priceDecimals, sizeDecimals } = options;
  if (!validDecimals(priceDecimals) || !validDecimals(sizeDecimals)) {
    throw new RangeError(
      `decimals must be integers in 0..20, got ${priceDecimals} and ${sizeDecimals}`,
    );
  }
  const levels = options.levels ?? 10;
  if (!(levels >= 0) || levels > MAX_FAST_LEVELS) return textChecksum(book, options);
  const m = scaledLevels(book, levels, priceDecimals, sizeDecimals);
  return m < 0 ? textChecksum(book, options) : digitsCrc(m);
}

/**
 * Fills `values` with the scaled integers of asks then bids, price and size alternating;
 * returns their count, or -1 when one is past 2^53 (not exact: the text path is).
 */
function scaledLevels(
  book: OrderBook,
  levels: number,
  priceDecimals: number,
  sizeDecimals: number,
): number {
  const priceScale = 10 ** priceDecimals;
  const sizeScale = 10 ** sizeDecimals;
  let m = 0;
  for (let pass = 0; pass < 2; pass++) {
    const n = book.copyLevels(pass === 0 ? "ask" : "bid", levels, prices, sizes);
    for (let i = 0; i < n; i++) {
      const p = Math.round(prices[i] * priceScale);
      const q = Math.round(sizes[i] * sizeScale);
      if (!(p >= 0 && p < TWO_POW_53 && q >= 0 && q < TWO_POW_53)) return -1;
      values[m++] = p;
      values[m++] = q;
    }
  }
  return m;
}

/** CRC-32 of the decimal digits of `values[0..m)`, each without leading zeros. */
function digitsCrc(m: number): number {
  let crc = -1;
  for (let k = 0; k < m; k++) {
    const v = values[k];
    if (v === 0) continue; // "0" with leading zeros stripped is empty
    // Split v (< 2^53, at most 16 digits) into `high` (1..99999999) and 8 low digits.
    // Divisions are by multiplying with the reciprocal, then corrected (exact integers).
    let high = v;
    let low = -1;
    if (v >= 1e8) {
      high = Math.floor(v * 1e-8);
      low = v - high * 1e8;
      if (low < 0) {
        high--;
        low += 1e8;
      } else if (low >= 1e8) {
        high++;
        low -= 1e8;
      }
    }
    // `high`: its 1..4 leading digits, then 4 more if it has them.
    let lead = high;
    let mid = -1;
    if (high >= 1e4) {
      lead = (high * 1e-4) | 0;
      mid = high - lead * 1e4;
      if (mid < 0) {
        lead--;
        mid += 1e4;
      } else if (mid >= 1e4) {
        lead++;
        mid -= 1e4;
      }
    }
    // The 1..4 lead digits in one slicing-by-N step.
    if (lead >= 1000) {
      crc ^= ASCII4[lead];
      crc = T3[crc & 0xff] ^ T2[(crc >>> 8) & 0xff] ^ T1[(crc >>> 16) & 0xff] ^ T0[crc >>> 24];
    } else if (lead >= 100) {
      crc ^= ASCII4[lead] >>> 8;
      crc = T2[crc & 0xff] ^ T1[(crc >>> 8) & 0xff] ^ T0[(crc >>> 16) & 0xff] ^ (crc >>> 24);
    } else if (lead >= 10) {
      crc ^= ASCII4[lead] >>> 16;
      crc = T1[crc & 0xff] ^ T0[(crc >>> 8) & 0xff] ^ (crc >>> 16);
    } else {
      crc = T0[(crc ^ (ASCII4[lead] >>> 24)) & 0xff] ^ (crc >>> 8);
    }
    if (mid >= 0) {
      crc ^= ASCII4[mid];
      crc = T3[crc & 0xff] ^ T2[(crc >>> 8) & 0xff] ^ T1[(crc >>> 16) & 0xff] ^ T0[crc >>> 24];
    }
    if (low >= 0) {
      let a = (low * 1e-4) | 0;
      let r = low - a * 1e4;
      if (r < 0) {
        a--;
        r += 1e4;
      } else if (r >= 1e4) {
        a++;
        r -= 1e4;
      }
      crc ^= ASCII4[a];
      const b = ASCII4[r];
      crc = T7[crc & 0xff] ^ T6[(crc >>> 8) & 0xff] ^ T5[(crc >>> 16) & 0xff] ^
        T4[crc >>> 24] ^ T3[b & 0xff] ^ T2[(b >>> 8) & 0xff] ^ T1[(b >>> 16) & 0xff] ^
        T0[b >>> 24];
    }
  }
  return (crc ^ -1) >>> 0;
}

function validDecimals(d: number): boolean {
  return Number.isInteger(d) && d >= 0 && d <= 20;
}

const TWO_POW_53 = 2 ** 53;
const MAX_FAST_LEVELS = 100;
const prices = new Float64Array(MAX_FAST_LEVELS);
const sizes = new Float64Array(MAX_FAST_LEVELS);
const values = new Float64Array(4 * MAX_FAST_LEVELS);

const [T0, T1, T2, T3, T4, T5, T6, T7] = CRC32_SLICE.map((t) => new Int32Array(t.buffer));

/** The 4 ASCII digits of 0..9999, zero-padded, packed little-endian (first digit lowest). */
const ASCII4 = (() => {
  const table = new Int32Array(10_000);
  for (let n = 0; n < 10_000; n++) {
    const d = String(n).padStart(4, "0");
    table[n] = d.charCodeAt(0) | (d.charCodeAt(1) << 8) | (d.charCodeAt(2) << 16) |
      (d.charCodeAt(3) << 24);
  }
  return table;
})();

/** The same checksum from `toFixed` text: exact for any value, slower. */
function textChecksum(book: OrderBook, options: KrakenChecksumOptions): number {
  const levels = options.levels ?? 10;
  let crc = -1;
  for (const side of ["ask", "bid"] as const) {
    for (let i = 0; i < levels; i++) {
      const price = book.priceAt(side, i);
      if (price !== price) break;
      crc = textCrc(crc, price.toFixed(options.priceDecimals));
      crc = textCrc(crc, book.sizeAt(side, i).toFixed(options.sizeDecimals));
    }
  }
  return (crc ^ -1) >>> 0;
}

function textCrc(crc: number, text: string): number {
  let leading = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 || (leading && c === 48) || c === 45) continue;
    leading = false;
    crc = T0[(crc ^ c) & 0xff] ^ (crc >>> 8);
  }
  return crc;
}
