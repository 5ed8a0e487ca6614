/**
 * {@linkcode MarketDataRepository} over the Parquet lake: Polars scans for bulk trades,
 * quotes and book snapshots, DuckDB for aggregates (bars, instruments), with partition
 * pruning by path.
 * @module
 */
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import pl from "nodejs-polars";
import type { Bar, BookChange, BookSnapshot, FeedStatus, Quote, Trade } from "../market/types.ts";
import {
  BOOK_CHANGE_COLUMNS,
  bookChangeFrameResult,
  emptyBookChangeFrame,
  emptyStatusFrame,
  STATUS_COLUMNS,
  statusFrameResult,
} from "./_book_change_result.ts";
import { readNumericColumns, sqlString, sqlStringList } from "../lake/_duckdb.ts";
import { readLakeActions } from "../lake/action_reader.ts";
import { scanLakeFiles } from "../lake/scan_files.ts";
import type { TableName } from "../schema/tables.ts";
import { actionLines, type RunName } from "../schema/action_rows.ts";
import {
  kindRoot,
  type LakePartition,
  listInstrumentDirs,
  listPartitions,
  listTradePartitions,
} from "../lake/layout.ts";

const emptyTrades = () => tradeFrame(emptyTradeColumns());
import {
  BOOK_SNAPSHOT_COLUMNS,
  bookSnapshotFrame,
  bookSnapshotFrameResult,
  emptyBookSnapshotColumns,
  emptyQuoteColumns,
  limitDepth,
  QUOTE_COLUMNS,
  quoteFrame,
  quoteFrameResult,
} from "./_event_result.ts";
import {
  type BarColumns,
  barColumnsResult,
  emptyBarColumns,
  emptyTradeColumns,
  microsOf,
  polarsQueryResult,
  TRADE_COLUMNS,
  TRADE_DICTIONARY_COLUMNS,
  tradeFrame,
  tradeRowsFromFrame,
} from "./_result.ts";
import { checkBarQuery, checkBookSnapshotQuery, checkRangeQuery } from "./_query.ts";
import { checkPage, narrowRange, type Page, pageFrame, withPaging } from "./_page.ts";
import { TABLES, type TableSpec } from "../schema/tables.ts";
import { activityBarColumns, checkActivityBarQuery } from "./_activity_bars.ts";
import { checkInstrumentsOptions, instrumentSummary } from "./_instruments.ts";
import { lakeSql, type SqlResult } from "./_lake_sql.ts";
import type {
  ActivityBarQuery,
  BarQuery,
  BookSnapshotQuery,
  InstrumentsOptions,
  InstrumentSummary,
  InstrumentTableSummary,
  ListQuery,
  MarketDataRepository,
  PagedResult,
  QueryResult,
  RangeQuery,
} from "./repository.ts";

/** Options of {@linkcode LakeRepository.open}. */
export interface LakeRepositoryOptions {
  /** Lake root folder (as given to `ParquetLake.open`). A missing folder reads as empty. */
  readonly root: string;
  /** DuckDB worker threads (default: DuckDB's choice, one per core). */
  readonly threads?: number;
}

/**
 * Reads the Parquet lake written by `ParquetLake`. Every query prunes partitions by path
 * first (exchange, symbol, then the UTC dates the range touches), so only those files are
 * opened; within files DuckDB and Polars also skip row groups by `ts` statistics.
 *
 * - `trades(q).polars()` is a Polars `scanParquet` over the pruned files (no JavaScript row
 *   objects); `arrow()` streams that scan to Arrow IPC; `rows()` maps the frame's columns.
 * - `activityBars(q)` is one JavaScript pass over the columns of `trades(q).polars()`.
 * - `bars(q)` is one DuckDB aggregate (small result): open/close are the first/last trade
 *   by `(ts, id)` with ids compared as text, `vwap = sum(price*size)/sum(size)`, bar
 *   `ts` is the bucket start aligned to the epoch, `recv_ts` the latest receive time.
 * - `quotes(q)` and `bookSnapshots(q)` are Polars scans of the pruned files of
 *   `ROOT/quotes` and `ROOT/book_snapshots` like trades, ordered by `(ts, recv_ts, digest)`;
 *   `depth` cuts the level lists inside the scan (`list.head`).
 *
 * An unknown instrument, an empty range or an empty (even missing) lake give empty
 * results. Queries see the files present when they start: a compaction that removes
 * files in the middle of a query can make that query fail (retry it).
 *
 * @example
 * ```ts ignore
 * import { LakeRepository } from "./lake_repository.ts";
 * const repo = await LakeRepository.open({ root: "data/lake" });
 * const btc = { exchange: "coinbase", symbol: "BTC-USD" };
 * const bars = await repo.bars({ ...btc, interval: 60e6 }).rows();
 * const quotes = await repo.quotes({ ...btc, start: Date.UTC(2024, 2, 9) * 1000 }).polars();
 * const books = await repo.bookSnapshots({ ...btc, depth: 5 }).arrow();
 * await repo.close();
 * ```
 */
