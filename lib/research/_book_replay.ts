/**
 * The rebuild loop: applies {@linkcode BookEvents} to one {@linkcode OrderBook} and samples
 * the top levels and the order-flow imbalance at every event or on a clock, into columns.
 * @module
 */
import { OrderBook } from "../book/order_book.ts";
import type { MarketEvent } from "../market/types.ts";
import { BLOCK, SideRows } from "./_book_rows.ts";
import {
  type BookEvents,
  bookEventsFromMarketEvents,
  type BookLevels,
  CHANGE,
  RESET,
  SNAPSHOT,
} from "./_book_events.ts";
import { eventCounts, LazyColumn, zeros } from "./_lazy_column.ts";
import { allocate, clockRows, countEventRows, firstGrid, trim } from "./_replay_columns.ts";

/** Options of {@linkcode replayBook} (checked by the caller). */
export interface ReplayOptions {
  /** Levels per side sampled (>= 1). */
  readonly levels: number;
  /** Clock interval in microseconds; `undefined` samples after every snapshot and change. */
  readonly every?: number;
  /** Which time orders the clock and the `from`/`to` window. */
  readonly clock: "ts" | "recv_ts";
  /** Inclusive start of the rows returned (clock time); events before it warm the book up. */
  readonly from?: number;
  /** Exclusive end of the rows returned (clock time). */
  readonly to?: number;
  /**
   * Levels per side the stores keep of a snapshot (50): a stored snapshot side with this many
   * levels may have been cut, so prices beyond its worst level are unknown until a change
   * names them (sampled as NaN).
   */
  readonly storedDepth: number;
  /**
   * Levels per side the venue maintains (the book truncates to it after each change, as the
   * collector's does), from the snapshot's level counts; `Infinity` for no truncation.
   */
  readonly venueDepth: (bidLevels: number, askLevels: number) => number;
  /** Depths `k` (1..levels) of the `imbalance` columns; none by default. */
  readonly imbalanceLevels?: readonly number[];
  /**
   * Columns of an earlier replay whose memory the new columns may take (their buffers are
   * overwritten): see `bookSeries`' `reuse`.
   */
  readonly reuse?: ReusableColumns;
}

/**
 * The arrays of {@linkcode ReplayColumns} whose buffers a later replay may reuse (`events`
 * and `digest` where they were made).
 */
export type ReusableColumns =
  & Omit<ReplayColumns, "rows" | "applied" | "ignored" | "lazy" | "events" | "digest">
  & { readonly events?: Float64Array; readonly digest?: Int32Array };

/**
 * The columns of {@linkcode ReplayColumns} that follow from the sampling mode, made on first
 * read: `digest` on clock rows (all 0), `events` on event rows (1 but where events were
 * applied without a row of their own).
 */
export interface ModeColumns {
  readonly events: LazyColumn<Float64Array>;
  readonly digest: LazyColumn<Int32Array>;
}

/** Sampled columns: `bid[k]`/`ask[k]` are level `k + 1` (best first). */
export interface ReplayColumns {
  readonly rows: number;
  /** Event mode: the event's `ts`; clock mode: the grid time. */
  readonly ts: Float64Array;
  /** The `recv_ts` of the last event applied (NaN before any). */
  readonly recvTs: Float64Array;
  /** Event mode: the event's stored digest; clock mode: 0 (made on first read). */
  readonly digest: Int32Array;
  /**
   * Events applied since the previous row (clock mode); event mode: 1 but where events were
   * applied without a row (before `from`, out of the window), made on first read.
   */
  readonly events: Float64Array;
  /** `events` and `digest` as lazy columns (read `made` without making them). */
  readonly lazy: ModeColumns;
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
  /** Changes applied to a valid book, in total. */
  readonly applied: number;
  /** Changes that found no valid book (before the first snapshot, after a reset). */
  readonly ignored: number;
}

/** Rebuilds the book over `ev` and samples it (see {@linkcode ReplayOptions}). */
export function replayBook(ev: BookEvents, o: ReplayOptions): ReplayColumns {
  SHAPES ??= shapeKeeper();
  const time = o.clock === "ts" ? ev.ts : ev.recvTs;
  const every = o.every;
  const from = o.from ?? -Infinity;
  const to = o.to ?? Infinity;
  const capacity = every === undefined
    ? countEventRows(ev, time, from, to)
    : clockRows(time, every, from, to);
  const r = new Replay(ev, o, capacity);
  replayEvents(r, { ev, time, every, from, to, capacity });
  r.finish();
  const rows = r.row;
  const { events, digest, ...columns } = trim(r.out, rows);
  const [old, exceptions] = [o.reuse, r.eventExceptions];
  const lazy: ModeColumns = {
    events: every === undefined
      ? new LazyColumn(() => eventCounts(rows, exceptions, old?.events))
      : LazyColumn.of(events),
    digest: every === undefined
      ? LazyColumn.of(digest)
      : new LazyColumn(() => zeros(rows, old?.digest)),
  };
  return {
    ...columns,
    rows,
    applied: r.applied,
    ignored: r.ignored,
    lazy,
    get events() {
      return lazy.events.value;
    },
    get digest() {
      return lazy.digest.value;
    },
  };
}

