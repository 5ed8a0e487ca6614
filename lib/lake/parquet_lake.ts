/**
 * The Parquet lake writer: trades, quotes, book snapshots, book changes and feed statuses
 * partitioned by exchange, symbol and UTC date, written idempotently and atomically.
 * @module
 */
import type { Bar, MarketEvent, Trade } from "../market/types.ts";
import type { ActionRow } from "../schema/action_rows.ts";
import { DEFAULT_BOOK_DEPTH, EVENT_KINDS, type EventKind, type EventRowOf } from "./event_rows.ts";
import { PARTITIONED_TABLES } from "./layout.ts";
import { Compactor } from "./compactor.ts";
import { PartitionWriter } from "./partition_writer.ts";
import { getDefaultEncoder, type ParquetEncoder } from "./parquet_encoder.ts";
import { LakeCatalog } from "./catalog.ts";
import { type ColumnBatch, tradeBatch, type TradeColumns } from "./_trade_batch.ts";
import { BookColumns } from "./book_columns.ts";
import { type CountedTable, LakeWrites } from "./lake_writes.ts";
import {
  type CompactionReport,
  type CompactOptions,
  emptyCounts,
  type LakeRejection,
  type WriteCounts,
} from "./write_counts.ts";
import { WriterLock, type WriterLockOptions } from "./writer_lock.ts";

export type { CompactionReport, CompactOptions, CountedTable, LakeRejection, WriteCounts };

export type { TradeColumns };

/** Options of {@linkcode ParquetLake.open}. */
export interface ParquetLakeOptions {
  /** Lake root folder; created when missing. */
  readonly root: string;
  /**
   * After a write leaves more than this many small files in a partition, the most numerous
   * group of similar-sized small files in it is merged right away (size-tiered, so a
   * collector flushing every second does not rewrite the whole day each time; see
   * {@linkcode ParquetLake.compact}). Default 32; `Infinity` turns it off.
   */
  readonly autoCompactFiles?: number;
  /** Files at least this large are left alone by compaction. Default 64 MiB. */
  readonly smallFileBytes?: number;
  /**
   * Levels per side kept of a book snapshot written by {@linkcode ParquetLake.writeEvents}
   * (the buffer writer's `bookDepth`). Default 50.
   */
  readonly bookDepth?: number;
  /** The lake's one-writer lock, held until `close` (see `writer_lock.ts`; default: refuse). */
  readonly lock?: WriterLockOptions;
  /**
   * What writes the new files (see `parquet_encoder.ts`; default: the default encoder, the
   * lake's own writer without Polars; `polarsEncoder` imports Polars on first use).
   */
  readonly encoder?: ParquetEncoder;
}

