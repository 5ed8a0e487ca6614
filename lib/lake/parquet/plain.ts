/**
 * A page's body for data page v1: repetition levels (lists), definition levels, then the
 * present values in the PLAIN encoding. Values already in a little-endian typed array of
 * the physical type (doubles, int32, int64 as `BigInt64Array`, list values) are copied as
 * bytes.
 * @module
 */
import type { ByteWriter } from "./byte_writer.ts";
import type { Column } from "./columns.ts";
import { RunWriter, writeLevels } from "./levels.ts";

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Writes the body of a page holding `column`'s rows `[from, to)`; returns its number of
 * values (levels: one per row, or per list element and per empty list).
 */
export function writePageBody(out: ByteWriter, column: Column, from: number, to: number): number {
  if (column.kind === "list") return writeListPage(out, column, from, to);
  const defs = column.defs;
  if (defs === undefined) {
    const runs = new RunWriter(out);
    runs.begin();
    runs.add(1, to - from);
    runs.end();
  } else writeLevels(out, defs, from, to, 1);
  if (column.kind === "string") writeStrings(out, column, from, to);
  else writeScalars(out, column, from, to);
  return to - from;
}

function writeListPage(
  out: ByteWriter,
  column: Extract<Column, { kind: "list" }>,
  from: number,
  to: number,
): number {
  const offsets = column.offsets;
  const runs = new RunWriter(out);
  runs.begin();
  let count = 0;
  for (let i = from; i < to; i++) {
    const length = offsets[i + 1] - offsets[i];
    runs.add(0, 1);
    runs.add(1, length - 1);
    count += length === 0 ? 1 : length;
  }
  runs.end();
  // Definition levels: 1 an empty list, 3 a present element (0 a null list, 2 a null
  // element: never written).
  runs.begin();
  for (let i = from; i < to; i++) {
    const length = offsets[i + 1] - offsets[i];
    if (length === 0) runs.add(1, 1);
    else runs.add(3, length);
  }
  runs.end();
  const base = offsets[0];
  copyNumbers(out, column.values, offsets[from] - base, offsets[to] - base);
  return count;
}

/** Appends `values[from..to)` as little-endian bytes. */
function copyNumbers(
  out: ByteWriter,
  values: Float64Array | Int32Array | BigInt64Array,
  from: number,
  to: number,
): void {
  if (LITTLE_ENDIAN) {
    const size = values.BYTES_PER_ELEMENT;
    out.append(new Uint8Array(values.buffer, values.byteOffset + from * size, (to - from) * size));
    return;
  }
  for (let i = from; i < to; i++) {
    if (values instanceof Float64Array) out.f64(values[i]);
    else if (values instanceof Int32Array) out.i32(values[i]);
    else out.big64(values[i]);
  }
}

function writeScalars(
  out: ByteWriter,
  column: Extract<Column, { kind: "scalar" }>,
  from: number,
  to: number,
): void {
  const { values, defs, field } = column;
  if (values instanceof Uint8Array) return writeBooleans(out, values, defs, from, to);
  const int64 = field.type === "int64" || field.type === "timestamp_us";
  if (defs === undefined && !(int64 && values instanceof Float64Array)) {
    return copyNumbers(out, values as Float64Array | Int32Array | BigInt64Array, from, to);
  }
  out.reserve((to - from) * 8);
  for (let i = from; i < to; i++) {
    if (defs !== undefined && defs[i] === 0) continue;
    if (values instanceof BigInt64Array) out.big64(values[i]);
    else if (int64) out.i64(values[i] as number);
    else if (values instanceof Int32Array) out.i32(values[i]);
    else out.f64(values[i] as number);
  }
}

/** Booleans bit-packed, the first value in the lowest bit. */
function writeBooleans(
  out: ByteWriter,
  values: Uint8Array,
  defs: Uint8Array | undefined,
  from: number,
  to: number,
): void {
  out.reserve(Math.ceil((to - from) / 8));
  let bit = 0;
  let byte = 0;
  for (let i = from; i < to; i++) {
    if (defs !== undefined && defs[i] === 0) continue;
    if (values[i] !== 0) byte |= 1 << bit;
    if (++bit === 8) {
      out.u8(byte);
      bit = byte = 0;
    }
  }
  if (bit > 0) out.u8(byte);
}

function writeStrings(
  out: ByteWriter,
  column: Extract<Column, { kind: "string" }>,
  from: number,
  to: number,
): void {
  const { bytes, offsets, defs } = column;
  out.reserve((to - from) * 4 + offsets[to] - offsets[from]);
  for (let i = from; i < to; i++) {
    if (defs !== undefined && defs[i] === 0) continue;
    out.i32(offsets[i + 1] - offsets[i]);
    out.append(bytes.subarray(offsets[i], offsets[i + 1]));
  }
}

/** The end of the page starting at row `from` (before `to`): about `pageBytes` of values. */
export function pageEnd(
  column: Column,
  from: number,
  to: number,
  pageBytes: number,
): number {
  if (column.kind === "scalar") {
    const width = column.values instanceof Uint8Array ? 1 : 8;
    return Math.min(to, from + Math.max(1, Math.floor(pageBytes / width)));
  }
  const offsets = column.offsets;
  const limit = column.kind === "list" ? Math.floor(pageBytes / 8) : pageBytes;
  let end = from + 1;
  while (end < to && offsets[end + 1] - offsets[from] + (end - from) <= limit) end++;
  return end;
}
