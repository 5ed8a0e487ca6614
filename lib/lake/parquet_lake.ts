/**
 * The Parquet lake writer: trades partitioned by exchange, symbol and UTC date, written
 * idempotently and atomically.
 * @module
 */
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { Trade } from "../market/types.ts";
import { appendColumns, sqlString, sqlStringList } from "./_duckdb.ts";
import { dayOfMicros, dayToDate, listAllTradePartitions, partitionDir } from "./layout.ts";
import { type TradeRejection, tradeRejection } from "./validate.ts";

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
  /** DuckDB worker threads for writing (default: DuckDB's choice, one per core). */
  readonly threads?: number;
}

/** What writes did: cumulative in {@linkcode ParquetLake.counts}, per call in `lastWrite`. */
export interface WriteCounts {
  /** Rows written to new files. */
  written: number;
  /** Valid rows skipped because their (exchange, symbol, id) was already stored or seen. */
  duplicates: number;
  /** Invalid rows rejected (never written), by reason in `rejectedBy`. */
  rejected: number;
  /** Rejected rows per reason. */
  rejectedBy: Partial<Record<TradeRejection, number>>;
}

/** What one {@linkcode ParquetLake.compact} call did. */
export interface CompactionReport {
  /** Partitions rewritten. */
  partitions: number;
  /** Files merged away (replaced by `partitions` new files). */
  filesMerged: number;
  /** Rows in the new files. */
  rows: number;
}

/** Options of {@linkcode ParquetLake.compact}. */
export interface CompactOptions {
  /** Only this instrument (default: every partition in the lake). */
  readonly exchange?: string;
  /** Only this symbol (with `exchange`). */
  readonly symbol?: string;
}

const STAGE_TABLE = "lake_stage";
const SIDE_CODES = { buy: 0, sell: 1, unknown: 2 } as const;
const SIDE_SQL = "CASE side WHEN 0 THEN 'buy' WHEN 1 THEN 'sell' ELSE 'unknown' END";
const PARQUET_OPTIONS = "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)";
const JOURNAL_PREFIX = ".compact-";

/** One (exchange, symbol, day) group of a batch being written. */
interface BatchPartition {
  readonly exchange: string;
  readonly symbol: string;
  readonly day: number;
  /** Valid rows staged (after in-batch de-duplication once that ran). */
  rows: number;
  lastTs: number;
  lastId: string;
  lastIdNumber: number;
  /** Rows arrived in `(ts, id)` order: the file needs no sort. */
  sorted: boolean;
  /** Ids arrived strictly increasing (see `idFollows`): none can repeat in the batch. */
  increasingIds: boolean;
}

