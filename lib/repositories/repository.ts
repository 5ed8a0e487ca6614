/**
 * The one read interface over every store: the Parquet lake, the PostgreSQL buffer, both
 * together, memory. Notebooks, the server and backtests depend on this, never on a store.
 * @module
 */
import type { TableName } from "../schema/tables.ts";
import type { Bar, BookSnapshot, Quote, Trade } from "../market/types.ts";
import type { Table } from "apache-arrow";
import type pl from "nodejs-polars";

/** A time range and instrument filter. Times are microseconds since the epoch. */
export interface RangeQuery {
  /** Venue, e.g. `coinbase`. */
  readonly exchange: string;
  /** Canonical symbol, e.g. `BTC-USD`. */
  readonly symbol: string;
  /** Inclusive start, microseconds since the epoch (default: the beginning). */
  readonly start?: number;
  /** Exclusive end, microseconds since the epoch (default: no end). */
  readonly end?: number;
}

/** The order of a list query's rows: oldest first (`asc`) or newest first (`desc`). */
export type PageOrder = "asc" | "desc";

/**
 * A range read page by page: at most `limit` rows in `order`, after `cursor`. Stores push
 * the limit down (the lake opens only the partitions the page needs, PostgreSQL runs
 * `ORDER BY ... LIMIT` from the cursor's key), so a page costs about the same anywhere in a
 * range of any size.
 */
export interface ListQuery extends RangeQuery {
  /** Most rows (a positive whole number; default: every row of the range). */
  readonly limit?: number;
  /**
   * `asc` (the default): the range's first rows, oldest first; `desc`: its last rows,
   * newest first.
   */
  readonly order?: PageOrder;
  /**
   * Continue after the last row of a previous page: the `cursor` of
   * {@linkcode PagedResult.page} (opaque; valid for the same table and order).
   */
  readonly cursor?: string;
}

/** A book snapshot query: a range, and optionally fewer levels per side. */
export interface BookSnapshotQuery extends ListQuery {
  /**
   * Levels kept per side, best first (a positive whole number; default: every stored
   * level, at most the writer's book depth, 50 by default).
   */
  readonly depth?: number;
}

/** A bar query: time bars of a fixed length. */
export interface BarQuery extends RangeQuery {
  /** Bar length in microseconds (see `parseDuration` for `"1m"` etc.). */
  readonly interval: number;
}

/** What closes an activity bar: its trade count, summed size, or summed `price * size`. */
export type ActivityMeasure = "ticks" | "volume" | "dollars";

/**
 * An activity (information-driven) bar query: tick, volume or dollar bars. A bar closes at
 * the trade that brings its measure to at least `threshold`; that trade belongs to it.
 */
export interface ActivityBarQuery extends RangeQuery {
  /** What is counted: trades (`ticks`), summed size (`volume`), summed `price * size` (`dollars`). */
  readonly by: ActivityMeasure;
  /** Positive and finite; a whole number for `ticks`. */
  readonly threshold: number;
}

/**
 * The tables {@linkcode MarketDataRepository.instruments} can list instruments of: those of
 * the schema's {@linkcode TableName}s that every repository reads.
 */
export type InstrumentTable = Extract<TableName, "trades" | "quotes" | "book_snapshots">;

/** Every {@linkcode InstrumentTable}, the default (`trades`) first. */
export const INSTRUMENT_TABLES: readonly InstrumentTable[] = Object.freeze(
  ["trades", "quotes", "book_snapshots"] as const,
);

/** Whether `table` names an {@linkcode InstrumentTable}. */
export function isInstrumentTable(table: unknown): table is InstrumentTable {
  return typeof table === "string" && (INSTRUMENT_TABLES as readonly string[]).includes(table);
}

/** Options of {@linkcode MarketDataRepository.instruments}. */
export interface InstrumentsOptions {
  /** The table whose instruments are listed (default `trades`). */
  readonly table?: InstrumentTable;
}

/** An instrument with rows in one table of a store, with their count and time span. */
export interface InstrumentTableSummary {
  readonly exchange: string;
  readonly symbol: string;
  /** Rows of the instrument in the table (each stored row once). */
  readonly rows: number;
  /** First row time (venue time `ts`), microseconds. */
  readonly first: number;
  /** Last row time (venue time `ts`), microseconds. */
  readonly last: number;
}

/** An instrument present in a store, with its trade count and time span. */
export interface InstrumentSummary extends InstrumentTableSummary {
  /** Trades of the instrument (the same as `rows`). */
  readonly trades: number;
  /** First trade time, microseconds. */
  readonly first: number;
  /** Last trade time, microseconds. */
  readonly last: number;
}

/**
 * A lazily evaluated result: nothing runs until one of the accessors is called, and each
 * produces the same rows in the same order (time ascending). Bulk accessors (`polars`,
 * `arrow`) move columns without building a JavaScript object per row.
 */
export interface QueryResult<Row> {
  /** Plain row objects (the model types). Best for small results. */
  rows(): Promise<Row[]>;
  /** A nodejs-polars DataFrame, columns named in snake_case, times as Datetime(us). */
  polars(): Promise<pl.DataFrame>;
  /** An Apache Arrow table with the same columns as `polars()`. */
  arrow(): Promise<Table>;
  /**
   * The frame of `polars()` not yet evaluated, where the store reads it from files (the
   * lake): a caller that selects a few of its columns before `collect()` reads only those.
   */
  lazy?(): Promise<pl.LazyDataFrame>;
}

