/**
 * A growable little-endian byte buffer: the one output type of the Parquet encoder's
 * pieces (Thrift structures, levels, plain values).
 * @module
 */

/** Appends bytes and little-endian numbers to a buffer that grows by doubling. */
export class ByteWriter {
  /** The bytes; `bytes[0..length)` are written. */
  bytes: Uint8Array;
  /** Bytes written. */
  length = 0;
  #view: DataView;

  constructor(capacity = 1024) {
    this.bytes = new Uint8Array(Math.max(16, capacity));
    this.#view = new DataView(this.bytes.buffer);
  }

  /** Makes room for `more` bytes beyond `length`. */
  reserve(more: number): void {
    const needed = this.length + more;
    if (needed <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(needed, this.bytes.length * 2));
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
    this.#view = new DataView(next.buffer);
  }

  /** Forgets what was written, keeping the memory. */
  clear(): void {
    this.length = 0;
  }

  /** The written bytes, a view (no copy; valid until the next write). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  /** Appends one byte. */
  u8(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  /** Appends `data`. */
  append(data: Uint8Array): void {
    this.reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  /** Appends an unsigned LEB128 varint of a non-negative integer below 2^53. */
  varint(value: number): void {
    this.reserve(8);
    while (value >= 0x80) {
      this.bytes[this.length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.bytes[this.length++] = value;
  }

  /** Appends a 32-bit integer. */
  i32(value: number): void {
    this.reserve(4);
    this.#view.setInt32(this.length, value, true);
    this.length += 4;
  }

  /** Writes a 32-bit integer at `at` (already written bytes). */
  i32At(at: number, value: number): void {
    this.#view.setInt32(at, value, true);
  }

  /** Appends a 64-bit float. */
  f64(value: number): void {
    this.reserve(8);
    this.#view.setFloat64(this.length, value, true);
    this.length += 8;
  }

  /** Appends a 64-bit integer given as a safe integer number. */
  i64(value: number): void {
    this.reserve(8);
    const high = Math.floor(value / 4294967296);
    this.#view.setUint32(this.length, value - high * 4294967296, true);
    this.#view.setInt32(this.length + 4, high, true);
    this.length += 8;
  }

  /** Appends a 64-bit integer. */
  big64(value: bigint): void {
    this.reserve(8);
    this.#view.setBigInt64(this.length, value, true);
    this.length += 8;
  }
}
