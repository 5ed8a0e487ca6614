/**
 * Paging shared by every repository: `limit`, `order` and an opaque cursor (the last row's
 * key by the table's {@linkcode TableSpec}: trades `(ts, id)`, quotes and book snapshots
 * `(ts, recv_ts, digest)`), checked once and applied to frames or pushed into SQL.
 * @module
 */
import pl from "nodejs-polars";
import type { Table } from "apache-arrow";
import { TABLES, type TableSpec } from "../schema/tables.ts";
import { polarsToArrow, TRADE_DICTIONARY_COLUMNS, tradeRowsFromFrame } from "./_result.ts";
import {
  BOOK_SNAPSHOT_COLUMNS,
  bookSnapshotRowsFromFrame,
  DICTIONARY,
  levelListArrow,
  quoteRowsFromFrame,
} from "./_event_result.ts";
import type { KeyValues } from "../buffer/_table_query.ts";
import type {
  ListQuery,
  Page as PageOf,
  PagedResult,
  PageOrder,
  QueryResult,
  RangeQuery,
} from "./repository.ts";

/** The tables a list query pages through. */
export type PagedTable = "trades" | "quotes" | "book_snapshots";

/** A checked page: the order, the limit and the decoded cursor. */
export interface Page {
  readonly table: PagedTable;
  readonly order: PageOrder;
  /** Most rows (undefined: no limit). */
  readonly limit?: number;
  /** Only rows strictly after (asc) or before (desc) this key. */
  readonly after?: KeyValues;
}

/** The camelCase field of each key column. */
const FIELDS: Record<string, string> = { ts: "ts", id: "id", recv_ts: "recvTs", digest: "digest" };

/**
 * Checks `limit`, `order` and `cursor` of a list query.
 * @throws {TypeError} when `limit` is not a number, `order` or `cursor` not a string.
 * @throws {RangeError} for a limit that is not a positive whole number, an unknown order, or
 * a cursor that is not one of this table's.
 */
export function checkPage(table: PagedTable, query: ListQuery): Page {
  const { limit, order = "asc", cursor } = query;
  if (limit !== undefined) {
    if (typeof limit !== "number") throw new TypeError("limit must be a number of rows");
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`limit must be a positive whole number, got ${limit}`);
    }
  }
  if (order !== "asc" && order !== "desc") {
    throw new RangeError(`order must be "asc" or "desc", got ${String(order)}`);
  }
  if (cursor === undefined) return { table, order, limit };
  if (typeof cursor !== "string") throw new TypeError("cursor must be a string");
  return { table, order, limit, after: decodeCursor(table, order, cursor) };
}

