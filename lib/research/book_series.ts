/**
 * Books rebuilt from the lake as a columnar top-N series: typed arrays per column, with
 * Polars and Arrow conversions on demand. The fast path of `bookHistory`: the same
 * rows and values, without the copy into a frame.
 *
 * @example
 * ```ts ignore
 * import { LakeRepository } from "../repositories/mod.ts";
 * import { bookSeries } from "./book_series.ts";
 * const repo = await LakeRepository.open({ root: "data/lake" });
 * const s = await bookSeries(repo, { exchange: "coinbase", symbol: "BTC-USD" }, { levels: 10 });
 * const spread = s.spread; // Float64Array, one value per row
 * const frame = s.polars(); // what bookHistory returns
 * // A loop over days can rebuild into the memory of the day before (its arrays are
 * // overwritten): no fresh memory for the columns after the first day.
 * const next = await bookSeries(repo, { exchange: "coinbase", symbol: "BTC-USD" }, {
 *   levels: 10,
 *   reuse: s,
 * });
 * ```
 * @module
 */
import pl from "nodejs-polars";
import {
  Float64,
  Int32,
  makeData,
  makeVector,
  Table,
  TimestampMicrosecond,
  Uint32,
  type Vector,
} from "apache-arrow";
import { keepFreedMemory } from "../lake/_malloc_policy.ts";
import { NativeMemory } from "../lake/_native_memory.ts";
import type { RangeQuery } from "../repositories/repository.ts";
import { type BookSource, loadBookEventsOn } from "./_book_load.ts";
import type { BookEvents, BookLevels } from "./_book_events.ts";
import {
  type BookHistoryOptions,
  type CheckedOptions,
  checkOptions,
  orderFor,
  venueDepthFor,
} from "./_book_options.ts";
import {
  type ModeColumns,
  replayBook,
  replayBookOn,
  type ReplayColumns,
  type ReplayOptions,
  type ReusableColumns,
} from "./_book_replay.ts";
import type { ColumnArrays } from "./_replay_columns.ts";
import { SIDE_REPLAYS } from "./_side_replay_pool.ts";
import { ScratchPool } from "./_scratch.ts";

/**
 * The read path's intermediates (merged event columns, list offsets: about 30 bytes per
 * event) and the rebuild's (row schedule, each side's flow and summed sizes: about 36 more)
 * kept between calls, up to 256 MB: they never reach the caller, and a loop over days then
 * pays their fresh pages once, not per day.
 */
const SCRATCH = new ScratchPool(256 * 2 ** 20);

/**
 * Counts the memory a rebuild leaves to the collector (the read's Polars frames, whose native
 * buffers nodejs-polars frees only when V8 collects their wrappers) and the output's fresh
 * arrays, and runs a full collection when that outweighs the JS heap (see
 * `../lake/_native_memory.ts`). Run between the read and the replay, it frees the read's
 * frames and any series the caller dropped, so the output's arrays take their memory from
 * the allocator instead of new pages (each first touch of a 4 KB page is a fault: 1M rows x
 * 10 levels, ~340 MB of columns, cost ~600 ms of faults per call without it on the
 * benchmark's VM). Not with `reuse`: the output then needs no fresh memory, and a collection
 * per call cost more than it saved (`deno task bench books`, `research_book_rebuild_reuse`).
 */
const NATIVE = new NativeMemory();

/** Native bytes a read of `events` made (Polars' columns, lists and flattened copies). */
function readBytes(events: BookEvents): number {
  const levels = (l: BookLevels) => l.bidPrices.length + l.askPrices.length;
  return events.length * 48 + (levels(events.changes) + levels(events.snapshots)) * 64;
}

/**
 * A rebuilt book sampled into columns: row `i` of every array is one row of
 * `bookHistory`'s frame (same rows, same values, same NaN conventions; see there).
 * Level `k` (1-based) of a side is index `k - 1` of its arrays.
 */
export interface BookSeries extends Omit<ColumnArrays, "imbalance"> {
  /** Number of rows. */
  readonly rows: number;
  /** Levels per side. */
  readonly levels: number;
  /** Sampled on a clock (`every`): rows carry `events`, not `digest`. */
  readonly clocked: boolean;
  /** `imbalance_k` by `k` (the `imbalanceLevels` option, in its order). */
  readonly imbalance: ReadonlyMap<number, Float64Array>;
  /** Changes applied to a valid book. */
  readonly applied: number;
  /** Changes that found no valid book. */
  readonly ignored: number;
  /** The series as `bookHistory`'s frame (copies the columns into Polars). */
  polars(): pl.DataFrame;
  /** The series as an Arrow table with the frame's columns (no copy of the values). */
  arrow(): Table;
}

