/**
 * The Parquet lake writer: trades, quotes, book snapshots, book changes and feed statuses
 * partitioned by exchange, symbol and UTC date, written idempotently and atomically.
 * @module
 */
import pl from "nodejs-polars";
import type { Bar, MarketEvent, TakerSide, Trade } from "../market/types.ts";
import type { ActionRow } from "../schema/action_rows.ts";
import { nowMicros } from "../market/time.ts";
import { TABLES } from "../schema/tables.ts";
import { latestValidMicros, type Rejection } from "../schema/rules.ts";
import { EVENT_KEY } from "./_event_frame.ts";
import {
  DEFAULT_BOOK_DEPTH,
  EVENT_KINDS,
  type EventKind,
  type EventRow,
  type EventRowOf,
} from "./event_rows.ts";
import { LAKE_KINDS, type LakeKind, listAllPartitions } from "./layout.ts";
import { micros } from "./_files.ts";
import { Compactor } from "./compactor.ts";
import { PartitionWriter } from "./partition_writer.ts";
import { NativeMemory } from "./_native_memory.ts";
import { LakeCatalog } from "./catalog.ts";
import { type ColumnBatch, describeTrade, groupTrades, type TradeColumns } from "./_trade_batch.ts";
import {
  describeEventRow,
  type EventPartition,
  groupBookColumns,
  groupEventRows,
  splitEvents,
} from "./_event_batch.ts";
import { BookColumns, type BookKind } from "./book_columns.ts";
import { groupActions, type GroupedKeyed } from "./_keyed_batch.ts";
import { storeBarEvents } from "./_bar_events.ts";
import { BARS_DIR } from "./bar_store.ts";
import {
  addCounts,
  type CompactionReport,
  type CompactOptions,
  emptyCounts,
  type LakeRejection,
  type WriteCounts,
} from "./write_counts.ts";

import { WriterLock, type WriterLockOptions } from "./writer_lock.ts";

export type { CompactionReport, CompactOptions, LakeRejection, WriteCounts };

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
}

/** Native bytes a partition's write makes besides its rows (see `#store`). */
const FILE_BYTES = 1 << 20;

/** The key of trades within a partition. */
const TRADE_KEY = TABLES.trades.key.filter((c) => c !== "ts");

/** A table {@linkcode ParquetLake} counts writes of: the `date=` tables and `bars`. */
export type CountedTable = LakeKind | typeof BARS_DIR;

