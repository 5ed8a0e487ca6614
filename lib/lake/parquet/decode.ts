/**
 * A reader for the files this package writes ({@linkcode encodeParquet}): data page v1, PLAIN
 * values, RLE / bit-packed hybrid levels, uncompressed or zstd pages, every column `OPTIONAL`
 * and lists as the three-level `LIST`. It decodes a column straight into typed arrays the
 * caller owns (no frame, no per-value allocation). Anything else (another writer, dictionary
 * pages, data page v2, other codecs, a schema not as written here) makes it answer
 * `undefined`, for the caller to read the file another way.
 * @module
 */
import { type FooterChunk, type ParquetFooter, parseFileMetaData } from "./footer.ts";
import { CODEC } from "./compression.ts";
import { PHYSICAL } from "./schema.ts";
import { zstdDecompressInto } from "./_zstd_into.ts";
import { pageHeaderAt } from "./_page_header.ts";
import { prefetched } from "./_page_prefetch.ts";

export { pagePrefetch, type PrefetchColumn, prefetchPages } from "./_page_prefetch.ts";

/** What {@linkcode encodeParquet} writes as `created_by` (with its version after it). */
const OWN_WRITER = "AlphaPulse parquet writer";

/** A file's bytes with its footer, when this module's writer wrote it. */
export interface OwnParquetFile {
  readonly bytes: Uint8Array;
  readonly footer: ParquetFooter;
}

/** The file in `bytes` if this package's writer wrote it (else `undefined`). */
export function ownParquetFile(bytes: Uint8Array): OwnParquetFile | undefined {
  const n = bytes.length;
  if (n < 12) return undefined;
  const magic = (at: number) =>
    bytes[at] === 0x50 && bytes[at + 1] === 0x41 && bytes[at + 2] === 0x52 &&
    bytes[at + 3] === 0x31;
  if (!magic(0) || !magic(n - 4)) return undefined;
  const length = new DataView(bytes.buffer, bytes.byteOffset + n - 8, 4).getInt32(0, true);
  const start = n - 8 - length;
  if (length <= 0 || start < 4) return undefined;
  let footer: ParquetFooter;
  try {
    footer = parseFileMetaData(bytes.subarray(start, n - 8), start);
  } catch {
    return undefined;
  }
  if (!(footer.createdBy ?? "").startsWith(OWN_WRITER)) return undefined;
  return { bytes, footer };
}

/** How a column is decoded: its leaf's physical type and whether it is a list of it. */
type Shape = { readonly physical: number; readonly list: boolean };

/**
 * The column chunks (one per row group) of top-level column `name` when the schema holds it
 * as this package writes it: `OPTIONAL` of `physical`, or `OPTIONAL` group `LIST` / `REPEATED`
 * `list` / `OPTIONAL` `element` of `physical` for lists.
 */
function chunksOf(file: OwnParquetFile, name: string, shape: Shape): FooterChunk[] | undefined {
  const schema = file.footer.schema;
  const root = schema[0];
  let at = 1;
  let index = -1;
  for (let child = 0; child < (root?.numChildren ?? 0) && at < schema.length; child++) {
    if (schema[at].name === name) index = at;
    // Skip the child's subtree.
    let pending = 1;
    while (pending > 0 && at < schema.length) pending += (schema[at++].numChildren ?? 0) - 1;
  }
  if (index < 0) return undefined;
  const top = schema[index];
  if (top.repetition !== 1) return undefined;
  if (shape.list) {
    const [list, element] = [schema[index + 1], schema[index + 2]];
    const ok = top.numChildren === 1 && top.type === undefined && list?.repetition === 2 &&
      list.numChildren === 1 && element?.repetition === 1 && element.type === shape.physical &&
      (element.numChildren ?? 0) === 0;
    if (!ok) return undefined;
  } else if (top.type !== shape.physical || (top.numChildren ?? 0) !== 0) return undefined;
  const path = shape.list ? [name, schema[index + 1].name, schema[index + 2].name] : [name];
  const chunks: FooterChunk[] = [];
  for (const group of file.footer.rowGroups) {
    const c = group.columns.find((c) =>
      c.path.length === path.length && c.path.every((p, i) => p === path[i])
    );
    if (c === undefined || c.type !== shape.physical) return undefined;
    if (c.codec !== CODEC.zstd && c.codec !== CODEC.uncompressed) return undefined;
    if (c.dictionaryPageOffset !== undefined && c.dictionaryPageOffset > 0) return undefined;
    chunks.push(c);
  }
  return chunks;
}

let PAGE = new Uint8Array(0);

/** One data page: its number of levels, its uncompressed body and where the next starts. */
interface Page {
  readonly values: number;
  /** Valid until the next page is read. */
  readonly body: Uint8Array;
  readonly next: number;
}