/**
 * A Parquet lake of trades:
 * `ROOT/trades/exchange=X/symbol=Y/date=YYYY-MM-DD/part-<unique>.parquet`, zstd, each file
 * sorted by `(ts, id)`, with columns `id VARCHAR, price DOUBLE, size DOUBLE, side VARCHAR,
 * ts TIMESTAMP, recv_ts TIMESTAMP` (microseconds, UTC); exchange, symbol and date come from
 * the path (hive partitioning, read by DuckDB `hive_partitioning=true` and Polars).
 *
 * Writes are
 * - **validated**: invalid rows (see {@linkcode tradeRejection}) are counted and logged once
 *   per reason, never written;
 * - **idempotent**: a row whose (exchange, symbol, id) is already in its partition, or
 *   earlier in the same batch, is skipped, so replaying a capture twice stores it once;
 * - **atomic**: each file is written under a hidden temporary name
 *   (`.part-<unique>.parquet.tmp`, which no `*.parquet` glob matches) and renamed into place.
 *
 * Rows are staged into an in-memory DuckDB table from column arrays through data chunks,
 * de-duplicated against the partition's existing ids with a semi-join, and written by
 * DuckDB's `COPY ... TO` (the fastest of the options measured, see the project report).
 * Writes through one `ParquetLake` are serialised; use one writer process per lake (two
 * processes writing the same partition at once could both store a row).
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
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;
  readonly #autoCompactFiles: number;
  readonly #smallFileBytes: number;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #counts: WriteCounts = emptyCounts();
  #lastWrite: WriteCounts = emptyCounts();
  readonly #logged = new Set<TradeRejection>();

  private constructor(
    root: string,
    instance: DuckDBInstance,
    connection: DuckDBConnection,
    options: ParquetLakeOptions,
  ) {
    this.root = root;
    this.#instance = instance;
    this.#connection = connection;
    this.#autoCompactFiles = options.autoCompactFiles ?? 32;
    this.#smallFileBytes = options.smallFileBytes ?? 64 * 1024 * 1024;
  }

  /** Opens (and creates) a lake at `options.root`. */
  static async open(options: ParquetLakeOptions): Promise<ParquetLake> {
    if (typeof options?.root !== "string" || options.root.length === 0) {
      throw new TypeError("ParquetLake.open needs a root folder");
    }
    const root = options.root.length > 1 ? options.root.replace(/\/+$/, "") : options.root;
    await Deno.mkdir(root, { recursive: true });
    const config: Record<string, string> = {};
    if (options.threads !== undefined) config.threads = String(options.threads);
    const instance = await DuckDBInstance.create(":memory:", config);
    const connection = await instance.connect();
    return new ParquetLake(root, instance, connection, options);
  }

  /** Counts over every write since the lake was opened. */
  get counts(): Readonly<WriteCounts> {
    return structuredClone(this.#counts);
  }

  /** Counts of the most recent {@linkcode ParquetLake.writeTrades} call. */
  get lastWrite(): Readonly<WriteCounts> {
    return structuredClone(this.#lastWrite);
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
   * Merges the small files (below `smallFileBytes`) of each partition that has at least two
   * into one file sorted by `(ts, id)`. Atomic per partition: a journal naming the new file
   * and the files it replaces is written first, then the merged file under a temporary name,
   * then it is renamed into place and the old files are removed, then the journal. Readers
   * listing files in the short moment between the rename and the removal can see rows twice;
   * a crash in that moment is repaired (old files removed) by the next write to or
   * compaction of that partition.
   */
  compact(options: CompactOptions = {}): Promise<CompactionReport> {
    return this.#enqueue(async () => {
      const report: CompactionReport = { partitions: 0, filesMerged: 0, rows: 0 };
      for (const p of await listAllTradePartitions(this.root)) {
        if (options.exchange !== undefined && p.exchange !== options.exchange) continue;
        if (options.symbol !== undefined && p.symbol !== options.symbol) continue;
        await this.#recover(p.path);
        const merged = await this.#compactPartition(p.path, 2);
        if (merged) {
          report.partitions++;
          report.filesMerged += merged.files;
          report.rows += merged.rows;
        }
      }
      return report;
    });
  }

  /** Waits for pending writes and releases DuckDB. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue.catch(() => {});
    this.#closed = true;
    this.#connection.closeSync();
    this.#instance.closeSync();
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("ParquetLake is closed"));
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #writeTrades(trades: readonly Trade[]): Promise<number> {
    const counts = emptyCounts();
    this.#lastWrite = counts;
    const n = trades.length;
    const ids: string[] = new Array(n);
    const idNumbers = new Float64Array(n);
    const price = new Float64Array(n);
    const size = new Float64Array(n);
    const side = new Uint8Array(n);
    const ts = new Float64Array(n);
    const recvTs = new Float64Array(n);
    const part = new Uint32Array(n);
    const partitions: BatchPartition[] = [];
    const index = new Map<string, number>();
    let numericIds = true;
    let rows = 0;
    let last = -1; // partition of the previous row: consecutive rows mostly share one
    for (const t of trades) {
      const reason = tradeRejection(t);
      if (reason !== undefined) {
        this.#reject(t, reason, counts);
        continue;
      }
      const day = dayOfMicros(t.ts);
      let k = last;
      if (k < 0 || !samePartition(partitions[k], t, day)) {
        const key = `${t.exchange}/${t.symbol}/${day}`;
        k = index.get(key) ?? -1;
        last = k;
      }
      if (k < 0) {
        k = partitions.length;
        last = k;
        index.set(`${t.exchange}/${t.symbol}/${day}`, k);
        partitions.push({
          exchange: t.exchange,
          symbol: t.symbol,
          day,
          rows: 0,
          lastTs: -Infinity,
          lastId: "",
          lastIdNumber: -Infinity,
          sorted: true,
          increasingIds: true,
        });
      }
      const p = partitions[k];
      const id = t.id;
      const idNumber = numericId(id);
      if (idNumber !== idNumber) numericIds = false; // NaN
      if (p.rows > 0) {
        if (t.ts < p.lastTs || (t.ts === p.lastTs && id <= p.lastId)) p.sorted = false;
        if (p.increasingIds && !idFollows(p.lastId, p.lastIdNumber, id, idNumber)) {
          p.increasingIds = false;
        }
      }
      p.lastTs = t.ts;
      p.lastId = id;
      p.lastIdNumber = idNumber;
      p.rows++;
      ids[rows] = id;
      idNumbers[rows] = idNumber;
      price[rows] = t.price;
      size[rows] = t.size;
      side[rows] = SIDE_CODES[t.side];
      ts[rows] = t.ts;
      recvTs[rows] = t.recvTs;
      part[rows] = k;
      rows++;
    }
    try {
      if (rows > 0) {
        const con = this.#connection;
        // Canonical integer ids (the common case) travel as doubles: a native copy per
        // chunk instead of one string per row; SQL turns them back into the same text.
        await con.run(
          `CREATE OR REPLACE TEMP TABLE ${STAGE_TABLE} (p UINTEGER,
           id ${numericIds ? "DOUBLE" : "VARCHAR"}, price DOUBLE, size DOUBLE, side UTINYINT,
           ts DOUBLE, recv_ts DOUBLE)`,
        );
        try {
          ids.length = rows;
          const idColumn = numericIds ? idNumbers : ids;
          await appendColumns(
            con,
            STAGE_TABLE,
            [part, idColumn, price, size, side, ts, recvTs],
            rows,
          );
          await this.#dropBatchDuplicates(partitions, counts);
          const idSql = numericIds ? "CAST(CAST(id AS BIGINT) AS VARCHAR)" : "id";
          for (let k = 0; k < partitions.length; k++) {
            const p = partitions[k];
            if (p.rows === 0) continue;
            const written = await this.#writePartition(k, p, idSql);
            counts.written += written;
            counts.duplicates += p.rows - written;
          }
        } finally {
          await con.run(`DROP TABLE IF EXISTS ${STAGE_TABLE}`);
        }
      }
    } finally {
      addCounts(this.#counts, counts);
    }
    return counts.written;
  }

  /**
   * Removes repeated ids within the staged batch, keeping each id's first row. Skipped for
   * partitions whose ids strictly increase (the usual case), which cannot repeat.
   */
  async #dropBatchDuplicates(partitions: BatchPartition[], counts: WriteCounts): Promise<void> {
    const suspect = partitions.flatMap((p, k) => (p.increasingIds ? [] : [k]));
    if (suspect.length === 0) return;
    const list = suspect.join(", ");
    const result = await this.#connection.run(
      `DELETE FROM ${STAGE_TABLE} WHERE p IN (${list}) AND rowid IN (
         SELECT rowid FROM (
           SELECT rowid, row_number() OVER (PARTITION BY p, id ORDER BY rowid) AS n
           FROM ${STAGE_TABLE} WHERE p IN (${list})
         ) WHERE n > 1)`,
    );
    if (result.rowsChanged === 0) return;
    counts.duplicates += result.rowsChanged;
    const reader = await this.#connection.runAndReadAll(
      `SELECT p::DOUBLE, count(*)::DOUBLE FROM ${STAGE_TABLE} WHERE p IN (${list}) GROUP BY p`,
    );
    for (const k of suspect) partitions[k].rows = 0;
    for (const [k, remaining] of reader.getRows() as number[][]) partitions[k].rows = remaining;
  }

  /** Writes staged partition `k` to a new file; resolves to the rows it stored. */
  async #writePartition(k: number, p: BatchPartition, idSql: string): Promise<number> {
    const dir = partitionDir(this.root, p.exchange, p.symbol, p.day);
    await Deno.mkdir(dir, { recursive: true });
    await this.#recover(dir);
    const existing = await listPartitionFiles(dir);
    const batch = `SELECT ${idSql} FROM ${STAGE_TABLE} WHERE p = ${k}`;
    // The inner semi-join keeps the scan of stored ids cheap: the batch is the build side,
    // so DuckDB can skip row groups whose id range misses the batch's.
    const notStored = existing.length === 0 ? "" : `AND ${idSql} NOT IN (
         SELECT e.id FROM read_parquet(${sqlStringList(existing.map((f) => f.path))},
           hive_partitioning = false) e
         WHERE e.id IN (${batch}))`;
    const name = uniqueName();
    const temporary = `${dir}/.part-${name}.parquet.tmp`;
    const final = `${dir}/part-${name}.parquet`;
    const sql = `COPY (SELECT * FROM (
        SELECT ${idSql} AS id, price, size, ${SIDE_SQL} AS side,
               make_timestamp(CAST(ts AS BIGINT)) AS ts,
               make_timestamp(CAST(recv_ts AS BIGINT)) AS recv_ts
        FROM ${STAGE_TABLE} WHERE p = ${k} ${notStored})
        ${p.sorted ? "" : "ORDER BY ts, id"}
      ) TO ${sqlString(temporary)} ${PARQUET_OPTIONS}`;
    let written = 0;
    try {
      const result = await this.#connection.run(sql);
      written = result.rowsChanged;
      if (written > 0) await Deno.rename(temporary, final);
    } finally {
      if (written === 0) await removeIfExists(temporary);
    }
    if (written > 0) {
      const small = existing.filter((f) => f.size < this.#smallFileBytes).length + 1;
      if (small > this.#autoCompactFiles) {
        await this.#compactPartition(dir, 2, (files) => largestTier(files));
      }
    }
    return written;
  }

  /** Merges the partition's small files if there are at least `minFiles` of them. */
  async #compactPartition(
    dir: string,
    minFiles: number,
    choose: (small: PartitionFile[]) => PartitionFile[] = (small) => small,
  ): Promise<{ files: number; rows: number } | undefined> {
    const small = (await listPartitionFiles(dir)).filter((f) => f.size < this.#smallFileBytes);
    const inputs = choose(small);
    if (inputs.length < minFiles) return undefined;
    const name = uniqueName();
    const final = `part-${name}.parquet`;
    const temporary = `${dir}/.part-${name}.parquet.tmp`;
    const journal = `${dir}/${JOURNAL_PREFIX}${name}.json`;
    const journalText = JSON.stringify({ output: final, inputs: inputs.map((f) => f.name) });
    await Deno.writeTextFile(journal + ".tmp", journalText);
    await Deno.rename(journal + ".tmp", journal);
    let rows = 0;
    try {
      const result = await this.#connection.run(
        `COPY (SELECT id, price, size, side, ts, recv_ts FROM read_parquet(
           ${sqlStringList(inputs.map((f) => f.path))}, hive_partitioning = false)
         ORDER BY ts, id) TO ${sqlString(temporary)} ${PARQUET_OPTIONS}`,
      );
      rows = result.rowsChanged;
      await Deno.rename(temporary, `${dir}/${final}`);
    } catch (err) {
      await removeIfExists(temporary);
      await removeIfExists(journal);
      throw err;
    }
    for (const f of inputs) await removeIfExists(f.path);
    await removeIfExists(journal);
    return { files: inputs.length, rows };
  }

  /** Finishes or rolls back a compaction interrupted in `dir` (see `compact`). */
  async #recover(dir: string): Promise<void> {
    for await (const e of readDirOrEmpty(dir)) {
      if (!e.isFile || !e.name.startsWith(JOURNAL_PREFIX)) continue;
      const path = `${dir}/${e.name}`;
      if (!e.name.endsWith(".json")) {
        await removeIfExists(path); // a journal that was never renamed into place
        continue;
      }
      const journal = JSON.parse(await Deno.readTextFile(path)) as {
        output: string;
        inputs: string[];
      };
      if (await exists(`${dir}/${journal.output}`)) {
        for (const input of journal.inputs) await removeIfExists(`${dir}/${input}`);
      } else {
        await removeIfExists(`${dir}/.${journal.output}.tmp`);
      }
      await removeIfExists(path);
    }
  }

  #reject(t: Trade, reason: TradeRejection, counts: WriteCounts): void {
    counts.rejected++;
    counts.rejectedBy[reason] = (counts.rejectedBy[reason] ?? 0) + 1;
    if (!this.#logged.has(reason)) {
      this.#logged.add(reason);
      console.warn(
        `lake: rejected trade with invalid ${reason} (logged once per reason):`,
        describeTrade(t),
      );
    }
  }
}

