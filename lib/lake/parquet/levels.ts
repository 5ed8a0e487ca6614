/**
 * Definition and repetition levels in Parquet's RLE / bit-packed hybrid encoding, each
 * preceded by its 4-byte length as data page v1 stores them.
 * @module
 */
import type { ByteWriter } from "./byte_writer.ts";

/** Writes `run` repeats of `value` as one RLE run (`value` fits one byte). */
function rleRun(out: ByteWriter, run: number, value: number): void {
  out.varint(run * 2);
  out.u8(value);
}

/** The length of the run of equal values of `levels[from..to)` starting at `from`. */
function runLength(levels: Uint8Array, from: number, to: number): number {
  const value = levels[from];
  let i = from + 1;
  while (i < to && levels[i] === value) i++;
  return i - from;
}

/**
 * Writes `levels[from..to)` (each below `2 ** bitWidth`, `bitWidth` 1 to 8) with their
 * 4-byte length: runs of 8 or more equal values as RLE runs, the rest bit-packed in groups
 * of 8 (the last group padded with zeros).
 */
export function writeLevels(
  out: ByteWriter,
  levels: Uint8Array,
  from: number,
  to: number,
  bitWidth: number,
): void {
  const start = out.length;
  out.i32(0);
  let i = from;
  while (i < to) {
    const run = runLength(levels, i, to);
    if (run >= 8) {
      rleRun(out, run, levels[i]);
      i += run;
      continue;
    }
    const first = i;
    let groups = 0;
    while (i < to && groups < 63 && (groups === 0 || runLength(levels, i, to) < 8)) {
      i += 8;
      groups++;
    }
    out.varint(groups * 2 + 1);
    packGroups(out, levels, first, Math.min(i, to), groups, bitWidth);
    if (i > to) i = to;
  }
  out.i32At(start, out.length - start - 4);
}

/** Bit-packs `groups` groups of 8 values from `levels[first..end)` (zeros past `end`). */
function packGroups(
  out: ByteWriter,
  levels: Uint8Array,
  first: number,
  end: number,
  groups: number,
  bitWidth: number,
): void {
  const bytes = groups * bitWidth;
  out.reserve(bytes);
  const target = out.bytes;
  let at = out.length;
  target.fill(0, at, at + bytes);
  let bit = 0;
  for (let k = 0; k < groups * 8; k++) {
    const value = first + k < end ? levels[first + k] : 0;
    const shifted = value << (bit & 7);
    target[at + (bit >> 3)] |= shifted & 0xff;
    if ((bit & 7) + bitWidth > 8) target[at + (bit >> 3) + 1] |= shifted >> 8;
    bit += bitWidth;
  }
  at += bytes;
  out.length = at;
}

/**
 * Collects the levels of a page as RLE runs, merging repeats of the same value: the levels
 * of a list column (row after row of `0, 1, 1, ...` repetition levels and a run of
 * definition levels) are a few runs per row, written without a level array.
 */
export class RunWriter {
  readonly #out: ByteWriter;
  #start = 0;
  #value = -1;
  #run = 0;

  constructor(out: ByteWriter) {
    this.#out = out;
  }

  /** Starts the levels (writes the length placeholder). */
  begin(): void {
    this.#start = this.#out.length;
    this.#out.i32(0);
    this.#value = -1;
    this.#run = 0;
  }

  /** Adds `count` repeats of `value`. */
  add(value: number, count: number): void {
    if (count <= 0) return;
    if (value === this.#value) {
      this.#run += count;
      return;
    }
    if (this.#run > 0) rleRun(this.#out, this.#run, this.#value);
    this.#value = value;
    this.#run = count;
  }

  /** Writes the last run and the length. */
  end(): void {
    if (this.#run > 0) rleRun(this.#out, this.#run, this.#value);
    this.#run = 0;
    this.#out.i32At(this.#start, this.#out.length - this.#start - 4);
  }
}
