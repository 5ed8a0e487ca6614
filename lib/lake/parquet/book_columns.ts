/**
 * The Parquet columns of a lake file of book rows held in the lake's `BookColumns`
 * (`lib/lake/book_columns.ts`): every column a view of the columns' typed arrays (nothing
 * copied). Typed by the shape it reads ({@linkcode BookColumnsView}), so that this folder
 * imports nothing of the lake's and the lake may import it.
 * @module
 */
import type { ColumnData } from "./columns.ts";
import type { ParquetColumns } from "./encode.ts";
import { lakeFileFields, type ParquetField } from "./schema.ts";

/** A growable typed array of `BookColumns`: `view()` is its data. */
interface Viewable<T> {
  view(): T;
}

/** What {@linkcode bookParquetTable} reads of a `BookColumns`. */
export interface BookColumnsView {
  readonly kind: "book_snapshots" | "book_changes";
  readonly ts: Viewable<Float64Array>;
  readonly recvTs: Viewable<Float64Array>;
  readonly digest: Viewable<Int32Array>;
  readonly firstSequence: Viewable<Float64Array>;
  readonly sequence: Viewable<Float64Array>;
  readonly checksum: Viewable<Float64Array>;
  readonly bidOffsets: Viewable<Int32Array>;
  readonly askOffsets: Viewable<Int32Array>;
  readonly bidPrices: Viewable<Float64Array>;
  readonly bidSizes: Viewable<Float64Array>;
  readonly askPrices: Viewable<Float64Array>;
  readonly askSizes: Viewable<Float64Array>;
}

/** A file's fields and their data, for `encodeParquet` / `writeParquetFile`. */
export interface ParquetTable {
  readonly fields: readonly ParquetField[];
  readonly columns: ParquetColumns;
}

/**
 * The lake file of every row of `book` (in the columns' order): `ts, recv_ts, digest`, the
 * four level lists, then the optional integers (NaN in the columns, null in the file).
 */
export function bookParquetTable(book: BookColumnsView): ParquetTable {
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
