/**
 * Reads trades out of the buffer as columns, fast: `COPY (SELECT ...) TO STDOUT (FORMAT
 * binary)` streamed through npm:postgres and decoded straight into typed arrays (no row
 * objects, no text parsing of numbers or times).
 * @module
 */
import type postgres from "postgres";

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

/** Microseconds from 1970-01-01 to PostgreSQL's epoch 2000-01-01. */
const PG_EPOCH_MICROS = 946_684_800_000_000;
const SIGNATURE_BYTES = 11 + 4 + 4; // "PGCOPY\n\xff\r\n\0", flags, header extension length

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

class Growing {
  array = new Float64Array(1024);
  length = 0;
  push(x: number): void {
    if (this.length === this.array.length) {
      const next = new Float64Array(this.array.length * 2);
      next.set(this.array);
      this.array = next;
    }
    this.array[this.length++] = x;
  }
  take(): Float64Array {
    return this.array.slice(0, this.length);
  }
}

/** Options of {@linkcode readTrades}. */
export interface ReadTradesOptions {
  readonly exchange: string;
  readonly symbol: string;
  /** Inclusive start, microseconds. */
  readonly start?: number;
  /** Exclusive end, microseconds. */
  readonly end?: number;
}

/**
 * Reads the trades of one instrument in `[start, end)`, ordered by `(ts, id)` (the primary
 * key's order, so no sort), as columns.
 */
export async function readTrades(
  sql: postgres.Sql,
  options: ReadTradesOptions,
): Promise<BufferTradeColumns> {
  const where = [
    `exchange = ${sqlLiteral(options.exchange)}`,
    `symbol = ${sqlLiteral(options.symbol)}`,
  ];
  if (options.start !== undefined) where.push(`ts >= ${timestampLiteral(options.start)}`);
  if (options.end !== undefined) where.push(`ts < ${timestampLiteral(options.end)}`);
  const query = `copy (select id, price, size, side, ts, recv_ts from trades
    where ${where.join(" and ")} order by ts, id) to stdout (format binary)`;
  const stream = await sql.unsafe(query).readable();

  const ids: string[] = [];
  const sides: ("buy" | "sell" | "unknown")[] = [];
  const price = new Growing();
  const size = new Growing();
  const ts = new Growing();
  const recv = new Growing();
  const decoder = new TextDecoder();
  let pending: Uint8Array = new Uint8Array(0);
  let headerDone = false;
  let done = false;

  const parse = (buf: Uint8Array): number => {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let pos = 0;
    if (!headerDone) {
      if (buf.length < SIGNATURE_BYTES) return 0;
      pos = SIGNATURE_BYTES + view.getInt32(15);
      headerDone = true;
    }
    while (pos + 2 <= buf.length) {
      const fields = view.getInt16(pos);
      if (fields === -1) {
        done = true;
        return pos + 2;
      }
      // Tuple: 6 fields; check it is complete before decoding anything.
      let p = pos + 2;
      let complete = true;
      for (let f = 0; f < fields; f++) {
        if (p + 4 > buf.length) {
          complete = false;
          break;
        }
        const len = view.getInt32(p);
        p += 4 + (len > 0 ? len : 0);
        if (p > buf.length) {
          complete = false;
          break;
        }
      }
      if (!complete) break;
      p = pos + 2;
      // id (text)
      let len = view.getInt32(p);
      p += 4;
      let id = "";
      let ascii = len <= 32;
      if (ascii) {
        for (let i = 0; i < len; i++) {
          if (buf[p + i] > 127) {
            ascii = false;
            break;
          }
        }
      }
      if (ascii) {
        for (let i = 0; i < len; i++) id += String.fromCharCode(buf[p + i]);
      } else {
        id = decoder.decode(buf.subarray(p, p + len));
      }
      ids.push(id);
      p += len;
      p += 4;
      price.push(view.getFloat64(p));
      p += 8 + 4;
      size.push(view.getFloat64(p));
      p += 8;
      len = view.getInt32(p);
      p += 4;
      sides.push(len === 3 ? "buy" : len === 4 ? "sell" : "unknown");
      p += len + 4;
      ts.push(view.getInt32(p) * 4_294_967_296 + view.getUint32(p + 4) + PG_EPOCH_MICROS);
      p += 8 + 4;
      recv.push(view.getInt32(p) * 4_294_967_296 + view.getUint32(p + 4) + PG_EPOCH_MICROS);
      p += 8;
      pos = p;
    }
    return pos;
  };

  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    let buf: Uint8Array;
    if (pending.length) {
      buf = new Uint8Array(pending.length + chunk.length);
      buf.set(pending);
      buf.set(chunk, pending.length);
    } else {
      buf = chunk;
    }
    const used = parse(buf);
    pending = buf.subarray(used);
    if (done) pending = new Uint8Array(0);
  }
  // npm:postgres pauses the socket when a push fills the stream's buffer and resumes it in
  // the stream's read(); when that happens on the last chunk, the connection stays paused
  // and the next query on it never completes. Resume it explicitly.
  (stream as unknown as { _read?: () => void })._read?.();
  if (!done) throw new Error("COPY binary stream ended without its trailer");
  return {
    exchange: options.exchange,
    symbol: options.symbol,
    id: ids,
    price: price.take(),
    size: size.take(),
    side: sides,
    ts: ts.take(),
    recvTs: recv.take(),
  };
}
