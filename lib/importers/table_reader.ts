/**
 * Reads a CSV or Parquet file into one table of cells with, per row, the line (CSV) or row
 * number (Parquet) it came from, so every later check can name where bad input is.
 * @module
 */
import pl from "nodejs-polars";
import { parseCsv } from "./csv.ts";
import { ImportError } from "./import_error.ts";

/** A cell: text from a CSV file, a number or `null` from a Parquet file. */
export type Cell = string | number | null;

/** A file read as a table. */
export interface SourceTable {
  readonly file: string;
  /** Column names from the header (CSV) or the schema (Parquet). */
  readonly header: readonly string[];
  /** Rows of cells in header order, each with its 1-based line (CSV) or row (Parquet). */
  readonly rows: readonly { readonly line: number; readonly cells: readonly Cell[] }[];
}

/** The formats {@linkcode readSourceTable} reads. */
export type SourceFormat = "csv" | "parquet";

/** The format of `path` by its name (`.parquet`/`.pq` is Parquet, anything else CSV). */
export function formatOf(path: string): SourceFormat {
  return /\.(parquet|pq)$/i.test(path) ? "parquet" : "csv";
}

/**
 * Reads `path` as CSV (a header line, then records with as many fields) or Parquet.
 * Parquet times (`Datetime`, `Date`) become microseconds since the epoch.
 * @throws {ImportError} for a record with a different number of fields than the header,
 * an empty file, or a Parquet file that cannot be read.
 */
export async function readSourceTable(
  path: string,
  format: SourceFormat = formatOf(path),
): Promise<SourceTable> {
  return format === "parquet" ? readParquet(path) : await readCsv(path);
}

async function readCsv(path: string): Promise<SourceTable> {
  const records = parseCsv(await Deno.readTextFile(path), path);
  if (records.length === 0) throw new ImportError({ file: path, line: 1, message: "empty file" });
  const header = records[0].fields.map((f) => f.trim());
  const rows = records.slice(1).map((r) => {
    if (r.fields.length !== header.length) {
      throw new ImportError({
        file: path,
        line: r.line,
        message: `${r.fields.length} fields, the header has ${header.length}`,
      });
    }
    return { line: r.line, cells: r.fields };
  });
  return { file: path, header, rows };
}

function readParquet(path: string): SourceTable {
  let frame: pl.DataFrame;
  try {
    frame = pl.readParquet(path);
  } catch (error) {
    throw new ImportError({
      file: path,
      line: 1,
      message: `not a readable Parquet file (${(error as Error).message})`,
    });
  }
  const columns = frame.getColumns().map((series): Cell[] => {
    const variant = (series.dtype as { variant?: string }).variant;
    if (variant === "Date" || variant === "Datetime") {
      const us = series.cast(pl.Datetime("us")).cast(pl.Int64);
      return [...us.toArray()].map((v) => (v === null ? null : Number(v)));
    }
    return [...series.toArray()].map((v): Cell =>
      v === null || v === undefined
        ? null
        : typeof v === "number" || typeof v === "string"
        ? v
        : typeof v === "bigint"
        ? Number(v)
        : String(v)
    );
  });
  const rows = Array.from({ length: frame.height }, (_, i) => ({
    line: i + 1,
    cells: columns.map((c) => c[i]),
  }));
  return { file: path, header: frame.columns, rows };
}