/** The cursor of the row after which (in `order`) the next page starts. */
export function encodeCursor(table: PagedTable, order: PageOrder, key: KeyValues): string {
  const json = JSON.stringify({ t: table, o: order, k: key });
  return btoa(json).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * The key in a cursor from {@linkcode encodeCursor}.
 * @throws {RangeError} when the text is not a cursor of `table` in `order`.
 */
export function decodeCursor(table: PagedTable, order: PageOrder, cursor: string): KeyValues {
  const bad = (why: string) => new RangeError(`cursor: ${why}`);
  let parsed: unknown;
  try {
    const b64 = cursor.replaceAll("-", "+").replaceAll("_", "/");
    parsed = JSON.parse(atob(b64 + "=".repeat((4 - b64.length % 4) % 4)));
  } catch {
    throw bad("not a cursor returned by this API");
  }
  const { t, o, k } = (parsed ?? {}) as { t?: unknown; o?: unknown; k?: unknown };
  if (t !== table) throw bad(`a cursor of ${String(t)}, not of ${table}`);
  if (o !== order) throw bad(`a cursor of order ${String(o)}, not ${order}`);
  const key = k as Record<string, unknown> | undefined;
  if (typeof key !== "object" || key === null) throw bad("no key");
  const ts = key.ts;
  if (typeof ts !== "number" || !Number.isSafeInteger(ts)) throw bad("bad ts");
  if (table === "trades") {
    if (typeof key.id !== "string") throw bad("bad id");
    return { ts, id: key.id };
  }
  const { recvTs, digest } = key;
  if (typeof recvTs !== "number" || !Number.isSafeInteger(recvTs)) throw bad("bad recvTs");
  if (typeof digest !== "number" || !Number.isInteger(digest) || Math.abs(digest) > 2 ** 31) {
    throw bad("bad digest");
  }
  return { ts, recvTs, digest };
}

/**
 * The range narrowed by the cursor's time (so stores prune partitions and rows by `ts`
 * before the exact key comparison): `asc` from the cursor's `ts` on, `desc` up to it.
 */
export function narrowRange<Q extends RangeQuery>(query: Q, page: Page): Q {
  const ts = page.after?.ts as number | undefined;
  if (ts === undefined) return query;
  if (page.order === "asc") return { ...query, start: Math.max(query.start ?? -Infinity, ts) };
  return { ...query, end: Math.min(query.end ?? Infinity, ts + 1) };
}

/** `(k1, k2, ...) > (v1, v2, ...)` (or `<`) over the key as a Polars expression. */
function keyBeyond(spec: TableSpec, page: Page): pl.Expr | undefined {
  const after = page.after;
  if (after === undefined) return undefined;
  const cols = spec.key.map((name) => {
    const value = after[FIELDS[name]];
    const col = pl.col(name);
    if (name === "ts" || name === "recv_ts") {
      return { col: col.cast(pl.Int64), lit: pl.lit(value as number).cast(pl.Int64) };
    }
    if (name === "digest") return { col: col.cast(pl.Int64), lit: pl.lit(value as number) };
    return { col: col.cast(pl.Utf8), lit: pl.lit(String(value)) };
  });
  let expr: pl.Expr | undefined;
  for (let i = cols.length - 1; i >= 0; i--) {
    const { col, lit } = cols[i];
    const beyond = page.order === "asc" ? col.gt(lit) : col.lt(lit);
    expr = expr === undefined ? beyond : beyond.or(col.eq(lit).and(expr));
  }
  return expr;
}

/**
 * One page of a frame in key order (ascending): rows beyond the cursor, then the first
 * `limit` (`asc`) or the last `limit`, newest first (`desc`).
 */
export function pageFrame<F extends pl.DataFrame | pl.LazyDataFrame>(
  spec: TableSpec,
  frame: F,
  page: Page,
): F {
  let out = frame as pl.DataFrame | pl.LazyDataFrame;
  const beyond = keyBeyond(spec, page);
  if (beyond !== undefined) out = out.filter(beyond);
  if (page.order === "asc") {
    return (page.limit === undefined ? out : out.head(page.limit)) as F;
  }
  if (page.limit !== undefined) out = out.tail(page.limit);
  return out.reverse() as F;
}

/** The key of row `i` of a frame of `spec`'s table (times as integer microseconds). */
export function keyOfRow(spec: TableSpec, frame: pl.DataFrame, i: number): KeyValues {
  const key: Record<string, number | string> = {};
  for (const name of spec.key) {
    const series = frame.getColumn(name);
    key[FIELDS[name]] = name === "id"
      ? String(series.get(i))
      : Number(series.cast(pl.Int64).cast(pl.Float64).get(i));
  }
  return key;
}

/**
 * The cursor after a page's frame: the key of its last row when the page is full (`limit`
 * rows), `undefined` when it is the range's last page.
 */
export function cursorAfter(spec: TableSpec, frame: pl.DataFrame, page: Page): string | undefined {
  if (page.limit === undefined || frame.height < page.limit || frame.height === 0) {
    return undefined;
  }
  return encodeCursor(page.table, page.order, keyOfRow(spec, frame, frame.height - 1));
}

/** How each paged table's frames become rows and Arrow tables. */
const PAGED: Record<PagedTable, {
  readonly toRows: (frame: pl.DataFrame) => unknown[];
  readonly toArrow: (frame: pl.DataFrame) => Promise<Table>;
}> = {
  trades: {
    toRows: tradeRowsFromFrame,
    toArrow: (f) => polarsToArrow(f, { dictionary: TRADE_DICTIONARY_COLUMNS }),
  },
  quotes: {
    toRows: quoteRowsFromFrame,
    toArrow: (f) => polarsToArrow(f, { dictionary: DICTIONARY }),
  },
  book_snapshots: {
    toRows: bookSnapshotRowsFromFrame,
    toArrow: (f) => levelListArrow(f, BOOK_SNAPSHOT_COLUMNS),
  },
};

/**
 * `base` (whose rows are already one page, in the page's order) with `page()` and `next()`:
 * `page()` collects the frame once and maps it to rows; `next()` reuses the cursor of the
 * last `page()` call, or evaluates the page to find it.
 */
export function withPaging<Row>(
  base: QueryResult<Row>,
  options: {
    readonly page: Page;
    readonly reopen: (cursor: string) => PagedResult<Row>;
  },
): PagedResult<Row> {
  const { page, reopen } = options;
  const spec = TABLES[page.table];
  const { toRows, toArrow } = PAGED[page.table];
  let last: Promise<PageOf<Row>> | undefined;
  const evaluate = (): Promise<PageOf<Row>> => {
    last = base.polars().then((frame) => {
      let rows: Row[] | undefined;
      return {
        // Built on first use: a server writing the page in slices never builds them all.
        get rows(): Row[] {
          return rows ??= toRows(frame) as Row[];
        },
        rowsBetween: (from: number, to: number) =>
          toRows(frame.slice(from, Math.max(0, to - from))) as Row[],
        frame,
        arrow: () => toArrow(frame),
        cursor: cursorAfter(spec, frame, page),
      };
    });
    return last;
  };
  return {
    rows: () => base.rows(),
    polars: () => base.polars(),
    arrow: () => base.arrow(),
    page: evaluate,
    next: async () => {
      if (page.limit === undefined) return undefined;
      const { cursor } = await (last ?? evaluate());
      return cursor === undefined ? undefined : reopen(cursor);
    },
  };
}

/**
 * One page of rows held in key order (ascending): `compare(row, key)` orders a row against a
 * cursor's key. Binary searches the cursor, then slices (`desc` pages newest first).
 */
export function pageArray<T>(
  rows: readonly T[],
  page: Page,
  compare: (row: T, key: KeyValues) => number,
): T[] {
  let from = 0;
  let to = rows.length;
  const after = page.after;
  if (after !== undefined) {
    // asc: the first row beyond the key; desc: the first row at or beyond it.
    const beyond = page.order === "asc"
      ? (r: T) => compare(r, after) > 0
      : (r: T) => compare(r, after) >= 0;
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (beyond(rows[mid])) hi = mid;
      else lo = mid + 1;
    }
    if (page.order === "asc") from = lo;
    else to = lo;
  }
  const limit = page.limit ?? Infinity;
  if (page.order === "asc") return rows.slice(from, Math.min(to, from + limit));
  return rows.slice(Math.max(from, to - limit), to).reverse();
}