/** Options of {@linkcode bookSeries}: those of `bookHistory`, and `reuse`. */
export interface BookSeriesOptions extends BookHistoryOptions {
  /**
   * A series the caller is done with, whose arrays' memory the new series takes where it is
   * big enough (as NumPy's `out=`): its arrays, and anything made from them without a copy
   * (its `arrow()` table), are overwritten (or emptied: the ask side's, when it is rebuilt on
   * the second thread) and must not be used afterwards. Saves the page faults of fresh
   * memory, which cost about as much as the rebuild itself when the columns are large (1M
   * rows x 10 levels: about 400 MB). Its `polars()` frames are copies and stay valid.
   */
  readonly reuse?: BookSeries;
}

/**
 * The book of one instrument rebuilt from a store and sampled into a {@linkcode BookSeries}:
 * `bookHistory` without building a frame (`series.polars()` is that frame).
 *
 * Threads: a rebuild of 65,536 events or more rebuilds the book's ask side on a second
 * thread while this one rebuilds the bid side (`_side_replay_pool.ts`; the same columns
 * either way); below that, or when the worker is busy with another rebuild or cannot run,
 * both sides are rebuilt here.
 *
 * Memory: the first call tells the process's allocator (glibc, where FFI is allowed) to keep
 * the memory it frees for its next allocations, so that a rebuild reuses the columns of the
 * series dropped before it instead of faulting in hundreds of MB afresh (see
 * `lib/lake/_malloc_policy.ts`). The process's RSS then stays near its peak until it exits.
 *
 * @throws {TypeError} / {RangeError} for bad options (as a rejection).
 */
export async function bookSeries(
  source: BookSource,
  query: RangeQuery,
  options: BookSeriesOptions = {},
): Promise<BookSeries> {
  const o = checkOptions(options);
  const reuse = options.reuse;
  if (reuse !== undefined && (reuse === null || !(reuse.ts instanceof Float64Array))) {
    throw new TypeError("reuse must be a series returned by bookSeries");
  }
  // Rebuilds write hundreds of MB of fresh columns: memory the previous one freed is reused
  // rather than faulted in again (see `_malloc_policy.ts`).
  keepFreedMemory();
  const scratch = SCRATCH.take();
  try {
    const order = o.snapshotOrder ?? orderFor(query);
    const events = await loadBookEventsOn(scratch, source, query, order);
    if (reuse === undefined) {
      const columns = 4 * o.levels + 6 + o.imbalanceLevels.length;
      NATIVE.used(readBytes(events) + events.length * columns * 8);
    }
    // The series holds copies of what it shows of the events: none of the scratch.
    const so = { ...o, exchange: query.exchange, reuse };
    const replay = { ...replayOptions(query, so), scratch };
    if (events.length < SIDE_REPLAYS.minEvents) return seriesOf(replayBook(events, replay), so);
    return seriesOf(await replayBookOn(SIDE_REPLAYS, events, replay), so);
  } finally {
    SCRATCH.give(scratch);
  }
}

/** Rebuilds and samples book events (in applied order) into a {@linkcode BookSeries}. */
export function seriesOfEvents(
  events: BookEvents,
  range: { readonly start?: number; readonly end?: number },
  o: SeriesOptions,
): BookSeries {
  return seriesOf(replayBook(events, replayOptions(range, o)), o);
}

type SeriesOptions = CheckedOptions & { readonly exchange: string; readonly reuse?: BookSeries };

function replayOptions(
  range: { readonly start?: number; readonly end?: number },
  o: SeriesOptions,
): ReplayOptions {
  return {
    levels: o.levels,
    every: o.every,
    clock: o.clock,
    from: range.start,
    to: range.end,
    storedDepth: o.storedDepth,
    venueDepth: venueDepthFor(o.exchange, o),
    imbalanceLevels: o.imbalanceLevels,
    reuse: o.reuse && reusable(o.reuse),
  };
}

