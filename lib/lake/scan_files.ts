/**
 * Lazy scans of a lake table's Parquet files that read files written before a column was
 * added to the table (a column whose spec has an `absent` value, such as trades'
 * `backfilled`) as if they held it: the files are read with the table's file schema, and
 * the missing column gets its `absent` value. Tables without such a column are scanned as
 * they are.
 * @module
 */
import pl from "nodejs-polars";
import { type ColumnSpec, type TableName, TABLES } from "../schema/tables.ts";

/** Options of {@linkcode scanLakeFiles}. */
export interface ScanLakeFilesOptions {
  /** Whether `source` is a glob (default true, as `pl.scanParquet`). */
  readonly glob?: boolean;
}

const POLARS_TYPES: Readonly<Record<string, () => pl.DataType>> = {
  Utf8: () => pl.Utf8,
  Float64: () => pl.Float64,
  Int64: () => pl.Int64,
  Int32: () => pl.Int32,
  Bool: () => pl.Bool,
  "Datetime(us)": () => pl.Datetime("us"),
  "List(Float64)": () => pl.List(pl.Float64),
};

/** The Polars type of a column of the table spec. */
function polarsType(column: ColumnSpec): pl.DataType {
  const type = POLARS_TYPES[column.polars];
  if (type === undefined) throw new TypeError(`no Polars type for ${column.polars}`);
  return type();
}

/**
 * A scan of the files at `source` (a file or a glob) of table `table`, with every column a
 * file of the table holds now; files without a column added later read its `absent` value.
 */
export function scanLakeFiles(
  table: TableName,
  source: string,
  options: ScanLakeFilesOptions = {},
): pl.LazyDataFrame {
  const base = { hivePartitioning: false, ...(options.glob === false ? { glob: false } : {}) };
  const file = TABLES[table].columns.filter((c) => c.lake === "file");
  const added = file.filter((c) => c.absent !== undefined);
  if (added.length === 0) return pl.scanParquet(source, base);
  const schema = Object.fromEntries(file.map((c) => [c.name, polarsType(c)]));
  return pl.scanParquet(source, { ...base, schema, missingColumns: "insert" })
    .withColumns(...added.map((c) => pl.col(c.name).fillNull(pl.lit(c.absent))));
}
