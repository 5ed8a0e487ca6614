/**
 * The data of a column as the encoder takes it ({@linkcode ColumnData}) and its one
 * internal form ({@linkcode Column}): values in a typed array, nulls as definition levels
 * (1 present, 0 null), strings as UTF-8 bytes with offsets, lists as offsets and values.
 * @module
 */
import type { ParquetField } from "./schema.ts";
import {
  decimalBytes,
  type DecimalColumn,
  dictionaryBytes,
  type DictionaryColumn,
  type TextBytes,
} from "./text_columns.ts";

/** A `list_double` column: row `i` is `values[offsets[i] - offsets[0] .. offsets[i + 1] - offsets[0])`. */
export interface ListColumn {
  /** One more than there are rows, non-decreasing. */
  readonly offsets: Int32Array;
  /** The levels' values, from `offsets[0]` on. */
  readonly values: Float64Array;
}

/**
 * A column's data, by field type:
 * - `double`: `Float64Array` (no nulls; NaN is a value) or `(number | null)[]`;
 * - `int32`: `Int32Array` or `(number | null)[]`;
 * - `int64`, `timestamp_us` (microseconds): `Float64Array` of safe integers, NaN for null
 *   (as `BookColumns` holds its optional integers), `BigInt64Array`, or
 *   `(number | bigint | null)[]`;
 * - `boolean`: `Uint8Array` of 0 and 1 or `(boolean | null)[]`;
 * - `string`: `(string | null)[]`, a {@linkcode DictionaryColumn} (codes into a few
 *   strings) or a {@linkcode DecimalColumn} (integers written as their decimal text);
 * - `list_double`: a {@linkcode ListColumn}.
 */
export type ColumnData =
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | readonly (number | bigint | string | boolean | null | undefined)[]
  | ListColumn
  | DictionaryColumn
  | DecimalColumn;

/** A column in the encoder's form. */
export type Column =
  | {
    readonly kind: "scalar";
    readonly field: ParquetField;
    readonly values: Float64Array | Int32Array | BigInt64Array | Uint8Array;
    /** Definition levels, `undefined` when no value is null. */
    readonly defs: Uint8Array | undefined;
    readonly rows: number;
  }
  | {
    readonly kind: "string";
    readonly field: ParquetField;
    /** UTF-8 bytes; value `i` is `bytes[offsets[i]..offsets[i + 1])`. */
    readonly bytes: Uint8Array;
    readonly offsets: Int32Array;
    readonly defs: Uint8Array | undefined;
    readonly rows: number;
  }
  | {
    readonly kind: "list";
    readonly field: ParquetField;
    readonly offsets: Int32Array;
    readonly values: Float64Array;
    readonly rows: number;
  };

type Plain = readonly unknown[];

/** The encoder's form of `data` for `field` (see {@linkcode ColumnData}). */
export function toColumn(field: ParquetField, data: ColumnData): Column {
  const bad = () =>
    new TypeError(`parquet: column ${field.name} (${field.type}): unsupported data`);
  switch (field.type) {
    case "list_double": {
      const list = data as ListColumn;
      if (!(list.offsets instanceof Int32Array && list.values instanceof Float64Array)) {
        throw bad();
      }
      return listColumn(field, list);
    }
    case "string":
      if (Array.isArray(data)) return stringColumn(field, data);
      if ("codes" in data) return textColumn(field, dictionaryBytes(field, data));
      if ("decimals" in data) return textColumn(field, decimalBytes(field, data));
      throw bad();
    case "double":
      if (data instanceof Float64Array) return scalar(field, data, undefined);
      if (!Array.isArray(data)) throw bad();
      return fromPlain(field, data, (n) => new Float64Array(n), "number");
    case "int32":
      if (data instanceof Int32Array) return scalar(field, data, undefined);
      if (!Array.isArray(data)) throw bad();
      return checkedInts(fromPlain(field, data, (n) => new Int32Array(n), "number"));
    case "boolean":
      if (data instanceof Uint8Array) return scalar(field, data, undefined);
      if (!Array.isArray(data)) throw bad();
      return fromPlain(field, data, (n) => new Uint8Array(n), "boolean");
    case "int64":
    case "timestamp_us":
      if (data instanceof BigInt64Array) return scalar(field, data, undefined);
      if (data instanceof Float64Array) return int64FromFloats(field, data);
      if (!Array.isArray(data)) throw bad();
      if (data.some((v) => typeof v === "bigint")) {
        return fromPlain(field, data, (n) => new BigInt64Array(n), "bigint");
      }
      return checkedInts(fromPlain(field, data, (n) => new Float64Array(n), "number"));
    default:
      throw bad();
  }
}

