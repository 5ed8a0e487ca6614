/**
 * Stored book events of one instrument (snapshots, changes, resets) as flat columns in the
 * order the collector applied them, ready for a rebuild loop that allocates nothing per
 * event.
 * @module
 */
import pl from "nodejs-polars";
import type { MarketEvent } from "../market/types.ts";
import { CHANGE, RESET, SNAPSHOT } from "./_book_kinds.ts";
import { Scratch } from "./_scratch.ts";

export { CHANGE, RESET, SNAPSHOT };

/**
 * How a snapshot is placed among the changes (which are in stored order).
 *
 * - `receive`: before the first change received at or after it (`recvTs`). Right for venues
 *   whose snapshot comes on the stream (Coinbase, Kraken): a change stamped earlier by the
 *   venue but received later was applied after the snapshot.
 * - `sequence`: before the first change whose `sequence` is above the snapshot's (Binance:
 *   the REST snapshot's `lastUpdateId`; diffs received before the snapshot and not contained
 *   in it are applied after it). Falls back to `receive` where a sequence is missing.
 */
export type SnapshotOrder = "receive" | "sequence";

/**
 * Level lists of one kind of event, flat: row `r`'s bids at `bidOffsets[r]..[r+1]` of
 * `bidPrices`/`bidSizes` (asks alike).
 */
export interface BookLevels {
  readonly bidOffsets: Int32Array;
  readonly bidPrices: Float64Array;
  readonly bidSizes: Float64Array;
  readonly askOffsets: Int32Array;
  readonly askPrices: Float64Array;
  readonly askSizes: Float64Array;
}

/** One side's level lists: row `i` holds values `offsets[i]` to `offsets[i + 1]`. */
export interface SideLevels {
  readonly offsets: Int32Array;
  readonly prices: Float64Array;
  readonly sizes: Float64Array;
}

/** The {@linkcode BookLevels} of a bid side and an ask side. */
export function bookLevels(bid: SideLevels, ask: SideLevels): BookLevels {
  return {
    bidOffsets: bid.offsets,
    bidPrices: bid.prices,
    bidSizes: bid.sizes,
    askOffsets: ask.offsets,
    askPrices: ask.prices,
    askSizes: ask.sizes,
  };
}

/**
 * Book events as columns, in applied order. Level lists stay in their source (no copy):
 * the `k`-th {@linkcode SNAPSHOT} of the order has row `k` of `snapshots`, the `k`-th
 * {@linkcode CHANGE} row `k` of `changes` (each kind keeps its stored order).
 */
export interface BookEvents {
  readonly length: number;
  /** {@linkcode SNAPSHOT}, {@linkcode CHANGE} or {@linkcode RESET}. */
  readonly kind: Uint8Array;
  readonly ts: Float64Array;
  readonly recvTs: Float64Array;
  readonly digest: Int32Array;
  /** Levels of the snapshots, in the order they are applied. */
  readonly snapshots: BookLevels;
  /** Levels of the changes, in the order they are applied. */
  readonly changes: BookLevels;
}

/** One kind of stored event as columns (before merging). */
export interface KindColumns extends BookLevels {
  readonly length: number;
  readonly ts: Float64Array;
  readonly recvTs: Float64Array;
  readonly digest: Int32Array;
  /** Venue sequence, NaN where missing (empty when the order does not use it). */
  readonly sequence: Float64Array;
}

const NO_LEVELS = new Float64Array(0);

function micros(frame: pl.DataFrame, name: string): Float64Array {
  return frame.getColumn(name).cast(pl.Int64).cast(pl.Float64).toTypedArray() as Float64Array;
}

const microsOf = (name: string) => pl.col(name).cast(pl.Int64).cast(pl.Float64);
const lengthsOf = (name: string) => pl.col(name).lst.lengths().cast(pl.Int32).fillNull(0);

