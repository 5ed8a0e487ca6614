/**
 * Repair of a lake that already holds a row twice (two writers at once, before the
 * one-writer lock existed): each partition whose files hold a key more than once is
 * rewritten as one file holding each key once (the first stored copy), sorted in the
 * table's file order. Key: the trade id for `trades`, `(ts, recv_ts, digest)` for the
 * event tables (exchange, symbol and date are the partition).
 *
 * The rewrite uses the lake's compaction journal (`.compact-<name>.json` naming the new file
 * and the files it replaces, see `ParquetLake.compact`), so a repair killed at any moment is
 * finished or rolled back by the next write, compaction or repair of that partition.
 * @module
 */
import pl from "nodejs-polars";
import { TABLES } from "../schema/tables.ts";
import { dayToDate, LAKE_KINDS, type LakeKind, listAllPartitions } from "./layout.ts";
import { ParquetLake } from "./parquet_lake.ts";
import type { WriterLockOptions } from "./writer_lock.ts";

/** Options of {@linkcode repairLake}. */
export interface RepairOptions {
  /** Lake root folder. */
  readonly root: string;
  /** Count the duplicates only; change nothing (default false). */
  readonly dryRun?: boolean;
  /** Only these tables (default: all, {@linkcode LAKE_KINDS}). */
  readonly kinds?: readonly LakeKind[];
  /** How to take the lake's writer lock (default: refuse when another writer holds it). */
  readonly lock?: WriterLockOptions;
}

/** One partition that held duplicates. */
export interface RepairedPartition {
  readonly kind: LakeKind;
  readonly exchange: string;
  readonly symbol: string;
  /** `YYYY-MM-DD` (UTC). */
  readonly date: string;
  /** Rows before the repair. */
  readonly rows: number;
  /** Rows removed (`rows` minus distinct keys). */
  readonly duplicates: number;
  /** Files replaced by one file (0 in a dry run). */
  readonly files: number;
}

/** What {@linkcode repairLake} found and did. */
export interface RepairReport {
  readonly dryRun: boolean;
  /** Partitions read. */
  partitionsChecked: number;
  /** Interrupted compactions or repairs finished or rolled back. */
  journalsRecovered: number;
  /** Duplicate rows removed (or, in a dry run, found), per table. */
  duplicatesByKind: Partial<Record<LakeKind, number>>;
  /** Every partition that held duplicates. */
  partitions: RepairedPartition[];
}

const JOURNAL_PREFIX = ".compact-";
const PARQUET_OPTIONS = { compression: "zstd", rowGroupSize: 131_072 } as const;

/** The key of a table's rows within a partition, and the order of rows in its files. */
function tableKey(kind: LakeKind): { key: string[]; order: string[] } {
  return kind === "trades"
    ? { key: ["id"], order: ["ts", "id"] }
    : { key: [...TABLES[kind].key], order: [...TABLES[kind].fileOrder] };
}

/**
 * Finds and (unless `dryRun`) removes rows a lake holds more than once, holding the lake's
 * writer lock throughout.
 * @throws {LakeLockedError} when another writer holds the lake.
 *
 * @example
 * ```ts ignore
 * const report = await repairLake({ root: "data/lake" });
 * console.log(report.duplicatesByKind); // { trades: 5 }
 * ```
 */
export async function repairLake(options: RepairOptions): Promise<RepairReport> {
  const kinds = options.kinds ?? LAKE_KINDS;
  for (const kind of kinds) {
    if (!LAKE_KINDS.includes(kind)) throw new TypeError(`repairLake: not a lake table: ${kind}`);
  }
  const dryRun = options.dryRun ?? false;
  const lake = await ParquetLake.open({
    root: options.root,
    lock: options.lock,
    autoCompactFiles: Infinity,
  });
  const report: RepairReport = {
    dryRun,
    partitionsChecked: 0,
    journalsRecovered: 0,
    duplicatesByKind: {},
    partitions: [],
  };
  try {
    for (const kind of kinds) {
      for (const p of await listAllPartitions(lake.root, kind)) {
        if (!dryRun) report.journalsRecovered += await recoverJournals(p.path);
        const files = await parquetFiles(p.path);
        if (files.length === 0) continue;
        report.partitionsChecked++;
        const found = await repairPartition(p.path, kind, files, dryRun);
        if (found === undefined) continue;
        report.partitions.push({
          kind,
          exchange: p.exchange,
          symbol: p.symbol,
          date: dayToDate(p.day),
          ...found,
        });
        report.duplicatesByKind[kind] = (report.duplicatesByKind[kind] ?? 0) + found.duplicates;
      }
    }
  } finally {
    await lake.close();
  }
  return report;
}

/** Counts a partition's duplicate keys and, unless `dryRun`, rewrites it without them. */
async function repairPartition(
  dir: string,
  kind: LakeKind,
  files: string[],
  dryRun: boolean,
): Promise<{ rows: number; duplicates: number; files: number } | undefined> {
  const { key, order } = tableKey(kind);
  const scan = () =>
    pl.concat(files.map((f) => pl.scanParquet(`${dir}/${f}`, { hivePartitioning: false })));
  const keys = await scan().select(...key).collect();
  const distinct = keys.unique({ subset: key }).height;
  const duplicates = keys.height - distinct;
  if (duplicates === 0) return undefined;
  if (dryRun) return { rows: keys.height, duplicates, files: 0 };
  // Files are named in write order: "first" keeps the copy stored first.
  const kept = await scan().unique({ subset: key, keep: "first", maintainOrder: true })
    .sort(order).collect();
  if (kept.height !== distinct) {
    throw new Error(`repair of ${dir}: ${kept.height} rows kept, ${distinct} distinct keys`);
  }
  const name = uniqueName();
  const output = `part-${name}.parquet`;
  const temporary = `${dir}/.${output}.tmp`;
  const journal = `${dir}/${JOURNAL_PREFIX}${name}.json`;
  await Deno.writeTextFile(journal + ".tmp", JSON.stringify({ output, inputs: files }));
  await Deno.rename(journal + ".tmp", journal);
  try {
    await kept.lazy().sinkParquet(temporary, PARQUET_OPTIONS).collect();
    await Deno.rename(temporary, `${dir}/${output}`);
  } catch (err) {
    await removeIfExists(temporary);
    await removeIfExists(journal);
    throw err;
  }
  for (const f of files) await removeIfExists(`${dir}/${f}`);
  await removeIfExists(journal);
  return { rows: keys.height, duplicates, files: files.length };
}

/**
 * Finishes (new file in place: inputs removed) or rolls back (temporary output removed) the
 * compactions and repairs interrupted in `dir`, as `ParquetLake` does before writing.
 */
async function recoverJournals(dir: string): Promise<number> {
  let recovered = 0;
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !e.name.startsWith(JOURNAL_PREFIX)) continue;
    const path = `${dir}/${e.name}`;
    recovered++;
    if (!e.name.endsWith(".json")) {
      await removeIfExists(path);
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
  return recovered;
}

/** The partition's visible Parquet files, by name (that is, in write order). */
async function parquetFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".parquet") && !e.name.startsWith(".")) out.push(e.name);
  }
  return out.sort();
}

/** Time-ordered file stem, like the lake's own. */
function uniqueName(): string {
  const time = Date.now().toString(36).padStart(9, "0");
  return `${time}-${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
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