function scalar(
  field: ParquetField,
  values: Float64Array | Int32Array | BigInt64Array | Uint8Array,
  defs: Uint8Array | undefined,
): Column {
  if (defs !== undefined && field.nullable === false) {
    throw new TypeError(`parquet: column ${field.name} is not nullable but holds a null`);
  }
  return { kind: "scalar", field, values, defs, rows: values.length };
}

/** Values of a plain array into `make(n)`, nulls as definition levels. */
function fromPlain(
  field: ParquetField,
  data: Plain,
  make: (n: number) => Float64Array | Int32Array | BigInt64Array | Uint8Array,
  type: "number" | "bigint" | "boolean",
): Column {
  const n = data.length;
  const values = make(n);
  let defs: Uint8Array | undefined;
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (v === null || v === undefined) {
      defs ??= new Uint8Array(n).fill(1, 0, n);
      defs[i] = 0;
      continue;
    }
    if (type === "bigint") {
      const big = typeof v === "number" && Number.isSafeInteger(v) ? BigInt(v) : v;
      if (typeof big !== "bigint") throw badValue(field, v);
      (values as BigInt64Array)[i] = big;
    } else if (type === "boolean" ? typeof v === "boolean" : typeof v === "number") {
      (values as Float64Array)[i] = v as number;
    } else throw badValue(field, v);
  }
  return scalar(field, values, defs);
}

function badValue(field: ParquetField, value: unknown): TypeError {
  return new TypeError(`parquet: column ${field.name} (${field.type}): bad value ${value}`);
}

/** Checks that integer columns given as numbers hold integers of their range. */
function checkedInts(column: Column): Column {
  if (column.kind !== "scalar") return column;
  const { values, defs, field } = column;
  for (let i = 0; i < values.length; i++) {
    if (defs !== undefined && defs[i] === 0) continue;
    const v = values[i] as number;
    if (!Number.isSafeInteger(v)) {
      throw new RangeError(`parquet: column ${field.name} (${field.type}): not an integer: ${v}`);
    }
  }
  return column;
}

/** An int64 column held as doubles: NaN is null, anything else a safe integer. */
function int64FromFloats(field: ParquetField, data: Float64Array): Column {
  let defs: Uint8Array | undefined;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Number.isSafeInteger(v)) continue;
    if (v !== v) {
      defs ??= new Uint8Array(data.length).fill(1);
      defs[i] = 0;
      continue;
    }
    throw new RangeError(`parquet: column ${field.name} (${field.type}): not an integer: ${v}`);
  }
  return scalar(field, data, defs);
}

const utf8 = new TextEncoder();

function stringColumn(field: ParquetField, data: Plain): Column {
  const n = data.length;
  const offsets = new Int32Array(n + 1);
  let defs: Uint8Array | undefined;
  let bytes = new Uint8Array(Math.max(64, n * 8));
  let at = 0;
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (v === null || v === undefined) {
      if (field.nullable === false) {
        throw new TypeError(`parquet: column ${field.name} is not nullable but holds a null`);
      }
      defs ??= new Uint8Array(n).fill(1);
      defs[i] = 0;
    } else if (typeof v === "string") {
      if (bytes.length - at < v.length * 3) {
        const next = new Uint8Array(Math.max(bytes.length * 2, at + v.length * 3));
        next.set(bytes.subarray(0, at));
        bytes = next;
      }
      at += utf8.encodeInto(v, bytes.subarray(at)).written;
    } else throw badValue(field, v);
    offsets[i + 1] = at;
  }
  return { kind: "string", field, bytes: bytes.subarray(0, at), offsets, defs, rows: n };
}

function textColumn(field: ParquetField, text: TextBytes): Column {
  return { kind: "string", field, ...text, rows: text.offsets.length - 1 };
}

function listColumn(field: ParquetField, list: ListColumn): Column {
  const rows = list.offsets.length - 1;
  if (rows < 0) throw new RangeError(`parquet: column ${field.name}: offsets is empty`);
  const base = list.offsets[0];
  for (let i = 0; i < rows; i++) {
    if (list.offsets[i + 1] < list.offsets[i]) {
      throw new RangeError(`parquet: column ${field.name}: offsets decrease at row ${i}`);
    }
  }
  if (list.offsets[rows] - base > list.values.length) {
    throw new RangeError(`parquet: column ${field.name}: offsets reach past the values`);
  }
  return { kind: "list", field, offsets: list.offsets, values: list.values, rows };
}