export class LakeRepository implements MarketDataRepository {
  /** Lake root folder. */
  readonly root: string;
  /**
   * Partitions a paged read (one with a `limit`) has opened so far: a limit pushed down opens
   * only the days its page needs.
   */
  partitionsRead = 0;
  readonly #threads: number | undefined;
  #instance: Promise<DuckDBInstance> | undefined;
  #closed = false;

  constructor(options: LakeRepositoryOptions) {
    if (typeof options?.root !== "string" || options.root.length === 0) {
      throw new TypeError("LakeRepository needs a lake root folder");
    }
    this.root = options.root.length > 1 ? options.root.replace(/\/+$/, "") : options.root;
    this.#threads = options.threads;
  }

  /** A repository over the lake at `options.root`. */
  static open(options: LakeRepositoryOptions): Promise<LakeRepository> {
    return Promise.resolve(new LakeRepository(options));
  }

  /**
   * Instruments with rows in `options.table` (default `trades`), by exchange then symbol,
   * with count and time span. Read from the Parquet footers (row counts and `ts`
   * statistics), so it costs the same for a thousand rows as for a billion; files without
   * statistics are scanned instead.
   */
  instruments(options?: { readonly table?: "trades" }): Promise<InstrumentSummary[]>;
  instruments(options: InstrumentsOptions): Promise<InstrumentTableSummary[]>;
  async instruments(options?: InstrumentsOptions): Promise<InstrumentTableSummary[]> {
    const table = checkInstrumentsOptions(options);
    const dirs = await listInstrumentDirs(this.root, table);
    if (dirs.length === 0) return [];
    const glob = sqlString(`${kindRoot(this.root, table)}/exchange=*/symbol=*/date=*/*.parquet`);
    const rows = await this.#query(async (con) => {
      const fromFooters = await con.runAndReadAll(
        `SELECT regexp_extract(file_name, '/exchange=([^/]+)/symbol=([^/]+)/date=', 1) AS exchange,
                regexp_extract(file_name, '/exchange=([^/]+)/symbol=([^/]+)/date=', 2) AS symbol,
                sum(row_group_num_rows)::DOUBLE,
                epoch_us(min(stats_min_value::TIMESTAMP))::DOUBLE,
                epoch_us(max(stats_max_value::TIMESTAMP))::DOUBLE,
                bool_and(stats_min_value IS NOT NULL AND stats_max_value IS NOT NULL)
         FROM parquet_metadata(${glob})
         WHERE path_in_schema = 'ts'
         GROUP BY ALL ORDER BY exchange, symbol`,
      );
      const summary = fromFooters.getRows() as [string, string, number, number, number, boolean][];
      if (summary.every((r) => r[5])) return summary;
      const scanned = await con.runAndReadAll(
        `SELECT exchange, symbol, count(*)::DOUBLE, epoch_us(min(ts))::DOUBLE,
                epoch_us(max(ts))::DOUBLE
         FROM read_parquet(${glob}, hive_partitioning = true, hive_types_autocast = false)
         GROUP BY exchange, symbol ORDER BY exchange, symbol`,
      );
      return scanned.getRows() as [string, string, number, number, number][];
    }).catch((err) => {
      if (/no files found/i.test(String(err))) return [];
      throw err;
    });
    const known = new Set(dirs.map((d) => `${d.exchange}/${d.symbol}`));
    return rows
      .filter(([exchange, symbol, count]) => count > 0 && known.has(`${exchange}/${symbol}`))
      .map(([exchange, symbol, count, first, last]) =>
        instrumentSummary(table, { exchange, symbol, rows: count, first, last })
      );
  }

  /**
   * Trades in `[start, end)`, ordered by `(ts, id)` (reversed for `desc`). With `limit`,
   * partitions are read one at a time from the page's end of the range (the first days for
   * `asc`, the last for `desc`) until the page is full, so `limit: 1` opens one day's files.
   */
  trades(query: ListQuery): PagedResult<Trade> {
    const checked = checkRangeQuery(query);
    const page = checkPage("trades", checked);
    const base = polarsQueryResult({
      frame: () => this.#listFrame("trades", checked, page, TRADE_COLUMNS, emptyTrades),
      toRows: tradeRowsFromFrame,
      dictionary: TRADE_DICTIONARY_COLUMNS,
    });
    return withPaging(base, {
      page,
      reopen: (cursor) => this.trades({ ...query, cursor }),
    });
  }

  /** OHLCV bars of `query.interval` microseconds; bars without trades are omitted. */
  bars(query: BarQuery): QueryResult<Bar> {
    const checked = checkBarQuery(query);
    return barColumnsResult(() => this.#barColumns(checked));
  }

  /**
   * Tick, volume or dollar bars (see `MarketDataRepository.activityBars`), computed in one
   * pass over the columns of `trades(query).polars()`.
   */
  activityBars(query: ActivityBarQuery): QueryResult<Bar> {
    const q = checkActivityBarQuery(query);
    return barColumnsResult(async () => {
      const frame = await this.trades(q).polars();
      return activityBarColumns(q, {
        price: frame.getColumn("price").toTypedArray() as Float64Array,
        size: frame.getColumn("size").toTypedArray() as Float64Array,
        ts: microsOf(frame, "ts"),
        recvTs: microsOf(frame, "recv_ts"),
      });
    });
  }

  /** Quotes in `[start, end)`, ordered by `(ts, recvTs, digest)`, paged like `trades`. */
  quotes(query: ListQuery): PagedResult<Quote> {
    const q = checkRangeQuery(query);
    const page = checkPage("quotes", q);
    const base = quoteFrameResult(() =>
      this.#listFrame("quotes", q, page, QUOTE_COLUMNS, () => quoteFrame(emptyQuoteColumns()))
    );
    return withPaging(base, {
      page,
      reopen: (cursor) => this.quotes({ ...query, cursor }),
    });
  }

  /**
   * Book snapshots in `[start, end)`, ordered by `(ts, recvTs, digest)`, cut to `depth`,
   * paged like `trades`.
   */
  bookSnapshots(query: BookSnapshotQuery): PagedResult<BookSnapshot> {
    const q = checkBookSnapshotQuery(query);
    const page = checkPage("book_snapshots", q);
    const base = bookSnapshotFrameResult(async () =>
      limitDepth(
        await this.#listFrame(
          "book_snapshots",
          q,
          page,
          BOOK_SNAPSHOT_COLUMNS,
          () => bookSnapshotFrame(emptyBookSnapshotColumns()),
        ),
        q.depth,
      )
    );
    return withPaging(base, {
      page,
      reopen: (cursor) => this.bookSnapshots({ ...query, cursor }),
    });
  }

  /**
   * Book changes in `[start, end)`, ordered by `(ts, recvTs, digest)`: the level lists as
   * received (venue order, size 0 deletes), with `first_sequence`, `sequence`, `checksum`.
   * Present when the collector stored changes (`--book-changes`, replay, export).
   */
  bookChanges(query: RangeQuery): QueryResult<BookChange> {
    const q = checkRangeQuery(query);
    return bookChangeFrameResult(() =>
      this.#listFrame("book_changes", q, undefined, BOOK_CHANGE_COLUMNS, emptyBookChangeFrame)
    );
  }

  /**
   * The `book_changes` files that can hold rows of `query` (pruned by day): partitions by day
   * ascending, each with its `*.parquet` files (each file's rows in the table's order). For
   * readers of the files themselves (`bookSeries`); rows out of `[start, end)` are theirs to
   * drop.
   */
  async bookChangeFiles(query: RangeQuery): Promise<string[][]> {
    const q = checkRangeQuery(query);
    this.#assertOpen();
    const partitions = await listPartitions(this.root, "book_changes", q);
    return partitions.map((p) => [...p.files]);
  }

  /**
   * Feed statuses (`event_log`: connects, disconnects, gaps, book resets) of one instrument
   * in `[start, end)`, ordered by `(ts, recvTs, digest)`.
   */
  statuses(query: RangeQuery): QueryResult<FeedStatus> {
    const q = checkRangeQuery(query);
    return statusFrameResult(() =>
      this.#listFrame("event_log", q, undefined, STATUS_COLUMNS, emptyStatusFrame)
    );
  }

  /**
   * Runs DuckDB SQL over the lake. Every lake table with data is a view of the same name
   * (`trades`, `quotes`, `book_snapshots`, `book_changes`, `event_log`, and `bars` brought in by
   * `deno task import`, partitioned by `year` instead of `date`) with its files'
   * columns plus the partition columns `exchange`, `symbol` (text) and `date` (DATE):
   * filters on them open only the matching folders. A table without files yet is no view,
   * and a query naming it fails with an error that says so. Results as
   * {@linkcode SqlResult}: `polars()`/`arrow()` are columnar (use them for big results),
   * `rows()` goes through DuckDB's per-cell JavaScript conversion.
   *
   * @example
   * ```ts ignore
   * const perDay = await repo.sql(`SELECT date, count(*) AS n, sum(size) AS volume
   *   FROM trades WHERE exchange = 'coinbase' AND symbol = 'BTC-USD'
   *   GROUP BY date ORDER BY date`).polars();
   * ```
   * @throws {TypeError} when `query` is not a non-empty string.
   */
  sql(query: string): SqlResult {
    return lakeSql(this.root, (task) => this.#query(task), query);
  }

  /**
   * The action log of one run (the `actions` table, `source` and `run` as written by
   * `ParquetLake.writeActions`) as the log's lines, byte for byte (`[]` for an unknown run):
   * what `verifyActionLog` and `replay` take.
   */
  async actionLog(name: RunName): Promise<string[]> {
    return actionLines(await readLakeActions(this.root, name));
  }

  /** Releases DuckDB. Queries after this reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const instance = await this.#instance?.catch(() => undefined);
    instance?.closeSync();
  }

  /**
   * One table's rows of `query` from its pruned files, in range, in the table's file order
   * (each file is sorted; days do not overlap, so only partitions of several files need a
   * sort), paged by `page`, with `exchange`/`symbol` from the query and the columns in
   * `columns`' order and types. With a limit, partitions are read from the page's end of the
   * range one at a time until the page is full.
   */
  async #listFrame(
    kind: "trades" | "quotes" | "book_snapshots" | "book_changes" | "event_log",
    query: RangeQuery,
    page: Page | undefined,
    columns: readonly string[],
    empty: () => pl.DataFrame,
  ): Promise<pl.LazyDataFrame | pl.DataFrame> {
    this.#assertOpen();
    const spec = TABLES[kind];
    const range = page === undefined ? query : narrowRange(query, page);
    const { exchange, symbol, start, end } = range;
    const partitions = await listPartitions(this.root, kind, range);
    if (partitions.length === 0) return empty();
    const scan = (parts: readonly LakePartition[]) => {
      const scans = parts.flatMap((p) => scanPartition(kind, p));
      let frame = scans.length === 1 ? scans[0] : pl.concat(scans, { how: "vertical" });
      if (start !== undefined) frame = frame.filter(pl.col("ts").gtEq(microsLiteral(start)));
      if (end !== undefined) frame = frame.filter(pl.col("ts").lt(microsLiteral(end)));
      if (parts.some((p) => p.files.length > 1)) frame = frame.sort([...spec.fileOrder]);
      return frame;
    };
    let frame: pl.LazyDataFrame | pl.DataFrame;
    const limit = page?.limit;
    if (page === undefined) frame = scan(partitions);
    else if (limit === undefined) frame = pageFrame(spec, scan(partitions), page);
    else {
      frame = await this.#walkPartitions(spec, partitions, { ...page, limit }, scan);
      if (frame.height === 0) return empty();
    }
    const types = empty().schema;
    return frame.select(
      pl.lit(exchange).cast(pl.Utf8).alias("exchange"),
      pl.lit(symbol).cast(pl.Utf8).alias("symbol"),
      ...columns.slice(2).map((name) => pl.col(name).cast(types[name])),
    );
  }

  /**
   * A page of `limit` rows read partition by partition from the page's end of the range
   * (the first day for `asc`, the last for `desc`), stopping once the page is full.
   */
  async #walkPartitions(
    spec: TableSpec,
    partitions: readonly LakePartition[],
    page: Page & { readonly limit: number },
    scan: (parts: readonly LakePartition[]) => pl.LazyDataFrame,
  ): Promise<pl.DataFrame> {
    const ordered = page.order === "asc" ? partitions : [...partitions].reverse();
    const parts: pl.DataFrame[] = [];
    let got = 0;
    for (const partition of ordered) {
      const part = await pageFrame(spec, scan([partition]), { ...page, limit: page.limit - got })
        .collect();
      this.partitionsRead++;
      if (part.height > 0) parts.push(part);
      got += part.height;
      if (got >= page.limit) break;
    }
    if (parts.length === 0) return await scan(partitions.slice(0, 1)).head(0).collect();
    return parts.length === 1 ? parts[0] : pl.concat(parts, { how: "vertical" });
  }

  async #barColumns(query: BarQuery): Promise<BarColumns> {
    this.#assertOpen();
    const { exchange, symbol, start, end, interval } = query;
    const partitions = await listTradePartitions(this.root, query);
    if (partitions.length === 0) return emptyBarColumns(interval, exchange, symbol);
    const files = partitions.flatMap((p) => p.files);
    const where = [
      start === undefined ? "" : `ts >= make_timestamp(${start}::BIGINT)`,
      end === undefined ? "" : `ts < make_timestamp(${end}::BIGINT)`,
    ].filter((s) => s !== "");
    // first/last with ORDER BY keep the exact (ts, id) tie-break; arg_min(price, ts) is about
    // 2x faster but picks any of the trades sharing a time, and struct or text keys
    // (ts, id) were no faster. recv_ts is converted once per bar, not per row (about 10%).
    const sql = `
      SELECT bucket::DOUBLE, open, high, low, close, volume, vwap, trades::DOUBLE,
             epoch_us(recv)::DOUBLE
      FROM (
        SELECT (epoch_us(ts) // ${interval}) * ${interval} AS bucket,
               first(price ORDER BY ts, id) AS open, max(price) AS high,
               min(price) AS low, last(price ORDER BY ts, id) AS close,
               sum(size) AS volume, sum(price * size) / sum(size) AS vwap,
               count(*) AS trades, max(recv_ts) AS recv
        FROM read_parquet(${sqlStringList(files)}, hive_partitioning = false)
        ${where.length > 0 ? "WHERE " + where.join(" AND ") : ""}
        GROUP BY bucket
      ) ORDER BY bucket`;
    const [ts, open, high, low, close, volume, vwap, trades, recvTs] = await this.#query(
      async (con) => readNumericColumns(await con.run(sql)),
    );
    return { exchange, symbol, interval, ts, open, high, low, close, volume, vwap, trades, recvTs };
  }

  /** Runs `task` on a fresh connection (so queries can run concurrently), then closes it. */
  async #query<T>(task: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    this.#assertOpen();
    // DuckDB is loaded on the first query, not with the library (a notebook's import).
    this.#instance ??= import("@duckdb/node-api").then(({ DuckDBInstance }) =>
      DuckDBInstance.create(
        ":memory:",
        this.#threads === undefined ? {} : { threads: String(this.#threads) },
      )
    );
    const connection = await (await this.#instance).connect();
    try {
      return await task(connection);
    } finally {
      connection.closeSync();
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("LakeRepository is closed");
  }
}

/**
 * Polars scans of one partition of `table`: one glob per folder, or each file if the path
 * has glob characters (files written before a column was added read its `absent` value).
 */
function scanPartition(table: TableName, p: LakePartition): pl.LazyDataFrame[] {
  if (!/[*?[\]{}]/.test(p.path)) {
    const source = p.files.length === 1 ? p.files[0] : `${p.path}/*.parquet`;
    return [scanLakeFiles(table, source)];
  }
  return p.files.map((f) => scanLakeFiles(table, f, { glob: false }));
}

function microsLiteral(micros: number): pl.Expr {
  return pl.lit(micros).cast(pl.Int64).cast(pl.Datetime("us"));
}