function samePartition(p: BatchPartition, t: Trade, day: number): boolean {
  return p.day === day && p.symbol === t.symbol && p.exchange === t.exchange;
}

/**
 * The value of a canonical integer id (`"0"`, `"123"`, at most 15 digits, no sign or leading
 * zero), whose text `String(value)` gives back exactly; `NaN` for any other id.
 */
function numericId(id: string): number {
  const n = id.length;
  if (n === 0 || n > 15) return NaN;
  if (id.charCodeAt(0) === 48) return n === 1 ? 0 : NaN;
  for (let i = 0; i < n; i++) {
    const c = id.charCodeAt(i);
    if (c < 48 || c > 57) return NaN;
  }
  return +id;
}

/**
 * Whether `id` comes strictly after `previous` in one fixed total order of ids: canonical
 * integers first, by value, then other ids by text. A batch whose ids keep following each
 * other has no repeated id.
 */
function idFollows(
  previous: string,
  previousNumber: number,
  id: string,
  idNumber: number,
): boolean {
  const prevNumeric = previousNumber === previousNumber;
  const numeric = idNumber === idNumber;
  if (prevNumeric && numeric) return idNumber > previousNumber;
  if (prevNumeric !== numeric) return prevNumeric;
  return id > previous;
}

function describeTrade(t: Trade): string {
  const date = Number.isFinite(t?.ts) ? dayToDate(dayOfMicros(t.ts)) : "?";
  return `exchange=${t?.exchange} symbol=${t?.symbol} id=${t?.id} price=${t?.price} ` +
    `size=${t?.size} side=${t?.side} ts=${t?.ts} (${date}) recvTs=${t?.recvTs}`;
}

