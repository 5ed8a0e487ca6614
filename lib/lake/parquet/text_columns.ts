/**
 * String columns held without a string per row, to their UTF-8 bytes and offsets (the
 * encoder's string form): {@linkcode DictionaryColumn} (codes into a few strings, each
 * encoded once) and {@linkcode DecimalColumn} (integers written as their decimal text, such
 * as numeric trade ids). Both are written as plain `BYTE_ARRAY` values, which read back in
 * DuckDB and Polars as the same `VARCHAR` / `Utf8` values as Polars' dictionary pages.
 * @module
 */
import type { ParquetField } from "./schema.ts";

/** A `string` column as codes into `dictionary`: row `i` is `dictionary[codes[i]]`. */
export interface DictionaryColumn {
  /** One code per row; a code past the dictionary's end is a null. */
  readonly codes: Uint8Array | Uint16Array | Int32Array;
  readonly dictionary: readonly string[];
}

/** A `string` column of safe integers written as their decimal text (`NaN` is a null). */
export interface DecimalColumn {
  readonly decimals: Float64Array;
}

/** UTF-8 bytes of a string column: value `i` is `bytes[offsets[i]..offsets[i + 1])`. */
export interface TextBytes {
  readonly bytes: Uint8Array;
  readonly offsets: Int32Array;
  /** Definition levels (1 present, 0 null), `undefined` when no value is null. */
  readonly defs: Uint8Array | undefined;
}

const utf8 = new TextEncoder();

function nullIn(field: ParquetField): TypeError {
  return new TypeError(`parquet: column ${field.name} is not nullable but holds a null`);
}

/** The bytes of a dictionary column: each entry encoded once, then copied per row. */
export function dictionaryBytes(field: ParquetField, data: DictionaryColumn): TextBytes {
  const { codes, dictionary } = data;
  if (!Array.isArray(dictionary)) {
    throw new TypeError(`parquet: column ${field.name}: dictionary is not an array`);
  }
  const entries = dictionary.map((s, k) => {
    if (typeof s !== "string") {
      throw new TypeError(`parquet: column ${field.name}: dictionary entry ${k} is no string`);
    }
    return utf8.encode(s);
  });
  const n = codes.length;
  const offsets = new Int32Array(n + 1);
  let defs: Uint8Array | undefined;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const entry = entries[codes[i]];
    if (entry === undefined) {
      if (field.nullable === false) throw nullIn(field);
      defs ??= new Uint8Array(n).fill(1);
      defs[i] = 0;
    } else total += entry.length;
    offsets[i + 1] = total;
  }
  const bytes = new Uint8Array(total);
  for (let i = 0; i < n; i++) {
    const entry = entries[codes[i]];
    if (entry === undefined) continue;
    let at = offsets[i];
    for (let b = 0; b < entry.length; b++) bytes[at++] = entry[b];
  }
  return { bytes, offsets, defs };
}

/** Decimal digits of a non-negative safe integer. */
function digitCount(v: number): number {
  let digits = 1;
  while (v >= 10) {
    v = Math.floor(v / 10);
    digits++;
  }
  return digits;
}

/** The bytes of integers as their decimal text (`-` for a negative one), NaN a null. */
export function decimalBytes(field: ParquetField, data: DecimalColumn): TextBytes {
  const values = data.decimals;
  if (!(values instanceof Float64Array)) {
    throw new TypeError(`parquet: column ${field.name}: decimals is not a Float64Array`);
  }
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  let defs: Uint8Array | undefined;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== v) {
      if (field.nullable === false) throw nullIn(field);
      defs ??= new Uint8Array(n).fill(1);
      defs[i] = 0;
    } else if (!Number.isSafeInteger(v)) {
      throw new RangeError(`parquet: column ${field.name}: not a safe integer: ${v}`);
    } else total += v < 0 ? 1 + digitCount(-v) : digitCount(v);
    offsets[i + 1] = total;
  }
  const bytes = new Uint8Array(total);
  for (let i = 0; i < n; i++) {
    let v = values[i];
    if (v !== v) continue;
    // Digits from the last: the value's bytes end at offsets[i + 1].
    let at = offsets[i + 1];
    if (v < 0) {
      bytes[offsets[i]] = 0x2d;
      v = -v;
    }
    do {
      const q = Math.floor(v / 10);
      bytes[--at] = 0x30 + (v - q * 10);
      v = q;
    } while (v > 0);
  }
  return { bytes, offsets, defs };
}
