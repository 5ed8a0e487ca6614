/**
 * One side of an L2 book: a sorted run of price keys with parallel sizes in typed arrays.
 * @module
 */

/** {@linkcode BookSideLevels.set} results. */
const UPDATED = 0;
/** A new level was inserted. */
const INSERTED = 1;
/** A level was deleted. */
const DELETED = 2;
/** A delete named a level that was not there. */
export const ABSENT_DELETE = 3;

const INITIAL_CAPACITY = 64;
/** Moves shorter than this are plain loops; longer ones use `copyWithin` (a memmove). */
const LOOP_MOVE = 48;

/**
 * Levels of one side. Keys are the price for bids and the negated price for asks, so both
 * sides sort ascending with the **best level last**: the busiest updates (at and near the
 * top) touch the end of the run, and the best level is an O(1) read. The run occupies
 * `[start, end)` of the arrays; an insert or delete shifts whichever part of the run is
 * shorter, and truncation to a depth just moves `start`.
 */
export class BookSideLevels {
  keys: Float64Array;
  sizes: Float64Array;
  start: number;
  end: number;

  constructor() {
    this.keys = new Float64Array(INITIAL_CAPACITY);
    this.sizes = new Float64Array(INITIAL_CAPACITY);
    this.start = INITIAL_CAPACITY >> 2;
    this.end = this.start;
  }

  /** Number of levels. */
  get count(): number {
    return this.end - this.start;
  }

  /** Removes every level (keeps the storage). */
  clear(): void {
    this.start = this.keys.length >> 2;
    this.end = this.start;
  }

  /** Keeps the best `depth` levels. */
  truncate(depth: number): void {
    if (this.end - this.start > depth) this.start = this.end - depth;
  }

  /**
   * Replaces every level with `levels` (prices, any order), negating prices when `negate`.
   * Returns false, changing nothing, unless the levels are strictly monotonic with sizes
   * above 0 (what venues send: best first or worst first); the caller then falls back to
   * one {@linkcode BookSideLevels.set} per level. The fast path is a plain O(n) copy.
   */
  load(levels: readonly (readonly [number, number])[], negate: boolean): boolean {
    const n = levels.length;
    const sign = negate ? -1 : 1;
    let descending = true;
    let ascending = true;
    let prev = NaN;
    for (let i = 0; i < n; i++) {
      const key = sign * levels[i][0];
      if (!(levels[i][1] > 0) || key !== key) return false;
      if (i > 0) {
        if (!(key < prev)) descending = false;
        if (!(key > prev)) ascending = false;
        if (!descending && !ascending) return false;
      }
      prev = key;
    }
    if (this.keys.length < n * 2 + 16) {
      this.keys = new Float64Array(n * 2 + 16);
      this.sizes = new Float64Array(n * 2 + 16);
    }
    const start = (this.keys.length - n) >> 2;
    const keys = this.keys;
    const sizes = this.sizes;
    if (ascending) {
      for (let i = 0; i < n; i++) {
        keys[start + i] = sign * levels[i][0];
        sizes[start + i] = levels[i][1];
      }
    } else {
      for (let i = 0, j = start + n - 1; i < n; i++, j--) {
        keys[j] = sign * levels[i][0];
        sizes[j] = levels[i][1];
      }
    }
    this.start = start;
    this.end = start + n;
    return true;
  }

  /** Sets the absolute size at `key` (0 deletes). */
  set(key: number, size: number): number {
    const keys = this.keys;
    const start = this.start;
    const end = this.end;
    // Lower bound: first index in [start, end) whose key is >= key. Scan the top few levels
    // from the end first (where most updates land), then binary search the rest.
    let i = end;
    const stop = end - 8 > start ? end - 8 : start;
    while (i > stop && keys[i - 1] >= key) i--;
    if (i === stop && i > start && keys[i - 1] >= key) {
      let lo = start;
      let hi = i - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (keys[mid] < key) lo = mid + 1;
        else hi = mid;
      }
      i = lo;
    }
    if (i < end && keys[i] === key) {
      if (size !== 0) {
        this.sizes[i] = size;
        return UPDATED;
      }
      this.#removeAt(i);
      return DELETED;
    }
    if (size === 0) return ABSENT_DELETE;
    this.#insertAt(i, key, size);
    return INSERTED;
  }

  #removeAt(i: number): void {
    const keys = this.keys;
    const sizes = this.sizes;
    const start = this.start;
    const end = this.end;
    if (end - 1 - i <= i - start) {
      moveDown(keys, sizes, i + 1, end, i);
      this.end = end - 1;
    } else {
      moveUp(keys, sizes, start, i, start + 1);
      this.start = start + 1;
    }
  }

  /** Inserts before index `i` (keys[i - 1] < key < keys[i]). */
  #insertAt(i: number, key: number, size: number): void {
    let start = this.start;
    let end = this.end;
    const cap = this.keys.length;
    const upper = end - i;
    const lower = i - start;
    if (end < cap && (upper <= lower || start === 0)) {
      moveUp(this.keys, this.sizes, i, end, i + 1);
      this.end = end + 1;
    } else if (start > 0) {
      moveDown(this.keys, this.sizes, start, i, start - 1);
      this.start = start - 1;
      i--;
    } else {
      this.#regrow();
      const shift = this.start - start;
      i += shift;
      start = this.start;
      end = this.end;
      moveUp(this.keys, this.sizes, i, end, i + 1);
      this.end = end + 1;
    }
    this.keys[i] = key;
    this.sizes[i] = size;
  }

  /** Makes room at the end: grows (or re-centres) the storage. */
  #regrow(): void {
    const count = this.end - this.start;
    const cap = this.keys.length;
    const newCap = count * 2 + 16 > cap ? Math.max(cap * 2, count * 2 + 16) : cap;
    const newStart = (newCap - count) >> 2;
    if (newCap === cap) {
      this.keys.copyWithin(newStart, this.start, this.end);
      this.sizes.copyWithin(newStart, this.start, this.end);
    } else {
      const keys = new Float64Array(newCap);
      const sizes = new Float64Array(newCap);
      keys.set(this.keys.subarray(this.start, this.end), newStart);
      sizes.set(this.sizes.subarray(this.start, this.end), newStart);
      this.keys = keys;
      this.sizes = sizes;
    }
    this.start = newStart;
    this.end = newStart + count;
  }
}

/** Copies [from, to) to start at `target` > from (overlapping, moving up). */
function moveUp(keys: Float64Array, sizes: Float64Array, from: number, to: number, target: number) {
  const n = to - from;
  if (n > LOOP_MOVE) {
    keys.copyWithin(target, from, to);
    sizes.copyWithin(target, from, to);
    return;
  }
  const d = target - from;
  for (let j = to - 1; j >= from; j--) {
    keys[j + d] = keys[j];
    sizes[j + d] = sizes[j];
  }
}

/** Copies [from, to) to start at `target` < from (overlapping, moving down). */
function moveDown(
  keys: Float64Array,
  sizes: Float64Array,
  from: number,
  to: number,
  target: number,
) {
  const n = to - from;
  if (n > LOOP_MOVE) {
    keys.copyWithin(target, from, to);
    sizes.copyWithin(target, from, to);
    return;
  }
  const d = from - target;
  for (let j = from; j < to; j++) {
    keys[j - d] = keys[j];
    sizes[j - d] = sizes[j];
  }
}
