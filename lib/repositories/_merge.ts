/**
 * The one merge of a table's rows read from two stores (the lake and the PostgreSQL
 * buffer), parameterised by the table's {@linkcode TableSpec}: rows are identified by the
 * spec's key (trades `(ts, id)`, the digest-keyed tables `(ts, recv_ts, digest)`), a row
 * present in both is taken once (the lake's), and the result is in key order.
 * @module
 */
import pl from "nodejs-polars";
import type { TableSpec } from "../schema/tables.ts";

/**
 * The key columns of `spec` as comparable expressions: times as integers (microseconds),
 * text as text, integers as they are.
 */
function keyExpressions(spec: TableSpec): pl.Expr[] {
  return spec.key.map((name) => {
    const column = spec.columns.find((c) => c.name === name)!;
    if (column.sql === "timestamptz") return pl.col(name).cast(pl.Int64);
    if (column.sql === "text") return pl.col(name).cast(pl.Utf8);
    return pl.col(name);
  });
}

/**
 * Merges two frames of `spec`'s table with the same columns, each in key order, keeping one
 * row per key (the lake's, which comes first).
 */
export function mergeFrames(
  spec: TableSpec,
  lake: pl.DataFrame,
  buffer: pl.DataFrame,
): pl.DataFrame {
  if (buffer.height === 0) return lake;
  if (lake.height === 0) return buffer;
  const key = [...spec.key];
  return pl.concat([lake, buffer], { how: "vertical" })
    .unique({ subset: key, keep: "first", maintainOrder: true })
    .sort(key);
}

/** How many distinct keys of `buffer` `lake` also holds (a key counts once per buffer row). */
export function sharedKeys(spec: TableSpec, lake: pl.DataFrame, buffer: pl.DataFrame): number {
  if (lake.height === 0 || buffer.height === 0) return 0;
  const keys = keyExpressions(spec);
  const lakeKeys = lake.select(...keys).unique();
  return buffer.select(...keys).join(lakeKeys, { on: [...spec.key], how: "inner" }).height;
}
