/**
 * The Polars path of the partition writer (imported lazily, only when needed): a
 * partition's new rows anti-joined with the keys of its stored files, for a partition that
 * holds files the writer did not write in this process or whose stored keys overlap the
 * batch's (see `partition_writer.ts`). Rows arrive de-duplicated and in file order; the
 * anti-join keeps their order.
 * @module
 */
import pl from "nodejs-polars";
import { TABLES } from "../schema/tables.ts";
import type { LakeKind } from "./layout.ts";
import type { PartitionFile } from "./_files.ts";
import type { ColumnTable } from "./column_table.ts";
import { polarsFrame } from "./_polars_table.ts";

/** The first key column's range of a batch's partition (`BatchPartition.low`, `high`). */
export interface KeyRange {
  readonly low: number | string;
  readonly high: number | string;
}

/** A `TIMESTAMP` (microseconds) literal for comparisons with `ts` columns. */
function micros(value: number): pl.Expr {
  return pl.lit(value).cast(pl.Int64).cast(pl.Datetime("us"));
}

/** Whether a column of table `kind` is a time (`TIMESTAMP`). */
function isTime(kind: LakeKind, column: string): boolean {
  return TABLES[kind].columns.some((c) => c.name === column && c.duckdb === "TIMESTAMP");
}

/**
 * A predicate that holds for every stored row of table `kind` that can share a key with
 * partition `p` of a batch: the lake key's first column within the batch's range. It lets
 * Polars skip row groups by their statistics (ids and times mostly grow).
 */
export function storedRange(kind: LakeKind, p: KeyRange): pl.Expr {
  const column = TABLES[kind].lakeKey[0];
  const time = isTime(kind, column);
  const lit = (v: number | string) => time ? micros(v as number) : pl.lit(v);
  return pl.col(column).gtEq(lit(p.low)).and(pl.col(column).ltEq(lit(p.high)));
}

/** The rows of `rows` whose key no file of `existing` holds, as a Polars frame. */
export async function withoutStored(
  kind: LakeKind,
  rows: ColumnTable,
  existing: readonly PartitionFile[],
  range: KeyRange,
): Promise<pl.DataFrame> {
  const key = TABLES[kind].lakeKey;
  const frame = polarsFrame(rows);
  if (existing.length === 0) return frame;
  const stored = pl.concat(
    existing.map((f) =>
      pl.scanParquet(f.path, { hivePartitioning: false }).select(...key)
        .filter(storedRange(kind, range))
    ),
  );
  // One key column is passed as a name, as Polars' fastest path takes it.
  const on = key.length === 1 ? key[0] : [...key];
  return await frame.lazy().join(stored, { on, how: "anti", maintainOrder: "left" }).collect();
}