/** What {@linkcode ParquetLake} knows of a partition of a batch before storing it. */
interface StoreSpec {
  readonly exchange: string;
  readonly symbol: string;
  readonly day: number;
  readonly rows: number;
  readonly sorted: boolean;
  readonly unique: boolean;
  readonly key: readonly string[];
  readonly stored: pl.Expr;
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
 * Rows go from column arrays into a Polars DataFrame (numeric ids as numbers, turned into
 * text by Polars), are anti-joined per partition with the ids already stored (a scan of
 * the `id` column only) and written by Polars' Parquet sink: the fastest of the options
 * measured (DuckDB appender, DuckDB data chunks + `COPY`, a temporary CSV, Polars).
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
  readonly #writer: PartitionWriter;
  /** Frees Polars' native memory of finished writes (see `_native_memory.ts`). */
  readonly #native = new NativeMemory();
  #catalog: LakeCatalog | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #counts: WriteCounts = emptyCounts();
  #lastWrite: WriteCounts = emptyCounts();
  readonly #countsByKind = Object.fromEntries(
    [...LAKE_KINDS, BARS_DIR].map((kind) => [kind, emptyCounts()]),
  ) as Record<CountedTable, WriteCounts>;
  #ignored = 0;
  readonly #logged = new Set<string>();
  readonly #lock: WriterLock;

  private constructor(root: string, options: ParquetLakeOptions, lock: WriterLock) {
    this.root = root;
    this.#lock = lock;
    this.#compactor = new Compactor({
      autoCompactFiles: options.autoCompactFiles ?? 32,
      smallFileBytes: options.smallFileBytes ?? 64 * 1024 * 1024,
    });
    this.#writer = new PartitionWriter(root, this.#compactor);
    this.#bookDepth = options.bookDepth ?? DEFAULT_BOOK_DEPTH;
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
    return structuredClone(this.#counts);
  }

  /** Counts over every write since the lake was opened, per table. */
  get countsByKind(): Readonly<Record<CountedTable, Readonly<WriteCounts>>> {
    return structuredClone(this.#countsByKind);
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
    return this.#ignored;
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
    return this.#enqueue(() => this.#writeTrades(trades));
  }

  /**
   * Writes trades of one instrument given as columns (no per-row objects), with the same
   * validation, deduplication and atomicity as {@linkcode ParquetLake.writeTrades}, and
   * resolves to the number of rows newly stored. Every column must have `id.length` values;
   * the arrays are only read, and may be reused once the promise settles.
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
    const batch: ColumnBatch = { ...columns, rows };
    return this.#enqueue(() => this.#writeBatch(batch));
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
    return this.#enqueue(async () => {
      const counts = emptyCounts();
      this.#lastWrite = counts;
      await this.#writeEventRows(kind, rows, counts);
      return counts.written;
    });
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
    return this.#enqueue(async () => {
      const total = emptyCounts();
      this.#lastWrite = total;
      const { trades, bars, rows, books } = splitEvents(events, {
        depth: this.#bookDepth,
        latest: latestValidMicros(nowMicros()),
        ignored: (what) => {
          this.#ignored++;
          this.#warnOnce(`kind:${what}`, `lake: ignored event of kind ${what}`);
        },
        rejected: (kind, e, reason) => {
          const counts = emptyCounts();
          this.#rejectRow(kind, e as unknown as EventRow, reason, counts);
          addCounts(this.#counts, counts);
          addCounts(this.#countsByKind[kind], counts);
          addCounts(total, counts);
        },
      });
      if (trades.length > 0) {
        try {
          await this.#writeTrades(trades);
        } finally {
          addCounts(total, this.#lastWrite);
          this.#lastWrite = total;
        }
      }
      for (const kind of EVENT_KINDS) {
        const list = rows.get(kind);
        if (list) await this.#writeEventRows(kind, list, total, true);
        const columns = books.get(kind as BookKind);
        if (columns) await this.#writeBookColumns(columns, total);
      }
      if (bars.length > 0) await this.#writeBars(bars, total);
      return total.written;
    });
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
    return this.#enqueue(async () => {
      const counts = emptyCounts();
      this.#lastWrite = counts;
      await this.#writeBookColumns(columns, counts);
      return counts.written;
    });
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
    return this.#enqueue(async () => {
      const counts = emptyCounts();
      this.#lastWrite = counts;
      await this.#writeBars(bars, counts);
      return counts.written;
    });
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
    return this.#enqueue(async () => {
      const counts = emptyCounts();
      this.#lastWrite = counts;
      const latest = latestValidMicros(nowMicros());
      await this.#writeKeyed("actions", (reject) => groupActions(rows, latest, reject), counts);
      return counts.written;
    });
  }

  /**
   * Merges the small files (below `smallFileBytes`) of each partition that has at least two
   * into one file in its table's order (`(ts, id)` for trades, `(ts, recv_ts, digest)` for
   * the event tables), in every table or those in `options.kinds`. Atomic per partition: a
   * journal naming the new file and the files it replaces is written first, then the merged
   * file under a temporary name, then it is renamed into place and the old files are
   * removed, then the journal. Readers listing files in the short moment between the
   * rename and the removal can see rows twice; a crash in that moment is repaired (old files
   * removed) by the next write to or compaction of that partition.
   */
  compact(options: CompactOptions = {}): Promise<CompactionReport> {
    const kinds = options.kinds ?? LAKE_KINDS;
    for (const kind of kinds) {
      if (!LAKE_KINDS.includes(kind)) {
        return Promise.reject(new TypeError(`compact: not a lake table: ${kind}`));
      }
    }
    return this.#enqueue(async () => {
      const report: CompactionReport = { partitions: 0, filesMerged: 0, rows: 0 };
      for (const kind of kinds) {
        for (const p of await listAllPartitions(this.root, kind)) {
          if (options.exchange !== undefined && p.exchange !== options.exchange) continue;
          if (options.symbol !== undefined && p.symbol !== options.symbol) continue;
          await this.#compactor.recover(p.path);
          const merged = await this.#compactor.compactPartition(p.path, kind, 2);
          if (merged) {
            report.partitions++;
            report.filesMerged += merged.files;
            report.rows += merged.rows;
          }
        }
      }
      return report;
    });
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

  /** Rows to columns (no copies of values, only references) for {@linkcode #writeBatch}. */
  #writeTrades(trades: readonly Trade[]): Promise<number> {
    const n = trades.length;
    const exchange = new Array<string>(n);
    const symbol = new Array<string>(n);
    const id = new Array<string>(n);
    const price = new Array<number>(n);
    const size = new Array<number>(n);
    const side = new Array<TakerSide>(n);
    const ts = new Array<number>(n);
    const recvTs = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const t = trades[i];
      exchange[i] = t?.exchange;
      symbol[i] = t?.symbol;
      id[i] = t?.id;
      price[i] = t?.price;
      size[i] = t?.size;
      side[i] = t?.side;
      ts[i] = t?.ts;
      recvTs[i] = t?.recvTs;
    }
    return this.#writeBatch({ rows: n, exchange, symbol, id, price, size, side, ts, recvTs });
  }

  /**
   * The trades table's write path: validates and groups the rows by partition
   * (`_trade_batch.ts`), then stores each partition's new rows (see {@linkcode #store}).
   */
  async #writeBatch(batch: ColumnBatch): Promise<number> {
    const counts = emptyCounts();
    this.#lastWrite = counts;
    try {
      const grouped = groupTrades(batch, latestValidMicros(nowMicros()), (i, reason) => {
        this.#count(counts, reason);
        this.#warnOnce(
          reason,
          `lake: rejected trade with invalid ${reason} (logged once per reason):`,
          describeTrade(batch, i),
        );
      });
      await this.#store(
        "trades",
        grouped.frame,
        grouped.partitions.map((p) => ({
          ...p,
          key: TRADE_KEY,
          unique: p.increasingIds,
          // Only stored ids within the batch's id range can match: the range predicate lets
          // Polars skip row groups by their id statistics (ids mostly grow with time).
          stored: pl.col("id").gtEq(pl.lit(p.minId)).and(pl.col("id").ltEq(pl.lit(p.maxId))),
        })),
        counts,
      );
    } finally {
      addCounts(this.#counts, counts);
      addCounts(this.#countsByKind.trades, counts);
    }
    return counts.written;
  }

  /**
   * The write path of event rows: validates (unless `checked`) and groups the rows by
   * partition (`_event_batch.ts`), then stores each partition's new rows (see
   * {@linkcode #store}). Adds what it did to `counts` (and the lake's totals).
   */
  async #writeEventRows(
    kind: EventKind,
    rows: readonly EventRow[],
    counts: WriteCounts,
    checked = false,
  ): Promise<void> {
    const mine = emptyCounts();
    try {
      const latest = latestValidMicros(nowMicros());
      const grouped = groupEventRows(kind, rows, { checked, latest }, (row, reason) => {
        this.#rejectRow(kind, row, reason, mine);
      });
      await this.#store(kind, grouped.frame, this.#eventSpecs(grouped.partitions), mine);
    } finally {
      addCounts(this.#counts, mine);
      addCounts(this.#countsByKind[kind], mine);
      addCounts(counts, mine);
    }
  }

  /** The write path of book columns: groups them by partition, then stores each one. */
  async #writeBookColumns(columns: BookColumns, counts: WriteCounts): Promise<void> {
    const mine = emptyCounts();
    try {
      const grouped = groupBookColumns(columns);
      const levels = columns.bidPrices.length + columns.askPrices.length;
      const bytes = columns.length * 64 + levels * 20;
      await this.#store(
        columns.kind,
        grouped.frame,
        this.#eventSpecs(grouped.partitions),
        mine,
        bytes,
      );
    } finally {
      addCounts(this.#counts, mine);
      addCounts(this.#countsByKind[columns.kind], mine);
      addCounts(counts, mine);
    }
  }

  /** What the store loop needs of each partition of a digest-keyed table's batch. */
  #eventSpecs(partitions: readonly EventPartition[]): StoreSpec[] {
    return partitions.map((p) => ({
      ...p,
      key: EVENT_KEY,
      unique: p.increasing,
      // Only stored rows within the batch's time range can match; the predicate lets
      // Polars skip row groups by their `ts` statistics.
      stored: pl.col("ts").gtEq(micros(p.minTs)).and(pl.col("ts").ltEq(micros(p.maxTs))),
    }));
  }

  /**
   * The one store loop of every table: each partition's rows of `frame` (column `p` is the
   * partition index) go through the {@linkcode PartitionWriter}; adds rows written and
   * duplicates skipped to `counts`.
   */
  async #store(
    kind: LakeKind,
    frame: pl.DataFrame | undefined,
    partitions: readonly StoreSpec[],
    counts: WriteCounts,
    bytes?: number,
  ): Promise<void> {
    if (frame === undefined) return;
    // Native bytes a partition's write makes: its rows, the new rows and the file's buffers
    // (three copies; list columns as their values), and about 1 MB per file written
    // (Parquet writer, zstd context), measured.
    const perRow = 3 * (bytes ?? frame.height * frame.width * 8) / Math.max(1, frame.height);
    for (let k = 0; k < partitions.length; k++) {
      const p = partitions[k];
      const rows = partitions.length === 1 ? frame.lazy() : frame.lazy().filter(pl.col("p").eq(k));
      const written = await this.#writer.write({ ...p, kind, rows: rows.drop("p") });
      counts.written += written;
      counts.duplicates += p.rows - written;
      this.#native.used(p.rows * perRow + FILE_BYTES);
    }
  }

  /** The write path of bars (see `_bar_events.ts`); adds what it did to `counts`. */
  async #writeBars(bars: readonly Bar[], counts: WriteCounts): Promise<void> {
    const mine = emptyCounts();
    try {
      const done = await storeBarEvents(
        this.root,
        bars,
        latestValidMicros(nowMicros()),
        (bar, reason) => {
          this.#count(mine, reason);
          this.#warnOnce(
            `bars:${reason}`,
            `lake: rejected bars row with invalid ${reason} (logged once per table and reason):`,
            describeEventRow(bar as unknown as EventRow),
          );
        },
      );
      mine.written += done.written;
      mine.duplicates += done.duplicates;
    } finally {
      addCounts(this.#counts, mine);
      addCounts(this.#countsByKind.bars, mine);
      addCounts(counts, mine);
    }
  }

  /** The write path of `actions` (see `_keyed_batch.ts`). */
  async #writeKeyed(
    kind: "actions",
    grouping: (reject: (row: unknown, reason: Rejection) => void) => GroupedKeyed,
    counts: WriteCounts,
  ): Promise<void> {
    const mine = emptyCounts();
    try {
      const grouped = grouping((row, reason) => {
        this.#count(mine, reason);
        this.#warnOnce(
          `${kind}:${reason}`,
          `lake: rejected ${kind} row with invalid ${reason} (logged once per table and reason):`,
          describeEventRow(row as EventRow),
        );
      });
      const key = TABLES[kind].key;
      const last = key[key.length - 1];
      await this.#store(
        kind,
        grouped.frame,
        grouped.partitions.map((p) => {
          // Only stored rows within the batch's range of the key's last column can match.
          const lo = last === "ts" ? micros(p.minKey) : pl.lit(p.minKey);
          const hi = last === "ts" ? micros(p.maxKey) : pl.lit(p.maxKey);
          return { ...p, key, stored: pl.col(last).gtEq(lo).and(pl.col(last).ltEq(hi)) };
        }),
        mine,
      );
    } finally {
      addCounts(this.#counts, mine);
      addCounts(this.#countsByKind[kind], mine);
      addCounts(counts, mine);
    }
  }

  #count(counts: WriteCounts, reason: Rejection): void {
    counts.rejected++;
    counts.rejectedBy[reason] = (counts.rejectedBy[reason] ?? 0) + 1;
  }

  #rejectRow(kind: EventKind, row: EventRow, reason: Rejection, counts: WriteCounts) {
    this.#count(counts, reason);
    this.#warnOnce(
      `${kind}:${reason}`,
      `lake: rejected ${kind} row with invalid ${reason} (logged once per table and reason):`,
      describeEventRow(row),
    );
  }

  #warnOnce(key: string, ...message: unknown[]): void {
    if (this.#logged.has(key)) return;
    this.#logged.add(key);
    console.warn(...message);
  }
}
