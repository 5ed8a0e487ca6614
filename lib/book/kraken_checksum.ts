/**
 * Kraken's book checksum (websocket v1 and v2).
 * @module
 */
import type { BookSide } from "../market/types.ts";
import { CRC32_TABLE } from "./_crc32.ts";
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

const digits = new Uint8Array(24);
const TWO_POW_53 = 2 ** 53;

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
  const priceScale = 10 ** priceDecimals;
  const sizeScale = 10 ** sizeDecimals;
  let crc = -1;
  crc = sideCrc(crc, book, "ask", levels, priceScale, priceDecimals, sizeScale, sizeDecimals);
  crc = sideCrc(crc, book, "bid", levels, priceScale, priceDecimals, sizeScale, sizeDecimals);
  return (crc ^ -1) >>> 0;
}

function validDecimals(d: number): boolean {
  return Number.isInteger(d) && d >= 0 && d <= 20;
}

function sideCrc(
  crc: number,
  book: OrderBook,
  side: BookSide,
  levels: number,
  priceScale: number,
  priceDecimals: number,
  sizeScale: number,
  sizeDecimals: number,
): number {
  const n = Math.min(levels, side === "bid" ? book.bidDepth : book.askDepth);
  for (let i = 0; i < n; i++) {
    crc = numberCrc(crc, book.priceAt(side, i), priceScale, priceDecimals);
    crc = numberCrc(crc, book.sizeAt(side, i), sizeScale, sizeDecimals);
  }
  return crc;
}

/** Feeds the digits of `value` written with `decimals`, point and leading zeros dropped. */
function numberCrc(crc: number, value: number, scale: number, decimals: number): number {
  const scaled = Math.round(value * scale);
  if (!(scaled >= 0 && scaled < TWO_POW_53)) return textCrc(crc, value.toFixed(decimals));
  if (scaled < 2147483648) return intCrc(crc, scaled, 0);
  // Split into two parts that fit int32 arithmetic: high digits, then 9 low digits.
  const high = Math.floor(scaled / 1e9);
  crc = intCrc(crc, high, 0);
  return intCrc(crc, scaled - high * 1e9, 9);
}

/** Feeds the decimal digits of a non-negative int32 `v`, zero-padded to `width`. */
function intCrc(crc: number, v: number, width: number): number {
  let n = 0;
  while (v > 0 || n < width) {
    const q = (v / 10) | 0;
    digits[n++] = 48 + v - q * 10;
    v = q;
  }
  for (let k = n - 1; k >= 0; k--) crc = CRC32_TABLE[(crc ^ digits[k]) & 0xff] ^ (crc >>> 8);
  return crc;
}

function textCrc(crc: number, text: string): number {
  let leading = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 || (leading && c === 48) || c === 45) continue;
    leading = false;
    crc = CRC32_TABLE[(crc ^ c) & 0xff] ^ (crc >>> 8);
  }
  return crc;
}
