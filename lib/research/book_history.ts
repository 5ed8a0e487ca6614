/**
 * Order books rebuilt from stored book snapshots and changes, exactly as the collector kept
 * them, sampled into Polars frames: top levels, spread, mid, microprice, depth imbalance and
 * order-flow imbalance, at every event or on a clock; and quotes derived from books.
 *
 * @example
 * ```ts ignore
 * import { LakeRepository } from "../repositories/mod.ts";
 * import { bookHistory } from "./book_history.ts";
 * const repo = await LakeRepository.open({ root: "data/lake" });
 * const btc = { exchange: "coinbase", symbol: "BTC-USD" };
 * const everyEvent = await bookHistory(repo, btc, { levels: 10 });
 * const perSecond = await bookHistory(repo, btc, { levels: 5, every: 1_000_000 });
 * ```
 * @module
 */
import pl from "nodejs-polars";
import type { BookChange, BookSnapshot, FeedStatus, MarketEvent } from "../market/types.ts";
import type { QueryResult, RangeQuery } from "../repositories/repository.ts";
import {
  type BookEvents,
  bookEventsFromFrames,
  bookEventsFromMarketEvents,
  type SnapshotOrder,
} from "./_book_events.ts";
import { replayBook, type ReplayColumns } from "./_book_replay.ts";
import {
  type BookHistoryOptions,
  type CheckedOptions,
  checkOptions,
  orderFor,
  venueDepthFor,
} from "./_book_options.ts";

export { ofiStep } from "./_book_replay.ts";
export type { SnapshotOrder } from "./_book_events.ts";
export type { BookHistoryOptions } from "./_book_options.ts";

/** Where stored books are read from: `LakeRepository` has all three. */
export interface BookSource {
  bookSnapshots(query: RangeQuery): QueryResult<BookSnapshot>;
  bookChanges(query: RangeQuery): QueryResult<BookChange>;
  /** Feed statuses: `reset`/`disconnected` invalidate the book until the next snapshot. */
  statuses?(query: RangeQuery): QueryResult<FeedStatus>;
}

/** Rebuilds start this long before the last snapshot before `start` (late-stamped changes). */
const WARM_UP_MARGIN = 60_000_000;

/**
 * The book of one instrument rebuilt from a store's snapshots and changes and sampled into a
 * frame, one row per stored snapshot and change (or per clock tick with `every`):
 *
 * - `ts` (`Datetime(us)`: the event's venue time, or the clock tick), `recv_ts` (of the last
 *   event applied), and `digest` (the event's; event rows) or `events` (events since the
 *   previous row; clock rows);
 * - `bid_price_k, bid_size_k, ask_price_k, ask_size_k` for `k = 1..levels`, best first. A
 *   level the book does not have is NaN price and size 0; a level that is not known is NaN
 *   price and NaN size: no valid book (before the first snapshot, after a reset), or past the
 *   worst level of a snapshot the store cut at `storedDepth` levels until changes name it;
 * - `mid = (bid_1 + ask_1) / 2`, `spread = ask_1 - bid_1`, `microprice =
 *   (bid_1 * ask_size_1 + ask_1 * bid_size_1) / (bid_size_1 + ask_size_1)` (the size-weighted
 *   mid, leaning towards the thinner side);
 * - `imbalance_k = (B_k - A_k) / (B_k + A_k)` with `B_k`, `A_k` the summed sizes of the best
 *   `k` levels per side (in [-1, 1]; NaN when a level within `k` is unknown);
 * - `ofi`: order-flow imbalance (Cont, Kukanov and Stoikov 2014), the sum over the changes
 *   since the previous row of `e_n = [b_n >= b_{n-1}] q^b_n - [b_n <= b_{n-1}] q^b_{n-1}
 *   - [a_n <= a_{n-1}] q^a_n + [a_n >= a_{n-1}] q^a_{n-1}` from consecutive best bid/ask prices
 *   `b, a` and sizes `q`. Snapshots contribute nothing (a new image is not order flow), nor
 *   does a change without a previous two-sided book: such event rows have NaN, clock rows
 *   sum what contributed (0 for none).
 *
 * Events are applied in the order the collector applied them (see `SnapshotOrder`): the
 * stored changes in their stored order, snapshots placed among them, `reset`/`disconnected`
 * statuses emptying the book until the next snapshot. With `start`, the rebuild starts at
 * the last snapshot before it; rows are returned for `[start, end)` in `clock` time.
 *
 * @throws {TypeError} / {RangeError} for bad options (as a rejection).
 */
export async function bookHistory(
  source: BookSource,
  query: RangeQuery,
  options: BookHistoryOptions = {},
): Promise<pl.DataFrame> {
  const checked = checkOptions(options);
  const events = await loadBookEvents(source, query, checked.snapshotOrder ?? orderFor(query));
  return historyFrame(events, query, { ...checked, exchange: query.exchange });
}

/**
 * {@linkcode bookHistory} over model events held in memory (book snapshots, changes and
 * `reset`/`disconnected` statuses of one instrument, in the order they were applied; other
 * events are skipped). Event rows have digest 0.
 */
export function bookHistoryFromEvents(
  events: Iterable<MarketEvent>,
  options: BookHistoryOptions & {
    readonly exchange?: string;
    readonly start?: number;
    readonly end?: number;
  } = {},
): pl.DataFrame {
  const checked = checkOptions(options);
  const range = { start: options.start, end: options.end };
  return historyFrame(bookEventsFromMarketEvents(events), range, {
    ...checked,
    exchange: options.exchange ?? "",
  });
}

/** Options of {@linkcode quotesFromBooks}. */
export type QuotesFromBooksOptions = Pick<
  BookHistoryOptions,
  "snapshotOrder" | "venueDepth" | "storedDepth"
