/**
 * A column made on its first read: the sampling-mode column a series carries for its
 * interface but whose values follow from the mode (`digest` is all 0 on clock rows;
 * `events` is 1 on event rows but where an event was applied without a row of its own).
 * Not made, it costs no memory: a 1M-row Float64 column is 8 MB of fresh pages.
 * @module
 */

/** A value made once, on first read of {@linkcode LazyColumn.value}. */
export class LazyColumn<T> {
  #make: (() => T) | undefined;
  #value: T | undefined;

  constructor(make: () => T) {
    this.#make = make;
  }

  /** A column already made. */
  static of<T>(value: T): LazyColumn<T> {
    const c = new LazyColumn(() => value);
    c.#value = value;
    c.#make = undefined;
    return c;
  }

  /** The column (made now if it was not). */
  get value(): T {
    if (this.#make !== undefined) {
      this.#value = this.#make();
      this.#make = undefined;
    }
    return this.#value as T;
  }

  /** The column if it was made, without making it. */
  get made(): T | undefined {
    return this.#make === undefined ? this.#value : undefined;
  }
}

/**
 * `rows` event counts: 1 but at the rows of `exceptions` (`[row, count, row, count, ...]`),
 * on `old`'s buffer when it is big enough.
 */
export function eventCounts(
  rows: number,
  exceptions: readonly number[],
  old?: Float64Array,
): Float64Array {
  const out = old !== undefined && old.buffer.byteLength >= rows * 8
    ? new Float64Array(old.buffer as ArrayBuffer, 0, rows)
    : new Float64Array(rows);
  out.fill(1);
  for (let j = 0; j < exceptions.length; j += 2) out[exceptions[j]] = exceptions[j + 1];
  return out;
}

/** `rows` zeros, on `old`'s buffer when it is big enough. */
export function zeros(rows: number, old?: Int32Array): Int32Array {
  if (old === undefined || old.buffer.byteLength < rows * 4) return new Int32Array(rows);
  return new Int32Array(old.buffer as ArrayBuffer, 0, rows).fill(0);
}
