/**
 * Typed arrays kept between calls for intermediates that never reach a caller (the merged
 * event columns and list offsets of a book rebuild): the second call of the same size takes
 * the first one's memory instead of fresh pages. Fresh memory is not free: each first touch
 * of a 4 KB page is a page fault, about as costly as the rebuild's work on a VM whose host
 * takes freed memory back (`deno task bench books`).
 * @module
 */

/** `Float64Array`, `Int32Array` or `Uint8Array` as a constructor. */
export interface TypedArrayOf<T> {
  readonly BYTES_PER_ELEMENT: number;
  new (length: number): T;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
}

/** Named buffers reused by whoever holds the scratch (one holder at a time). */
export class Scratch {
  readonly #buffers = new Map<string, ArrayBuffer>();

  /**
   * An array of `length` on the buffer kept under `key` (a new, bigger buffer when it is too
   * small). Its values are those of the last use: the caller writes every element it reads.
   */
  array<T>(key: string, make: TypedArrayOf<T>, length: number): T {
    const bytes = length * make.BYTES_PER_ELEMENT;
    let buffer = this.#buffers.get(key);
    if (buffer === undefined || buffer.byteLength < bytes) {
      buffer = new ArrayBuffer(bytes);
      this.#buffers.set(key, buffer);
    }
    return new make(buffer, 0, length);
  }

  /**
   * Keeps `buffer` under `key` again: the buffer of an array handed to a worker and back
   * (transferred, so the one kept before is detached).
   */
  adopt(key: string, buffer: ArrayBuffer): void {
    this.#buffers.set(key, buffer);
  }

  /** Bytes held. */
  get bytes(): number {
    let sum = 0;
    for (const b of this.#buffers.values()) sum += b.byteLength;
    return sum;
  }
}

/**
 * One scratch lent to one call at a time: {@linkcode ScratchPool.take} gives the idle one
 * (or a new one while it is lent, so concurrent calls never share), `give` takes it back
 * unless it holds more than `keepBytes`.
 */
export class ScratchPool {
  readonly #keepBytes: number;
  #idle: Scratch | undefined;

  constructor(keepBytes: number) {
    this.#keepBytes = keepBytes;
  }

  /** The idle scratch, or a new one. */
  take(): Scratch {
    const s = this.#idle ?? new Scratch();
    this.#idle = undefined;
    return s;
  }

  /** Returns a scratch whose arrays the caller no longer uses. */
  give(scratch: Scratch): void {
    if (scratch.bytes <= this.#keepBytes) this.#idle = scratch;
  }

  /** Drops the idle scratch (its memory goes back to the allocator when collected). */
  clear(): void {
    this.#idle = undefined;
  }
}
