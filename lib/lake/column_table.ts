/**
 * A lake file's rows as plain columns (typed arrays, no Polars): what the write path groups,
 * de-duplicates, sorts and hands to a {@linkcode ParquetEncoder}. Column `i` of a table has
 * `rows` values, in the order of the table's file columns (`lib/schema/tables.ts`).
 * @module
 */

/**
 * One column. Types, by the lake's column types:
 * - `timestamp`: microseconds since the epoch (`TIMESTAMP`, `Datetime(us)`);
 * - `double`; `int32`; `bool` (0 or 1);
 * - `int64`: integers as doubles (safe integers), `NaN` for NULL;
 * - `text`: strings, or (`Float64Array`) non-negative safe integers written as their
 *   decimal text (numeric trade ids: no string per row on the way);
 * - `dictionary`: text as codes into `dictionary` (`VARCHAR`; a trade's side);
 * - `double_list`: row `i` is `values[offsets[i]..offsets[i+1])` (`DOUBLE[]`, no NULLs),
 *   `offsets[0]` is 0.
 */
export type LakeColumn =
  | { readonly name: string; readonly type: "timestamp" | "double"; readonly values: Float64Array }
  | { readonly name: string; readonly type: "int64"; readonly values: Float64Array }
  | { readonly name: string; readonly type: "int32"; readonly values: Int32Array }
  | { readonly name: string; readonly type: "bool"; readonly values: Uint8Array }
  | {
    readonly name: string;
    readonly type: "text";
    readonly values: readonly string[] | Float64Array;
  }
  | {
    readonly name: string;
    readonly type: "dictionary";
    readonly codes: Uint8Array;
    readonly dictionary: readonly string[];
  }
  | {
    readonly name: string;
    readonly type: "double_list";
    readonly offsets: Int32Array;
    readonly values: Float64Array;
  };

/** Rows as columns (see the module documentation). */
export interface ColumnTable {
  readonly rows: number;
  readonly columns: readonly LakeColumn[];
}

/** The column `name` of `table`. */
export function columnOf(table: ColumnTable, name: string): LakeColumn {
  const column = table.columns.find((c) => c.name === name);
  if (column === undefined) throw new TypeError(`column table has no column ${name}`);
  return column;
}

/** The rows `index[0..count)` of `table`, in that order (new arrays). */
export function takeRows(table: ColumnTable, index: Uint32Array, count: number): ColumnTable {
  return { rows: count, columns: table.columns.map((c) => takeColumn(c, index, count)) };
}

/** Rows `start..start+count` of `table` (views of the values; list offsets rebased). */
export function sliceRows(table: ColumnTable, start: number, count: number): ColumnTable {
  if (start === 0 && count === table.rows) return table;
  return { rows: count, columns: table.columns.map((c) => sliceColumn(c, start, count)) };
}

function sliceColumn(c: LakeColumn, start: number, count: number): LakeColumn {
  const end = start + count;
  if (c.type === "double_list") {
    const base = c.offsets[start];
    const offsets = new Int32Array(count + 1);
    for (let j = 0; j <= count; j++) offsets[j] = c.offsets[start + j] - base;
    return { ...c, offsets, values: c.values.subarray(base, c.offsets[end]) };
  }
  if (c.type === "dictionary") return { ...c, codes: c.codes.subarray(start, end) };
  if (c.type === "text") {
    const values = c.values instanceof Float64Array
      ? c.values.subarray(start, end)
      : c.values.slice(start, end);
    return { name: c.name, type: "text", values };
  }
  return { ...c, values: c.values.subarray(start, end) } as LakeColumn;
}

function takeColumn(c: LakeColumn, index: Uint32Array, count: number): LakeColumn {
  switch (c.type) {
    case "double_list":
      return takeList(c, index, count);
    case "text": {
      if (c.values instanceof Float64Array) {
        return { name: c.name, type: "text", values: gather(c.values, new Float64Array(count)) };
      }
      const from = c.values;
      const out = new Array<string>(count);
      for (let j = 0; j < count; j++) out[j] = from[index[j]];
      return { name: c.name, type: "text", values: out };
    }
    case "dictionary":
      return { ...c, codes: gather(c.codes, new Uint8Array(count)) };
    case "int32":
      return { ...c, values: gather(c.values, new Int32Array(count)) };
    case "bool":
      return { ...c, values: gather(c.values, new Uint8Array(count)) };
    default:
      return { ...c, values: gather(c.values, new Float64Array(count)) };
  }

  function gather<A extends Float64Array | Int32Array | Uint8Array>(from: A, out: A): A {
    for (let j = 0; j < count; j++) out[j] = from[index[j]];
    return out;
  }
}

function takeList(
  c: { readonly name: string; readonly offsets: Int32Array; readonly values: Float64Array },
  index: Uint32Array,
  count: number,
): LakeColumn {
  const offsets = new Int32Array(count + 1);
  let total = 0;
  for (let j = 0; j < count; j++) {
    const i = index[j];
    total += c.offsets[i + 1] - c.offsets[i];
    offsets[j + 1] = total;
  }
  const values = new Float64Array(total);
  const from = c.values;
  let at = 0;
  for (let j = 0; j < count; j++) {
    const i = index[j];
    for (let v = c.offsets[i], end = c.offsets[i + 1]; v < end; v++) values[at++] = from[v];
  }
  return { name: c.name, type: "double_list", offsets, values };
}
