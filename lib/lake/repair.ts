/**
 * Repair of a lake that already holds a row twice (two writers at once, before the
 * one-writer lock existed): each partition whose files hold a key more than once is
 * rewritten as one file holding each key once, sorted in the table's file order. The key
 * and the copy kept are the table spec's (`lakeKey`, `keep`): the trade id for `trades` and
 * `(ts, recv_ts, digest)` for the event tables, the first stored copy kept; `(interval_us,
 * ts)` for the `year=` partitions of `bars`, the last stored copy kept (newest bar wins).
 *
 * The rewrite uses the lake's compaction journal (`.compact-<name>.json` naming the new file
 * and the files it replaces, see `ParquetLake.compact`), so a repair killed at any moment is
 * finished or rolled back by the next write, compaction or repair of that partition.
 * @module
 */
import pl from "nodejs-polars";
import { TABLES } from "../schema/tables.ts";
import { listAllPartitions, PARTITIONED_TABLES, type PartitionedTable } from "./layout.ts";
import { ParquetLake } from "./parquet_lake.ts";
import { scanLakeFiles } from "./scan_files.ts";
import { recoverPartition, replaceFiles } from "./compactor.ts";
import type { WriterLockOptions } from "./writer_lock.ts";

/** Options of {@linkcode repairLake}. */
export interface RepairOptions {
  /** Lake root folder. */
  readonly root: string;
  /** Count the duplicates only; change nothing (default false). */
  readonly dryRun?: boolean;
  /** Only these tables (default: all, {@linkcode PARTITIONED_TABLES}, bars included). */
  readonly kinds?: readonly PartitionedTable[];
  /** How to take the lake's writer lock (default: refuse when another writer holds it). */
  readonly lock?: WriterLockOptions;
}

/** One partition that held duplicates. */
export interface RepairedPartition {
  readonly kind: PartitionedTable;
  readonly exchange: string;
  readonly symbol: string;
  /** The partition's folder: `date=YYYY-MM-DD` (UTC), or `year=YYYY` for bars. */
  readonly folder: string;
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
  duplicatesByKind: Partial<Record<PartitionedTable, number>>;
  /** Every partition that held duplicates. */
  partitions: RepairedPartition[];
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
  const kinds = options.kinds ?? PARTITIONED_TABLES;
  for (const kind of kinds) {
    if (!PARTITIONED_TABLES.includes(kind)) {
      throw new TypeError(`repairLake: not a lake table: ${kind}`);
    }
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
        if (!dryRun) report.journalsRecovered += await recoverPartition(p.path);
        const files = await parquetFiles(p.path);
        if (files.length === 0) continue;
        report.partitionsChecked++;
        const found = await repairPartition(p.path, kind, files, dryRun);
        if (found === undefined) continue;
        report.partitions.push({
          kind,
          exchange: p.exchange,
          symbol: p.symbol,
          folder: p.folder,
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
  kind: PartitionedTable,
  files: string[],
  dryRun: boolean,
): Promise<{ rows: number; duplicates: number; files: number } | undefined> {
  const spec = TABLES[kind];
  const key = [...spec.lakeKey];
  const scan = () =>
    pl.concat(files.map((f) => scanLakeFiles(kind, `${dir}/${f}`, { glob: false })));
  const keys = await scan().select(...key).collect();
  const distinct = keys.unique({ subset: key }).height;
  const duplicates = keys.height - distinct;
  if (duplicates === 0) return undefined;
  if (dryRun) return { rows: keys.height, duplicates, files: 0 };
  // Files are named in write order: "first" keeps the copy stored first, "last" the newest.
  const kept = await scan().unique({ subset: key, keep: spec.keep, maintainOrder: true })
    .sort([...spec.fileOrder]).collect();
  if (kept.height !== distinct) {
    throw new Error(`repair of ${dir}: ${kept.height} rows kept, ${distinct} distinct keys`);
  }
  await replaceFiles(dir, files, kept);
  return { rows: keys.height, duplicates, files: files.length };
}

/** The partition's visible Parquet files, by name (that is, in write order). */
async function parquetFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".parquet") && !e.name.startsWith(".")) out.push(e.name);
  }
  return out.sort();
}
