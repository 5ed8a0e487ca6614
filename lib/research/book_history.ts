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
import type { MarketEvent } from "../market/types.ts";
import type { RangeQuery } from "../repositories/repository.ts";
import { bookEventsFromMarketEvents } from "./_book_events.ts";
import { type BookHistoryOptions, checkOptions } from "./_book_options.ts";
import type { BookSource } from "./_book_load.ts";
import { bookSeries, seriesOfEvents } from "./book_series.ts";

export { ofiStep } from "./_book_replay.ts";
export type { SnapshotOrder } from "./_book_events.ts";
export type { BookHistoryOptions } from "./_book_options.ts";
export { type BookSource, loadBookEvents } from "./_book_load.ts";

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
  return (await bookSeries(source, query, options)).polars();
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
  return seriesOfEvents(bookEventsFromMarketEvents(events), range, {
    ...checked,
    exchange: options.exchange ?? "",
  }).polars();
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
