/**
 * The column arrays of a replay: allocated for a row capacity (on an earlier replay's
 * buffers where big enough) and cut to the rows written, and the row capacity a replay needs.
 * @module
 */
import type { ReplayOptions, ReusableColumns } from "./_book_replay.ts";
import { RESET } from "./_book_kinds.ts";
import type { TypedArrayOf } from "./_scratch.ts";

/** Sampled columns: `bid[k]`/`ask[k]` are level `k + 1` (best first). */
export interface ColumnArrays {
  /** Event mode: the event's `ts`; clock mode: the grid time. */
  readonly ts: Float64Array;
  /** The `recv_ts` of the last event applied (NaN before any). */
  readonly recvTs: Float64Array;
  /** Event mode: the event's stored digest; clock mode: 0 (made on first read). */
  readonly digest: Int32Array;
  /**
   * Events applied since the previous row (clock mode); event mode: 1 but where events were
   * applied without a row of their own (before the window's start, or out of it), made on
   * first read.
   */
  readonly events: Float64Array;
  readonly bidPrice: readonly Float64Array[];
  readonly bidSize: readonly Float64Array[];
  readonly askPrice: readonly Float64Array[];
  readonly askSize: readonly Float64Array[];
  /** Order-flow imbalance of the events since the previous row (see `book_history.ts`). */
  readonly ofi: Float64Array;
  /** `(bid_1 + ask_1) / 2`. */
  readonly mid: Float64Array;
  /** `ask_1 - bid_1`. */
  readonly spread: Float64Array;
  /** `(bid_1 * ask_size_1 + ask_1 * bid_size_1) / (bid_size_1 + ask_size_1)`. */
  readonly microprice: Float64Array;
  /**
   * `(B_k - A_k) / (B_k + A_k)` (sizes of the `k` best levels summed best first), one column
   * per `imbalanceLevels` entry, in its order.
   */
  readonly imbalance: readonly Float64Array[];
}

/**
 * The columns of `rows` rows (on `reuse`'s buffers where big enough); of `events` and
 * `digest` only the one the mode samples (the other is empty: see {@linkcode ModeColumns}).
 * In two steps: `ts` and the ask side's level columns now (what a worker needs to start on
 * that side), the others when `rest()` is called (while the worker runs).
 */
export function allocate(
  rows: number,
  o: ReplayOptions,
  reuse?: ReusableColumns,
): Pick<ColumnArrays, "ts" | "askPrice" | "askSize"> & { rest(): ColumnArrays } {
  const [levels, imbalances] = [o.levels, o.imbalanceLevels?.length ?? 0];
  const clocked = o.every !== undefined;
  const taken = new Set<ArrayBufferLike>();
  // An array of `rows` on an earlier array's buffer when it is big enough (rows a replay
  // does not return are never read: every returned row of every column is written).
  const array = <T>(old: ArrayBufferView | undefined, make: TypedArrayOf<T>): T => {
    const buffer = old?.buffer;
    const bytes = rows * make.BYTES_PER_ELEMENT;
    if (buffer instanceof ArrayBuffer && buffer.byteLength >= bytes && !taken.has(buffer)) {
      taken.add(buffer);
      return new make(buffer, 0, rows);
    }
    return new make(rows);
  };
  const f64 = (old?: Float64Array) => array(old, Float64Array);
  const lists = (n: number, old: readonly Float64Array[] = []) =>
    Array.from({ length: n }, (_, k) => f64(old[k]));
  const first = {
    ts: f64(reuse?.ts),
    askPrice: lists(levels, reuse?.askPrice),
    askSize: lists(levels, reuse?.askSize),
  };
  const rest = (): ColumnArrays => ({
    ts: first.ts,
    recvTs: f64(reuse?.recvTs),
    digest: clocked ? new Int32Array(0) : array(reuse?.digest, Int32Array),
    events: clocked ? f64(reuse?.events) : new Float64Array(0),
    bidPrice: lists(levels, reuse?.bidPrice),
    bidSize: lists(levels, reuse?.bidSize),
    askPrice: first.askPrice,
    askSize: first.askSize,
    ofi: f64(reuse?.ofi),
    mid: f64(reuse?.mid),
    spread: f64(reuse?.spread),
    microprice: f64(reuse?.microprice),
    imbalance: lists(imbalances, reuse?.imbalance),
  });
  return { ...first, rest };
}

