/**
 * Columns to a Parquet file: {@linkcode encodeParquet} (the file's bytes) and
 * {@linkcode writeParquetFile} (written to a path, page by page, without the whole file in
 * memory). Row groups of `rowGroupSize` rows; in each, a column chunk of data pages v1 of
 * about `pageSize` bytes (levels RLE / bit-packed, values PLAIN, then compressed), with
 * min / max statistics per chunk.
 * @module
 */
import { ByteWriter } from "./byte_writer.ts";
import { type Column, type ColumnData, toColumn } from "./columns.ts";
import {
  CODEC,
  type Compression,
  type Compressor,
  compressor,
  DEFAULT_ZSTD_LEVEL,
} from "./compression.ts";
import { type ChunkMeta, footer, MAGIC, pageHeader, rowGroup } from "./metadata.ts";
import { pageEnd, writePageBody } from "./plain.ts";
import { leafPath, type ParquetField, physicalType, schemaElements } from "./schema.ts";
import { chunkStatistics } from "./statistics.ts";
import type { ThriftStruct } from "./thrift.ts";
import { POOL_MIN_BYTES, type ZstdPool, zstdPool } from "./zstd_pool.ts";

/** Options of {@linkcode encodeParquet} and {@linkcode writeParquetFile}. */
export interface ParquetEncodeOptions {
  /** Page compression; default `"zstd"`. */
  readonly compression?: Compression;
  /** zstd level, 1 to 22; default 3 (Polars' default). */
  readonly zstdLevel?: number;
  /** Rows per row group; default 131,072 (the lake's `PARQUET_OPTIONS.rowGroupSize`). */
  readonly rowGroupSize?: number;
  /** Bytes of values per data page, about; default 1 MiB. */
  readonly pageSize?: number;
  /** The file's `created_by`; default `"AlphaPulse parquet writer"`. */
  readonly createdBy?: string;
}

/** The columns of a file: by field name, or in the schema's order. */
export type ParquetColumns =
  | Readonly<Record<string, ColumnData>>
  | readonly ColumnData[];

/** Where the encoded bytes go, in order. */
interface Sink {
  /** Bytes written so far (the next byte's file offset). */
  offset: number;
  write(bytes: Uint8Array): void;
}

/** The settings of one encoding, checked. */
interface Settings {
  readonly compress: Compressor;
  readonly codec: number;
  readonly rowGroupSize: number;
  readonly pageSize: number;
  readonly createdBy: string;
  /** The zstd level of a second thread's compression, or `undefined` for none. */
  readonly parallelLevel: number | undefined;
}

function settings(options: ParquetEncodeOptions, parallel: boolean): Settings {
  const compression = options.compression ?? "zstd";
  const rowGroupSize = options.rowGroupSize ?? 131_072;
  const pageSize = options.pageSize ?? 1 << 20;
  if (!(Number.isInteger(rowGroupSize) && rowGroupSize >= 1)) {
    throw new RangeError(`parquet: rowGroupSize must be an integer >= 1, got ${rowGroupSize}`);
  }
  if (!(Number.isInteger(pageSize) && pageSize >= 1)) {
    throw new RangeError(`parquet: pageSize must be an integer >= 1, got ${pageSize}`);
  }
  return {
    compress: compressor(compression, options.zstdLevel),
    codec: CODEC[compression],
    rowGroupSize,
    pageSize,
    createdBy: options.createdBy ?? "AlphaPulse parquet writer",
    parallelLevel: parallel && compression === "zstd"
      ? options.zstdLevel ?? DEFAULT_ZSTD_LEVEL
      : undefined,
  };
}

/** The columns of `schema` in the encoder's form, all of one length. */
function prepare(schema: readonly ParquetField[], columns: ParquetColumns): Column[] {
  if (schema.length === 0) throw new RangeError("parquet: the schema has no column");
  const names = new Set<string>();
  const out = schema.map((field, i) => {
    if (names.has(field.name)) throw new TypeError(`parquet: duplicate column ${field.name}`);
    names.add(field.name);
    const data = Array.isArray(columns)
      ? (columns as readonly ColumnData[])[i]
      : (columns as Readonly<Record<string, ColumnData>>)[field.name];
    if (data === undefined) throw new TypeError(`parquet: no data for column ${field.name}`);
    return toColumn(field, data);
  });
  const rows = out[0].rows;
  for (const c of out) {
    if (c.rows !== rows) {
      throw new RangeError(`parquet: column ${c.field.name} has ${c.rows} rows, not ${rows}`);
    }
  }
  return out;
}

/** A column chunk whose pages are on their way to the sink: its sizes so far. */
interface OpenChunk {
  /** The file offset of its first page, -1 until that page is written. */
  dataPageOffset: number;
  numValues: number;
  uncompressedSize: number;
  compressedSize: number;
}

/** A page on its way to the sink: compressed here, or in a slot of the pool. */
interface Page {
  readonly chunk: OpenChunk;
  readonly values: number;
  readonly bodyLength: number;
  readonly compressed?: Uint8Array;
  readonly pool?: ZstdPool;
  readonly slot?: number;
}

/** Pages made ahead of the sink at most (beyond, the encoder waits for the first one). */
const MAX_PENDING = 16;