/** Offsets of lists with these lengths (on `scratch`'s buffer `key`). */
function offsetsOf(lengths: Int32Array, scratch: Scratch, key: string): Int32Array {
  const offsets = scratch.array(key, Int32Array, lengths.length + 1);
  offsets[0] = 0;
  for (let i = 0; i < lengths.length; i++) offsets[i + 1] = offsets[i] + lengths[i];
  return offsets;
}

/**
 * One level list column as flat values: the lists exploded inside Polars (an empty or
 * null list explodes to one null, dropped) and copied out as one typed array.
 */
function flatList(frame: pl.DataFrame, name: string, total: number): Float64Array {
  if (total === 0) return NO_LEVELS;
  const values = frame.select(pl.col(name).explode().dropNulls()).getColumn(name);
  const flat = values.cast(pl.Float64).toTypedArray() as Float64Array;
  if (flat.length !== total) {
    throw new RangeError(`level list ${name}: ${flat.length} values for ${total}`);
  }
  return flat;
}

/**
 * The columns a rebuild reads, as one select (the rest of the table is never read): the
 * venue sequence only for `sequence` order, and one list length per side (the size lists'
 * lengths are compared with the price lists' inside Polars, see {@linkcode unevenRows}).
 */
const REBUILD_COLUMNS = (sequence: boolean) => [
  microsOf("ts").alias("ts"),
  microsOf("recv_ts").alias("recv_ts"),
  pl.col("digest").cast(pl.Int32),
  ...(sequence
    ? [pl.col("sequence").cast(pl.Float64).fillNull(pl.lit(NaN)).alias("sequence")]
    : []),
  lengthsOf("bid_prices").alias("nb"),
  lengthsOf("ask_prices").alias("na"),
  pl.col("bid_prices"),
  pl.col("bid_sizes"),
  pl.col("ask_prices"),
  pl.col("ask_sizes"),
];

/** Rows whose size list differs in length from its price list (one number out of Polars). */
function unevenRows(f: pl.DataFrame): number {
  if (f.height === 0) return 0;
  const uneven = (side: string) =>
    lengthsOf(`${side}_prices`).neq(lengthsOf(`${side}_sizes`)).cast(pl.Int32).sum();
  const counts = f.select(uneven("bid").alias("b"), uneven("ask").alias("a"));
  return Number(counts.getColumn("b").get(0)) + Number(counts.getColumn("a").get(0));
}

/**
 * Columns of a book snapshot or book change frame (the repositories' columns). A lazy frame
 * (a scan of the lake's files) is read with only the columns a rebuild needs. Offsets are
 * on `scratch` under `key`-prefixed names; `sequence` is empty unless asked for.
 */
async function kindColumns(
  frame: pl.DataFrame | pl.LazyDataFrame | KindColumns,
  o: { readonly sequence: boolean; readonly scratch: Scratch; readonly key: string },
): Promise<KindColumns> {
  if (isColumns(frame)) return frame;
  const f = isLazy(frame)
    ? await frame.select(...REBUILD_COLUMNS(o.sequence)).collect()
    : frame.select(...REBUILD_COLUMNS(o.sequence));
  const column = (name: string) => f.getColumn(name).toTypedArray();
  if (unevenRows(f) > 0) {
    throw new RangeError("book rows whose price and size lists differ in length");
  }
  const bidOffsets = offsetsOf(column("nb") as Int32Array, o.scratch, `${o.key}.bidOffsets`);
  const askOffsets = offsetsOf(column("na") as Int32Array, o.scratch, `${o.key}.askOffsets`);
  const [bids, asks] = [bidOffsets[f.height], askOffsets[f.height]];
  return {
    length: f.height,
    ts: column("ts") as Float64Array,
    recvTs: column("recv_ts") as Float64Array,
    digest: column("digest") as Int32Array,
    sequence: o.sequence ? column("sequence") as Float64Array : NO_LEVELS,
    bidOffsets,
    bidPrices: flatList(f, "bid_prices", bids),
    bidSizes: flatList(f, "bid_sizes", bids),
    askOffsets,
    askPrices: flatList(f, "ask_prices", asks),
    askSizes: flatList(f, "ask_sizes", asks),
  };
}

