/**
 * The Thrift structures of a Parquet file's footer and page headers (`parquet.thrift`):
 * data page v1 headers, column chunk metadata with statistics, row groups and the file
 * metadata.
 * @module
 */
import { ByteWriter } from "./byte_writer.ts";
import type { ChunkStatistics } from "./statistics.ts";
import { t, type ThriftStruct, writeStruct } from "./thrift.ts";

const DATA_PAGE = 0;
const PLAIN = 0;
const RLE = 3;

/** The bytes of a data page v1 header. */
export function pageHeader(
  numValues: number,
  uncompressedSize: number,
  compressedSize: number,
): Uint8Array {
  const out = new ByteWriter(64);
  writeStruct(out, [
    [1, t.i32(DATA_PAGE)],
    [2, t.i32(uncompressedSize)],
    [3, t.i32(compressedSize)],
    [5, t.struct([[1, t.i32(numValues)], [2, t.i32(PLAIN)], [3, t.i32(RLE)], [4, t.i32(RLE)]])],
  ]);
  return out.view().slice();
}

/** What the footer says of one column chunk. */
export interface ChunkMeta {
  readonly physicalType: number;
  readonly path: readonly string[];
  readonly codec: number;
  readonly numValues: number;
  readonly uncompressedSize: number;
  readonly compressedSize: number;
  readonly dataPageOffset: number;
  readonly statistics: ChunkStatistics;
}

/** A `ColumnChunk` struct. */
export function columnChunk(c: ChunkMeta): ThriftStruct {
  const s = c.statistics;
  const statistics: ThriftStruct = [
    [3, t.i64(s.nullCount)],
    [5, t.binary(s.max)],
    [6, t.binary(s.min)],
  ];
  return [
    [2, t.i64(c.dataPageOffset)],
    [
      3,
      t.struct([
        [1, t.i32(c.physicalType)],
        [2, t.list("i32", [PLAIN, RLE])],
        [3, t.list("binary", c.path)],
        [4, t.i32(c.codec)],
        [5, t.i64(c.numValues)],
        [6, t.i64(c.uncompressedSize)],
        [7, t.i64(c.compressedSize)],
        [9, t.i64(c.dataPageOffset)],
        [12, t.struct(statistics)],
      ]),
    ],
  ];
}

/** A `RowGroup` struct of its column chunks. */
export function rowGroup(chunks: readonly ChunkMeta[], numRows: number): ThriftStruct {
  let uncompressed = 0;
  let compressed = 0;
  for (const c of chunks) {
    uncompressed += c.uncompressedSize;
    compressed += c.compressedSize;
  }
  return [
    [1, t.list("struct", chunks.map(columnChunk))],
    [2, t.i64(uncompressed)],
    [3, t.i64(numRows)],
    [5, t.i64(chunks.length > 0 ? chunks[0].dataPageOffset : 0)],
    [6, t.i64(compressed)],
  ];
}

/** The footer: `FileMetaData`, its 4-byte length and the closing magic. */
export function footer(
  schema: readonly ThriftStruct[],
  numRows: number,
  rowGroups: readonly ThriftStruct[],
  leafColumns: number,
  createdBy: string,
): Uint8Array {
  const out = new ByteWriter(4096);
  writeStruct(out, [
    [1, t.i32(1)],
    [2, t.list("struct", schema)],
    [3, t.i64(numRows)],
    [4, t.list("struct", rowGroups)],
    [6, t.binary(createdBy)],
    // Min / max are in each type's own order (TypeDefinedOrder) for every leaf column.
    [7, t.list("struct", Array.from({ length: leafColumns }, () => [[1, t.struct([])]]))],
  ]);
  const length = out.length;
  out.i32(length);
  out.append(MAGIC);
  return out.view().slice();
}

/** `PAR1`, at the start and the end of every file. */
export const MAGIC: Uint8Array = new TextEncoder().encode("PAR1");