/**
 * Makes the pages of rows `[from, to)` of `column` (one column chunk) and queues them in
 * `pending`, writing those whose turn it is; returns the chunk's metadata, complete once
 * all its pages are written. With a second thread (`s.parallelLevel`), large pages are
 * compressed there while the next pages (of this chunk or the next) are made, and here
 * when every slot is busy; pages are written in order either way.
 */
function writeChunk(
  sink: Sink,
  column: Column,
  from: number,
  to: number,
  s: Settings,
  body: ByteWriter,
  pending: Page[],
): () => ChunkMeta {
  const chunk: OpenChunk = {
    dataPageOffset: -1,
    numValues: 0,
    uncompressedSize: 0,
    compressedSize: 0,
  };
  for (let start = from; start < to;) {
    const end = pageEnd(column, start, to, s.pageSize);
    body.clear();
    const values = writePageBody(body, column, start, end);
    const pool = s.parallelLevel !== undefined && body.length >= POOL_MIN_BYTES
      ? zstdPool(s.parallelLevel)
      : undefined;
    const slot = pool !== undefined && body.length <= pool.capacity ? pool.take() : -1;
    if (slot >= 0) {
      pool!.submit(slot, body.view());
      pending.push({ chunk, values, bodyLength: body.length, pool, slot });
    } else {
      pending.push({ chunk, values, bodyLength: body.length, compressed: s.compress(body.view()) });
    }
    writePages(sink, pending, s, pending.length > MAX_PENDING);
    start = end;
  }
  const statistics = chunkStatistics(column, from, to);
  return () => ({
    physicalType: physicalType(column.field.type),
    path: leafPath(column.field),
    codec: s.codec,
    numValues: chunk.numValues,
    uncompressedSize: chunk.uncompressedSize,
    compressedSize: chunk.compressedSize,
    dataPageOffset: chunk.dataPageOffset,
    statistics,
  });
}

/**
 * Writes the pending pages in order, as long as the first one is compressed (waiting for
 * the pool's result of the first one when `wait`, of all when `wait` is `"all"`); adds
 * their sizes to their chunks.
 */
function writePages(sink: Sink, pending: Page[], s: Settings, wait: boolean | "all"): void {
  let n = 0;
  for (; n < pending.length; n++) {
    const page = pending[n];
    const { pool, slot } = page;
    const mustWait = wait === "all" || (wait && n === 0);
    if (pool !== undefined && slot !== undefined && !mustWait && !pool.done(slot)) break;
    const compressed = page.compressed ?? pool!.result(slot!) ?? s.compress(pool!.input(slot!));
    const header = pageHeader(page.values, page.bodyLength, compressed.length);
    const chunk = page.chunk;
    if (chunk.dataPageOffset < 0) chunk.dataPageOffset = sink.offset;
    sink.write(header);
    sink.write(compressed);
    if (pool !== undefined) pool.release(slot!);
    chunk.numValues += page.values;
    chunk.uncompressedSize += header.length + page.bodyLength;
    chunk.compressedSize += header.length + compressed.length;
  }
  pending.splice(0, n);
}

/** Encodes the whole file into `sink`. */
function encodeInto(
  sink: Sink,
  schema: readonly ParquetField[],
  columns: ParquetColumns,
  options: ParquetEncodeOptions,
  parallel: boolean,
): void {
  const s = settings(options, parallel);
  const prepared = prepare(schema, columns);
  const rows = prepared[0].rows;
  const body = new ByteWriter(s.pageSize + 4096);
  const groups: ThriftStruct[] = [];
  sink.write(MAGIC);
  const pending: Page[] = [];
  for (let from = 0; from < rows; from += s.rowGroupSize) {
    const to = Math.min(rows, from + s.rowGroupSize);
    const chunks = prepared.map((column) => writeChunk(sink, column, from, to, s, body, pending));
    writePages(sink, pending, s, "all");
    groups.push(rowGroup(chunks.map((meta) => meta()), to - from));
  }
  sink.write(footer(schemaElements(schema), rows, groups, schema.length, s.createdBy));
}

/**
 * The bytes of a Parquet file holding `columns` (see {@linkcode ColumnData} for the data
 * each field type takes). Throws `TypeError` for a missing column or data of the wrong
 * kind, `RangeError` for columns of different lengths or an int64 that is no safe integer.
 */
export function encodeParquet(
  schema: readonly ParquetField[],
  columns: ParquetColumns,
  options: ParquetEncodeOptions = {},
): Uint8Array {
  const parts: Uint8Array[] = [];
  const sink: Sink = {
    offset: 0,
    write(bytes) {
      parts.push(bytes);
      this.offset += bytes.length;
    },
  };
  encodeInto(sink, schema, columns, options, false);
  const out = new Uint8Array(sink.offset);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Writes the Parquet file of {@linkcode encodeParquet} to `path` (created or truncated),
 * each page as it is encoded. Resolves to the file's size in bytes.
 */
export async function writeParquetFile(
  path: string | URL,
  schema: readonly ParquetField[],
  columns: ParquetColumns,
  options: ParquetEncodeOptions = {},
): Promise<number> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const sink: Sink = {
    offset: 0,
    write(bytes) {
      let done = 0;
      while (done < bytes.length) done += file.writeSync(bytes.subarray(done));
      this.offset += bytes.length;
    },
  };
  encodeInto(sink, schema, columns, options, true);
  return sink.offset;
}