function isColumns(frame: pl.DataFrame | pl.LazyDataFrame | KindColumns): frame is KindColumns {
  return (frame as KindColumns).bidOffsets instanceof Int32Array;
}

function isLazy(frame: pl.DataFrame | pl.LazyDataFrame): frame is pl.LazyDataFrame {
  return typeof (frame as pl.LazyDataFrame).collect === "function" &&
    typeof (frame as pl.DataFrame).getColumn !== "function";
}

/** Frames of one instrument as the repositories return them (lazy where they can). */
export interface BookFrames {
  /** Book snapshots (`bookSnapshots(q).polars()`), every stored level. */
  readonly snapshots: pl.DataFrame | pl.LazyDataFrame;
  /**
   * Book changes (`bookChanges(q).polars()` or `.lazy()`, or columns already read from the
   * lake's files), in stored order.
   */
  readonly changes: pl.DataFrame | pl.LazyDataFrame | KindColumns;
  /** Feed statuses (`statuses(q).polars()`); only `reset` and `disconnected` count. */
  readonly statuses?: pl.DataFrame;
}

/**
 * Merges one instrument's stored snapshots, changes and resets into the order the collector
 * applied them: changes in stored order; snapshots placed by `order`
 * ({@linkcode SnapshotOrder}); a reset before the first change received strictly after it
 * (stored changes of the same frame came before the change that broke the book), and before
 * a snapshot received at the same time. The merged columns and the offsets are on `scratch`'s
 * buffers (a new scratch by default: arrays of their own).
 */
export async function bookEventsFromFrames(
  frames: BookFrames,
  order: SnapshotOrder,
  scratch: Scratch = new Scratch(),
): Promise<BookEvents> {
  const sequence = order === "sequence";
  const [s, c] = await Promise.all([
    kindColumns(frames.snapshots, { sequence, scratch, key: "snapshots" }),
    kindColumns(frames.changes, { sequence, scratch, key: "changes" }),
  ]);
  const r = resetTimes(frames.statuses);
  const n = s.length + c.length + r.recvTs.length;
  // Every element of these is written below.
  const out = {
    length: n,
    kind: scratch.array("kind", Uint8Array, n),
    ts: scratch.array("ts", Float64Array, n),
    recvTs: scratch.array("recvTs", Float64Array, n),
    digest: scratch.array("digest", Int32Array, n),
    snapshots: levelsOf(s),
    changes: levelsOf(c),
  };
  let si = 0;
  let ci = 0;
  let ri = 0;
  let k = 0;
  const take = (
    kind: number,
    from: { ts: Float64Array; recvTs: Float64Array; digest: Int32Array },
    i: number,
  ) => {
    out.kind[k] = kind;
    out.ts[k] = from.ts[i];
    out.recvTs[k] = from.recvTs[i];
    out.digest[k] = from.digest[i];
    k++;
  };
  const bySequence = order === "sequence";
  const snapshotFirst = (i: number, j: number) => {
    if (bySequence && !Number.isNaN(s.sequence[i]) && !Number.isNaN(c.sequence[j])) {
      return s.sequence[i] < c.sequence[j];
    }
    return s.recvTs[i] <= c.recvTs[j];
  };
  const resetFirst = (j: number) =>
    ri < r.recvTs.length && r.recvTs[ri] < c.recvTs[j] &&
    (si >= s.length || r.recvTs[ri] <= s.recvTs[si]);
  while (ci < c.length) {
    if (resetFirst(ci)) {
      take(RESET, r, ri++);
    } else if (si < s.length && snapshotFirst(si, ci)) {
      take(SNAPSHOT, s, si++);
    } else {
      // The changes up to the next reset or snapshot, copied as one run.
      let j = ci + 1;
      while (j < c.length && !resetFirst(j) && !(si < s.length && snapshotFirst(si, j))) j++;
      out.kind.fill(CHANGE, k, k + j - ci);
      out.ts.set(c.ts.subarray(ci, j), k);
      out.recvTs.set(c.recvTs.subarray(ci, j), k);
      out.digest.set(c.digest.subarray(ci, j), k);
      k += j - ci;
      ci = j;
    }
  }
  while (si < s.length || ri < r.recvTs.length) {
    if (ri < r.recvTs.length && (si >= s.length || r.recvTs[ri] <= s.recvTs[si])) {
      take(RESET, r, ri++);
    } else {
      take(SNAPSHOT, s, si++);
    }
  }
  return out;
}