/**
 * A Parquet lake of market data (and of the action logs of runs), one table per kind:
 * `ROOT/<kind>/exchange=X/symbol=Y/date=YYYY-MM-DD/part-<unique>.parquet`, zstd; exchange,
 * symbol and date come from the path (hive partitioning, read by DuckDB
 * `hive_partitioning=true` and Polars). Times are `TIMESTAMP` (microseconds, UTC).
 *
 * - `trades`: `id VARCHAR, price DOUBLE, size DOUBLE, side VARCHAR, ts TIMESTAMP,
 *   recv_ts TIMESTAMP`, each file sorted by `(ts, id)`;
 * - `quotes`, `book_snapshots`, `book_changes`, `event_log` (see `event_rows.ts`):
 *   `ts TIMESTAMP, recv_ts TIMESTAMP, digest INTEGER` then the payload (`bid_price DOUBLE,
 *   bid_size DOUBLE, ask_price DOUBLE, ask_size DOUBLE`; `bid_prices DOUBLE[],
 *   bid_sizes DOUBLE[], ask_prices DOUBLE[], ask_sizes DOUBLE[]` then `sequence BIGINT,
 *   checksum BIGINT` for snapshots and `first_sequence BIGINT, sequence BIGINT,
 *   checksum BIGINT` for changes, NULL when missing; `status VARCHAR, reason VARCHAR`),
 *   each file sorted by `(ts, recv_ts, digest)`;
 * - `bars` (`ROOT/bars/exchange=X/symbol=Y/year=YYYY/`, not by date; written through
 *   `bar_store.ts`, the one write path of bars, where a newer bar replaces a stored one of
 *   the same key): `interval_us BIGINT, ts TIMESTAMP, recv_ts TIMESTAMP, open, high, low,
 *   close, volume DOUBLE, vwap DOUBLE (NULL for no volume), trades BIGINT`, keyed and sorted
 *   by `(interval_us, ts)`;
 * - `actions` (action logs, `exchange=<source>/symbol=<run>`): `seq BIGINT, ts TIMESTAMP,
 *   action, payload, prev, hash VARCHAR`, keyed and sorted by `seq`.
 *
 * Writes are
 * - **validated**: invalid rows (see {@linkcode tradeRejection} and
 *   {@linkcode eventRowRejection}) are counted and logged once per reason, never written;
 * - **idempotent**: a trade whose (exchange, symbol, id), or an event row whose (exchange,
 *   symbol, ts, recv_ts, digest) is already in its partition, or earlier in the same batch,
 *   is skipped, so replaying a capture twice stores it once;
 * - **atomic**: each file is written under a hidden temporary name
 *   (`.part-<unique>.parquet.tmp`, which no `*.parquet` glob matches) and renamed into place.
 *
 * Every `date=` table is written through one path (`lake_writes.ts`): rows go from column
 * arrays into a `ColumnTable` per partition (`column_table.ts`, typed arrays), their
 * repeats dropped and sorted in file order in JavaScript (`partition_writer.ts`), and the
 * file is written by the lake's {@linkcode ParquetEncoder} (`options.encoder`). Which keys are
 * stored is known without reading a file where this writer wrote every file of the partition
 * and the batch's keys are beyond them (a collector's usual flush); otherwise the rows are
 * anti-joined with the stored keys by Polars (a scan of the spec's `lakeKey` columns within
 * the batch's range of its first column), imported only then.
 * Writes through one `ParquetLake` are serialised, and one `ParquetLake` at a time writes a
 * lake: `open` takes the lake's writer lock (`writer_lock.ts`), `close` releases it.
 *
 * @example
 * ```ts ignore
 * import { ParquetLake } from "./parquet_lake.ts";
 * const lake = await ParquetLake.open({ root: "data/lake" });
 * const written = await lake.writeTrades(trades);
 * await lake.close();
 * ```
 */
export class ParquetLake {
  /** Lake root folder. */
  readonly root: string;
  readonly #bookDepth: number;
  readonly #compactor: Compactor;
  readonly #writes: LakeWrites;
  #catalog: LakeCatalog | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #lastWrite: WriteCounts = emptyCounts();
  readonly #lock: WriterLock;

