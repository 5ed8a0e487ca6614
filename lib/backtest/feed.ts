/**
 * Feeds of market events for the backtester: arrays, iterables, async iterables (of events
 * or of time-ordered batches), any {@linkcode MarketDataRepository} over a range, and the
 * time-ordered merge of several of them.
 *
 * Inside the engine a feed is an async iterable of batches (arrays of events in time
 * order): one `await` per batch instead of per event keeps the loop fast.
 *
 * Time order is by {@linkcode eventTime}: venue time, except a bar, which is known only
 * when it closes (`ts + interval`).
 * @module
 */
import type { MarketEvent } from "../market/types.ts";
import type { MarketDataRepository, RangeQuery } from "../repositories/repository.ts";

/** Anything the engine can read events from. */
export type FeedSource =
  | readonly MarketEvent[]
  | Iterable<MarketEvent>
  | AsyncIterable<MarketEvent>
  | AsyncIterable<readonly MarketEvent[]>;

/** Events per batch when a feed is cut into batches. */
const BATCH = 4096;

/** The time an event is known: `ts`, or `ts + interval` for a bar. */
export function eventTime(e: MarketEvent): number {
  return e.kind === "bar" ? e.ts + e.interval : e.ts;
}

/** The local receive time of an event (`recvTs`). */
export function receiveTime(e: MarketEvent): number {
  return e.recvTs;
}

/** Any source as an async iterable of batches. */
export async function* batches(source: FeedSource): AsyncGenerator<readonly MarketEvent[]> {
  if (Array.isArray(source)) {
    for (let i = 0; i < source.length; i += BATCH) yield source.slice(i, i + BATCH);
    return;
  }
  if (Symbol.asyncIterator in (source as object)) {
    let batch: MarketEvent[] = [];
    for await (const item of source as AsyncIterable<MarketEvent | readonly MarketEvent[]>) {
      if (Array.isArray(item)) {
        if (batch.length > 0) yield batch;
        batch = [];
        if (item.length > 0) yield item;
      } else {
        batch.push(item as MarketEvent);
        if (batch.length >= BATCH) {
          yield batch;
          batch = [];
        }
      }
    }
    if (batch.length > 0) yield batch;
    return;
  }
  if (Symbol.iterator in (source as object)) {
    let batch: MarketEvent[] = [];
    for (const e of source as Iterable<MarketEvent>) {
      batch.push(e);
      if (batch.length >= BATCH) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
    return;
  }
  throw new TypeError("a feed must be an array, an iterable or an async iterable of events");
}

/**
 * Merges time-ordered sources into one time-ordered feed of batches (by `timeOf`, default
 * {@linkcode eventTime}). Equal times keep the order of the sources, then each source's own
 * order.
 */
export async function* mergeFeeds(
  sources: readonly FeedSource[],
  timeOf: (e: MarketEvent) => number = eventTime,
): AsyncGenerator<readonly MarketEvent[]> {
  if (sources.length === 1) {
    yield* batches(sources[0]);
    return;
  }
  const its = sources.map((s) => batches(s)[Symbol.asyncIterator]());
  const heads: (readonly MarketEvent[] | undefined)[] = [];
  const pos: number[] = [];
  for (const it of its) {
    heads.push(await nextBatch(it));
    pos.push(0);
  }
  let out: MarketEvent[] = [];
  for (;;) {
    let best = -1;
    let bestTime = Infinity;
    for (let s = 0; s < its.length; s++) {
      const h = heads[s];
      if (h === undefined) continue;
      const t = timeOf(h[pos[s]]);
      if (t < bestTime || best < 0) {
        best = s;
        bestTime = t;
      }
    }
    if (best < 0) break;
    const h = heads[best]!;
    out.push(h[pos[best]++]);
    if (pos[best] >= h.length) {
      heads[best] = await nextBatch(its[best]);
      pos[best] = 0;
    }
    if (out.length >= BATCH) {
      yield out;
      out = [];
    }
  }
  if (out.length > 0) yield out;
}

async function nextBatch(
  it: AsyncIterator<readonly MarketEvent[]>,
): Promise<readonly MarketEvent[] | undefined> {
  for (;;) {
    const r = await it.next();
    if (r.done) return undefined;
    if (r.value.length > 0) return r.value;
  }
}

/** What {@linkcode repositoryFeed} reads. */
export interface RepositoryFeedOptions {
  /** Instruments and range (`start`, `end` in microseconds). */
  readonly instruments: readonly RangeQuery[];
  /**
   * Tables to read (default trades, quotes and book snapshots). Bars are read instead when
   * `barInterval` is given.
   */
  readonly tables?: readonly ("trades" | "quotes" | "book_snapshots")[];
  /** Read time bars of this length (microseconds) instead of the tables. */
  readonly barInterval?: number;
  /** Book snapshot depth (default: what is stored). */
  readonly depth?: number;
  /**
   * Read the range in windows of this many microseconds, so memory holds one window at a
   * time (default: the whole range at once).
   */
  readonly window?: number;
}

/**
 * Events from a repository over a range: every requested table of every instrument,
 * merged in time order (within one instant: instruments in the order given, then trades,
 * quotes, snapshots). With `window`, the range is read window by window.
 * @throws {RangeError} (on iteration) for a `window` that is not positive, or a windowed
 * read without a `start` and `end`.
 */
export async function* repositoryFeed(
  repo: MarketDataRepository,
  options: RepositoryFeedOptions,
): AsyncGenerator<readonly MarketEvent[]> {
  const { window } = options;
  if (window === undefined) {
    yield* readWindow(repo, options, options.instruments);
    return;
  }
  if (!(window > 0)) throw new RangeError(`window must be positive, got ${window}`);
  const starts = options.instruments.map((q) => q.start);
  const ends = options.instruments.map((q) => q.end);
  if (starts.some((s) => s === undefined) || ends.some((e) => e === undefined)) {
    throw new RangeError("a windowed repository feed needs start and end for every instrument");
  }
  const from = Math.min(...(starts as number[]));
  const to = Math.max(...(ends as number[]));
  for (let t = from; t < to; t += window) {
    const queries = options.instruments.map((q) => ({
      ...q,
      start: Math.max(q.start!, t),
      end: Math.min(q.end!, t + window),
    })).filter((q) => q.start < q.end);
    yield* readWindow(repo, options, queries);
  }
}

async function* readWindow(
  repo: MarketDataRepository,
  options: RepositoryFeedOptions,
  queries: readonly RangeQuery[],
): AsyncGenerator<readonly MarketEvent[]> {
  const sources: MarketEvent[][] = [];
  for (const q of queries) {
    if (options.barInterval !== undefined) {
      sources.push(await repo.bars({ ...q, interval: options.barInterval }).rows());
      continue;
    }
    for (const table of options.tables ?? ["trades", "quotes", "book_snapshots"]) {
      if (table === "trades") sources.push(await repo.trades(q).rows());
      else if (table === "quotes") sources.push(await repo.quotes(q).rows());
      else {
        const depth = options.depth;
        sources.push(await repo.bookSnapshots(depth ? { ...q, depth } : q).rows());
      }
    }
  }
  yield* mergeFeeds(sources);
}
