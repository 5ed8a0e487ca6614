/**
 * Reads trades out of the buffer as columns, fast: `COPY (SELECT ...) TO STDOUT (FORMAT
 * binary)` streamed through npm:postgres and decoded straight into typed arrays (no row
 * objects, no text parsing of numbers or times).
 * @module
 */
import type postgres from "postgres";
import { readCopyBinary, timestampAt } from "./_copy_reader.ts";

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
}

/** A SQL string literal (COPY takes no parameters). */
export function sqlLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** A timestamptz literal of microseconds since the epoch. */
export function timestampLiteral(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString();
  return `'${iso.slice(0, 23)}${String(micros - ms * 1000).padStart(3, "0")}Z'::timestamptz`;
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
  const where = [
    `exchange = ${sqlLiteral(options.exchange)}`,
    `symbol = ${sqlLiteral(options.symbol)}`,
  ];
  if (options.start !== undefined) where.push(`ts >= ${timestampLiteral(options.start)}`);
  if (options.end !== undefined) where.push(`ts < ${timestampLiteral(options.end)}`);
  if (options.after !== undefined) {
    where.push(
      `(ts, id) > (${timestampLiteral(options.after.ts)}, ${sqlLiteral(options.after.id)})`,
    );
  }
  const limit = options.limit === undefined ? "" : ` limit ${positiveLimit(options.limit)}`;
  const query = `copy (select id, price, size, side, ts, recv_ts from trades
    where ${where.join(" and ")} order by ts, id${limit}) to stdout (format binary)`;
  const ids: string[] = [];
  const sides: ("buy" | "sell" | "unknown")[] = [];
  let cap = Math.max(1024, options.expectedRows ?? 0);
  let price = new Float64Array(cap);
  let size = new Float64Array(cap);
  let ts = new Float64Array(cap);
  let recv = new Float64Array(cap);
  // Ids as numbers while every id so far is a canonical integer (when asked for).
  let integerIds = options.integerIds === true;
  let idNumbers = new Float64Array(integerIds ? cap : 0);
  let n = 0;
  const grow = () => {
    cap *= 2;
    const bigger = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    price = bigger(price);
    size = bigger(size);
    ts = bigger(ts);
    recv = bigger(recv);
    if (integerIds) idNumbers = bigger(idNumbers);
  };
  const decoder = new TextDecoder();

  // Text ids are gathered as bytes with a NUL after each and decoded once per staged batch.
  let idBytes = new Uint8Array(1 << 16);
  let idLen = 0;
  const flushIds = () => {
    if (idLen === 0) return;
    const text = decoder.decode(idBytes.subarray(0, idLen - 1));
    for (const id of text.split("\u0000")) ids.push(id);
    idLen = 0;
  };
  const decode = (view: DataView, buf: Uint8Array, at: number): void => {
    let p = at;
    // id (text)
    const len0 = view.getInt32(p);
    p += 4;
    if (n === cap) grow();
    let numericId = false;
    if (integerIds) {
      const value = canonicalInteger(buf, p, len0);
      if (value === value) {
        idNumbers[n] = value;
        numericId = true;
      } else {
        // A text id: the ones so far become text too (their canonical form is exact).
        integerIds = false;
        for (let i = 0; i < n; i++) ids.push(String(idNumbers[i]));
        idNumbers = new Float64Array(0);
      }
    }
    if (!numericId) {
      if (idLen + len0 + 1 > idBytes.length) {
        const next = new Uint8Array(Math.max(idBytes.length * 2, idLen + len0 + 1));
        next.set(idBytes.subarray(0, idLen));
        idBytes = next;
      }
      if (len0 <= 32) {
        for (let i = 0; i < len0; i++) idBytes[idLen++] = buf[p + i];
      } else {
        idBytes.set(buf.subarray(p, p + len0), idLen);
        idLen += len0;
      }
      idBytes[idLen++] = 0; // text values cannot contain NUL: a safe separator
    }
    p += len0 + 4;
    price[n] = view.getFloat64(p);
    p += 8 + 4;
    size[n] = view.getFloat64(p);
    p += 8;
    const len = view.getInt32(p);
    p += 4;
    sides.push(len === 3 ? "buy" : len === 4 ? "sell" : "unknown");
    p += len + 4;
    ts[n] = timestampAt(view, p);
    p += 8 + 4;
    recv[n] = timestampAt(view, p);
    n++;
  };
  await readCopyBinary(sql, query, decode, flushIds);
  return {
    exchange: options.exchange,
    symbol: options.symbol,
    id: integerIds ? (n === cap ? idNumbers : idNumbers.subarray(0, n)) : ids,
    price: n === cap ? price : price.subarray(0, n),
    size: n === cap ? size : size.subarray(0, n),
    side: sides,
    ts: n === cap ? ts : ts.subarray(0, n),
    recvTs: n === cap ? recv : recv.subarray(0, n),
  };
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

/** `limit` checked: a whole number >= 1. */
export function positiveLimit(limit: number): number {
  if (!(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new RangeError(`limit must be an integer >= 1, got ${limit}`);
  }
  return limit;
}