/**
 * The loop of {@linkcode replayBook} (a function of its own: compiled whole, not entered
 * half-way from the interpreter on each call).
 */
function replayEvents(
  r: Replay,
  { ev, time, every, from, to, capacity }: {
    ev: BookEvents;
    time: Float64Array;
    every: number | undefined;
    from: number;
    to: number;
    capacity: number;
  },
): void {
  const n = ev.length;
  let grid = every === undefined ? Infinity : firstGrid(time, every, from);
  for (let i = 0; i < n; i++) {
    const t = time[i];
    while (grid < t && grid < to && r.row < capacity) {
      r.sample(grid, r.lastRecv, 0);
      grid += every!;
    }
    if (!r.apply(i)) continue;
    if (every === undefined && t >= from && t < to) r.sample(ev.ts[i], ev.recvTs[i], ev.digest[i]);
  }
  while (every !== undefined && grid < to && r.row < capacity) {
    r.sample(grid, r.lastRecv, 0);
    grid += every;
  }
}

/**
 * A small replay kept for the life of the process, made before the first real one.
 *
 * V8 keeps an object's hidden class (its "map": field layout and field types) only while an
 * object of it lives. When a replay's objects (its `Replay`, `OrderBook`, `SideRows`, ...)
 * all died, their maps went with them: the next replay made new ones, every optimized
 * function that named the old ones was thrown away, and after about six calls V8 stopped
 * trusting the fields' types altogether. The loop then settled at about 500 ms per million
 * changes, against about 295 ms with these objects alive (`deno task bench books`, and
 * `research_book_rebuild_repeat` there: 12 rebuilds in one process).
 */
let SHAPES: Replay | undefined;

function shapeKeeper(): Replay {
  const instrument = { exchange: "shapes", symbol: "X" };
  const at = (ts: number) => ({ ...instrument, ts, recvTs: ts });
  const events: MarketEvent[] = [
    { kind: "book_snapshot", ...at(1), bids: [[2, 1], [1, 1]], asks: [[3, 1], [4, 1]] },
    { kind: "book_change", ...at(2), bids: [[2, 0.5]], asks: [] },
    { kind: "book_change", ...at(3), bids: [], asks: [[3, 0], [3.5, 2]] },
    { kind: "status", ...at(4), status: "reset", reason: "" },
  ];
  const ev = bookEventsFromMarketEvents(events);
  const o: ReplayOptions = {
    levels: 2,
    clock: "ts",
    storedDepth: 50,
    venueDepth: () => Infinity,
    imbalanceLevels: [1, 2],
  };
  const r = new Replay(ev, o, 3);
  replayEvents(r, {
    ev,
    time: ev.ts,
    every: undefined,
    from: -Infinity,
    to: Infinity,
    capacity: 3,
  });
  r.finish();
  return r;
}

/** The book being rebuilt, the flow since the last row and the rows so far. */
class Replay {
  readonly out: ReturnType<typeof allocate>;
  readonly #ev: BookEvents;
  // The options' values, not the options object: a field holding an object whose hidden
  // class dies with it would throw away the optimized code on every call (see SHAPES).
  readonly #storedDepth: number;
  readonly #venueDepth: ReplayOptions["venueDepth"];
  readonly #book = new OrderBook();
  // Each side's top levels as of its last change: a row copies them from here, and only a
  // side an event touched is read from the book again.
  readonly #bids: TopLevels;
  readonly #asks: TopLevels;
  // Level indexes (k - 1) of the imbalance columns.
  readonly #depths: number[];
  readonly #bidRows: SideRows;
  readonly #askRows: SideRows;
  // Whether the book was valid at the last row: 1 or 0 (-1 before the first; a number
  // throughout, so the field's type never changes under optimized code).
  #shown = -1;
  #valid = false;
  #bidHorizon = -Infinity;
  #askHorizon = Infinity;
  applied = 0;
  ignored = 0;
  row = 0;
  // Best prices and sizes after the previous event, for the order-flow imbalance.
  #pb = NaN;
  #pbs = NaN;
  #pa = NaN;
  #pas = NaN;
  #ofi = 0;
  #contributed = false;
  #events = 0;
  readonly #clocked: boolean;
  /** Event mode: `[row, events, ...]` of the rows whose event count is not 1. */
  readonly eventExceptions: number[] = [];
  // Rows of the next snapshot and change in their level sources.
  #snapshotRow = 0;
  #changeRow = 0;
  lastRecv = NaN;

