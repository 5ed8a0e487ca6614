/**
 * The Parquet columns of a lake file of book rows held in {@linkcode BookColumns}: every
 * column a view of the columns' typed arrays (nothing copied).
 * @module
 */
import type { BookColumns } from "../book_columns.ts";
import type { ColumnData } from "./columns.ts";
import type { ParquetColumns } from "./encode.ts";
import { lakeFileFields, type ParquetField } from "./schema.ts";

/** A file's fields and their data, for `encodeParquet` / `writeParquetFile`. */
export interface ParquetTable {
  readonly fields: readonly ParquetField[];
  readonly columns: ParquetColumns;
}

/**
 * The lake file of every row of `book` (in the columns' order): `ts, recv_ts, digest`, the
 * four level lists, then the optional integers (NaN in the columns, null in the file).
 */
export function bookParquetTable(book: BookColumns): ParquetTable {
  const columns: Record<string, ColumnData> = {
    ts: book.ts.view(),
    recv_ts: book.recvTs.view(),
    digest: book.digest.view(),
    bid_prices: { offsets: book.bidOffsets.view(), values: book.bidPrices.view() },
    bid_sizes: { offsets: book.bidOffsets.view(), values: book.bidSizes.view() },
    ask_prices: { offsets: book.askOffsets.view(), values: book.askPrices.view() },
    ask_sizes: { offsets: book.askOffsets.view(), values: book.askSizes.view() },
    first_sequence: book.firstSequence.view(),
    sequence: book.sequence.view(),
    checksum: book.checksum.view(),
  };
  const fields = lakeFileFields(book.kind);
  return { fields, columns: fields.map((f) => columns[f.name]) };
}
