/**
 * Reads the buffer's non-trade events (quotes, book snapshots, book changes, feed statuses)
 * as the lake's row types, with the stored digest (never recomputed): `COPY (SELECT ...) TO
 * STDOUT (FORMAT binary)` decoded straight into rows, no text parsing of numbers or times.
 * @module
 */
import type postgres from "postgres";
import type {
  BookChangeRow,
  BookSnapshotRow,
  EventKind,
  EventRow,
  EventRowOf,
  QuoteRow,
  StatusRow,
} from "../lake/mod.ts";
import { readCopyBinary, timestampAt, type TupleDecoder } from "./_copy_reader.ts";
import { tableCopyQuery } from "./_table_query.ts";
import { TABLES } from "../schema/tables.ts";

/** Options of {@linkcode readEventRows}. */
export interface ReadEventRowsOptions {
  readonly exchange: string;
  readonly symbol: string;
  /** Inclusive start, microseconds. */
  readonly start?: number;
  /** Exclusive end, microseconds. */
  readonly end?: number;
  /**
   * Only rows after this key in `(ts, recv_ts, digest)` order (keyset pagination: pass the
   * last row of the previous page).
   */
  readonly after?: { readonly ts: number; readonly recvTs: number; readonly digest: number };
  /** At most this many rows (the first ones in key order). */
  readonly limit?: number;
}

/**
 * Reads the events of one kind and instrument in `[start, end)`, ordered by
 * `(ts, recv_ts, digest)` (the primary key's order, so no sort), as lake rows.
 *
 * @example
 * ```ts ignore
 * const quotes = await readEventRows(sql, "quotes", { exchange: "coinbase", symbol: "BTC-USD" });
 * ```
 */
export async function readEventRows<K extends EventKind>(
  sql: postgres.Sql,
  kind: K,
  options: ReadEventRowsOptions,
): Promise<EventRowOf<K>[]> {
  const decoders = DECODERS[kind];
  if (decoders === undefined) throw new TypeError(`unknown event kind ${kind}`);
  const query = tableCopyQuery(TABLES[kind], options);
  const rows: EventRowOf<EventKind>[] = [];
  const decode = decoders(options.exchange, options.symbol, rows);
  await readCopyBinary(sql, query, decode);
  return rows as EventRowOf<K>[];
}

/**
 * A one-dimensional `float8[]` in binary form at `at` (`ndim, has-null flag, element oid`,
 * then `length, lower bound` per dimension, then `int32 length + value` per element). A null
 * element becomes `NaN`, which the lake rejects as a non-finite value (counted, not stored).
 */
function doubleArray(view: DataView, at: number): number[] {
  const dims = view.getInt32(at);
  if (dims === 0) return [];
  if (dims !== 1) throw new RangeError(`expected a one-dimensional array, got ${dims} dimensions`);
  const n = view.getInt32(at + 12);
  const out = new Array<number>(n);
  let p = at + 20;
  for (let i = 0; i < n; i++) {
    const len = view.getInt32(p);
    p += 4;
    if (len === 8) {
      out[i] = view.getFloat64(p);
      p += 8;
    } else {
      out[i] = NaN;
      p += len > 0 ? len : 0;
    }
  }
  return out;
}

/** Builds the tuple decoder of a table: each tuple becomes a row pushed onto `rows`. */
type DecoderFactory = (exchange: string, symbol: string, rows: EventRow[]) => TupleDecoder;

const DECODERS: Readonly<Record<EventKind, DecoderFactory>> = {
  quotes: (exchange, symbol, rows) => (view, _buf, p) => {
    const row: QuoteRow = {
      exchange,
      symbol,
      ts: timestampAt(view, p + 4),
      recvTs: timestampAt(view, p + 16),
      digest: view.getInt32(p + 28),
      bidPrice: view.getFloat64(p + 36),
      bidSize: view.getFloat64(p + 48),
      askPrice: view.getFloat64(p + 60),
      askSize: view.getFloat64(p + 72),
    };
    rows.push(row);
  },
  book_snapshots: (exchange, symbol, rows) => bookDecoder(exchange, symbol, rows, false),
  book_changes: (exchange, symbol, rows) => bookDecoder(exchange, symbol, rows, true),
  event_log: (exchange, symbol, rows) => {
    const decoder = new TextDecoder();
    const text = (buf: Uint8Array, at: number, len: number) =>
      len <= 0 ? "" : decoder.decode(buf.subarray(at, at + len));
    return (view, buf, at) => {
      const statusLength = view.getInt32(at + 32);
      const reasonAt = at + 36 + Math.max(0, statusLength);
      const row: StatusRow = {
        exchange,
        symbol,
        ts: timestampAt(view, at + 4),
        recvTs: timestampAt(view, at + 16),
        digest: view.getInt32(at + 28),
        status: text(buf, at + 36, statusLength),
        reason: text(buf, reasonAt + 4, view.getInt32(reasonAt)),
      };
      rows.push(row);
    };
  },
};

/** The decoder of book snapshot or (`changes`) book change tuples. */
function bookDecoder(
  exchange: string,
  symbol: string,
  rows: EventRow[],
  changes: boolean,
): TupleDecoder {
  return (view, _buf, at) => {
    const ts = timestampAt(view, at + 4);
    const recvTs = timestampAt(view, at + 16);
    const digest = view.getInt32(at + 28);
    let p = at + 32;
    const lists: number[][] = [];
    for (let l = 0; l < 4; l++) {
      const len = view.getInt32(p);
      p += 4;
      lists.push(len < 0 ? [] : doubleArray(view, p));
      p += len > 0 ? len : 0;
    }
    const optionals: (number | null)[] = [];
    for (let o = changes ? 3 : 2; o > 0; o--) {
      const len = view.getInt32(p);
      p += 4;
      optionals.push(len === 8 ? view.getInt32(p) * 4_294_967_296 + view.getUint32(p + 4) : null);
      p += len > 0 ? len : 0;
    }
    const snapshot: BookSnapshotRow = {
      exchange,
      symbol,
      ts,
      recvTs,
      digest,
      bidPrices: lists[0],
      bidSizes: lists[1],
      askPrices: lists[2],
      askSizes: lists[3],
      sequence: optionals[changes ? 1 : 0],
      checksum: optionals[changes ? 2 : 1],
    };
    if (changes) {
      const change: BookChangeRow = { ...snapshot, firstSequence: optionals[0] };
      rows.push(change);
    } else {
      rows.push(snapshot);
    }
  };
}
