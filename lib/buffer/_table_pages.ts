/**
 * Pages of one buffer table as the exporter moves them to the lake, one description per
 * table: how a page is read (the table's one query, `_table_query.ts`), how many rows it
 * holds, the key of its last row (where the next page starts) and how it is written to the
 * lake. Trades and book rows travel as columns, every other table as the lake's rows.
 * @module
 */
import type postgres from "postgres";
import type { EventKind, EventRowOf, ParquetLake } from "../lake/mod.ts";
import { LAKE_TABLES, type LakeTable, TABLES } from "../schema/tables.ts";
import { camelName, type KeyValues, type TableQueryOptions } from "./_table_query.ts";
import { type BufferTradeColumnsWithIntegerIds, readTrades } from "./trade_reader.ts";
import { readEventRows } from "./event_reader.ts";
import { type BookPage, readBookColumns } from "./book_reader.ts";

/**
 * A buffer table of market events the exporter moves to the lake by time range (the lake's
 * table of the same name): every {@linkcode LakeTable} but the action log, which goes by
 * run (`action_export.ts`).
 */
export type ExportKind = Exclude<LakeTable, "actions">;

/** Every {@linkcode ExportKind}, in the order the exporter works through them (trades first). */
export const EXPORT_KINDS: readonly ExportKind[] = Object.freeze(
  LAKE_TABLES.filter((table): table is ExportKind => table !== "actions"),
);

/** One instrument's page read: a range, a key to start after, a row limit. */
export interface PageQuery extends TableQueryOptions {
  readonly limit: number;
}

/** How the exporter reads and writes the pages of one table. */
export interface TablePages<Batch = unknown> {
  /** Reads one page (at most `limit` rows in key order). */
  read(sql: postgres.Sql, query: PageQuery): Promise<Batch>;
  /** Rows in a page. */
  size(batch: Batch): number;
  /** The key of the page's last row (the page is not empty). */
  lastKey(batch: Batch): KeyValues;
  /** Writes a page of `exchange`/`symbol` to the lake; resolves to the rows written. */
  write(
    lake: ParquetLake,
    instrument: { readonly exchange: string; readonly symbol: string },
    batch: Batch,
  ): Promise<number>;
}

const TRADE_PAGES: TablePages<BufferTradeColumnsWithIntegerIds> = {
  read: (sql, query) =>
    readTrades(sql, {
      ...query,
      after: query.after as { ts: number; id: string } | undefined,
      expectedRows: query.limit,
      integerIds: true,
    }),
  size: (columns) => columns.id.length,
  lastKey: (columns) => {
    const n = columns.id.length;
    return { ts: columns.ts[n - 1], id: String(columns.id[n - 1]) };
  },
  write: (lake, instrument, columns) => lake.writeTradeColumns({ ...columns, ...instrument }),
};

/** The pages of a table stored as lake rows, keyed by the columns of its spec's key. */
function rowPages<K extends EventKind>(kind: K): TablePages<EventRowOf<K>[]> {
  const key = TABLES[kind].key.map(camelName);
  return {
    read: (sql, query) =>
      readEventRows(sql, kind, {
        ...query,
        after: query.after as { ts: number; recvTs: number; digest: number } | undefined,
      }),
    size: (rows) => rows.length,
    lastKey: (rows) => {
      const last = rows[rows.length - 1] as unknown as KeyValues;
      return Object.fromEntries(key.map((k) => [k, last[k]]));
    },
    write: (lake, _instrument, rows) => lake.writeEventRows(kind, rows),
  };
}

/**
 * The pages of a book table, read as the lake's book columns (no JS array per level list);
 * rows the lake's rules refuse go through `writeEventRows`, which counts and logs them.
 */
function bookPages(kind: "book_snapshots" | "book_changes"): TablePages<BookPage> {
  return {
    read: (sql, query) =>
      readBookColumns(sql, kind, {
        ...query,
        after: query.after as { ts: number; recvTs: number; digest: number } | undefined,
      }),
    size: (page) => page.rows,
    lastKey: (page) => ({ ...page.last! }),
    write: async (lake, _instrument, page) => {
      let written: number;
      try {
        written = await lake.writeBookColumns(page.columns);
      } finally {
        page.columns.release(); // the page is written once: its level arrays serve the next
      }
      if (page.rejected.length === 0) return written;
      return written + await lake.writeEventRows(kind, page.rejected);
    },
  };
}

/** The pages of every table the exporter moves. */
export const TABLE_PAGES: Readonly<Record<ExportKind, TablePages>> = {
  trades: TRADE_PAGES as TablePages,
  quotes: rowPages("quotes") as TablePages,
  book_snapshots: bookPages("book_snapshots") as TablePages,
  book_changes: bookPages("book_changes") as TablePages,
  event_log: rowPages("event_log") as TablePages,
};
