/**
 * Upgrade of a lake written before columns were added to its tables (a column whose spec
 * has an `absent` value, such as trades' `backfilled`, see `TableSpec.columns`): every file
 * lacking such a column is rewritten with the column holding its `absent` value, so that
 * every file of a table has the same schema again. Readers cope with old files (the Polars
 * scans insert the column, lake SQL unions the files by name), but a lake whose files all
 * hold every column gets the plain SQL view, which opens only the partitions a query names.
 *
 * Each old file is rewritten on its own, under the same name: the new file is written under
 * a temporary name no `*.parquet` glob matches (`.upgrade-<file>.tmp`), its row count is
 * checked against the old file's, and it is renamed over the old file. The rename replaces
 * the file atomically, so a reader sees either the old file or the new one, never both and
 * never neither; a run killed before the rename leaves the old file as it was and a
 * temporary file the next run removes. The file keeps its name, so the order of files (the
 * order the lake wrote them, which `keep: "first"` relies on) is unchanged. The lake's
 * writer lock is held throughout; a second run finds nothing to rewrite.
 * @module
 */
import pl from "nodejs-polars";
import { type ColumnSpec, TABLES } from "../schema/tables.ts";
import { listAllPartitions, PARTITIONED_TABLES, type PartitionedTable } from "./layout.ts";
import { ParquetLake } from "./parquet_lake.ts";
import { scanLakeFiles } from "./scan_files.ts";
import { recoverPartition } from "./compactor.ts";
import { listPartitionFiles, PARQUET_OPTIONS, readDirOrEmpty, removeIfExists } from "./_files.ts";
import type { WriterLockOptions } from "./writer_lock.ts";

/** Prefix of the temporary file of an upgrade in progress (`.upgrade-<file>.tmp`). */
const TEMP_PREFIX = ".upgrade-";
const TEMP_SUFFIX = ".tmp";

/** Options of {@linkcode upgradeLake}. */
export interface UpgradeOptions {
  /** Lake root folder. */
  readonly root: string;
  /** Find the files to rewrite and count their rows only; change nothing (default false). */
  readonly dryRun?: boolean;
  /** Only these tables (default: all, {@linkcode PARTITIONED_TABLES}). */
  readonly kinds?: readonly PartitionedTable[];
  /** How to take the lake's writer lock (default: refuse when another writer holds it). */
  readonly lock?: WriterLockOptions;
  /**
   * Called after a file's new version is complete under its temporary name, before it is
   * renamed over the old file (for tests of an interrupted upgrade: a hook that throws
   * stops the run there).
   */
  readonly beforeRename?: (temporary: string, target: string) => void | Promise<void>;
}

/** One file rewritten (or, in a dry run, to rewrite). */
export interface UpgradedFile {
  readonly kind: PartitionedTable;
  readonly exchange: string;
  readonly symbol: string;
  /** The partition's folder: `date=YYYY-MM-DD` (UTC), or `year=YYYY` for bars. */
  readonly folder: string;
  /** The file's name (unchanged by the upgrade). */
  readonly file: string;
  /** Its rows. */
  readonly rows: number;
  /** The columns it lacked, which now hold their `absent` value. */
  readonly added: readonly string[];
}

/** What {@linkcode upgradeLake} found and did. */
export interface UpgradeReport {
  readonly dryRun: boolean;
  /** Partitions read (of the tables that have added columns). */
  partitionsChecked: number;
  /** Files whose schema was read. */
  filesChecked: number;
  /** Files rewritten (or, in a dry run, to rewrite) and their rows, per table. */
  byKind: Partial<Record<PartitionedTable, { files: number; rows: number }>>;
  /** Every file rewritten (or, in a dry run, to rewrite). */
  files: UpgradedFile[];
  /** Temporary files of an interrupted upgrade removed. */
  tempsRemoved: number;
  /** Interrupted compactions or repairs finished or rolled back. */
  journalsRecovered: number;
}

/** The columns of `kind` added after its first files: in the files, with an `absent` value. */
export function addedColumns(kind: PartitionedTable): ColumnSpec[] {
  return TABLES[kind].columns.filter((c) => c.lake === "file" && c.absent !== undefined);
}

