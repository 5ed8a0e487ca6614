/**
 * The columns a Parquet file holds ({@linkcode ParquetField}) and their Parquet schema
 * elements, written as Polars writes the lake's files: every column `OPTIONAL`; times
 * `INT64` with the logical type `TIMESTAMP(MICROS, isAdjustedToUTC=false)` (DuckDB
 * `TIMESTAMP`, Polars `Datetime(us)`); strings `BYTE_ARRAY` `UTF8`/`STRING`; lists of
 * doubles as the three-level `LIST` (`<name>` / `list` / `element`).
 * @module
 */
import { type TableName, TABLES } from "../../schema/tables.ts";
import { t, type ThriftStruct } from "./thrift.ts";

/** A column's type in the file. */
export type ParquetType =
  | "double"
  | "int32"
  | "int64"
  | "timestamp_us"
  | "string"
  | "boolean"
  | "list_double";

/** One column of a file. */
export interface ParquetField {
  /** Column name. */
  readonly name: string;
  /** Its type. */
  readonly type: ParquetType;
  /**
   * Whether it may hold nulls; default `true`. The file says `OPTIONAL` either way (as
   * Polars writes every column); `false` makes a null in the data a `TypeError`.
   */
  readonly nullable?: boolean;
}

/** Parquet's physical types (`parquet.thrift` `Type`). */
export const PHYSICAL = { BOOLEAN: 0, INT32: 1, INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 } as const;

/** The physical type of a field's leaf column. */
export function physicalType(type: ParquetType): number {
  switch (type) {
    case "double":
    case "list_double":
      return PHYSICAL.DOUBLE;
    case "int32":
      return PHYSICAL.INT32;
    case "int64":
    case "timestamp_us":
      return PHYSICAL.INT64;
    case "string":
      return PHYSICAL.BYTE_ARRAY;
    case "boolean":
      return PHYSICAL.BOOLEAN;
    default:
      throw new TypeError(`parquet: unknown column type ${type}`);
  }
}

/** The path of a field's leaf column in the schema (`[name]`, or a list's three levels). */
export function leafPath(field: ParquetField): string[] {
  return field.type === "list_double" ? [field.name, "list", "element"] : [field.name];
}

const OPTIONAL = 1;
const REPEATED = 2;
const UTF8 = 0;
const LIST = 3;

/** The schema elements of `fields` (root first), as `FileMetaData.schema` holds them. */
export function schemaElements(fields: readonly ParquetField[]): ThriftStruct[] {
  const out: ThriftStruct[] = [[[4, t.binary("root")], [5, t.i32(fields.length)]]];
  for (const field of fields) {
    physicalType(field.type);
    if (field.type === "list_double") {
      out.push([
        [3, t.i32(OPTIONAL)],
        [4, t.binary(field.name)],
        [5, t.i32(1)],
        [6, t.i32(LIST)],
        [10, t.struct([[3, t.struct([])]])],
      ]);
      out.push([[3, t.i32(REPEATED)], [4, t.binary("list")], [5, t.i32(1)]]);
      out.push([[1, t.i32(PHYSICAL.DOUBLE)], [3, t.i32(OPTIONAL)], [4, t.binary("element")]]);
      continue;
    }
    const element: [number, ReturnType<typeof t.i32> | undefined][] = [
      [1, t.i32(physicalType(field.type))],
      [3, t.i32(OPTIONAL)],
      [4, t.binary(field.name)],
    ];
    if (field.type === "string") {
      element.push([6, t.i32(UTF8)], [10, t.struct([[1, t.struct([])]])]);
    } else if (field.type === "timestamp_us") {
      // TimestampType { isAdjustedToUTC: false, unit: MICROS }; no converted type (which
      // would mean UTC-adjusted), as Polars writes it.
      element.push([
        10,
        t.struct([[8, t.struct([[1, t.bool(false)], [2, t.struct([[2, t.struct([])]])]])]]),
      ]);
    }
    out.push(element);
  }
  return out;
}

const BY_POLARS: Readonly<Record<string, ParquetType>> = {
  "Utf8": "string",
  "Float64": "double",
  "List(Float64)": "list_double",
  "Int64": "int64",
  "Int32": "int32",
  "Bool": "boolean",
  "Datetime(us)": "timestamp_us",
};

/**
 * The fields of a lake file of `table`: the table's columns stored in the file (not the
 * hive path's exchange and symbol), in the table's order, with its nullability.
 */
export function lakeFileFields(table: TableName): ParquetField[] {
  const spec = TABLES[table];
  if (spec === undefined) throw new TypeError(`parquet: unknown table ${table}`);
  return spec.columns.filter((c) => c.lake === "file").map((c) => {
    const type = BY_POLARS[c.polars];
    if (type === undefined) throw new TypeError(`parquet: no Parquet type for ${c.polars}`);
    return { name: c.name, type, nullable: c.nullable };
  });
}