/** The columns cut to `rows` (the same arrays when they have that many). */
export function trim(out: ColumnArrays, rows: number): ColumnArrays {
  if (out.ts.length === rows) return out;
  // The mode's empty column (see allocate) stays empty.
  const cut = <T extends Float64Array | Int32Array>(a: T) => a.subarray(0, rows) as T;
  return {
    ts: cut(out.ts),
    recvTs: cut(out.recvTs),
    digest: out.digest.length > 0 ? cut(out.digest) : out.digest,
    events: out.events.length > 0 ? cut(out.events) : out.events,
    bidPrice: out.bidPrice.map(cut),
    bidSize: out.bidSize.map(cut),
    askPrice: out.askPrice.map(cut),
    askSize: out.askSize.map(cut),
    ofi: cut(out.ofi),
    mid: cut(out.mid),
    spread: cut(out.spread),
    microprice: cut(out.microprice),
    imbalance: out.imbalance.map(cut),
  };
}

/** Rows of event mode: events other than resets (`kind`) with a `time` in `[from, to)`. */
export function countEventRows(
  kind: Uint8Array,
  time: Float64Array,
  from: number,
  to: number,
): number {
  let rows = 0;
  for (let i = 0; i < kind.length; i++) {
    if (kind[i] !== RESET && time[i] >= from && time[i] < to) rows++;
  }
  return rows;
}

/** The events a replay's rows are scheduled over (see {@linkcode scheduleRows}). */
export interface RowClock {
  /** Each event's kind. */
  readonly kind: Uint8Array;
  /** Each event's `ts` (what event rows are stamped with). */
  readonly ts: Float64Array;
  /** Each event's time on the clock (`ts` or `recv_ts`). */
  readonly time: Float64Array;
  readonly every: number | undefined;
  readonly from: number;
  readonly to: number;
}

/**
 * Schedules the rows of a replay: row `r` shows the book after the first `rowEnds[r]` events
 * and is stamped `ts[r]` (event mode: a row after each event but resets, within
 * `[from, to)` of `time`, stamped with the event's `ts`; clock mode: a row at each tick of
 * `every` from {@linkcode firstGrid} before `to`, stamped with the tick, after the events
 * before it). Returns the rows (at most the arrays' length).
 *
 * The loops read arrays and numbers only, never a property of an object: optimized code that
 * names an object's hidden class is thrown away once no object of that class lives (the
 * events' object does not outlive a call), and this function, called once per rebuild, then
 * ran its loop unoptimized every other call (50 ms against 13 ms for 1M events).
 */
export function scheduleRows(clock: RowClock, ts: Float64Array, rowEnds: Int32Array): number {
  const { kind, ts: stamps, time, every, from, to } = clock;
  return every === undefined
    ? eventRows(kind, stamps, time, from, to, ts, rowEnds)
    : tickRows(time, every, from, to, ts, rowEnds);
}

function eventRows(
  kind: Uint8Array,
  stamps: Float64Array,
  time: Float64Array,
  from: number,
  to: number,
  ts: Float64Array,
  rowEnds: Int32Array,
): number {
  const capacity = rowEnds.length;
  let row = 0;
  for (let i = 0; i < kind.length && row < capacity; i++) {
    const t = time[i];
    if (kind[i] === RESET || !(t >= from && t < to)) continue;
    ts[row] = stamps[i];
    rowEnds[row++] = i + 1;
  }
  return row;
}

function tickRows(
  time: Float64Array,
  every: number,
  from: number,
  to: number,
  ts: Float64Array,
  rowEnds: Int32Array,
): number {
  const capacity = rowEnds.length;
  let grid = firstGrid(time, every, from);
  let row = 0;
  for (let i = 0; i < time.length; i++) {
    for (const t = time[i]; grid < t && grid < to && row < capacity; grid += every) {
      ts[row] = grid;
      rowEnds[row++] = i;
    }
  }
  for (; grid < to && row < capacity; grid += every) {
    ts[row] = grid;
    rowEnds[row++] = time.length;
  }
  return row;
}

/** The first clock tick at or after `from` (or the first event). */
export function firstGrid(time: Float64Array, every: number, from: number): number {
  const start = from !== -Infinity ? from : time.length > 0 ? time[0] : 0;
  return Math.ceil(start / every) * every;
}

/**
 * Rows of clock mode: ticks from {@linkcode firstGrid} to `to` (or past the last event).
 * @throws {RangeError} past 100M rows.
 */
export function clockRows(time: Float64Array, every: number, from: number, to: number): number {
  if (time.length === 0 && (from === -Infinity || to === Infinity)) return 0;
  const first = firstGrid(time, every, from);
  let last = to !== Infinity ? to : -Infinity;
  if (to === Infinity) { for (let i = 0; i < time.length; i++) last = Math.max(last, time[i] + 1); }
  const rows = Math.max(0, Math.ceil((last - first) / every));
  if (rows > 100_000_000) {
    throw new RangeError(`a clock of ${every} us gives ${rows} rows: choose a longer interval`);
  }
  return rows;
}
