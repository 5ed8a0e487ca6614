/**
 * The one bar kernel: time, tick, volume and dollar bars from trades in `(ts, id)` order,
 * used by every JavaScript path (the exporter's 1-minute bars, the unified and memory
 * repositories, activity bars). The SQL versions (DuckDB over the lake, PostgreSQL, the
 * TimescaleDB aggregate) are pushdowns of the same rules, checked against this kernel by
 * `tests/bars_kernel_test.ts`.
 *
 * ## Rules
 * - **time** bars: a trade at `ts` belongs to the bar starting at
 *   `floor(ts / interval) * interval`, which is the bar's `ts`; bars without trades are
 *   omitted; `interval` is the bar length.
 * - **activity** bars (`ticks`, `volume`, `dollars`): a bar closes at the trade that brings
 *   its trade count, summed size or summed `price * size` to at least `threshold`; that
 *   trade belongs to the closing bar and the next trade opens a new one (no carry-over).
 *   The last bar may be incomplete. The bar's `ts` is its first trade's time, `interval` 0.
 * - `open`/`close` are the first and last trade's prices, `high`/`low` the extremes,
 *   `volume` the summed size, `trades` the count, `recvTs` the latest receive time.
 * - **VWAP** is `sum(price * size) / sum(size)`, and **NaN for a bar whose volume is 0**
 *   (no size to weigh by: never a price). SQL stores that as NULL (a `bars` row, a Parquet
 *   file), and every reader turns NULL back into NaN.
 *
 * A kernel keeps the bar still open at the end of the trades it was given, so trades can
 * arrive in pages ({@linkcode BarKernel.add} many times, {@linkcode BarKernel.takeClosed}
 * between pages, {@linkcode BarKernel.finish} at the end): the bars are the same as from
 * one call over all trades.
 *
 * @example
 * ```ts
 * import { computeBars } from "./bars.ts";
 * import assert from "node:assert/strict";
 * const bars = computeBars({ by: "time", interval: 60 }, {
 *   price: [10, 12, 11], size: [1, 1, 2], ts: [0, 30, 60], recvTs: [1, 31, 61],
 * });
 * assert.deepEqual([...bars.ts], [0, 60]);
 * assert.deepEqual([...bars.vwap], [11, 11]);
 * ```
 * @module
 */

/** How trades are grouped into bars. */
export type BarRule =
  /** Fixed-length bars of `interval` microseconds (> 0). */
  | { readonly by: "time"; readonly interval: number }
  /** Activity bars: trade count, summed size or summed `price * size` up to `threshold`. */
  | { readonly by: "ticks" | "volume" | "dollars"; readonly threshold: number };

/** The trade columns bars are made of, in `(ts, id)` order. Times are microseconds. */
export interface BarTradeColumns {
  readonly price: ArrayLike<number>;
  readonly size: ArrayLike<number>;
  readonly ts: ArrayLike<number>;
  readonly recvTs: ArrayLike<number>;
}

/** Bars as columns: value `i` of every column belongs to bar `i`. */
export interface BarSeries {
  /** Bar length in microseconds; 0 for activity bars. */
  readonly interval: number;
  readonly ts: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
  /** NaN for a bar with zero volume. */
  readonly vwap: Float64Array;
  readonly trades: Float64Array;
  readonly recvTs: Float64Array;
}

/** The VWAP of a bar: `notional / volume`, NaN when the volume is 0 (see the module docs). */
function barVwap(notional: number, volume: number): number {
  return volume > 0 ? notional / volume : NaN;
}

const FIELDS = [
  "ts",
  "open",
  "high",
  "low",
  "close",
  "volume",
  "notional",
  "trades",
  "recvTs",
] as const;
type Field = typeof FIELDS[number];

/** Bars made one trade page at a time (see the module documentation). */
export class BarKernel {
  readonly #time: boolean;
  readonly #size: number;
  readonly #measure: 0 | 1 | 2;
  #columns: Record<Field, Float64Array>;
  /** Closed bars held. */
  #count = 0;
  /** Whether bar `#count` is open (its values are in the columns at `#count`). */
  #open = false;
  #accumulated = 0;

