/**
 * Imports of data made elsewhere (CSV or Parquet bars and trades) into the lake:
 * {@linkcode importFile}, used by `deno task import`.
 * @module
 */
export {
  importFile,
  type ImportOptions,
  type ImportReport,
  readBars,
  readTrades,
} from "./import.ts";
export { ImportError, type ImportErrorInfo } from "./import_error.ts";
export { type CsvRecord, parseCsv } from "./csv.ts";
export {
  type Cell,
  formatOf,
  readSourceTable,
  type SourceFormat,
  type SourceTable,
} from "./table_reader.ts";
export { COLUMN_NAMES } from "./cells.ts";
