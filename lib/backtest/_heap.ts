/**
 * A binary min-heap of scheduled items ordered by `(time, seq)`: equal times keep the order
 * they were scheduled in, so a run is deterministic.
 * @module
 */

/** A scheduled item. */
export interface Scheduled {
  time: number;
  seq: number;
}

/** Min-heap by `(time, seq)`. */
export class ScheduleHeap<T extends Scheduled> {
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** Time of the first item, Infinity when empty. */
  peekTime(): number {
    return this.#items.length > 0 ? this.#items[0].time : Infinity;
  }

  push(item: T): void {
    const a = this.#items;
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, a[parent])) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = item;
  }

  /** Removes and returns the first item (undefined when empty). */
  pop(): T | undefined {
    const a = this.#items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      const n = a.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(a[r], a[l]) ? r : l;
        if (!before(a[c], last)) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
