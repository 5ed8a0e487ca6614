/**
 * Reads quotes and book snapshots out of the PostgreSQL buffer as columns: `COPY (SELECT ...)
 * TO STDOUT (FORMAT binary)` streamed through npm:postgres and decoded straight into typed
 * arrays (no row objects, no text parsing of numbers, times or arrays).
 * @module
 */
import type postgres from "postgres";
import { afterTerm, keyOrder, sqlLiteral, timestampLiteral } from "../buffer/_table_query.ts";
import { TABLES, type TableSpec } from "../schema/tables.ts";
import type { Page } from "./_page.ts";
import { readCopyBinary, timestampAt } from "../buffer/_copy_reader.ts";
import type { BookSnapshotColumns, QuoteColumns } from "./_event_result.ts";
import type { BookSnapshotQuery, RangeQuery } from "./repository.ts";

/**
 * The `where` clause of one instrument's `[start, end)` and the page's cursor, then the
 * key order and limit of the page (`desc` pages newest first).
 */
function rangeWhere(spec: TableSpec, q: RangeQuery, page: Page | undefined): string {
  const where = [`exchange = ${sqlLiteral(q.exchange)}`, `symbol = ${sqlLiteral(q.symbol)}`];
  if (q.start !== undefined) where.push(`ts >= ${timestampLiteral(q.start)}`);
  if (q.end !== undefined) where.push(`ts < ${timestampLiteral(q.end)}`);
  const descending = page?.order === "desc";
  if (page?.after !== undefined) where.push(afterTerm(spec, page.after, descending));
  return `${where.join(" and ")} ${keyOrder(spec, { limit: page?.limit, descending })}`;
}

/** Quotes of one instrument in `[start, end)`, ordered by `(ts, recv_ts, digest)`. */
export async function readQuotes(
  sql: postgres.Sql,
  q: RangeQuery,
  page?: Page,
): Promise<QuoteColumns> {
  const ts = new Float64Builder();
  const recvTs = new Float64Builder();
  const digest: number[] = [];
  const bidPrice = new Float64Builder();
  const bidSize = new Float64Builder();
  const askPrice = new Float64Builder();
  const askSize = new Float64Builder();
  await readCopy(
    sql,
    `copy (select ts, recv_ts, digest, bid_price, bid_size, ask_price, ask_size from quotes
      where ${rangeWhere(TABLES.quotes, q, page)}) to stdout (format binary)`,
    7,
    (view, at) => {
      ts.push(timestampAt(view, at[0]));
      recvTs.push(timestampAt(view, at[1]));
      digest.push(view.getInt32(at[2]));
      bidPrice.push(view.getFloat64(at[3]));
      bidSize.push(view.getFloat64(at[4]));
      askPrice.push(view.getFloat64(at[5]));
      askSize.push(view.getFloat64(at[6]));
    },
  );
  return {
    exchange: q.exchange,
    symbol: q.symbol,
    ts: ts.done(),
    recvTs: recvTs.done(),
    digest: Int32Array.from(digest),
    bidPrice: bidPrice.done(),
    bidSize: bidSize.done(),
    askPrice: askPrice.done(),
    askSize: askSize.done(),
  };
}

/**
 * Book snapshots of one instrument in `[start, end)`, ordered by `(ts, recv_ts, digest)`,
 * each side cut to `depth` levels when given (the stored lists are sorted best first).
 */
export async function readBookSnapshots(
  sql: postgres.Sql,
  q: BookSnapshotQuery,
  page?: Page,
): Promise<BookSnapshotColumns> {
  const ts = new Float64Builder();
  const recvTs = new Float64Builder();
  const digest: number[] = [];
  const lists: Float64Array[][] = [[], [], [], []];
  const sequence: (number | null)[] = [];
  const checksum: (number | null)[] = [];
  const cut = q.depth === undefined ? "" : `[1:${q.depth}]`;
  const level = (name: string) =>
    q.depth === undefined ? name : `coalesce(${name}${cut}, '{}'::float8[])`;
  await readCopy(
    sql,
    `copy (select ts, recv_ts, digest, ${level("bid_prices")}, ${level("bid_sizes")},
        ${level("ask_prices")}, ${level("ask_sizes")}, sequence, checksum from book_snapshots
      where ${rangeWhere(TABLES.book_snapshots, q, page)}) to stdout (format binary)`,
    9,
    (view, at, len) => {
      ts.push(timestampAt(view, at[0]));
      recvTs.push(timestampAt(view, at[1]));
      digest.push(view.getInt32(at[2]));
      for (let l = 0; l < 4; l++) lists[l].push(float8ArrayAt(view, at[3 + l]));
      sequence.push(len[7] < 0 ? null : int8At(view, at[7]));
      checksum.push(len[8] < 0 ? null : int8At(view, at[8]));
    },
  );
  return {
    exchange: q.exchange,
    symbol: q.symbol,
    ts: ts.done(),
    recvTs: recvTs.done(),
    digest: Int32Array.from(digest),
    bidPrices: lists[0],
    bidSizes: lists[1],
    askPrices: lists[2],
    askSizes: lists[3],
    sequence,
    checksum,
  };
}

/**
 * Runs a binary COPY (streamed by the buffer's `readCopyBinary`) and calls `row` for each
 * tuple with the byte offset and length of each field (length -1 for NULL).
 */
async function readCopy(
  sql: postgres.Sql,
  query: string,
  fields: number,
  row: (view: DataView, at: Int32Array, len: Int32Array) => void,
): Promise<void> {
  const at = new Int32Array(fields);
  const len = new Int32Array(fields);
  await readCopyBinary(sql, query, (view, _buf, first) => {
    let p = first;
    for (let f = 0; f < fields; f++) {
      const n = view.getInt32(p);
      at[f] = p + 4;
      len[f] = n;
      p += 4 + (n > 0 ? n : 0);
    }
    row(view, at, len);
  });
}

/** A signed 64-bit integer as a number (exact below 2^53). */
function int8At(view: DataView, at: number): number {
  return view.getInt32(at) * 4_294_967_296 + view.getUint32(at + 4);
}

/** A binary one-dimensional `float8[]` without NULL elements. */
function float8ArrayAt(view: DataView, at: number): Float64Array {
  const dims = view.getInt32(at);
  if (dims === 0) return new Float64Array(0);
  if (dims !== 1) throw new Error(`COPY: a level list with ${dims} dimensions`);
  const n = view.getInt32(at + 12);
  const out = new Float64Array(n);
  let p = at + 20;
  for (let i = 0; i < n; i++) {
    const size = view.getInt32(p);
    if (size !== 8) throw new Error("COPY: a level list with a NULL element");
    out[i] = view.getFloat64(p + 4);
    p += 12;
  }
  return out;
}

/** A growing `Float64Array`. */
class Float64Builder {
  #data = new Float64Array(1024);
  #n = 0;
  push(v: number): void {
    if (this.#n === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#n++] = v;
  }
  done(): Float64Array {
    return this.#data.slice(0, this.#n);
  }
}
