/**
 * Reads trades out of the buffer as columns, fast: `COPY (SELECT ...) TO STDOUT (FORMAT
 * binary)` streamed through npm:postgres and decoded straight into typed arrays (no row
 * objects, no text parsing of numbers or times).
 * @module
 */
import type postgres from "postgres";
import { readCopyBinary, timestampAt } from "./_copy_reader.ts";
import { tableCopyQuery } from "./_table_query.ts";
import { TABLES } from "../schema/tables.ts";

/** Trades of one instrument as columns (times in microseconds since the epoch). */
export interface BufferTradeColumns {
  readonly exchange: string;
  readonly symbol: string;
  readonly id: string[];
  readonly price: Float64Array;
  readonly size: Float64Array;
  readonly side: ("buy" | "sell" | "unknown")[];
  readonly ts: Float64Array;
  readonly recvTs: Float64Array;
  /** 1 for a trade fetched from the venue's REST history after being missed live, else 0. */
  readonly backfilled: Uint8Array;
}

/** Options of {@linkcode readTrades}. */
export interface ReadTradesOptions {
  readonly exchange: string;
  readonly symbol: string;
  /** Inclusive start, microseconds. */
  readonly start?: number;
  /** Exclusive end, microseconds. */
  readonly end?: number;
  /**
   * Only trades after this key in `(ts, id)` order (keyset pagination: pass the last trade
   * of the previous page).
   */
  readonly after?: { readonly ts: number; readonly id: string };
  /** At most this many trades (the first ones in `(ts, id)` order). */
  readonly limit?: number;
  /**
   * Newest first: `(ts, id)` descending, `after` meaning before that key and `limit` the
   * last trades (a page read backwards).
   */
  readonly descending?: boolean;
  /** Rows expected (a count known beforehand): sizes the arrays once. */
  readonly expectedRows?: number;
  /**
   * Return the ids as numbers (a `Float64Array`) when every id is a canonical integer (digits,
   * at most 15, no leading zero; `String(value)` gives the text back): no string per row.
   * Default false.
   */
  readonly integerIds?: boolean;
}

/** {@linkcode BufferTradeColumns} whose ids may be integers (see `integerIds`). */
export interface BufferTradeColumnsWithIntegerIds extends Omit<BufferTradeColumns, "id"> {
  /** Ids as text, or as numbers when every id is a canonical integer. */
  readonly id: string[] | Float64Array;
}

/**
 * Reads the trades of one instrument in `[start, end)`, ordered by `(ts, id)` (the primary
 * key's order, so no sort), as columns.
 */
export function readTrades(
  sql: postgres.Sql,
  options: ReadTradesOptions & { readonly integerIds: true },
): Promise<BufferTradeColumnsWithIntegerIds>;
export function readTrades(
  sql: postgres.Sql,
  options: ReadTradesOptions,
): Promise<BufferTradeColumns>;
export async function readTrades(
  sql: postgres.Sql,
  options: ReadTradesOptions,
): Promise<BufferTradeColumnsWithIntegerIds> {
  const columns = new TradeColumnsBuilder(options.expectedRows ?? 0, options.integerIds === true);
  await readCopyBinary(
    sql,
    tableCopyQuery(TABLES.trades, options),
    (view, buf, at) => columns.row(view, buf, at),
    () => columns.flushIds(),
  );
  return columns.finish(options.exchange, options.symbol);
}

/**
 * Trade columns filled from binary `COPY` tuples of `id, price, size, side, ts, recv_ts,
 * backfilled`.
 */
class TradeColumnsBuilder {
  readonly #ids: string[] = [];
  readonly #sides: ("buy" | "sell" | "unknown")[] = [];
  #cap: number;
  #price: Float64Array;
  #size: Float64Array;
  #ts: Float64Array;
  #recv: Float64Array;
  #backfilled: Uint8Array;
  /** Ids as numbers while every id so far is a canonical integer (when asked for). */
  #integerIds: boolean;
  #idNumbers: Float64Array;
  #n = 0;
  readonly #decoder = new TextDecoder();
  // Text ids are gathered as bytes with a NUL after each and decoded once per staged batch.
  #idBytes = new Uint8Array(1 << 16);
  #idLen = 0;

  constructor(expectedRows: number, integerIds: boolean) {
    this.#cap = Math.max(1024, expectedRows);
    this.#price = new Float64Array(this.#cap);
    this.#size = new Float64Array(this.#cap);
    this.#ts = new Float64Array(this.#cap);
    this.#recv = new Float64Array(this.#cap);
    this.#backfilled = new Uint8Array(this.#cap);
    this.#integerIds = integerIds;
    this.#idNumbers = new Float64Array(integerIds ? this.#cap : 0);
  }

