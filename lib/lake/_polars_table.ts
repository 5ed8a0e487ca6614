/**
 * A {@linkcode ColumnTable} as a Polars frame with the lake file's types: times as
 * `Datetime(us)`, `int64` with NaN as NULL, integer text as its decimal text, level lists
 * through `listSeries` (one copy of the levels). Only the Polars paths of the write path
 * import this module (lazily: a collector that never needs Polars never loads it).
 * @module
 */
import pl from "nodejs-polars";
import type { ColumnTable, LakeColumn } from "./column_table.ts";
import { listSeries } from "./_list_series.ts";

/** The frame of `table` (see the module documentation). */
export function polarsFrame(table: ColumnTable): pl.DataFrame {
  const nullable: string[] = [];
  const series = table.columns.map((c) => {
    if (c.type === "int64") nullable.push(c.name);
    return polarsSeries(c);
  });
  const frame = pl.DataFrame(series);
  if (nullable.length === 0) return frame;
  // A missing integer is NaN in the columns, a null in the file.
  return frame.withColumns(...nullable.map((name) => pl.col(name).fillNan(null).cast(pl.Int64)));
}

function polarsSeries(c: LakeColumn): pl.Series {
  switch (c.type) {
    case "timestamp":
      return pl.Series(c.name, c.values, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us"));
    case "double":
    case "int64":
      return pl.Series(c.name, c.values, pl.Float64);
    case "int32":
      return pl.Series(c.name, c.values, pl.Int32);
    case "bool":
      return pl.Series(c.name, c.values as unknown as number[], pl.UInt8).cast(pl.Bool);
    case "text":
      return c.values instanceof Float64Array
        ? pl.Series(c.name, c.values, pl.Float64).cast(pl.Int64).cast(pl.Utf8)
        : pl.Series(c.name, c.values as string[], pl.Utf8);
    case "double_list":
      return listSeries(c.name, c.offsets, c.values);
    case "dictionary":
      return dictionarySeries(c.name, c.codes, c.dictionary);
  }
}

/** Text from codes into `dictionary`, decoded by Polars (no JS string per row). */
function dictionarySeries(
  name: string,
  codes: Uint8Array,
  dictionary: readonly string[],
): pl.Series {
  const code = pl.col(name);
  let text = pl.when(code.eq(0)).then(pl.lit(dictionary[0] ?? null));
  for (let k = 1; k < dictionary.length; k++) {
    text = text.when(code.eq(k)).then(pl.lit(dictionary[k]));
  }
  const expr = text.otherwise(pl.lit(null)).cast(pl.Utf8).alias(name);
  return pl.DataFrame([pl.Series(name, codes as unknown as number[], pl.UInt8)]).select(expr)
    .getColumn(name);
}
