/**
 * The header of a data page as this package writes it ({@linkcode pageHeaderAt}): page v1,
 * PLAIN values, RLE levels. Shared by the reader (`decode.ts`) and the list of pages it
 * hands the decompression worker ahead of time (`_page_prefetch.ts`).
 * @module
 */
import type { FooterChunk } from "./footer.ts";
import type { OwnParquetFile } from "./decode.ts";
import { decodeStruct, type ThriftFields } from "./thrift_reader.ts";

const DATA_PAGE = 0;
const PLAIN = 0;
const RLE = 3;

/** Where a data page's parts are, in the file's bytes. */
export interface PageHeader {
  /** Levels (values, nulls included) in the page. */
  readonly values: number;
  /** Bytes of the body once decompressed. */
  readonly raw: number;
  /** Where the stored (maybe compressed) body starts. */
  readonly body: number;
  /** Bytes of the stored body. */
  readonly size: number;
}

/**
 * The header of the data page at `pos` of `chunk`, or `undefined` for a page this package's
 * reader does not know (or a body past the chunk's end).
 */
export function pageHeaderAt(
  file: OwnParquetFile,
  chunk: FooterChunk,
  pos: number,
): PageHeader | undefined {
  const end = chunk.start + chunk.totalCompressedSize;
  if (chunk.start < 4 || end > file.footer.footerStart || pos >= end) return undefined;
  let header: ThriftFields;
  let length: number;
  try {
    ({ fields: header, length } = decodeStruct(file.bytes.subarray(pos, end)));
  } catch {
    return undefined;
  }
  const int = (f: ThriftFields | undefined, id: number) => {
    const v = f?.get(id);
    return v?.t === "i32" ? v.v : undefined;
  };
  const data = header.get(5);
  const dataFields = data?.t === "struct" ? data.v : undefined;
  const size = int(header, 3);
  const raw = int(header, 2);
  const values = int(dataFields, 1);
  if (
    int(header, 1) !== DATA_PAGE || dataFields === undefined || size === undefined ||
    raw === undefined || values === undefined || values <= 0 || raw < 0 || size < 0 ||
    int(dataFields, 2) !== PLAIN || int(dataFields, 3) !== RLE || int(dataFields, 4) !== RLE
  ) return undefined;
  const body = pos + length;
  if (body + size > end) return undefined;
  return { values, raw, body, size };
}