  private constructor(root: string, options: ParquetLakeOptions, lock: WriterLock) {
    this.root = root;
    this.#lock = lock;
    this.#compactor = new Compactor({
      autoCompactFiles: options.autoCompactFiles ?? 32,
      smallFileBytes: options.smallFileBytes ?? 64 * 1024 * 1024,
    });
    this.#bookDepth = options.bookDepth ?? DEFAULT_BOOK_DEPTH;
    this.#writes = new LakeWrites({
      root,
      writer: new PartitionWriter({
        root,
        compactor: this.#compactor,
        encoder: options.encoder ?? getDefaultEncoder(),
      }),
      bookDepth: this.#bookDepth,
    });
  }

  /**
   * Opens (and creates) a lake at `options.root` and takes its writer lock.
   * @throws {LakeLockedError} when another writer holds the lake (see `options.lock`).
   */
  static async open(options: ParquetLakeOptions): Promise<ParquetLake> {
    if (typeof options?.root !== "string" || options.root.length === 0) {
      throw new TypeError("ParquetLake.open needs a root folder");
    }
    const depth = options.bookDepth;
    if (depth !== undefined && !(Number.isInteger(depth) && depth >= 1)) {
      throw new RangeError(`ParquetLake.open: bookDepth must be an integer >= 1, got ${depth}`);
    }
    const root = options.root.length > 1 ? options.root.replace(/\/+$/, "") : options.root;
    await Deno.mkdir(root, { recursive: true });
    return new ParquetLake(root, options, await WriterLock.acquire(root, options.lock));
  }

  /** Counts over every write since the lake was opened, all tables together. */
  get counts(): Readonly<WriteCounts> {
    return structuredClone(this.#writes.counts);
  }

  /** Counts over every write since the lake was opened, per table. */
  get countsByKind(): Readonly<Record<CountedTable, Readonly<WriteCounts>>> {
    return structuredClone(this.#writes.countsByKind);
  }

  /**
   * Counts of the most recent write call (`writeTrades`, `writeTradeColumns`,
   * `writeEventRows`, or `writeEvents`: all its tables together).
   */
  get lastWrite(): Readonly<WriteCounts> {
    return structuredClone(this.#lastWrite);
  }

  /** Events {@linkcode ParquetLake.writeEvents} skipped because the lake has no table for them. */
  get ignored(): number {
    return this.#writes.ignored;
  }

  /** What the lake holds: instruments, partitions, row counts (see `catalog.ts`). */
  get catalog(): LakeCatalog {
    return this.#catalog ??= new LakeCatalog(this.root);
  }

  /**
   * Writes trades and resolves to the number of rows newly stored. Invalid rows and rows
   * already stored are skipped and counted (see {@linkcode ParquetLake.lastWrite}). Calls are
   * serialised. Safe to retry after a failure: rows written before it are not duplicated.
   */
  writeTrades(trades: readonly Trade[]): Promise<number> {
    return this.#run((counts) => this.#writes.trades(tradeBatch(trades), counts));
  }

  /**
   * Writes trades of one instrument given as columns (no per-row objects), with the same
   * validation, deduplication and atomicity as {@linkcode ParquetLake.writeTrades}, and
   * resolves to the number of rows newly stored. Every column must have `id.length` values;
   * the arrays are only read, and may be reused once the promise settles. `backfilled`
   * (optional, non-zero for a trade fetched from the venue's REST history) defaults to false.
   *
   * @example
   * ```ts ignore
   * const written = await lake.writeTradeColumns({
   *   exchange: "coinbase", symbol: "BTC-USD", id: ["1", "2"],
   *   price: new Float64Array([100, 101]), size: new Float64Array([0.5, 1]),
   *   side: ["buy", "sell"], ts: new Float64Array([t0, t0 + 1]),
   *   recvTs: new Float64Array([t0 + 5, t0 + 6]),
   * });
   * ```
   */
  writeTradeColumns(columns: TradeColumns): Promise<number> {
    const rows = columns?.id?.length;
    if (typeof rows !== "number") {
      return Promise.reject(new TypeError("writeTradeColumns needs an id column"));
    }
    for (const name of ["price", "size", "side", "ts", "recvTs"] as const) {
      if (columns[name]?.length !== rows) {
        return Promise.reject(
          new RangeError(
            `writeTradeColumns: ${name} has ${columns[name]?.length} values, id has ${rows}`,
          ),
        );
      }
    }
    if (columns.backfilled !== undefined && columns.backfilled.length !== rows) {
      return Promise.reject(
        new RangeError(
          `writeTradeColumns: backfilled has ${columns.backfilled.length} values, id has ${rows}`,
        ),
      );
    }
    const batch: ColumnBatch = { ...columns, rows };
    return this.#run((counts) => this.#writes.trades(batch, counts));
  }

  /**
   * Stores rows of one event table (digest given, e.g. made by {@linkcode eventRow} or
   * copied from the PostgreSQL buffer) and resolves to the rows newly stored. Rows are
   * validated (see {@linkcode eventRowRejection}; invalid ones are counted and skipped),
   * idempotent on (exchange, symbol, ts, recv_ts, digest) against the stored files and
   * within the batch, and each partition's new rows go to one new file, sorted by
   * `(ts, recv_ts, digest)`, written under a temporary name and renamed into place. Calls
   * are serialised with every other write. The rows are only read.
   *
   * @example
   * ```ts ignore
   * import { eventRow } from "./event_rows.ts";
   * const written = await lake.writeEventRows("quotes", quotes.map((q) => eventRow(q)));
   * ```
   */
  writeEventRows<K extends EventKind>(kind: K, rows: readonly EventRowOf<K>[]): Promise<number> {
    if (!EVENT_KINDS.includes(kind)) {
      return Promise.reject(new TypeError(`writeEventRows: not an event table: ${kind}`));
    }
    if (!Array.isArray(rows)) {
      return Promise.reject(new TypeError("writeEventRows needs an array of rows"));
    }
    return this.#run((counts) => this.#writes.eventRows(kind, rows, counts));
  }

  /**
   * Stores model events of any kind and resolves to the rows newly stored: trades as by
   * {@linkcode ParquetLake.writeTrades}, quotes, book snapshots, book changes and feed
   * statuses through {@linkcode eventRow} (snapshots cut to `bookDepth` levels per side)
   * and {@linkcode ParquetLake.writeEventRows}, bars as by {@linkcode ParquetLake.writeBars}.
   * `lastWrite` sums the call's tables.
   */
  writeEvents(events: readonly MarketEvent[]): Promise<number> {
    if (!Array.isArray(events)) {
      return Promise.reject(new TypeError("writeEvents needs an array of events"));
    }
    return this.#run((counts) => this.#writes.events(events, counts));
  }

  /**
   * Stores book snapshots or changes held as {@linkcode BookColumns} (each appended event
   * checked by the schema's rules before, as `LakeSink` does) and resolves to the rows newly
   * stored, with the idempotency, order and atomicity of
   * {@linkcode ParquetLake.writeEventRows}. The columns are only read, and may be reused
   * once the promise settles.
   */
  writeBookColumns(columns: BookColumns): Promise<number> {
    if (!(columns instanceof BookColumns)) {
      return Promise.reject(new TypeError("writeBookColumns needs BookColumns"));
    }
    return this.#run((counts) => this.#writes.bookColumns(columns, counts));
  }

  /**
   * Stores bars (events of kind `bar`: venue bars, or bars made from trades) in the `bars`
   * table through `bar_store.ts` (`year=` partitions) and resolves to the rows newly stored:
   * validated by the schema's rules, keyed on (exchange, symbol, interval, ts), where the
   * newest bar wins (a re-exported, corrected bar replaces the stored one and counts as a
   * duplicate, not a new row). All-or-nothing per instrument.
   */
  writeBars(bars: readonly Bar[]): Promise<number> {
    if (!Array.isArray(bars)) return Promise.reject(new TypeError("writeBars needs an array"));
    return this.#run((counts) => this.#writes.bars(bars, counts));
  }

  /** Levels per side kept of a book snapshot (`options.bookDepth`). */
  get bookDepth(): number {
    return this.#bookDepth;
  }

  /**
   * Stores rows of action logs (`lib/schema/action_rows.ts`) in the `actions` table,
   * partitioned by source, run and day, and resolves to the rows newly stored: validated
   * ({@linkcode actionRowRejection}), idempotent on (source, run, seq).
   */
  writeActions(rows: readonly ActionRow[]): Promise<number> {
    if (!Array.isArray(rows)) return Promise.reject(new TypeError("writeActions needs an array"));
    return this.#run((counts) => this.#writes.actions(rows, counts));
  }

  /**
   * Merges the small files (below `smallFileBytes`) of each partition that has at least two
   * into one file in its table's order (`(ts, id)` for trades, `(ts, recv_ts, digest)` for
   * the event tables, `(interval_us, ts)` for the `year=` partitions of bars), in every
   * table or those in `options.kinds` (see `PARTITIONED_TABLES`). Atomic per partition: a
   * journal naming the new file and the files it replaces is written first, then the merged
   * file under a temporary name, then it is renamed into place and the old files are
   * removed, then the journal. Readers listing files in the short moment between the
   * rename and the removal can see rows twice; a crash in that moment is repaired (old files
   * removed) by the next write to or compaction of that partition.
   */
  compact(options: CompactOptions = {}): Promise<CompactionReport> {
    const kinds = options.kinds ?? PARTITIONED_TABLES;
    for (const kind of kinds) {
      if (!PARTITIONED_TABLES.includes(kind)) {
        return Promise.reject(new TypeError(`compact: not a lake table: ${kind}`));
      }
    }
    return this.#enqueue(() => this.#compactor.compactLake(this.root, { ...options, kinds }));
  }

  /** Waits for pending writes; later writes reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.catch(() => {});
    await this.#catalog?.close();
    await this.#lock.release();
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("ParquetLake is closed"));
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Runs one write call in the queue: its counts become {@linkcode ParquetLake.lastWrite};
   * resolves to the rows it newly stored.
   */
  #run(write: (counts: WriteCounts) => Promise<void>): Promise<number> {
    return this.#enqueue(async () => {
      const counts = emptyCounts();
      this.#lastWrite = counts;
      await write(counts);
      return counts.written;
    });
  }
}
