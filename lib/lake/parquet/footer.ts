/**
 * A Parquet footer reader: `FileMetaData` (schema, row groups, their column chunks with
 * offsets, sizes and statistics, key-value metadata) decoded from a file's last bytes,
 * without reading its pages. The decoded Thrift tree is kept (`raw`) so that a footer can be
 * rewritten without losing fields this reader does not name (see `concat.ts`).
 * @module
 */
import { decodeStruct, type ThriftFields, type ThriftNode } from "./thrift_reader.ts";

/** One `SchemaElement`. */
export interface SchemaNode {
  readonly name: string;
  /** Physical type (`Type` enum: 0 BOOLEAN, 1 INT32, 2 INT64, 5 DOUBLE, 6 BYTE_ARRAY...). */
  readonly type?: number;
  /** 0 REQUIRED, 1 OPTIONAL, 2 REPEATED. */
  readonly repetition?: number;
  readonly numChildren?: number;
  readonly convertedType?: number;
}

/** A column chunk's statistics, bounds as stored (plain-encoded). */
export interface FooterStatistics {
  readonly nullCount?: number;
  /** `min_value` / `max_value` (the type's own order). */
  readonly minValue?: Uint8Array;
  readonly maxValue?: Uint8Array;
  /** The deprecated `min` / `max` (signed order: trustworthy for numbers only). */
  readonly min?: Uint8Array;
  readonly max?: Uint8Array;
}

/** One column chunk of a row group. */
export interface FooterChunk {
  readonly path: readonly string[];
  readonly type: number;
  readonly codec: number;
  readonly numValues: number;
  readonly totalCompressedSize: number;
  readonly totalUncompressedSize: number;
  readonly dataPageOffset: number;
  readonly dictionaryPageOffset?: number;
  /** Where the chunk's bytes start: its dictionary page if it has one, else its first page. */
  readonly start: number;
  readonly statistics?: FooterStatistics;
}

/** One row group. */
export interface FooterRowGroup {
  readonly numRows: number;
  readonly totalByteSize: number;
  readonly columns: readonly FooterChunk[];
}

/** A decoded footer. */
export interface ParquetFooter {
  readonly version: number;
  readonly numRows: number;
  readonly schema: readonly SchemaNode[];
  readonly rowGroups: readonly FooterRowGroup[];
  readonly keyValue: readonly { readonly key: string; readonly value?: string }[];
  readonly createdBy?: string;
  /** The `FileMetaData` struct as decoded. */
  readonly raw: ThriftFields;
  /** Where the footer starts in the file (the end of the pages). */
  readonly footerStart: number;
}

const MAGIC = "PAR1";
const text = new TextDecoder();

function field(fields: ThriftFields, id: number): ThriftNode | undefined {
  return fields.get(id);
}

function num(fields: ThriftFields, id: number): number | undefined {
  const n = field(fields, id);
  if (n === undefined) return undefined;
  if (n.t === "i64") return Number(n.v);
  if (n.t === "i32" || n.t === "i16" || n.t === "i8") return n.v;
  throw new TypeError(`parquet footer: field ${id} is a ${n.t}, not an integer`);
}

function req(fields: ThriftFields, id: number, what: string): number {
  const n = num(fields, id);
  if (n === undefined) throw new TypeError(`parquet footer: ${what} is missing`);
  return n;
}

function bin(fields: ThriftFields, id: number): Uint8Array | undefined {
  const n = field(fields, id);
  if (n === undefined) return undefined;
  if (n.t !== "binary") throw new TypeError(`parquet footer: field ${id} is no binary`);
  return n.v;
}

function str(fields: ThriftFields, id: number): string | undefined {
  const b = bin(fields, id);
  return b === undefined ? undefined : text.decode(b);
}

function structs(fields: ThriftFields, id: number): ThriftFields[] {
  const n = field(fields, id);
  if (n === undefined) return [];
  if (n.t !== "list") throw new TypeError(`parquet footer: field ${id} is no list`);
  return n.v.map((item) => {
    if (item.t !== "struct") throw new TypeError(`parquet footer: field ${id} holds no structs`);
    return item.v;
  });
}

function struct(fields: ThriftFields, id: number): ThriftFields | undefined {
  const n = field(fields, id);
  if (n === undefined) return undefined;
  if (n.t !== "struct") throw new TypeError(`parquet footer: field ${id} is no struct`);
  return n.v;
}

function schemaNode(s: ThriftFields): SchemaNode {
  return {
    name: str(s, 4) ?? "",
    type: num(s, 1),
    repetition: num(s, 3),
    numChildren: num(s, 5),
    convertedType: num(s, 6),
  };
}

