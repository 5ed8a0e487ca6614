/**
 * The lake's compactor: merges a partition's small files into one file in its table's
 * order, atomically (a journal names the new file and the files it replaces; see
 * {@linkcode Compactor.compactPartition}), and finishes or rolls back a compaction a crash
 * interrupted ({@linkcode Compactor.recover}). Files whose ranges in the table's file
 * order do not overlap (a live collector's flushes) are concatenated row group by row group
 * without decoding a page (`_concat_plan.ts`, `parquet/concat.ts`); others are merged by
 * Polars, imported when such a merge runs, not with this module (a collector whose
 * compactions only concatenate never loads it).
 * @module
 */
import type pl from "nodejs-polars";
import { TABLES } from "../schema/tables.ts";
import { listAllPartitions, type PartitionedTable } from "./layout.ts";
import type { CompactionReport, CompactOptions } from "./write_counts.ts";
import {
  exists,
  listPartitionFiles,
  PARQUET_OPTIONS,
  type PartitionFile,
  readDirOrEmpty,
  removeIfExists,
  uniqueName,
} from "./_files.ts";
import { concatOrder } from "./_concat_plan.ts";
import { concatParquetFiles } from "./parquet/concat.ts";

const JOURNAL_PREFIX = ".compact-";

/** What merging one partition did. */
export interface MergedFiles {
  /** Files merged away. */
  readonly files: number;
  /** Rows in the new file. */
  readonly rows: number;
  /** The names of the files merged away and of the new file. */
  readonly inputs: readonly string[];
  readonly output: string;
  /** How: row groups concatenated as they are, or rows merged and sorted by Polars. */
  readonly method: "concat" | "polars";
}

/** Options of a {@linkcode Compactor}. */
export interface CompactorOptions {
  /** Files at least this large are left alone. */
  readonly smallFileBytes: number;
  /** After a write leaves more small files than this in a partition, a tier is merged. */
  readonly autoCompactFiles: number;
  /**
   * Files are concatenated (no Polars) only into a file of at most this many row groups
   * (default {@linkcode MAX_CONCAT_ROW_GROUPS}); beyond, Polars merges them into large ones.
   */
  readonly maxConcatRowGroups?: number;
}

/**
 * The default {@linkcode CompactorOptions.maxConcatRowGroups}: a footer of about 1 KB per row
 * group of ten columns stays about 1 MB, and a collector flushing a partition every second
 * merges with Polars about every 17 minutes instead of every 32 seconds.
 */
export const MAX_CONCAT_ROW_GROUPS = 1024;

/** Merges small files of partitions (see the module documentation). */
export class Compactor {
  readonly #smallFileBytes: number;
  readonly #autoCompactFiles: number;
  readonly #maxConcatRowGroups: number;