/** The series of a replay's columns. */
function seriesOf(c: ReplayColumns, o: SeriesOptions): BookSeries {
  const imbalance = new Map(o.imbalanceLevels.map((k, j) => [k, c.imbalance[j]]));
  const lazy = c.lazy;
  const series: BookSeries = {
    rows: c.rows,
    levels: o.levels,
    clocked: o.every !== undefined,
    ts: c.ts,
    recvTs: c.recvTs,
    get digest() {
      return lazy.digest.value;
    },
    get events() {
      return lazy.events.value;
    },
    bidPrice: c.bidPrice,
    bidSize: c.bidSize,
    askPrice: c.askPrice,
    askSize: c.askSize,
    mid: c.mid,
    spread: c.spread,
    microprice: c.microprice,
    imbalance,
    ofi: c.ofi,
    applied: c.applied,
    ignored: c.ignored,
    polars: () => seriesFrame(series),
    arrow: () => seriesArrow(series),
  };
  MODE_COLUMNS.set(series, lazy);
  return series;
}

/** The lazy `events`/`digest` of the series made here (read without making them). */
const MODE_COLUMNS = new WeakMap<BookSeries, ModeColumns>();

/** A series' arrays for `reuse`, without making a lazy column it did not make. */
function reusable(s: BookSeries): ReusableColumns {
  const lazy = MODE_COLUMNS.get(s);
  return {
    ts: s.ts,
    recvTs: s.recvTs,
    digest: lazy ? lazy.digest.made : s.digest,
    events: lazy ? lazy.events.made : s.events,
    bidPrice: s.bidPrice,
    bidSize: s.bidSize,
    askPrice: s.askPrice,
    askSize: s.askSize,
    ofi: s.ofi,
    mid: s.mid,
    spread: s.spread,
    microprice: s.microprice,
    imbalance: [...s.imbalance.values()],
  };
}

type SeriesColumns = Omit<BookSeries, "polars" | "arrow">;

/** Column names and values in the frame's order (times and counts as doubles). */
function namedColumns(s: SeriesColumns): [string, Float64Array | Int32Array][] {
  const side = (name: string, lists: readonly Float64Array[]) =>
    lists.map((v, k) => [`${name}_${k + 1}`, v] as [string, Float64Array]);
  return [
    ["ts", s.ts],
    ["recv_ts", s.recvTs],
    s.clocked ? ["events", s.events] : ["digest", s.digest],
    ...side("bid_price", s.bidPrice),
    ...side("bid_size", s.bidSize),
    ...side("ask_price", s.askPrice),
    ...side("ask_size", s.askSize),
    ["mid", s.mid],
    ["spread", s.spread],
    ["microprice", s.microprice],
    ...[...s.imbalance].map(([k, v]) => [`imbalance_${k}`, v] as [string, Float64Array]),
    ["ofi", s.ofi],
  ];
}

function seriesFrame(s: SeriesColumns): pl.DataFrame {
  return pl.DataFrame(
    namedColumns(s).map(([name, v]) => {
      if (name === "digest") return pl.Series(name, v, pl.Int32);
      const f = pl.Series(name, v, pl.Float64);
      if (name === "ts" || name === "recv_ts") {
        return f.cast(pl.Int64).cast(pl.Datetime("us"));
      }
      return name === "events" ? f.cast(pl.UInt32) : f;
    }),
  );
}

function seriesArrow(s: SeriesColumns): Table {
  const vectors: Record<string, Vector> = {};
  for (const [name, v] of namedColumns(s)) {
    if (name === "ts" || name === "recv_ts") {
      // NaN (no event yet) is null; whole microseconds otherwise.
      const data = new BigInt64Array(v.length);
      const valid = new Uint8Array((v.length + 7) >> 3);
      let nulls = 0;
      for (let i = 0; i < v.length; i++) {
        if (v[i] === v[i]) {
          data[i] = BigInt(v[i]);
          valid[i >> 3] |= 1 << (i & 7);
        } else nulls++;
      }
      const type = new TimestampMicrosecond();
      vectors[name] = makeVector(
        makeData({ type, length: v.length, data, nullCount: nulls, nullBitmap: valid }),
      );
    } else if (name === "digest") {
      vectors[name] = makeVector(makeData({ type: new Int32(), length: v.length, data: v }));
    } else if (name === "events") {
      const data = Uint32Array.from(v);
      vectors[name] = makeVector(makeData({ type: new Uint32(), length: v.length, data }));
    } else {
      vectors[name] = makeVector(makeData({ type: new Float64(), length: v.length, data: v }));
    }
  }
  return new Table(vectors);
}