/**
 * Rewrites (unless `dryRun`) every lake file lacking a column added to its table since,
 * holding the lake's writer lock throughout (see the module documentation).
 * @throws {LakeLockedError} when another writer holds the lake.
 * @throws {TypeError} for a table that is not in the lake.
 *
 * @example
 * ```ts ignore
 * const report = await upgradeLake({ root: "data/lake" });
 * console.log(report.byKind); // { trades: { files: 12, rows: 3400000 } }
 * ```
 */
export async function upgradeLake(options: UpgradeOptions): Promise<UpgradeReport> {
  const kinds = options.kinds ?? PARTITIONED_TABLES;
  for (const kind of kinds) {
    if (!PARTITIONED_TABLES.includes(kind)) {
      throw new TypeError(`upgradeLake: not a lake table: ${kind}`);
    }
  }
  const dryRun = options.dryRun ?? false;
  const lake = await ParquetLake.open({
    root: options.root,
    lock: options.lock,
    autoCompactFiles: Infinity,
  });
  const report: UpgradeReport = {
    dryRun,
    partitionsChecked: 0,
    filesChecked: 0,
    byKind: {},
    files: [],
    tempsRemoved: 0,
    journalsRecovered: 0,
  };
  try {
    for (const kind of kinds) {
      const added = addedColumns(kind);
      if (added.length === 0) continue;
      for (const p of await listAllPartitions(lake.root, kind)) {
        if (!dryRun) {
          report.tempsRemoved += await removeTemps(p.path);
          report.journalsRecovered += await recoverPartition(p.path);
        }
        const files = await listPartitionFiles(p.path);
        if (files.length === 0) continue;
        report.partitionsChecked++;
        for (const f of files) {
          report.filesChecked++;
          const present = new Set(scan(f.path).columns);
          const missing = added.filter((c) => !present.has(c.name)).map((c) => c.name);
          if (missing.length === 0) continue;
          const rows = dryRun
            ? await rowCount(f.path)
            : await rewrite(kind, f.path, `${p.path}/${TEMP_PREFIX}${f.name}${TEMP_SUFFIX}`, {
              beforeRename: options.beforeRename,
            });
          const { exchange, symbol, folder } = p;
          report.files.push({ kind, exchange, symbol, folder, file: f.name, rows, added: missing });
          const total = report.byKind[kind] ?? { files: 0, rows: 0 };
          report.byKind[kind] = { files: total.files + 1, rows: total.rows + rows };
        }
      }
    }
  } finally {
    await lake.close();
  }
  return report;
}

/** A scan of one file as it is (its own columns, no hive columns). */
function scan(path: string): pl.LazyDataFrame {
  return pl.scanParquet(path, { glob: false, hivePartitioning: false });
}

/** The rows of one Parquet file. */
async function rowCount(path: string): Promise<number> {
  const counted = await scan(path).select(pl.len().alias("n")).collect();
  return Number(counted.getColumn("n").get(0));
}

/**
 * Writes `path`'s rows with every column of the table (in the table's order, added ones
 * holding their `absent` value) to `temporary`, checks the row count and renames it over
 * `path`; the temporary file is removed when anything fails. Resolves to the rows.
 */
async function rewrite(
  kind: PartitionedTable,
  path: string,
  temporary: string,
  hooks: Pick<UpgradeOptions, "beforeRename">,
): Promise<number> {
  const columns = TABLES[kind].columns.filter((c) => c.lake === "file").map((c) => c.name);
  const before = await rowCount(path);
  try {
    await scanLakeFiles(kind, path, { glob: false }).select(...columns)
      .sinkParquet(temporary, PARQUET_OPTIONS).collect();
    const after = await rowCount(temporary);
    if (after !== before) {
      throw new Error(`upgrade of ${path}: ${after} rows written, the file holds ${before}`);
    }
    await hooks.beforeRename?.(temporary, path);
    await Deno.rename(temporary, path);
  } catch (err) {
    await removeIfExists(temporary);
    throw err;
  }
  return before;
}

/** Removes the temporary files of an interrupted upgrade in `dir`; resolves to how many. */
async function removeTemps(dir: string): Promise<number> {
  let removed = 0;
  for await (const e of readDirOrEmpty(dir)) {
    if (e.isFile && e.name.startsWith(TEMP_PREFIX) && e.name.endsWith(TEMP_SUFFIX)) {
      await removeIfExists(`${dir}/${e.name}`);
      removed++;
    }
  }
  return removed;
}
