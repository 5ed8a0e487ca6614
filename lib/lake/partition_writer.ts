/**
 * The lake's partition writer: stores one partition's new rows of a batch in one new file,
 * for every table alike. Rows whose key repeats earlier in the batch are dropped (the first
 * kept) and the rest sorted in the table's file order, in JavaScript; rows whose key is
 * already stored are dropped too. The new file is written by the lake's
 * {@linkcode ParquetEncoder} under a hidden temporary name and renamed into place; then the
 * {@linkcode Compactor} merges small files if there are too many.
 *
 * What is stored is known without reading files where the lake's one writer (this process:
 * `writer_lock.ts`) wrote every file of the partition itself: it remembers, per partition,
 * the files it wrote and the largest key in them, and a batch whose smallest key is beyond
 * it has nothing stored. Otherwise (files from before this process, or a batch reaching
 * back into stored keys) the rows are anti-joined with the stored keys by Polars
 * (`_polars_partition.ts`, imported then), so a collector whose keys grow never loads it.
 * @module
 */
import { type LakeKind, partitionDir } from "./layout.ts";
import { listPartitionFiles, type PartitionFile, removeIfExists, uniqueName } from "./_files.ts";
import type { Compactor } from "./compactor.ts";
import { type ColumnTable, takeRows } from "./column_table.ts";
import type { ParquetEncoder } from "./parquet_encoder.ts";
import { compareKeys, RowKeys } from "./_row_keys.ts";
import { StoredKeys } from "./stored_keys.ts";

/** One partition's rows of a batch, for {@linkcode PartitionWriter.write}. */
export interface PartitionRows {
  readonly kind: LakeKind;
  readonly exchange: string;
  readonly symbol: string;
  /** UTC day number. */
  readonly day: number;
  /** The rows, with the file's columns. */
  readonly rows: ColumnTable;
  /** The batch's keys strictly increase: none repeats, no de-duplication pass needed. */
  readonly unique: boolean;
  /** The rows are in file order already: no sort needed. */
  readonly sorted: boolean;
  /**
   * The range of the lake key's first column in the batch (for the Polars path, which
   * reads only stored rows within it).
   */
  readonly low: number | string;
  readonly high: number | string;
  /**
   * Called once just before or while the new file is encoded (not when nothing is
   * written): JavaScript work that may overlap the encoding, such as a full collection.
   */
  readonly whileEncoding?: () => void;
}

/** Options of a {@linkcode PartitionWriter}. */
export interface PartitionWriterOptions {
  readonly root: string;
  readonly compactor: Compactor;
  readonly encoder: ParquetEncoder;
}

/** Writes partitions' new rows (see the module documentation). */
export class PartitionWriter {
  readonly #root: string;
  readonly #compactor: Compactor;
  readonly #encoder: ParquetEncoder;
  readonly #stored = new StoredKeys();
  /** Writes that needed Polars to know what is stored (see the module documentation). */
  storedScans = 0;

  constructor(options: PartitionWriterOptions) {
    this.#root = options.root;
    this.#compactor = options.compactor;
    this.#encoder = options.encoder;
  }

  /** Stores the new rows of one partition in a new file; resolves to their number. */
  async write(p: PartitionRows): Promise<number> {
    const dir = partitionDir(this.#root, p.exchange, p.symbol, p.day, p.kind);
    await Deno.mkdir(dir, { recursive: true });
    await this.#compactor.recover(dir);
    const existing = await listPartitionFiles(dir);
    const keys = new RowKeys(p.kind, p.rows);
    let index = p.unique ? undefined : keys.firstOfEachKey();
    if (!p.sorted) index = keys.sorted(index);
    const range = keys.range(index, p.unique);
    if (range === undefined) return 0;
    const rows = index === undefined ? p.rows : takeRows(p.rows, index, index.length);
    const high = this.#stored.high(dir, existing);
    const name = uniqueName();
    let written: number;
    if (high === null || (high !== undefined && compareKeys(range.low, high) <= 0)) {
      this.storedScans++;
      written = await this.#writeNew(dir, name, p, rows, existing);
    } else {
      await this.#commit(
        dir,
        name,
        p.kind,
        p.whileEncoding,
        (target) => this.#encoder(rows, target),
      );
      written = rows.rows;
    }
    if (written > 0) {
      this.#stored.wrote(dir, existing, `part-${name}.parquet`, range.high);
      const merged = await this.#compactor.afterWrite(dir, p.kind, existing);
      if (merged !== undefined) this.#stored.merged(dir, merged.inputs, merged.output);
    }
    return written;
  }

  /** The Polars path: the rows no stored file holds (see the module documentation). */
  async #writeNew(
    dir: string,
    name: string,
    p: PartitionRows,
    rows: ColumnTable,
    existing: readonly PartitionFile[],
  ): Promise<number> {
    const { withoutStored } = await import("./_polars_partition.ts");
    const out = await withoutStored(p.kind, rows, existing, p);
    if (out.height === 0) return 0;
    const { writeFrame } = await import("./_polars_encode.ts");
    await this.#commit(dir, name, p.kind, p.whileEncoding, (target) => writeFrame(out, target));
    return out.height;
  }

  /** Writes a new file of `dir` under a temporary name, then renames it into place. */
  async #commit(
    dir: string,
    name: string,
    kind: LakeKind,
    whileEncoding: (() => void) | undefined,
    encode: (target: { kind: LakeKind; path: string; whileEncoding?: () => void }) => Promise<
      void
    >,
  ): Promise<void> {
    const temporary = `${dir}/.part-${name}.parquet.tmp`;
    try {
      await encode({ kind, path: temporary, whileEncoding });
      await Deno.rename(temporary, `${dir}/part-${name}.parquet`);
    } catch (err) {
      await removeIfExists(temporary);
      throw err;
    }
  }
}