/**
 * The data page at `pos` of `chunk` (its body decompressed into a buffer reused by the next
 * page), or `undefined` for a page this reader does not know.
 */
function pageAt(file: OwnParquetFile, chunk: FooterChunk, pos: number): Page | undefined {
  const h = pageHeaderAt(file, chunk, pos);
  if (h === undefined) return undefined;
  const { raw, size } = h;
  const stored = file.bytes.subarray(h.body, h.body + size);
  let body: Uint8Array;
  if (chunk.codec === CODEC.zstd) {
    const made = prefetched(file, pos, raw);
    if (made !== undefined) body = made;
    else {
      if (PAGE.length < raw + 1) PAGE = new Uint8Array(raw + 1);
      try {
        body = zstdDecompressInto(stored, raw, PAGE);
      } catch {
        return undefined;
      }
    }
  } else if (raw === size) body = stored;
  else return undefined;
  return { values: h.values, body, next: h.body + size };
}

/**
 * Calls `use` with each data page of a chunk (its number of levels and its uncompressed
 * body, valid during the call only) until it answers `false`; `false` for a page this
 * reader does not know or a `false` from `use`.
 */
function eachPage(
  file: OwnParquetFile,
  chunk: FooterChunk,
  use: (values: number, body: Uint8Array) => boolean,
): boolean {
  let pos = chunk.start;
  let seen = 0;
  while (seen < chunk.numValues) {
    const page = pageAt(file, chunk, pos);
    if (page === undefined || !use(page.values, page.body)) return false;
    seen += page.values;
    pos = page.next;
  }
  return seen === chunk.numValues;
}

let LEVELS = new Uint8Array(0);
let LEVELS2 = new Uint8Array(0);

/**
 * Decodes `count` levels (`bitWidth` 1 to 8) of the 4-byte-length-prefixed hybrid run at
 * `pos` of `body` into `out`; returns the position after them, or -1 when malformed.
 */
function readLevels(
  body: Uint8Array,
  pos: number,
  bitWidth: number,
  out: Uint8Array,
  count: number,
): number {
  if (pos + 4 > body.length) return -1;
  const length = body[pos] | (body[pos + 1] << 8) | (body[pos + 2] << 16) | (body[pos + 3] << 24);
  const end = pos + 4 + length;
  if (length < 0 || end > body.length) return -1;
  let p = pos + 4;
  let n = 0;
  const mask = (1 << bitWidth) - 1;
  while (n < count) {
    if (p >= end) return -1;
    let header = 0;
    let shift = 0;
    for (;;) {
      const b = body[p++];
      header += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 28 || p >= end) return -1;
    }
    if ((header & 1) === 0) {
      const run = header / 2;
      if (p >= end) return -1;
      const value = body[p++];
      if (value > mask) return -1;
      const stop = Math.min(count, n + run);
      if (stop - n > 16) out.fill(value, n, stop);
      else for (; n < stop; n++) out[n] = value;
      n = stop;
    } else {
      const groups = (header - 1) / 2;
      const bytes = groups * bitWidth;
      if (p + bytes > end) return -1;
      const stop = Math.min(count, n + groups * 8);
      if (bitWidth === 1) n = unpack1(body, p, out, n, stop);
      else if (bitWidth === 2) n = unpack2(body, p, out, n, stop);
      let bit = p * 8;
      for (; n < stop; n++) {
        const byte = bit >> 3;
        const window = body[byte] | ((byte + 1 < end ? body[byte + 1] : 0) << 8);
        out[n] = (window >> (bit & 7)) & mask;
        bit += bitWidth;
      }
      p += bytes;
    }
  }
  return end;
}

/**
 * Bit-packed levels of width 1 from byte `p` of `body` into `out[n..stop)` (whole bytes of 8
 * values while they fit, then value by value); returns `stop`.
 */
function unpack1(body: Uint8Array, p: number, out: Uint8Array, n: number, stop: number): number {
  for (; n + 8 <= stop; n += 8) {
    const b = body[p++];
    out[n] = b & 1;
    out[n + 1] = (b >> 1) & 1;
    out[n + 2] = (b >> 2) & 1;
    out[n + 3] = (b >> 3) & 1;
    out[n + 4] = (b >> 4) & 1;
    out[n + 5] = (b >> 5) & 1;
    out[n + 6] = (b >> 6) & 1;
    out[n + 7] = b >> 7;
  }
  for (let j = 0; n < stop; n++, j++) out[n] = (body[p] >> j) & 1;
  return n;
}

/** {@linkcode unpack1} for width 2 (4 values a byte). */
function unpack2(body: Uint8Array, p: number, out: Uint8Array, n: number, stop: number): number {
  for (; n + 4 <= stop; n += 4) {
    const b = body[p++];
    out[n] = b & 3;
    out[n + 1] = (b >> 2) & 3;
    out[n + 2] = (b >> 4) & 3;
    out[n + 3] = b >> 6;
  }
  for (let j = 0; n < stop; n++, j += 2) out[n] = (body[p] >> j) & 3;
  return n;
}

