/**
 * The lake's partition writer: stores one partition's new rows of a batch in one new file,
 * for every table alike. Rows whose key is already stored in the partition (or earlier in
 * the batch) are dropped, the rest are sorted in the table's file order, written under a
 * hidden temporary name and renamed into place; then the {@linkcode Compactor} merges small
 * files if there are too many.
 * @module
 */
import pl from "nodejs-polars";
import { TABLES } from "../schema/tables.ts";
import { type LakeKind, partitionDir } from "./layout.ts";
import {
  listPartitionFiles,
  PARQUET_OPTIONS,
  type PartitionFile,
  removeIfExists,
  uniqueName,
} from "./_files.ts";
import type { Compactor } from "./compactor.ts";

/** The tables with list columns, whose one-row-group files `writeParquet` encodes. */
const LIST_TABLES: ReadonlySet<LakeKind> = new Set(["book_snapshots", "book_changes"]);

/** One partition's rows of a batch, for {@linkcode PartitionWriter.write}. */
export interface PartitionRows {
  readonly kind: LakeKind;
  readonly exchange: string;
  readonly symbol: string;
  /** UTC day number. */
  readonly day: number;
  /** The rows, with the file's columns. */
  readonly rows: pl.LazyDataFrame;
  /** The idempotency key within the partition (`id`, or `ts, recv_ts, digest`). */
  readonly key: readonly string[];
  /** The batch's keys strictly increase: none repeats, no de-duplication pass needed. */
  readonly unique: boolean;
  /** The rows are in file order already: no sort needed. */
  readonly sorted: boolean;
  /**
   * A predicate on stored rows that holds for every stored row that can share a key with
   * the batch (a key range): it lets Polars skip row groups by their statistics.
   */
  readonly stored: pl.Expr;
  /**
   * Called once just before or while the new file is encoded (not when nothing is
   * written): JavaScript work that may overlap the encoding when it runs on Polars'
   * threads (files of more than one row group), such as a full collection.
   */
  readonly whileEncoding?: () => void;
}

/** Writes partitions' new rows (see the module documentation). */
export class PartitionWriter {
  readonly #root: string;
  readonly #compactor: Compactor;

  constructor(root: string, compactor: Compactor) {
    this.#root = root;
    this.#compactor = compactor;
  }

  /** Stores the new rows of one partition in a new file; resolves to their number. */
  async write(p: PartitionRows): Promise<number> {
    const dir = partitionDir(this.#root, p.exchange, p.symbol, p.day, p.kind);
    await Deno.mkdir(dir, { recursive: true });
    await this.#compactor.recover(dir);
    const existing = await listPartitionFiles(dir);
    // One key column is passed as a name, as Polars' fastest path takes it.
    const key = p.key.length === 1 ? p.key[0] : [...p.key];
    let rows = p.rows;
    if (!p.unique) rows = rows.unique({ subset: key, keep: "first", maintainOrder: true });
    if (existing.length > 0) {
      const stored = pl.concat(
        existing.map((f) =>
          pl.scanParquet(f.path, { hivePartitioning: false }).select(...p.key).filter(p.stored)
        ),
      );
      rows = rows.join(stored, { on: key, how: "anti", maintainOrder: "left" });
    }
    if (!p.sorted) rows = rows.sort([...TABLES[p.kind].fileOrder]);
    return await this.#commit(dir, p, existing, await rows.collect());
  }

  /**
   * Writes `out` (a partition's new rows, in file order) to a new file of `dir`: under a
   * temporary name, then renamed into place. Then merges small files if there are too many.
   * Resolves to the rows written.
   */
  async #commit(
    dir: string,
    p: PartitionRows,
    existing: readonly PartitionFile[],
    out: pl.DataFrame,
  ): Promise<number> {
    if (out.height === 0) return 0;
    const name = uniqueName();
    const temporary = `${dir}/.part-${name}.parquet.tmp`;
    try {
      if (out.height <= PARQUET_OPTIONS.rowGroupSize && LIST_TABLES.has(p.kind)) {
        // Book tables (level lists): one row group either way, the same schema and values,
        // for about a third of the sink's CPU time and new memory (the streaming sink copies
        // the list columns twice). Pages may be cut elsewhere (the file's size differs a
        // little, either way).
        p.whileEncoding?.();
        out.writeParquet(temporary, PARQUET_OPTIONS);
      } else {
        const encoding = out.lazy().sinkParquet(temporary, PARQUET_OPTIONS).collect();
        try {
          p.whileEncoding?.();
        } finally {
          await encoding;
        }
      }
      await Deno.rename(temporary, `${dir}/part-${name}.parquet`);
    } catch (err) {
      await removeIfExists(temporary);
      throw err;
    }
    await this.#compactor.afterWrite(dir, p.kind, existing);
    return out.height;
  }
}