/** The level columns of one kind (the same arrays). */
function levelsOf(k: KindColumns): BookLevels {
  const { bidOffsets, bidPrices, bidSizes, askOffsets, askPrices, askSizes } = k;
  return { bidOffsets, bidPrices, bidSizes, askOffsets, askPrices, askSizes };
}

function resetTimes(frame: pl.DataFrame | undefined) {
  if (frame === undefined || frame.height === 0) {
    return { ts: NO_LEVELS, recvTs: NO_LEVELS, digest: new Int32Array(0) };
  }
  const status = frame.getColumn("status").toArray() as string[];
  const keep = status.map((v) => v === "reset" || v === "disconnected");
  const all = { ts: micros(frame, "ts"), recvTs: micros(frame, "recv_ts") };
  const digest = frame.getColumn("digest").cast(pl.Int32).toTypedArray();
  const idx = keep.flatMap((k, i) => (k ? [i] : []));
  return {
    ts: Float64Array.from(idx, (i) => all.ts[i]),
    recvTs: Float64Array.from(idx, (i) => all.recvTs[i]),
    digest: Int32Array.from(idx, (i) => digest[i]),
  };
}

/**
 * Model events (snapshots, changes, `reset`/`disconnected` statuses of any one instrument)
 * as book events, in the order given: the order a live consumer applies them.
 */
export function bookEventsFromMarketEvents(events: Iterable<MarketEvent>): BookEvents {
  const kinds: number[] = [];
  const ts: number[] = [];
  const recvTs: number[] = [];
  const bids: (readonly (readonly [number, number])[])[] = [];
  const asks: (readonly (readonly [number, number])[])[] = [];
  for (const e of events) {
    if (e.kind === "book_snapshot" || e.kind === "book_change") {
      kinds.push(e.kind === "book_snapshot" ? SNAPSHOT : CHANGE);
      bids.push(e.bids);
      asks.push(e.asks);
    } else if (e.kind === "status" && (e.status === "reset" || e.status === "disconnected")) {
      kinds.push(RESET);
      bids.push([]);
      asks.push([]);
    } else {
      continue;
    }
    ts.push(e.ts);
    recvTs.push(e.recvTs);
  }
  const n = kinds.length;
  const flat = (lists: typeof bids, kind: number) => {
    const rows = lists.filter((_, i) => kinds[i] === kind);
    const offsets = new Int32Array(rows.length + 1);
    for (let i = 0; i < rows.length; i++) offsets[i + 1] = offsets[i] + rows[i].length;
    const prices = new Float64Array(offsets[rows.length]);
    const sizes = new Float64Array(offsets[rows.length]);
    rows.forEach((list, i) => {
      list.forEach(([p, q], j) => {
        prices[offsets[i] + j] = p;
        sizes[offsets[i] + j] = q;
      });
    });
    return { offsets, prices, sizes };
  };
  const levels = (kind: number) => bookLevels(flat(bids, kind), flat(asks, kind));
  return {
    length: n,
    kind: Uint8Array.from(kinds),
    ts: Float64Array.from(ts),
    recvTs: Float64Array.from(recvTs),
    digest: new Int32Array(n),
    snapshots: levels(SNAPSHOT),
    changes: levels(CHANGE),
  };
}