  /** @throws {RangeError} for an interval or threshold that is not positive and finite. */
  constructor(rule: BarRule) {
    const size = rule.by === "time" ? rule.interval : rule.threshold;
    if (!(typeof size === "number" && size > 0 && size < Infinity)) {
      throw new RangeError(`bar ${rule.by === "time" ? "interval" : "threshold"}: ${size}`);
    }
    if (!["time", "ticks", "volume", "dollars"].includes(rule.by)) {
      throw new RangeError(`bars are by time, ticks, volume or dollars, got ${rule.by}`);
    }
    this.#time = rule.by === "time";
    this.#size = size;
    this.#measure = rule.by === "volume" ? 1 : rule.by === "dollars" ? 2 : 0;
    this.#columns = allocate(16);
  }

  /** The bar length of the bars made: the interval of time bars, 0 for activity bars. */
  get interval(): number {
    return this.#time ? this.#size : 0;
  }

  /** Whether a bar is open (trades were added since the last bar closed). */
  get hasOpenBar(): boolean {
    return this.#open;
  }

  /** Adds trades `[from, to)` of `trades` (in `(ts, id)` order, after those added before). */
  add(trades: BarTradeColumns, from = 0, to: number = trades.ts.length): void {
    this.#reserve(this.#count + (to - from) + 1);
    const c = this.#columns;
    let b = this.#count;
    for (let i = from; i < to; i++) {
      const p = trades.price[i];
      const s = trades.size[i];
      const t = trades.ts[i];
      if (this.#open && this.#time && t >= c.ts[b] + this.#size) {
        b++;
        this.#open = false;
      }
      if (!this.#open) {
        c.ts[b] = this.#time ? Math.floor(t / this.#size) * this.#size : t;
        c.open[b] = c.high[b] = c.low[b] = p;
        c.volume[b] = c.notional[b] = c.trades[b] = 0;
        c.recvTs[b] = -Infinity;
        this.#open = true;
        this.#accumulated = 0;
      }
      if (p > c.high[b]) c.high[b] = p;
      if (p < c.low[b]) c.low[b] = p;
      c.close[b] = p;
      c.volume[b] += s;
      c.notional[b] += p * s;
      c.trades[b]++;
      if (trades.recvTs[i] > c.recvTs[b]) c.recvTs[b] = trades.recvTs[i];
      if (!this.#time) {
        this.#accumulated = this.#measure === 0
          ? c.trades[b]
          : this.#measure === 1
          ? c.volume[b]
          : c.notional[b];
        if (this.#accumulated >= this.#size) {
          b++;
          this.#open = false;
        }
      }
    }
    this.#count = b;
  }

  /** Removes and returns the closed bars; the open bar (if any) stays for the next trades. */
  takeClosed(): BarSeries {
    return this.#take(this.#count);
  }

  /** Closes the open bar and returns every bar not taken yet; the kernel starts afresh. */
  finish(): BarSeries {
    const n = this.#count + (this.#open ? 1 : 0);
    this.#open = false;
    this.#count = n;
    return this.#take(n);
  }

  #take(n: number): BarSeries {
    const c = this.#columns;
    const cut = (a: Float64Array) => a.slice(0, n);
    const volume = cut(c.volume);
    const vwap = new Float64Array(n);
    for (let i = 0; i < n; i++) vwap[i] = barVwap(c.notional[i], volume[i]);
    const out: BarSeries = {
      interval: this.interval,
      ts: cut(c.ts),
      open: cut(c.open),
      high: cut(c.high),
      low: cut(c.low),
      close: cut(c.close),
      volume,
      vwap,
      trades: cut(c.trades),
      recvTs: cut(c.recvTs),
    };
    // The open bar (at index n when open) moves to the front.
    if (n > 0) {
      for (const f of FIELDS) c[f].copyWithin(0, n, n + 1);
    }
    this.#count = 0;
    return out;
  }

  #reserve(size: number): void {
    if (this.#columns.ts.length >= size) return;
    const bigger = allocate(Math.max(size, 2 * this.#columns.ts.length));
    for (const f of FIELDS) bigger[f].set(this.#columns[f].subarray(0, this.#count + 1));
    this.#columns = bigger;
  }
}

function allocate(size: number): Record<Field, Float64Array> {
  return Object.fromEntries(FIELDS.map((f) => [f, new Float64Array(size)])) as Record<
    Field,
    Float64Array
  >;
}

/** The bars of all of `trades` at once (a kernel, one page, finished). */
export function computeBars(rule: BarRule, trades: BarTradeColumns): BarSeries {
  const kernel = new BarKernel(rule);
  kernel.add(trades);
  return kernel.finish();
}