function levelBuffer(count: number, second = false): Uint8Array {
  if (second) {
    if (LEVELS2.length < count) LEVELS2 = new Uint8Array(count);
    return LEVELS2;
  }
  if (LEVELS.length < count) LEVELS = new Uint8Array(count);
  return LEVELS;
}

/**
 * Writes the numbers of optional column `name` (INT64 or INT32, as `physical` says) into
 * `out` from `at` (nulls as `nullValue`); returns the rows written, or `undefined` when the
 * column is not as this module writes it, or a null is met and `nullValue` is `undefined`.
 * INT64 values are converted to doubles (exact up to 2^53).
 */
export function readNumbers(
  file: OwnParquetFile,
  name: string,
  physical: typeof PHYSICAL.INT64 | typeof PHYSICAL.INT32,
  out: Float64Array | Int32Array,
  at: number,
  nullValue?: number,
): number | undefined {
  const chunks = chunksOf(file, name, { physical, list: false });
  if (chunks === undefined) return undefined;
  let row = at;
  const width = physical === PHYSICAL.INT64 ? 8 : 4;
  const page = (values: number, body: Uint8Array) => {
    if (row + values > out.length) return false;
    const defs = levelBuffer(values);
    const pos = readLevels(body, 0, 1, defs, values);
    if (pos < 0) return false;
    let present = 0;
    for (let i = 0; i < values; i++) present += defs[i];
    if (present < values && nullValue === undefined) return false;
    if (pos + present * width > body.length) return false;
    // The values copied to aligned memory, read as 32-bit halves.
    if (ALIGNED.byteLength < present * width) {
      ALIGNED = new Int32Array(Math.ceil(present * width / 4) + 1024);
    }
    new Uint8Array(ALIGNED.buffer, 0, present * width).set(
      body.subarray(pos, pos + present * width),
    );
    row = width === 8
      ? spreadInt64(ALIGNED, defs, values, out, row, nullValue ?? 0)
      : spreadInt32(ALIGNED, defs, values, out, row, nullValue ?? 0);
    return true;
  };
  for (const chunk of chunks) if (!eachPage(file, chunk, page)) return undefined;
  return row - at;
}

let ALIGNED = new Int32Array(0);

/** INT64 values (as 32-bit halves in `halves`) to `out` from `row`, nulls where `defs` is 0. */
function spreadInt64(
  halves: Int32Array,
  defs: Uint8Array,
  values: number,
  out: Float64Array | Int32Array,
  row: number,
  nullValue: number,
): number {
  let j = 0;
  for (let i = 0; i < values; i++) {
    if (defs[i] === 0) out[row++] = nullValue;
    else {
      out[row++] = (halves[j] >>> 0) + halves[j + 1] * 4294967296;
      j += 2;
    }
  }
  return row;
}

/** INT32 values to `out` from `row`, nulls where `defs` is 0. */
function spreadInt32(
  ints: Int32Array,
  defs: Uint8Array,
  values: number,
  out: Float64Array | Int32Array,
  row: number,
  nullValue: number,
): number {
  let j = 0;
  for (let i = 0; i < values; i++) out[row++] = defs[i] === 0 ? nullValue : ints[j++];
  return row;
}

/** Where {@linkcode readList} writes: row offsets and values, from `row` and `value`. */
export interface ListTarget {
  /** `offsets[row + r]` is where row `r`'s values start; one more entry is written. */
  readonly offsets: Int32Array;
  readonly values: Float64Array;
  readonly row: number;
  readonly value: number;
}

/**
 * Writes list-of-doubles column `name` as offsets and flat values (a null or empty list as
 * an empty row); returns `[rows, values]` written, or `undefined` when the column is not as
 * this module writes it or holds a null element.
 */
export function readList(
  file: OwnParquetFile,
  name: string,
  target: ListTarget,
): [rows: number, values: number] | undefined {
  const chunks = chunksOf(file, name, { physical: PHYSICAL.DOUBLE, list: true });
  if (chunks === undefined) return undefined;
  const { offsets, values: out } = target;
  // `at[0]`: the row being written (-1 before the first), `at[1]` the next value.
  const at = [target.row - 1, target.value];
  const page = (values: number, body: Uint8Array) => listPage(values, body, offsets, out, at) >= 0;
  for (const chunk of chunks) if (!eachPage(file, chunk, page)) return undefined;
  return endList(target, at);
}

/** The last offset of a list read (`at` as in {@linkcode readList}): `[rows, values]`. */
function endList(target: ListTarget, at: number[]): [number, number] | undefined {
  const row = at[0] + 1;
  if (row >= target.offsets.length) return undefined;
  target.offsets[row] = at[1];
  return [row - target.row, at[1] - target.value];
}

