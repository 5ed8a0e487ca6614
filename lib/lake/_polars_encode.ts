/**
 * The Polars Parquet encoder (`parquet_encoder.ts`'s default; imported lazily): one
 * `writeParquet` for book tables of one row group (level lists: a third of the CPU time and
 * new memory of the streaming sink, which copies list columns twice), the streaming sink
 * otherwise. Same schema and values either way.
 * @module
 */
import type pl from "nodejs-polars";
import type { LakeKind } from "./layout.ts";
import { PARQUET_OPTIONS } from "./_files.ts";
import type { ColumnTable } from "./column_table.ts";
import type { EncodeTarget } from "./parquet_encoder.ts";
import { polarsFrame } from "./_polars_table.ts";

/** The tables with list columns, whose one-row-group files `writeParquet` encodes. */
const LIST_TABLES: ReadonlySet<LakeKind> = new Set(["book_snapshots", "book_changes"]);

/** Writes `table` with Polars (see the module documentation). */
export async function encodeWithPolars(table: ColumnTable, target: EncodeTarget): Promise<void> {
  await writeFrame(polarsFrame(table), target);
}

/** Writes a Polars frame of a lake table's file columns (the fallback path's rows too). */
export async function writeFrame(out: pl.DataFrame, target: EncodeTarget): Promise<void> {
  if (out.height <= PARQUET_OPTIONS.rowGroupSize && LIST_TABLES.has(target.kind)) {
    target.whileEncoding?.();
    out.writeParquet(target.path, PARQUET_OPTIONS);
    return;
  }
  const encoding = out.lazy().sinkParquet(target.path, PARQUET_OPTIONS).collect();
  try {
    target.whileEncoding?.();
  } finally {
    await encoding;
  }
}
