/**
 * The lake key (`TableSpec.lakeKey`) and file order (`TableSpec.fileOrder`) of a partition's
 * rows held as a {@linkcode ColumnTable}, in JavaScript: the repeats of a batch dropped (the
 * first kept, as they arrived), the rows sorted in file order, and the smallest and largest
 * key (for the writer's check against what it stored before, `stored_keys.ts`).
 *
 * Keys compare column by column; numbers by value, texts by code units, and a number before
 * any text (a text column given as integers holds numbers: a trade id's total order of
 * `_trade_batch.ts`). File order compares texts as text, as Polars sorts them (an integer
 * id by its decimal text).
 * @module
 */
import { TABLES } from "../schema/tables.ts";
import type { LakeKind } from "./layout.ts";
import { columnOf, type ColumnTable } from "./column_table.ts";

/** A key's values, one per key column. */
export type RowKey = readonly (number | string)[];

type Values = ArrayLike<number> | readonly string[];

function valuesOf(table: ColumnTable, name: string): Values {
  const c = columnOf(table, name);
  if (c.type === "double_list" || c.type === "dictionary") {
    throw new TypeError(`a list or dictionary column in a key: ${name}`);
  }
  return c.values;
}

/** Key order of two values (see the module documentation). */
export function compareValue(a: number | string, b: number | string): number {
  if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
  return typeof a === "number" ? -1 : 1;
}

/** Key order of two keys of one table. */
export function compareKeys(a: RowKey, b: RowKey): number {
  for (let i = 0; i < a.length; i++) {
    const order = compareValue(a[i], b[i]);
    if (order !== 0) return order;
  }
  return 0;
}

/** Keys and order of one table's rows (see the module documentation). */
export class RowKeys {
  readonly #key: Values[];
  readonly #order: { values: Values; text: boolean }[];
  readonly #rows: number;

  constructor(kind: LakeKind, table: ColumnTable) {
    const spec = TABLES[kind];
    this.#rows = table.rows;
    this.#key = spec.lakeKey.map((name) => valuesOf(table, name));
    this.#order = spec.fileOrder.map((name) => ({
      values: valuesOf(table, name),
      text: columnOf(table, name).type === "text",
    }));
  }

  /** Row `i`'s key. */
  key(i: number): RowKey {
    return this.#key.map((values) => values[i]);
  }

  /**
   * The rows to keep, in arrival order: each key's first row. `undefined` when every row is
   * kept.
   */
  firstOfEachKey(): Uint32Array | undefined {
    const seen = new Set<number | string>();
    const keep = new Uint32Array(this.#rows);
    const single = this.#key.length === 1 ? this.#key[0] : undefined;
    let count = 0;
    for (let i = 0; i < this.#rows; i++) {
      const k = single !== undefined ? single[i] : this.#key.map((v) => v[i]).join("|");
      if (seen.has(k)) continue;
      seen.add(k);
      keep[count++] = i;
    }
    return count === this.#rows ? undefined : keep.subarray(0, count);
  }

  /** `rows` (default every row) sorted in file order, stable. */
  sorted(rows?: Uint32Array): Uint32Array {
    const index = rows !== undefined ? Uint32Array.from(rows) : new Uint32Array(this.#rows);
    if (rows === undefined) { for (let i = 0; i < index.length; i++) index[i] = i; }
    // A text column held as integers compares by decimal text: each row's text is made
    // once, when a comparison first needs it (not twice per comparison).
    const order = this.#order.map(({ values, text }): (i: number) => number | string => {
      if (!text || Array.isArray(values)) return (i) => values[i];
      const numbers = values as ArrayLike<number>;
      const texts = new Array<string | undefined>(numbers.length);
      return (i) => (texts[i] ??= String(numbers[i]));
    });
    const compare = (i: number, j: number) => {
      for (const valueAt of order) {
        const a = valueAt(i), b = valueAt(j);
        if (a === b) continue;
        return a < b ? -1 : a > b ? 1 : 0;
      }
      return i - j;
    };
    return Uint32Array.from(Array.from(index).sort(compare));
  }

  /**
   * The smallest and largest key of the rows `rows` (default every row); none: undefined.
   * `increasing`: the caller knows the keys strictly increase from row to row (a batch
   * partition's `unique`), taken at its word where every key column holds numbers (the
   * order `unique` was found in is this module's order then).
   */
  range(rows?: Uint32Array, increasing = false): { low: RowKey; high: RowKey } | undefined {
    const n = rows !== undefined ? rows.length : this.#rows;
    if (n === 0) return undefined;
    if (increasing && rows === undefined && this.#key.every((v) => !Array.isArray(v))) {
      return { low: this.key(0), high: this.key(n - 1) };
    }
    const key = this.#key;
    // Key order of rows i and j, without a key array per row.
    const compare = (i: number, j: number) => {
      for (let c = 0; c < key.length; c++) {
        const order = compareValue(key[c][i], key[c][j]);
        if (order !== 0) return order;
      }
      return 0;
    };
    let low = rows !== undefined ? rows[0] : 0;
    let high = low;
    for (let k = 1; k < n; k++) {
      const i = rows !== undefined ? rows[k] : k;
      if (compare(i, low) < 0) low = i;
      else if (compare(i, high) > 0) high = i;
    }
    return { low: this.key(low), high: this.key(high) };
  }
}
