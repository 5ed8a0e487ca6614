/**
 * How the lake turns a partition's new rows into a Parquet file: a {@linkcode ParquetEncoder}
 * writes a {@linkcode ColumnTable} (rows de-duplicated and in file order already) to a path
 * (the writer's temporary name; the writer renames it into place). The default,
 * {@linkcode jsEncoder}, writes with the lake's own Parquet writer (`lib/lake/parquet`, no
 * Polars); {@linkcode polarsEncoder} imports nodejs-polars on its first use only. Both write
 * files of the same schema and values (zstd, row groups of 131,072 rows, the table's
 * schema), which read as one table. Another encoder is swapped in through
 * `ParquetLakeOptions.encoder`, or for every lake opened afterwards with
 * {@linkcode setDefaultEncoder}.
 * @module
 */
import type { LakeKind } from "./layout.ts";
import type { ColumnTable } from "./column_table.ts";
import { encodeWithJs } from "./_js_encoder.ts";

/** What an encoder is told besides the rows. */
export interface EncodeTarget {
  /** The table (its schema and file order: `TABLES[kind]`). */
  readonly kind: LakeKind;
  /** The file to write (complete on resolve; the caller removes it on failure). */
  readonly path: string;
  /**
   * To call once while or just before the file is encoded: JavaScript work that may overlap
   * an encoding running on other threads (a full collection, see `_native_memory.ts`).
   */
  readonly whileEncoding?: () => void;
}

/** Writes `table` as one Parquet file at `target.path` (see the module documentation). */
export type ParquetEncoder = (table: ColumnTable, target: EncodeTarget) => Promise<void>;

/** The Polars encoder (see the module documentation); Polars is imported on first use. */
export const polarsEncoder: ParquetEncoder = async (table, target) => {
  const { encodeWithPolars } = await import("./_polars_encode.ts");
  await encodeWithPolars(table, target);
};

/** The encoder without Polars (see the module documentation): the default. */
export const jsEncoder: ParquetEncoder = (table, target) => encodeWithJs(table, target);

let defaultEncoder: ParquetEncoder = jsEncoder;

/** The encoder of lakes opened without one. */
export function getDefaultEncoder(): ParquetEncoder {
  return defaultEncoder;
}

/** Sets the encoder of lakes opened from now on without one of their own. */
export function setDefaultEncoder(encoder: ParquetEncoder): void {
  if (typeof encoder !== "function") throw new TypeError("setDefaultEncoder needs a function");
  defaultEncoder = encoder;
}
