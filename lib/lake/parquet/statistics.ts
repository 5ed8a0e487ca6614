/**
 * Column chunk statistics: null count and min / max in the plain encoding of the column's
 * physical type (`Statistics.min_value` / `max_value`), which DuckDB and Polars prune row
 * groups on. As Polars writes them: a double column holding a NaN gets no min / max (DuckDB
 * orders NaN above every number, so bounds without it would prune wrongly); a zero bound is
 * written as -0.0 for the min and +0.0 for the max; strings compare by their UTF-8 bytes;
 * a column of nulls only gets no min / max. A list's null count counts null elements (empty
 * lists are not nulls).
 * @module
 */
import type { Column } from "./columns.ts";

/** A column chunk's statistics. */
export interface ChunkStatistics {
  readonly nullCount: number;
  /** Plain-encoded bounds, both or neither. */
  readonly min?: Uint8Array;
  readonly max?: Uint8Array;
}

/** The statistics of `column`'s rows `[from, to)`. */
export function chunkStatistics(column: Column, from: number, to: number): ChunkStatistics {
  if (column.kind === "list") {
    const base = column.offsets[0];
    return doubleBounds(
      column.values,
      column.offsets[from] - base,
      column.offsets[to] - base,
      undefined,
      0,
    );
  }
  const nullCount = countNulls(column.defs, from, to);
  if (column.kind === "string") return stringBounds(column, from, to, nullCount);
  const { values, defs } = column;
  if (column.field.type === "double") {
    return doubleBounds(values as Float64Array, from, to, defs, nullCount);
  }
  if (values instanceof BigInt64Array) return bigBounds(values, from, to, defs, nullCount);
  let min = Infinity;
  let max = -Infinity;
  for (let i = from; i < to; i++) {
    if (defs !== undefined && defs[i] === 0) continue;
    const v = values instanceof Uint8Array ? (values[i] === 0 ? 0 : 1) : values[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min > max) return { nullCount };
  const size = values instanceof Int32Array ? 4 : values instanceof Uint8Array ? 1 : 8;
  return { nullCount, min: plainInt(min, size), max: plainInt(max, size) };
}

function countNulls(defs: Uint8Array | undefined, from: number, to: number): number {
  if (defs === undefined) return 0;
  let nulls = 0;
  for (let i = from; i < to; i++) nulls += 1 - defs[i];
  return nulls;
}

function doubleBounds(
  values: Float64Array,
  from: number,
  to: number,
  defs: Uint8Array | undefined,
  nullCount: number,
): ChunkStatistics {
  let min = Infinity;
  let max = -Infinity;
  let seen = false;
  for (let i = from; i < to; i++) {
    if (defs !== undefined && defs[i] === 0) continue;
    const v = values[i];
    if (v !== v) return { nullCount };
    seen = true;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!seen) return { nullCount };
  return {
    nullCount,
    min: plainDouble(min === 0 ? -0 : min),
    max: plainDouble(max === 0 ? 0 : max),
  };
}

function bigBounds(
  values: BigInt64Array,
  from: number,
  to: number,
  defs: Uint8Array | undefined,
  nullCount: number,
): ChunkStatistics {
  let min: bigint | undefined;
  let max: bigint | undefined;
  for (let i = from; i < to; i++) {
    if (defs !== undefined && defs[i] === 0) continue;
    const v = values[i];
    if (min === undefined || v < min) min = v;
    if (max === undefined || v > max) max = v;
  }
  if (min === undefined || max === undefined) return { nullCount };
  return { nullCount, min: plainBig(min), max: plainBig(max) };
}

function stringBounds(
  column: Extract<Column, { kind: "string" }>,
  from: number,
  to: number,
  nullCount: number,
): ChunkStatistics {
  const { bytes, offsets, defs } = column;
  let min = -1;
  let max = -1;
  for (let i = from; i < to; i++) {
    if (defs !== undefined && defs[i] === 0) continue;
    if (min < 0 || compareBytes(bytes, offsets, i, min) < 0) min = i;
    if (max < 0 || compareBytes(bytes, offsets, i, max) > 0) max = i;
  }
  if (min < 0) return { nullCount };
  return {
    nullCount,
    min: bytes.slice(offsets[min], offsets[min + 1]),
    max: bytes.slice(offsets[max], offsets[max + 1]),
  };
}

/** Compares values `a` and `b` of a string column byte by byte (unsigned). */
function compareBytes(bytes: Uint8Array, offsets: Int32Array, a: number, b: number): number {
  const aEnd = offsets[a + 1];
  const bEnd = offsets[b + 1];
  let i = offsets[a];
  let j = offsets[b];
  for (; i < aEnd && j < bEnd; i++, j++) {
    if (bytes[i] !== bytes[j]) return bytes[i] - bytes[j];
  }
  return (aEnd - offsets[a]) - (bEnd - offsets[b]);
}

function plainDouble(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, value, true);
  return out;
}

function plainInt(value: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  if (size === 1) out[0] = value;
  else if (size === 4) view.setInt32(0, value, true);
  else view.setBigInt64(0, BigInt(value), true);
  return out;
}

function plainBig(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, value, true);
  return out;
}