>;

/**
 * Quotes derived from rebuilt books, for venues that send no ticker: one row each time the
 * best bid or ask (price or size) changes, with the columns of the repositories' quote
 * frames (`exchange, symbol, ts, recv_ts, digest, bid_price, bid_size, ask_price, ask_size`;
 * `digest` is the book event's). Rows where the book is invalid are left out.
 */
export async function quotesFromBooks(
  source: BookSource,
  query: RangeQuery,
  options: QuotesFromBooksOptions = {},
): Promise<pl.DataFrame> {
  const frame = await bookHistory(source, query, { ...options, levels: 1, imbalanceLevels: [] });
  const cols = ["bid_price_1", "bid_size_1", "ask_price_1", "ask_size_1"].map((c) =>
    frame.getColumn(c).toTypedArray() as Float64Array
  );
  const keep: boolean[] = new Array(frame.height);
  const same = (x: number, y: number) => x === y || (x !== x && y !== y);
  for (let i = 0; i < frame.height; i++) {
    const twoSided = cols[0][i] === cols[0][i] || cols[2][i] === cols[2][i];
    keep[i] = twoSided && (i === 0 || !cols.every((c) => same(c[i], c[i - 1])));
  }
  return frame.filter(pl.Series("keep", keep, pl.Bool)).select(
    pl.lit(query.exchange).cast(pl.Utf8).alias("exchange"),
    pl.lit(query.symbol).cast(pl.Utf8).alias("symbol"),
    pl.col("ts"),
    pl.col("recv_ts"),
    pl.col("digest"),
    pl.col("bid_price_1").alias("bid_price"),
    pl.col("bid_size_1").alias("bid_size"),
    pl.col("ask_price_1").alias("ask_price"),
    pl.col("ask_size_1").alias("ask_size"),
  );
}

/** Reads an instrument's snapshots, changes and resets for a rebuild of `[start, end)`. */
export async function loadBookEvents(
  source: BookSource,
  query: RangeQuery,
  order: SnapshotOrder,
): Promise<BookEvents> {
  const { exchange, symbol, start, end } = query;
  let from: number | undefined = undefined;
  if (start !== undefined) {
    const before = await source.bookSnapshots({ exchange, symbol, end: start }).polars();
    if (before.height > 0) {
      const last = before.tail(1);
      const micros = (c: string) => Number(last.getColumn(c).cast(pl.Int64).toArray()[0]);
      from = Math.min(micros("ts"), micros("recv_ts")) - WARM_UP_MARGIN;
    } else {
      from = start - WARM_UP_MARGIN;
    }
  }
  const range = { exchange, symbol, start: from, end };
  const [snapshots, changes, statuses] = await Promise.all([
    source.bookSnapshots(range).polars(),
    source.bookChanges(range).polars(),
    source.statuses?.(range).polars(),
  ]);
  return bookEventsFromFrames({ snapshots, changes, statuses }, order);
}

function historyFrame(
  events: BookEvents,
  range: { readonly start?: number; readonly end?: number },
  o: CheckedOptions & { readonly exchange: string },
): pl.DataFrame {
  const columns = replayBook(events, {
    levels: o.levels,
    every: o.every,
    clock: o.clock,
    from: range.start,
    to: range.end,
    storedDepth: o.storedDepth,
    venueDepth: venueDepthFor(o.exchange, o),
  });
  return withDerived(levelFrame(columns, o.every !== undefined), o.imbalanceLevels);
}

function micros(name: string, values: Float64Array): pl.Series {
  return pl.Series(name, values, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us"));
}

function levelFrame(c: ReplayColumns, clock: boolean): pl.DataFrame {
  const f64 = (name: string, v: Float64Array) => pl.Series(name, v, pl.Float64);
  const side = (name: string, lists: Float64Array[]) =>
    lists.map((v, k) => f64(`${name}_${k + 1}`, v));
  return pl.DataFrame([
    micros("ts", c.ts),
    micros("recv_ts", c.recvTs),
    clock ? f64("events", c.events).cast(pl.UInt32) : pl.Series("digest", c.digest, pl.Int32),
    ...side("bid_price", c.bidPrice),
    ...side("bid_size", c.bidSize),
    ...side("ask_price", c.askPrice),
    ...side("ask_size", c.askSize),
    f64("ofi", c.ofi),
  ]);
}

function withDerived(frame: pl.DataFrame, imbalanceLevels: readonly number[]): pl.DataFrame {
  const col = pl.col;
  const sum = (name: string, k: number) => {
    let e = col(`${name}_1`);
    for (let j = 2; j <= k; j++) e = e.add(col(`${name}_${j}`));
    return e;
  };
  const imbalances = imbalanceLevels.map((k) => {
    const b = sum("bid_size", k);
    const a = sum("ask_size", k);
    return b.sub(a).div(b.add(a)).alias(`imbalance_${k}`);
  });
  return frame.withColumns(
    col("bid_price_1").add(col("ask_price_1")).div(2).alias("mid"),
    col("ask_price_1").sub(col("bid_price_1")).alias("spread"),
    col("bid_price_1").mul(col("ask_size_1")).add(col("ask_price_1").mul(col("bid_size_1")))
      .div(col("bid_size_1").add(col("ask_size_1"))).alias("microprice"),
    ...imbalances,
  ).select(
    ...frame.columns.filter((c) => c !== "ofi").map((c) => col(c)),
    col("mid"),
    col("spread"),
    col("microprice"),
    ...imbalanceLevels.map((k) => col(`imbalance_${k}`)),
    col("ofi"),
  );
}