  constructor(options: CompactorOptions) {
    this.#smallFileBytes = options.smallFileBytes;
    this.#autoCompactFiles = options.autoCompactFiles;
    this.#maxConcatRowGroups = options.maxConcatRowGroups ?? MAX_CONCAT_ROW_GROUPS;
    if (!(Number.isInteger(this.#maxConcatRowGroups) && this.#maxConcatRowGroups >= 0)) {
      throw new RangeError(
        `maxConcatRowGroups must be an integer >= 0, got ${options.maxConcatRowGroups}`,
      );
    }
  }

  /**
   * Called after a write added one file to `dir` (which held `existing` before): merges the
   * most numerous tier of similar-sized small files when there are too many small files.
   * Resolves to what was merged, if anything.
   */
  async afterWrite(
    dir: string,
    kind: PartitionedTable,
    existing: readonly PartitionFile[],
  ): Promise<MergedFiles | undefined> {
    const small = existing.filter((f) => f.size < this.#smallFileBytes).length + 1;
    if (small <= this.#autoCompactFiles) return undefined;
    return await this.compactPartition(dir, kind, 2, (files) => largestTier(files));
  }

  /**
   * Merges the partition's small files (those `choose` picks, default all) if there are at
   * least `minFiles` of them: a journal first, then the merged file under a temporary name,
   * renamed into place, then the old files and the journal are removed.
   */
  async compactPartition(
    dir: string,
    kind: PartitionedTable,
    minFiles: number,
    choose: (small: PartitionFile[]) => PartitionFile[] = (small) => small,
  ): Promise<MergedFiles | undefined> {
    const small = (await listPartitionFiles(dir)).filter((f) => f.size < this.#smallFileBytes);
    const inputs = choose(small);
    if (inputs.length < minFiles) return undefined;
    const names = inputs.map((f) => f.name);
    const ordered = await concatOrder(kind, inputs, this.#maxConcatRowGroups);
    if (ordered !== undefined) {
      let rows = 0;
      const output = await replaceFilesWith(dir, names, async (temporary) => {
        rows = (await concatParquetFiles(ordered.map((f) => f.path), temporary)).rows;
      });
      return { files: inputs.length, rows, inputs: names, output, method: "concat" };
    }
    const { default: pl } = await import("nodejs-polars");
    const { scanLakeFiles } = await import("./scan_files.ts");
    const merged = await pl.concat(
      inputs.map((f) => scanLakeFiles(kind, f.path, { glob: false })),
    ).sort([...TABLES[kind].fileOrder]).collect();
    const output = await replaceFiles(dir, names, merged);
    return { files: inputs.length, rows: merged.height, inputs: names, output, method: "polars" };
  }

  /**
   * Merges the small files of every partition holding at least two, in the tables of
   * `options.kinds` (bars' `year=` partitions too) and the instrument it names, if any.
   */
  async compactLake(
    root: string,
    options: CompactOptions & { readonly kinds: readonly PartitionedTable[] },
  ): Promise<CompactionReport> {
    const report: CompactionReport = { partitions: 0, filesMerged: 0, rows: 0 };
    for (const kind of options.kinds) {
      for (const p of await listAllPartitions(root, kind)) {
        if (options.exchange !== undefined && p.exchange !== options.exchange) continue;
        if (options.symbol !== undefined && p.symbol !== options.symbol) continue;
        await recoverPartition(p.path);
        const merged = await this.compactPartition(p.path, kind, 2);
        if (merged) {
          report.partitions++;
          report.filesMerged += merged.files;
          report.rows += merged.rows;
        }
      }
    }
    return report;
  }

  /** Finishes or rolls back a compaction interrupted in `dir` (see {@linkcode recoverPartition}). */
  async recover(dir: string): Promise<void> {
    await recoverPartition(dir);
  }
}

/**
 * Finishes (new file in place: inputs removed) or rolls back (temporary output removed) the
 * compactions and repairs interrupted in partition `dir`; resolves to how many there were.
 */
export async function recoverPartition(dir: string): Promise<number> {
  let recovered = 0;
  for await (const e of readDirOrEmpty(dir)) {
    if (!e.isFile || !e.name.startsWith(JOURNAL_PREFIX)) continue;
    const path = `${dir}/${e.name}`;
    recovered++;
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
  return recovered;
}

/**
 * Replaces the files `inputs` (names in `dir`) by one file holding `rows`, atomically: a
 * journal naming the new file and the files it replaces is written first, then the new file
 * under a temporary name, renamed into place, then the inputs and the journal are removed
 * (a crash at any moment is finished or rolled back by {@linkcode recoverPartition}).
 * Resolves to the new file's name.
 */
export async function replaceFiles(
  dir: string,
  inputs: readonly string[],
  rows: pl.DataFrame,
): Promise<string> {
  return await replaceFilesWith(dir, inputs, async (temporary) => {
    await rows.lazy().sinkParquet(temporary, PARQUET_OPTIONS).collect();
  });
}

/**
 * {@linkcode replaceFiles} with the new file written by `write` (given the temporary path),
 * under the same journal and renames.
 */
export async function replaceFilesWith(
  dir: string,
  inputs: readonly string[],
  write: (temporary: string) => Promise<void>,
): Promise<string> {
  const name = uniqueName();
  const final = `part-${name}.parquet`;
  const temporary = `${dir}/.part-${name}.parquet.tmp`;
  const journal = `${dir}/${JOURNAL_PREFIX}${name}.json`;
  await Deno.writeTextFile(journal + ".tmp", JSON.stringify({ output: final, inputs }));
  await Deno.rename(journal + ".tmp", journal);
  try {
    await write(temporary);
    await Deno.rename(temporary, `${dir}/${final}`);
  } catch (err) {
    await removeIfExists(temporary);
    await removeIfExists(journal);
    throw err;
  }
  for (const input of inputs) await removeIfExists(`${dir}/${input}`);
  await removeIfExists(journal);
  return final;
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
