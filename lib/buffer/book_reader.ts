/**
 * Reads a page of the buffer's book snapshots or book changes straight into the lake's
 * {@linkcode BookColumns} (the exporter's path): the binary `COPY` tuples' `float8[]` level
 * lists are decoded into the columns' flat level arrays, with no JS array per list, and the
 * stored digest is kept (never recomputed). Each row is checked by the lake's rules for
 * stored rows as it ends (`BookColumns.endStoredRow`); a row that breaks one is returned
 * apart, as a plain row, for the lake to count and log as `writeEventRows` does.
 * @module
 */
import type postgres from "postgres";
import {
  type BookChangeRow,
  BookColumns,
  type BookKind,
  type BookSnapshotRow,
  type StoredBookFields,
} from "../lake/mod.ts";
import { nowMicros } from "../market/time.ts";
import { latestValidMicros } from "../schema/rules.ts";
import { TABLES } from "../schema/tables.ts";
import { readCopyBinary, timestampAt, type TupleDecoder } from "./_copy_reader.ts";
import { tableCopyQuery } from "./_table_query.ts";
import type { ReadEventRowsOptions } from "./event_reader.ts";

/** A page of book rows read by {@linkcode readBookColumns}. */
export interface BookPage {
  /** The rows that pass the lake's rules, in key order. */
  readonly columns: BookColumns;
  /** The rows that break one (rare), as plain rows. */
  readonly rejected: (BookSnapshotRow | BookChangeRow)[];
  /** Rows read, kept and rejected. */
  readonly rows: number;
  /** The key of the last row read (kept or not); absent when none was read. */
  readonly last?: { readonly ts: number; readonly recvTs: number; readonly digest: number };
}

/**
 * Reads the book rows of `kind` of one instrument in `[start, end)`, in key order
 * `(ts, recv_ts, digest)`, as {@linkcode BookColumns} (see the module documentation).
 *
 * @example
 * ```ts ignore
 * const page = await readBookColumns(sql, "book_snapshots", { exchange, symbol, limit: 20_000 });
 * await lake.writeBookColumns(page.columns);
 * ```
 */
export async function readBookColumns(
  sql: postgres.Sql,
  kind: BookKind,
  options: ReadEventRowsOptions,
): Promise<BookPage> {
  if (kind !== "book_snapshots" && kind !== "book_changes") {
    throw new TypeError(`readBookColumns: not a book table: ${kind}`);
  }
  // Stored rows are never cut: any depth will do.
  const columns = new BookColumns(kind, Number.MAX_SAFE_INTEGER);
  const rejected: (BookSnapshotRow | BookChangeRow)[] = [];
  const latest = latestValidMicros(nowMicros());
  const fields = {
    exchange: options.exchange,
    symbol: options.symbol,
    ts: 0,
    recvTs: 0,
    digest: 0,
    firstSequence: null as number | null,
    sequence: null as number | null,
    checksum: null as number | null,
  } satisfies StoredBookFields;
  const changes = kind === "book_changes";
  const limit = options.limit;
  let rows = 0;
  let presized = false;
  const decode: TupleDecoder = (view, _buf, at) => {
    fields.ts = timestampAt(view, at + 4);
    fields.recvTs = timestampAt(view, at + 16);
    fields.digest = view.getInt32(at + 28);
    let p = at + 32;
    for (const list of LEVEL_LISTS) {
      const len = view.getInt32(p);
      p += 4;
      if (len > 0) pushDoubles(view, p, columns[list]);
      p += len > 0 ? len : 0;
    }
    const optionals = changes ? 3 : 2;
    for (let o = 0; o < optionals; o++) {
      const len = view.getInt32(p);
      p += 4;
      const value = len === 8 ? view.getInt32(p) * 4_294_967_296 + view.getUint32(p + 4) : null;
      p += len > 0 ? len : 0;
      if (changes && o === 0) fields.firstSequence = value;
      else if (o === optionals - 2) fields.sequence = value;
      else fields.checksum = value;
    }
    columns.endStoredRow(fields, latest, (row) => rejected.push(row));
    rows++;
    if (!presized && columns.length === 1 && limit !== undefined && limit > rows) {
      presized = true;
      presize(columns, limit - rows);
    }
  };
  await readCopyBinary(sql, tableCopyQuery(TABLES[kind], options), decode);
  const last = rows === 0
    ? undefined
    : { ts: fields.ts, recvTs: fields.recvTs, digest: fields.digest };
  return { columns, rejected, rows, last };
}

const LEVEL_LISTS = ["bidPrices", "bidSizes", "askPrices", "askSizes"] as const;

/** Room for `rows` more rows of about the first row's levels: no array grows on the way. */
function presize(columns: BookColumns, rows: number): void {
  const bids = columns.bidOffsets.values[1] - columns.bidOffsets.values[0];
  const asks = columns.askOffsets.values[1] - columns.askOffsets.values[0];
  columns.reserve(rows, bids * rows, asks * rows);
}

/**
 * Pushes a one-dimensional `float8[]` in binary form at `at` (`ndim, has-null flag, element
 * oid`, then `length, lower bound`, then `int32 length + value` per element) onto `out`. A
 * null element becomes `NaN`, which the lake's rules reject as a non-finite value.
 */
function pushDoubles(
  view: DataView,
  at: number,
  out: { values: Float64Array; length: number; reserve(more: number): void },
): void {
  const dims = view.getInt32(at);
  if (dims === 0) return;
  if (dims !== 1) throw new RangeError(`expected a one-dimensional array, got ${dims} dimensions`);
  const n = view.getInt32(at + 12);
  out.reserve(n);
  const values = out.values;
  let k = out.length;
  let p = at + 20;
  for (let i = 0; i < n; i++) {
    const len = view.getInt32(p);
    p += 4;
    if (len === 8) {
      values[k++] = view.getFloat64(p);
      p += 8;
    } else {
      values[k++] = NaN;
      p += len > 0 ? len : 0;
    }
  }
  out.length = k;
}