  /** Decodes one tuple starting at `at` (after its field count). */
  row(view: DataView, buf: Uint8Array, at: number): void {
    let p = at;
    const len0 = view.getInt32(p); // id (text)
    p += 4;
    const n = this.#n;
    if (n === this.#cap) this.#grow();
    if (!this.#integerId(buf, p, len0)) this.#textId(buf, p, len0);
    p += len0 + 4;
    this.#price[n] = view.getFloat64(p);
    p += 8 + 4;
    this.#size[n] = view.getFloat64(p);
    p += 8;
    const len = view.getInt32(p);
    p += 4;
    this.#sides.push(len === 3 ? "buy" : len === 4 ? "sell" : "unknown");
    p += len + 4;
    this.#ts[n] = timestampAt(view, p);
    p += 8 + 4;
    this.#recv[n] = timestampAt(view, p);
    p += 8 + 4; // backfilled (bool: one byte)
    this.#backfilled[n] = buf[p];
    this.#n = n + 1;
  }

  /** Decodes the text ids gathered so far (once per staged batch of tuples). */
  flushIds(): void {
    if (this.#idLen === 0) return;
    const text = this.#decoder.decode(this.#idBytes.subarray(0, this.#idLen - 1));
    for (const id of text.split("\u0000")) this.#ids.push(id);
    this.#idLen = 0;
  }

  finish(exchange: string, symbol: string): BufferTradeColumnsWithIntegerIds {
    const n = this.#n;
    const cut = (a: Float64Array) => n === this.#cap ? a : a.subarray(0, n);
    return {
      exchange,
      symbol,
      id: this.#integerIds ? cut(this.#idNumbers) : this.#ids,
      price: cut(this.#price),
      size: cut(this.#size),
      side: this.#sides,
      ts: cut(this.#ts),
      recvTs: cut(this.#recv),
      backfilled: n === this.#cap ? this.#backfilled : this.#backfilled.subarray(0, n),
    };
  }

  /** Stores an integer id; `false` when ids are (or just became) text. */
  #integerId(buf: Uint8Array, p: number, length: number): boolean {
    if (!this.#integerIds) return false;
    const value = canonicalInteger(buf, p, length);
    if (value === value) {
      this.#idNumbers[this.#n] = value;
      return true;
    }
    // A text id: the ones so far become text too (their canonical form is exact).
    this.#integerIds = false;
    for (let i = 0; i < this.#n; i++) this.#ids.push(String(this.#idNumbers[i]));
    this.#idNumbers = new Float64Array(0);
    return false;
  }

  #textId(buf: Uint8Array, p: number, length: number): void {
    let idLen = this.#idLen;
    if (idLen + length + 1 > this.#idBytes.length) {
      const next = new Uint8Array(Math.max(this.#idBytes.length * 2, idLen + length + 1));
      next.set(this.#idBytes.subarray(0, idLen));
      this.#idBytes = next;
    }
    const bytes = this.#idBytes;
    if (length <= 32) {
      for (let i = 0; i < length; i++) bytes[idLen++] = buf[p + i];
    } else {
      bytes.set(buf.subarray(p, p + length), idLen);
      idLen += length;
    }
    bytes[idLen++] = 0; // text values cannot contain NUL: a safe separator
    this.#idLen = idLen;
  }

  #grow(): void {
    this.#cap *= 2;
    const bigger = (a: Float64Array) => {
      const b = new Float64Array(this.#cap);
      b.set(a);
      return b;
    };
    this.#price = bigger(this.#price);
    this.#size = bigger(this.#size);
    this.#ts = bigger(this.#ts);
    this.#recv = bigger(this.#recv);
    const backfilled = new Uint8Array(this.#cap);
    backfilled.set(this.#backfilled);
    this.#backfilled = backfilled;
    if (this.#integerIds) this.#idNumbers = bigger(this.#idNumbers);
  }
}

/**
 * The value of the canonical integer id in `buf[at, at + length)` (ASCII digits, 1 to 15 of
 * them, no leading zero), or `NaN` for any other id.
 */
function canonicalInteger(buf: Uint8Array, at: number, length: number): number {
  if (length < 1 || length > 15) return NaN;
  if (buf[at] === 48) return length === 1 ? 0 : NaN;
  let value = 0;
  for (let i = at; i < at + length; i++) {
    const digit = buf[i] - 48;
    if (digit < 0 || digit > 9) return NaN;
    value = value * 10 + digit;
  }
  return value;
}