  constructor(ev: BookEvents, o: ReplayOptions, capacity: number) {
    this.#ev = ev;
    this.#storedDepth = o.storedDepth;
    this.#venueDepth = o.venueDepth;
    this.#clocked = o.every !== undefined;
    this.out = allocate(capacity, o, o.reuse);
    this.#depths = (o.imbalanceLevels ?? []).map((k) => k - 1);
    this.#bids = topLevels(o.levels);
    this.#asks = topLevels(o.levels);
    this.#bidRows = new SideRows(o.levels);
    this.#askRows = new SideRows(o.levels);
  }

  /** Writes one row at `at` and starts the next interval's flow. */
  sample(at: number, recv: number, digest: number): void {
    const { out, row } = this;
    const book = this.#book;
    const valid = this.#valid;
    out.ts[row] = at;
    out.recvTs[row] = recv;
    if (this.#clocked) out.events[row] = this.#events;
    else {
      out.digest[row] = digest;
      if (this.#events !== 1) this.eventExceptions.push(row, this.#events);
    }
    out.ofi[row] = this.#contributed || this.#clocked ? this.#ofi : NaN;
    const show = (valid ? 1 : 0) !== this.#shown;
    this.#shown = valid ? 1 : 0;
    // Plain locals, not `const [x, y] = [...]`: destructuring runs the array iterator, which
    // allocates on every row unless the optimizing compiler removes it (it often did not:
    // ~700 bytes per row, a scavenge every 10 ms).
    const bids = this.#bids;
    const asks = this.#asks;
    const b = this.#bidRows;
    const a = this.#askRows;
    // A new version of a side when the book's validity changed or the side was read.
    bids.fresh = asks.fresh = show;
    if (valid && bids.stale) readSide(book, "bid", this.#bidHorizon, bids);
    if (valid && asks.stale) readSide(book, "ask", this.#askHorizon, asks);
    if (bids.fresh) b.push(valid, bids.prices, bids.sizes, bids.known, bids.beyond);
    if (asks.fresh) a.push(valid, asks.prices, asks.sizes, asks.known, asks.beyond);
    const r = row & (BLOCK - 1);
    b.mark(r);
    a.mark(r);
    const bp = b.price1;
    const bs = b.cum(0);
    const ap = a.price1;
    const as = a.cum(0);
    out.mid[row] = (bp + ap) / 2;
    out.spread[row] = ap - bp;
    out.microprice[row] = (bp * as + ap * bs) / (bs + as);
    const depths = this.#depths;
    for (let j = 0; j < depths.length; j++) {
      const bk = b.cum(depths[j]);
      const ak = a.cum(depths[j]);
      out.imbalance[j][row] = (bk - ak) / (bk + ak);
    }
    if (r === BLOCK - 1) this.#flush(row - r, BLOCK);
    this.row++;
    this.#ofi = 0;
    this.#contributed = false;
    this.#events = 0;
  }

  /** Writes the rows of the last, partial block into the level columns. */
  finish(): void {
    const rows = this.row & (BLOCK - 1);
    if (rows > 0) this.#flush(this.row - rows, rows);
  }

  #flush(at: number, rows: number): void {
    const out = this.out;
    this.#bidRows.flush(out.bidPrice, out.bidSize, at, rows);
    this.#askRows.flush(out.askPrice, out.askSize, at, rows);
  }

  /** Applies event `i`; false for a reset (no row, no flow). */
  apply(i: number): boolean {
    const ev = this.#ev;
    const kind = ev.kind[i];
    if (kind === RESET) {
      this.#book.clear();
      this.#valid = false;
      this.#bids.stale = this.#asks.stale = true;
      this.#pb =
        this.#pbs =
        this.#pa =
        this.#pas =
          NaN;
      return false;
    }
    if (kind === SNAPSHOT) this.#snapshot(this.#snapshotRow++);
    else if (kind === CHANGE) {
      const row = this.#changeRow++;
      if (!this.#valid) this.ignored++;
      else {
        const c = ev.changes;
        // Truncation to the venue's depth only cuts a side that grew: a touched side.
        if (c.bidOffsets[row + 1] > c.bidOffsets[row]) this.#bids.stale = true;
        if (c.askOffsets[row + 1] > c.askOffsets[row]) this.#asks.stale = true;
        applyLevels(this.#book, c, row);
        if (this.#book.maxDepth !== Infinity) this.#book.truncate(this.#book.maxDepth);
        this.applied++;
      }
    }
    this.#flow(kind === CHANGE && this.#valid);
    this.#events++;
    this.lastRecv = ev.recvTs[i];
    return true;
  }

  /** Applies row `i` of the snapshots. */
  #snapshot(i: number): void {
    const ev = this.#ev.snapshots;
    const book = this.#book;
    book.clear();
    const nb = ev.bidOffsets[i + 1] - ev.bidOffsets[i];
    const na = ev.askOffsets[i + 1] - ev.askOffsets[i];
    applyLevels(book, ev, i);
    this.#bidHorizon = nb >= this.#storedDepth
      ? extreme(ev.bidPrices, ev.bidOffsets, i, true)
      : -Infinity;
    this.#askHorizon = na >= this.#storedDepth
      ? extreme(ev.askPrices, ev.askOffsets, i, false)
      : Infinity;
    book.maxDepth = this.#venueDepth(nb, na);
    if (book.maxDepth !== Infinity) book.truncate(book.maxDepth);
    this.#valid = true;
    this.#bids.stale = this.#asks.stale = true;
  }

  /** Order-flow imbalance e_n from consecutive best prices and sizes (Cont et al. 2014). */
  #flow(contributes: boolean): void {
    const book = this.#book;
    const valid = this.#valid;
    const b = valid && book.bestBid >= this.#bidHorizon ? book.bestBid : NaN;
    const a = valid && book.bestAsk <= this.#askHorizon ? book.bestAsk : NaN;
    const bs = b === b ? book.bestBidSize : NaN;
    const as = a === a ? book.bestAskSize : NaN;
    if (contributes) {
      const e = ofiStep(this.#pb, this.#pbs, this.#pa, this.#pas, b, bs, a, as);
      if (e === e) {
        this.#ofi += e;
        this.#contributed = true;
      }
    }
    this.#pb = b;
    this.#pbs = bs;
    this.#pa = a;
    this.#pas = as;
  }
}

/**
 * One event's order-flow contribution (Cont, Kukanov and Stoikov 2014, eq. 2):
 * `e = [b >= pb] bs - [b <= pb] pbs - [a <= pa] as + [a >= pa] pas`, from the previous best
 * bid/ask prices and sizes (`pb, pbs, pa, pas`) and the current ones. NaN when either is
 * missing (no book, an empty side).
 */
export function ofiStep(
  pb: number,
  pbs: number,
  pa: number,
  pas: number,
  b: number,
  bs: number,
  a: number,
  as: number,
): number {
  if (!(pb === pb && pa === pa && b === b && a === a)) return NaN;
  return (b >= pb ? bs : 0) - (b <= pb ? pbs : 0) - (a <= pa ? as : 0) + (a >= pa ? pas : 0);
}

/** Applies row `i` of a level source. */
function applyLevels(book: OrderBook, ev: BookLevels, i: number): void {
  const { bidPrices, bidSizes, askPrices, askSizes } = ev;
  for (let j = ev.bidOffsets[i], end = ev.bidOffsets[i + 1]; j < end; j++) {
    book.updateBid(bidPrices[j], bidSizes[j]);
  }
  for (let j = ev.askOffsets[i], end = ev.askOffsets[i + 1]; j < end; j++) {
    book.updateAsk(askPrices[j], askSizes[j]);
  }
}

/** The lowest (`lowest`) or highest price of event `i`'s levels on one side. */
function extreme(prices: Float64Array, offsets: Int32Array, i: number, lowest: boolean): number {
  let w = lowest ? Infinity : -Infinity;
  for (let j = offsets[i]; j < offsets[i + 1]; j++) {
    const p = prices[j];
    if (lowest ? p < w : p > w) w = p;
  }
  return w;
}

/** A side's top levels as last read from the book (see {@linkcode readSide}). */
interface TopLevels {
  readonly prices: Float64Array;
  readonly sizes: Float64Array;
  /** Levels known (best first); the rest are absent or unknown. */
  known: number;
  /** Size of a level past `known`: 0 (absent: a thin book) or NaN (past a cut snapshot). */
  beyond: number;
  /** The book side changed since it was read. */
  stale: boolean;
  /** Read for the row being written (or the book's validity changed): a new version. */
  fresh: boolean;
}

function topLevels(levels: number): TopLevels {
  const prices = new Float64Array(levels);
  const sizes = new Float64Array(levels);
  return { prices, sizes, known: 0, beyond: NaN, stale: true, fresh: false };
}

/**
 * Reads a side's top levels: price and size of each known level; an absent level (a thin
 * book) is NaN price and size 0; an unknown one (past a cut snapshot's worst level) NaN
 * price and NaN size.
 */
function readSide(book: OrderBook, side: "bid" | "ask", horizon: number, top: TopLevels) {
  const p = top.prices;
  const count = book.copyLevels(side, p.length, p, top.sizes);
  const cut = side === "bid" ? horizon !== -Infinity : horizon !== Infinity;
  let k = 0;
  if (side === "bid") { while (k < count && p[k] >= horizon) k++; }
  else while (k < count && p[k] <= horizon) k++;
  top.known = k;
  top.beyond = cut ? NaN : 0;
  top.stale = false;
  top.fresh = true;
}