function emptyCounts(): WriteCounts {
  return { written: 0, duplicates: 0, rejected: 0, rejectedBy: {} };
}

function addCounts(into: WriteCounts, from: WriteCounts): void {
  into.written += from.written;
  into.duplicates += from.duplicates;
  into.rejected += from.rejected;
  for (const [reason, n] of Object.entries(from.rejectedBy)) {
    const r = reason as TradeRejection;
    into.rejectedBy[r] = (into.rejectedBy[r] ?? 0) + n;
  }
}

/**
 * The files of the most populated size tier (sizes within a factor of 4, from 64 KiB up):
 * automatic compaction merges files of similar size, so each row is rewritten about
 * log4(final size / flush size) times over a day instead of at every compaction.
 */
function largestTier(files: PartitionFile[]): PartitionFile[] {
  const tiers = new Map<number, PartitionFile[]>();
  for (const f of files) {
    const tier = Math.max(0, Math.floor(Math.log(f.size / 65_536) / Math.log(4)));
    tiers.set(tier, [...(tiers.get(tier) ?? []), f]);
  }
  let best: PartitionFile[] = [];
  for (const [, members] of [...tiers].sort(([a], [b]) => a - b)) {
    if (members.length > best.length) best = members;
  }
  return best;
}

/** Time-ordered, collision-resistant file stem. */
function uniqueName(): string {
  const time = Date.now().toString(36).padStart(9, "0");
  const random = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  return `${time}-${random}`;
}

interface PartitionFile {
  readonly name: string;
  readonly path: string;
  readonly size: number;
}

async function listPartitionFiles(dir: string): Promise<PartitionFile[]> {
  const out: PartitionFile[] = [];
  for await (const e of readDirOrEmpty(dir)) {
    if (!e.isFile || !e.name.endsWith(".parquet") || e.name.startsWith(".")) continue;
    const path = `${dir}/${e.name}`;
    try {
      out.push({ name: e.name, path, size: (await Deno.stat(path)).size });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function* readDirOrEmpty(dir: string): AsyncIterable<Deno.DirEntry> {
  try {
    yield* Deno.readDir(dir);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}
