/**
 * Reading one instrument's stored snapshots, changes and resets for a book rebuild.
 * @module
 */
import pl from "nodejs-polars";
import type { BookChange, BookSnapshot, FeedStatus } from "../market/types.ts";
import type { QueryResult, RangeQuery } from "../repositories/repository.ts";
import { type BookEvents, bookEventsFromFrames, type SnapshotOrder } from "./_book_events.ts";
import { Scratch } from "./_scratch.ts";

/** Where stored books are read from: `LakeRepository` has all three. */
export interface BookSource {
  bookSnapshots(query: RangeQuery): QueryResult<BookSnapshot>;
  bookChanges(query: RangeQuery): QueryResult<BookChange>;
  /** Feed statuses: `reset`/`disconnected` invalidate the book until the next snapshot. */
  statuses?(query: RangeQuery): QueryResult<FeedStatus>;
}

/** Rebuilds start this long before the last snapshot before `start` (late-stamped changes). */
const WARM_UP_MARGIN = 60_000_000;

/** Reads an instrument's snapshots, changes and resets for a rebuild of `[start, end)`. */
export function loadBookEvents(
  source: BookSource,
  query: RangeQuery,
  order: SnapshotOrder,
): Promise<BookEvents> {
  return loadBookEventsOn(new Scratch(), source, query, order);
}

/**
 * {@linkcode loadBookEvents} with the merged columns and list offsets on `scratch`'s buffers
 * (valid until the scratch's next use).
 */
export async function loadBookEventsOn(
  scratch: Scratch,
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
    bookChangeFrame(source.bookChanges(range)),
    source.statuses?.(range).polars(),
  ]);
  return await bookEventsFromFrames({ snapshots, changes, statuses }, order, scratch);
}

/** The changes unevaluated where the store can (the lake: only the needed columns read). */
function bookChangeFrame(result: QueryResult<BookChange>) {
  return result.lazy ? result.lazy() : result.polars();
}