/** One evaluated page of a {@linkcode PagedResult}. */
export interface Page<Row> {
  /** The page's rows as objects, in the query's order (built on first use). */
  readonly rows: Row[];
  /**
   * Rows `[from, to)` of the page as objects, building only those (to write a big page in
   * slices without a JavaScript object per row of the whole page at once).
   */
  rowsBetween(from: number, to: number): Row[];
  /** The same rows as a frame (with the stored key columns, such as `digest`). */
  readonly frame: pl.DataFrame;
  /** The same rows as an Arrow table (the columns of `frame`). */
  arrow(): Promise<Table>;
  /**
   * The cursor of the next page (pass it as `cursor`), or `undefined` when this page ended
   * the range (fewer than `limit` rows, or no limit).
   */
  readonly cursor?: string;
}

/**
 * The result of a {@linkcode ListQuery}: the rows of one page (every accessor gives the
 * same rows, in the query's order), and the way to the next page.
 *
 * @example
 * ```ts ignore
 * let result = repo.trades({ exchange: "coinbase", symbol: "BTC-USD", limit: 100, order: "desc" });
 * const { rows, cursor } = await result.page(); // the latest 100 trades, newest first
 * const older = await result.next(); // the 100 before them, or undefined
 * ```
 */
export interface PagedResult<Row> extends QueryResult<Row> {
  /** Runs the query once: rows, frame and the next page's cursor. */
  page(): Promise<Page<Row>>;
  /** The next page's result, or `undefined` when this page ended the range. */
  next(): Promise<PagedResult<Row> | undefined>;
}

/**
 * Read access to collected market data: trades, bars, quotes and book snapshots. Every
 * repository of this module implements it (lake, buffer, unified, memory).
 *
 * Events without a venue id are identified by `(exchange, symbol, ts, recvTs, digest)`
 * (`digest` from `lib/market/event_digest.ts`): results are ordered by `ts`, ties by
 * `recvTs` then digest, and each stored event appears once. Frames and Arrow tables carry
 * the `digest` column; row objects are the model types without it.
 *
 * @example
 * ```ts
 * import { MemoryRepository } from "./memory_repository.ts";
 * import assert from "node:assert/strict";
 * const at = { exchange: "kraken", symbol: "BTC-USD", ts: 1_700_000_000_000_000, recvTs: 1_700_000_000_000_500 };
 * const repo = new MemoryRepository([
 *   { kind: "quote", ...at, bidPrice: 99, bidSize: 1, askPrice: 101, askSize: 2 },
 *   { kind: "book_snapshot", ...at, bids: [[98, 1], [99, 2]], asks: [[101, 1], [102, 3]] },
 * ]);
 * const [quote] = await repo.quotes({ exchange: "kraken", symbol: "BTC-USD" }).rows();
 * assert.equal(quote.askPrice, 101);
 * const [book] = await repo.bookSnapshots({ exchange: "kraken", symbol: "BTC-USD", depth: 1 }).rows();
 * assert.deepEqual(book.bids, [[99, 2]]); // best bid first
 * const frame = await repo.bookSnapshots({ exchange: "kraken", symbol: "BTC-USD" }).polars();
 * assert.deepEqual(frame.getColumn("ask_prices").toArray(), [[101, 102]]);
 * ```
 */
export interface MarketDataRepository {
  /**
   * Instruments with trades, ordered by exchange then symbol, with their trade count
   * (`trades`, also in `rows`) and first and last trade time.
   * @throws {RangeError} (as a rejection) for an unknown `table`.
   */
  instruments(options?: { readonly table?: "trades" }): Promise<InstrumentSummary[]>;
  /**
   * Instruments with rows in `options.table` (`trades`, `quotes` or `book_snapshots`),
   * ordered by exchange then symbol, with their row count and first and last venue time.
   * Summaries of `trades` are {@linkcode InstrumentSummary}s (with `trades`).
   * @throws {TypeError} (as a rejection) when `options` is not an object or `table` not a string.
   * @throws {RangeError} (as a rejection) for an unknown `table`.
   */
  instruments(options: InstrumentsOptions): Promise<InstrumentTableSummary[]>;
  /**
   * Trades in a range, ordered by `(ts, id)` (reversed for `order: "desc"`), each exactly
   * once, at most `limit` of them.
   * @throws {RangeError} for a bad `limit`, `order` or `cursor`.
   */
  trades(query: ListQuery): PagedResult<Trade>;
  /** OHLCV bars with VWAP and trade count; bars without trades are omitted. */
  bars(query: BarQuery): QueryResult<Bar>;
  /**
   * Tick, volume or dollar bars over the trades in range, ordered by `(ts, id)`: OHLCV, VWAP
   * and trade count like time bars, `ts` the bar's first trade time, `interval` 0. A bar
   * closes at the trade that brings its measure to `>= threshold` (no carry-over into the
   * next bar); the last bar is included even when incomplete (below the threshold).
   * @throws {RangeError} for an unknown `by` or a threshold that is not positive and finite
   * (or not whole, for `ticks`).
   */
  activityBars(query: ActivityBarQuery): QueryResult<Bar>;
  /**
   * Quotes (best bid and offer) in `[start, end)`, ordered by `(ts, recvTs, digest)`, paged
   * like `trades`.
   * @throws {TypeError} / {RangeError} for a bad range, like `trades`.
   */
  quotes(query: ListQuery): PagedResult<Quote>;
  /**
   * Book snapshots in `[start, end)`, ordered by `(ts, recvTs, digest)`: bids price
   * descending, asks ascending, each side cut to `depth` levels when given. `depth` limits
   * what is returned, not what identifies the snapshot (the digest is the stored one).
   * @throws {TypeError} / {RangeError} for a bad range, like `trades`.
   * @throws {TypeError} when `depth` is given and not a number.
   * @throws {RangeError} when `depth` is not a positive whole number.
   */
  bookSnapshots(query: BookSnapshotQuery): PagedResult<BookSnapshot>;
  /** Releases connections. */
  close(): Promise<void>;
}