/**
 * One page of a list column: its row offsets into `offsets` and its values into `out` (`at`
 * as in {@linkcode readList}, advanced); returns where the levels end in `body` (the values
 * start), or -1 for a page not as written here.
 */
function listPage(
  values: number,
  body: Uint8Array,
  offsets: Int32Array,
  out: Float64Array,
  at: number[],
): number {
  const reps = levelBuffer(values);
  const defs = levelBuffer(values, true);
  let pos = readLevels(body, 0, 1, reps, values);
  if (pos >= 0) pos = readLevels(body, pos, 2, defs, values);
  // A page starts a row (lists never span pages as written here).
  if (pos < 0 || reps[0] !== 0) return -1;
  const start = at[1];
  if (!listOffsets(reps, defs, values, offsets, at)) return -1;
  if (!copyDoubles(body, pos, out, start, at[1] - start)) return -1;
  return pos;
}

/** `count` doubles of `body` from byte `pos` into `out` from `at`; `false` if out of range. */
function copyDoubles(
  body: Uint8Array,
  pos: number,
  out: Float64Array,
  at: number,
  count: number,
): boolean {
  if (pos + count * 8 > body.length || at + count > out.length) return false;
  new Uint8Array(out.buffer, out.byteOffset + at * 8, count * 8)
    .set(body.subarray(pos, pos + count * 8));
  return true;
}

let LEVEL_BYTES = new Uint8Array(0);

/**
 * Two list-of-doubles columns whose lists have the same lengths row by row (a book side's
 * prices and sizes), read as {@linkcode readList} reads `names[0]` into `target`, with the
 * values of `names[1]` into `second` at the same positions (its offsets are `target`'s).
 * The second column's levels are not decoded but compared byte for byte with the first's,
 * page by page: `undefined` where they differ or the pages do not pair up (and where
 * `readList` answers `undefined`), for the caller to read the columns one by one.
 */
export function readListPair(
  file: OwnParquetFile,
  names: readonly [string, string],
  target: ListTarget,
  second: Float64Array,
): [rows: number, values: number] | undefined {
  const shape = { physical: PHYSICAL.DOUBLE, list: true };
  const [a, b] = [chunksOf(file, names[0], shape), chunksOf(file, names[1], shape)];
  if (a === undefined || b === undefined || a.length !== b.length) return undefined;
  const { offsets, values: out } = target;
  const at = [target.row - 1, target.value];
  for (let g = 0; g < a.length; g++) {
    if (a[g].numValues !== b[g].numValues) return undefined;
    let [pa, pb, seen] = [a[g].start, b[g].start, 0];
    while (seen < a[g].numValues) {
      const p = pageAt(file, a[g], pa);
      if (p === undefined) return undefined;
      const start = at[1];
      const levels = listPage(p.values, p.body, offsets, out, at);
      if (levels < 0) return undefined;
      // The first page's levels kept: the second page is decompressed into the same buffer.
      if (LEVEL_BYTES.length < levels) LEVEL_BYTES = new Uint8Array(levels * 2);
      LEVEL_BYTES.set(p.body.subarray(0, levels));
      const q = pageAt(file, b[g], pb);
      if (q === undefined || q.values !== p.values || q.body.length < levels) return undefined;
      const body = q.body;
      if (!samePrefix(body, LEVEL_BYTES, levels)) return undefined;
      if (!copyDoubles(body, levels, second, start, at[1] - start)) return undefined;
      [pa, pb, seen] = [p.next, q.next, seen + p.values];
    }
    if (seen !== a[g].numValues) return undefined;
  }
  return endList(target, at);
}

/**
 * Whether the first `n` bytes of `a` and `b` are equal. A function of its own: as a loop
 * inside `readListPair`'s page loop, the optimized code entered at it (on-stack replacement)
 * was thrown away on every exit, about 17 times per 1M-change read.
 */
function samePrefix(a: Uint8Array, b: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Row offsets of one page's levels: a repetition level 0 starts a row at the next value,
 * a definition level 3 is a value (1 an empty list, 0 a null one). `at` as in `readList`,
 * advanced; `false` for a null element or more rows than `offsets` holds.
 */
function listOffsets(
  reps: Uint8Array,
  defs: Uint8Array,
  values: number,
  offsets: Int32Array,
  at: number[],
): boolean {
  let row = at[0];
  let value = at[1];
  const last = offsets.length - 2;
  for (let i = 0; i < values; i++) {
    const d = defs[i];
    if (reps[i] === 0) {
      if (row >= last) return false;
      offsets[++row] = value;
    }
    if (d === 3) value++;
    else if (d === 2) return false;
  }
  at[0] = row;
  at[1] = value;
  return true;
}