function statistics(s: ThriftFields | undefined): FooterStatistics | undefined {
  if (s === undefined) return undefined;
  return {
    nullCount: num(s, 3),
    max: bin(s, 1),
    min: bin(s, 2),
    maxValue: bin(s, 5),
    minValue: bin(s, 6),
  };
}

function chunk(c: ThriftFields): FooterChunk {
  if (bin(c, 1) !== undefined) throw new TypeError("parquet footer: column chunk in another file");
  const m = struct(c, 3);
  if (m === undefined) throw new TypeError("parquet footer: column chunk without metadata");
  const path = field(m, 3);
  const dataPageOffset = req(m, 9, "data_page_offset");
  const dictionaryPageOffset = num(m, 11);
  const start = dictionaryPageOffset !== undefined && dictionaryPageOffset > 0 &&
      dictionaryPageOffset < dataPageOffset
    ? dictionaryPageOffset
    : dataPageOffset;
  return {
    type: req(m, 1, "column type"),
    path: path?.t === "list" ? path.v.map((p) => p.t === "binary" ? text.decode(p.v) : "") : [],
    codec: req(m, 4, "codec"),
    numValues: req(m, 5, "num_values"),
    totalUncompressedSize: req(m, 6, "total_uncompressed_size"),
    totalCompressedSize: req(m, 7, "total_compressed_size"),
    dataPageOffset,
    ...(dictionaryPageOffset === undefined ? {} : { dictionaryPageOffset }),
    start,
    statistics: statistics(struct(m, 12)),
  };
}

/**
 * Decodes a `FileMetaData` struct (the bytes between the pages and the footer's length).
 * Throws `TypeError` / `RangeError` for a malformed or encrypted footer.
 */
export function parseFileMetaData(bytes: Uint8Array, footerStart = 0): ParquetFooter {
  const { fields } = decodeStruct(bytes);
  if (fields.has(8) || fields.has(9)) throw new TypeError("parquet footer: encrypted file");
  return {
    version: req(fields, 1, "version"),
    numRows: req(fields, 3, "num_rows"),
    schema: structs(fields, 2).map(schemaNode),
    rowGroups: structs(fields, 4).map((g) => ({
      numRows: req(g, 3, "row group num_rows"),
      totalByteSize: req(g, 2, "row group total_byte_size"),
      columns: structs(g, 1).map(chunk),
    })),
    keyValue: structs(fields, 5).map((kv) => ({
      key: str(kv, 1) ?? "",
      ...(kv.has(2) ? { value: str(kv, 2) } : {}),
    })),
    createdBy: str(fields, 6),
    raw: fields,
    footerStart,
  };
}

/** Reads `length` bytes at `offset` of an open file (throws `RangeError` when short). */
export async function readAt(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let at = 0;
  while (at < length) {
    const n = await file.read(out.subarray(at));
    if (n === null) throw new RangeError(`parquet: file ends before byte ${offset + length}`);
    at += n;
  }
  return out;
}

/** The footer of an open Parquet file of `size` bytes. */
export async function readFooterOf(file: Deno.FsFile, size: number): Promise<ParquetFooter> {
  if (size < 12) throw new RangeError(`parquet: a file of ${size} bytes is no Parquet file`);
  const head = text.decode(await readAt(file, 0, 4));
  const tail = await readAt(file, size - 8, 8);
  if (head !== MAGIC || text.decode(tail.subarray(4)) !== MAGIC) {
    throw new TypeError("parquet: no PAR1 magic (not a Parquet file, or encrypted)");
  }
  const length = new DataView(tail.buffer).getUint32(0, true);
  const footerStart = size - 8 - length;
  if (length === 0 || footerStart < 4) throw new RangeError("parquet: bad footer length");
  return parseFileMetaData(await readAt(file, footerStart, length), footerStart);
}

/** The footer of the Parquet file at `path`. */
export async function readParquetFooter(path: string): Promise<ParquetFooter> {
  using file = await Deno.open(path, { read: true });
  const { size } = await file.stat();
  return await readFooterOf(file, size);
}

/**
 * The value of a plain-encoded statistics bound of physical type `type`: a number for
 * BOOLEAN (0 / 1), INT32, FLOAT and DOUBLE, a `bigint` for INT64, the bytes otherwise.
 */
export function statisticValue(type: number, bytes: Uint8Array): number | bigint | Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case 0:
      return bytes[0] === 0 ? 0 : 1;
    case 1:
      return view.getInt32(0, true);
    case 2:
      return view.getBigInt64(0, true);
    case 4:
      return view.getFloat32(0, true);
    case 5:
      return view.getFloat64(0, true);
    default:
      return bytes;
  }
}

/** Compares two statistic values of one type (bytes unsigned, lexicographically). */
export function compareStatistic(
  a: number | bigint | Uint8Array,
  b: number | bigint | Uint8Array,
): number {
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  }
  if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  throw new TypeError("parquet: statistics of different types compared");
}
