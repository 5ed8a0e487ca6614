/**
 * What every table's batch becomes before it is stored: one {@linkcode ColumnTable} with the
 * file's columns, each row's partition index (`part`) and, per (exchange, symbol, UTC day) partition,
 * its row count, whether its rows arrived in file order and with strictly increasing keys,
 * and the range of the first column of the table's lake key (`TableSpec.lakeKey`). The
 * {@linkcode PartitionTracker} is the one grouping of row batches (event rows, book columns,
 * action rows); trades have a column grouping of their own (`_trade_batch.ts`) that gives
 * the same partitions.
 * @module
 */
import type { ColumnTable } from "./column_table.ts";

/** One (exchange, symbol, day) group of a batch being written. */
export interface BatchPartition {
  readonly exchange: string;
  readonly symbol: string;
  /** UTC day number. */
  readonly day: number;
  /** Valid rows of the batch in this partition. */
  readonly rows: number;
  /** Rows arrived in file order: the file needs no sort. */
  readonly sorted: boolean;
  /** Keys arrived strictly increasing: none repeats within the batch. */
  readonly unique: boolean;
  /** Smallest and largest value of the lake key's first column in the batch. */
  readonly low: number | string;
  readonly high: number | string;
  /**
   * The index in the batch's table of the partition's first row, set when its rows are one
   * run (a slice, no gather); absent when they are not, or not tracked.
   */
  readonly start?: number;
}

/** A grouped batch: its rows, each row's partition index and its partitions. */
export interface GroupedBatch {
  /** The valid rows (none: undefined). */
  readonly table: ColumnTable | undefined;
  /** Row `i`'s partition (an index into `partitions`). */
  readonly part: Uint32Array;
  readonly partitions: readonly BatchPartition[];
}

/**
 * Where a row goes and how it orders: its instrument, its day (from `ts`), and its key in
 * file order as up to three numbers (`k0` is the lake key's first column).
 */
export interface RowPlace {
  exchange: string;
  symbol: string;
  ts: number;
  k0: number;
  k1: number;
  k2: number;
}

/** A partition as the tracker fills it. */
interface Tracked {
  readonly exchange: string;
  readonly symbol: string;
  readonly day: number;
  rows: number;
  sorted: boolean;
  unique: boolean;
  low: number;
  high: number;
  start: number | undefined;
  k0: number;
  k1: number;
  k2: number;
}

/** Groups the rows of a batch by partition, in arrival order (see the module doc). */
export class PartitionTracker {
  readonly #partitions: Tracked[] = [];
  readonly #index = new Map<string, number>();
  /** Partition of the previous row: consecutive rows mostly share one. */
  #last = -1;
  /** Rows added: the frame index of the next row. */
  #added = 0;

  /** Adds a row placed at `at` and returns its partition index. */
  add(at: RowPlace, day: number): number {
    let k = this.#last;
    const last = k >= 0 ? this.#partitions[k] : undefined;
    if (last === undefined || !samePartition(last, at.exchange, at.symbol, day)) {
      k = this.#indexOf(at, day);
      this.#last = k;
      const p = this.#partitions[k];
      if (p.rows > 0) p.start = undefined; // back to an earlier partition: not one run
      else p.start = this.#added;
    }
    track(this.#partitions[k], at);
    this.#added++;
    return k;
  }

  /** The partitions, in order of first appearance. */
  get partitions(): readonly BatchPartition[] {
    return this.#partitions;
  }

  #indexOf(at: RowPlace, day: number): number {
    const key = `${at.exchange}/${at.symbol}/${day}`;
    let k = this.#index.get(key);
    if (k === undefined) {
      k = this.#partitions.length;
      this.#index.set(key, k);
      this.#partitions.push({
        exchange: at.exchange,
        symbol: at.symbol,
        day,
        rows: 0,
        sorted: true,
        unique: true,
        low: at.k0,
        high: at.k0,
        start: undefined,
        k0: at.k0,
        k1: at.k1,
        k2: at.k2,
      });
    }
    return k;
  }
}

/** Tracks a partition's order and key range with its next row. */
function track(p: Tracked, at: RowPlace): void {
  if (p.rows > 0) {
    const order = at.k0 - p.k0 || at.k1 - p.k1 || at.k2 - p.k2;
    if (order <= 0) {
      p.unique = false;
      if (order < 0) p.sorted = false;
    }
    if (at.k0 < p.low) p.low = at.k0;
    else if (at.k0 > p.high) p.high = at.k0;
  }
  p.k0 = at.k0;
  p.k1 = at.k1;
  p.k2 = at.k2;
  p.rows++;
}

/** Whether a partition is `(exchange, symbol, day)`. */
export function samePartition(
  p: { readonly exchange: string; readonly symbol: string; readonly day: number },
  exchange: string,
  symbol: string,
  day: number,
): boolean {
  return p.day === day && p.symbol === symbol && p.exchange === exchange;
}
