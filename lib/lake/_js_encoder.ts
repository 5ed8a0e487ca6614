/**
 * The lake's Parquet encoder without Polars (`parquet_encoder.ts`'s default): a
 * {@linkcode ColumnTable} handed to the writer of `lib/lake/parquet` column by column, each a
 * view of the table's typed arrays (no JS object per row): trade ids held as numbers are
 * written as their decimal text, a trade's side as codes into its few strings, level lists as
 * offsets and values. The file has the schema and values of the Polars encoder's
 * (`_polars_encode.ts`): zstd level 3, row groups of `PARQUET_OPTIONS.rowGroupSize` rows.
 * @module
 */
import { PARQUET_OPTIONS } from "./_files.ts";
import type { LakeKind } from "./layout.ts";
import type { ColumnTable, LakeColumn } from "./column_table.ts";
import type { EncodeTarget } from "./parquet_encoder.ts";
import {
  type ColumnData,
  lakeFileFields,
  type ParquetField,
  type ParquetType,
  writeParquetFile,
} from "./parquet/mod.ts";

/** The file type of each column type of a {@linkcode ColumnTable}. */
const FILE_TYPE: Readonly<Record<LakeColumn["type"], ParquetType>> = {
  timestamp: "timestamp_us",
  double: "double",
  int64: "int64",
  int32: "int32",
  bool: "boolean",
  text: "string",
  dictionary: "string",
  double_list: "list_double",
};

/**
 * The fields of table `kind`'s lake file and `table`'s data for each, in the file's order:
 * what {@linkcode encodeWithJs} hands the writer (views of the table's arrays, no copy).
 */
export function lakeFileColumns(
  table: ColumnTable,
  kind: LakeKind,
): { fields: ParquetField[]; columns: ColumnData[] } {
  const fields = lakeFileFields(kind);
  return { fields, columns: fields.map((field) => columnData(table, field)) };
}

/** Writes `table` with the lake's own Parquet writer (see the module documentation). */
export async function encodeWithJs(table: ColumnTable, target: EncodeTarget): Promise<void> {
  const { fields, columns } = lakeFileColumns(table, target.kind);
  target.whileEncoding?.();
  await writeParquetFile(target.path, fields, columns, {
    compression: PARQUET_OPTIONS.compression,
    rowGroupSize: PARQUET_OPTIONS.rowGroupSize,
  });
}

/** The writer's data of `field` from the table's column of that name. */
function columnData(table: ColumnTable, field: ParquetField): ColumnData {
  const c = table.columns.find((column) => column.name === field.name);
  if (c === undefined) throw new TypeError(`lake encoder: no column ${field.name}`);
  if (FILE_TYPE[c.type] !== field.type) {
    throw new TypeError(
      `lake encoder: column ${c.name} is ${c.type}, the file's ${field.type}`,
    );
  }
  let data: ColumnData;
  switch (c.type) {
    case "text":
      data = c.values instanceof Float64Array ? { decimals: c.values } : c.values;
      break;
    case "dictionary":
      data = { codes: c.codes, dictionary: c.dictionary };
      break;
    case "double_list":
      data = { offsets: c.offsets, values: c.values };
      break;
    default:
      data = c.values;
  }
  const rows = c.type === "double_list"
    ? c.offsets.length - 1
    : c.type === "dictionary"
    ? c.codes.length
    : c.values.length;
  if (rows !== table.rows) {
    throw new RangeError(`lake encoder: column ${c.name} has ${rows} rows, not ${table.rows}`);
  }
  return data;
}
