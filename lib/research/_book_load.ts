/**
 * Reading one instrument's stored snapshots, changes and resets for a book rebuild.
 * @module
 */
import pl from "nodejs-polars";
import type { BookChange, BookSnapshot, FeedStatus } from "../market/types.ts";
import type { QueryResult, RangeQuery } from "../repositories/repository.ts";
import {
  type BookEvents,
  bookEventsFromFrames,
  type KindColumns,
  type SnapshotOrder,
} from "./_book_events.ts";
import { type BookChangeFiles, readBookChangeFiles } from "./_book_files.ts";
import { Scratch } from "./_scratch.ts";

/** Where stored books are read from: `LakeRepository` has all three. */
export interface BookSource {
  bookSnapshots(query: RangeQuery): QueryResult<BookSnapshot>;
  bookChanges(query: RangeQuery): QueryResult<BookChange>;
  /** Feed statuses: `reset`/`disconnected` invalidate the book until the next snapshot. */
  statuses?(query: RangeQuery): QueryResult<FeedStatus>;
  /**
   * The files of the changes of `query` (`LakeRepository`): read without Polars when the
   * lake's writer wrote them (see {@linkcode readBookChangeFiles}).
   */
  bookChangeFiles?: BookChangeFiles["bookChangeFiles"];
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
  const sequence = order === "sequence";
  const [snapshots, changes, statuses] = await Promise.all([
    source.bookSnapshots(range).polars(),
    changeColumns(source, range, { sequence, scratch, key: "changes" }),
    source.statuses?.(range).polars(),
  ]);
  return await bookEventsFromFrames({ snapshots, changes, statuses }, order, scratch);
}

/**
 * The changes read from the store's files where it names them and they are the lake's own
 * ({@linkcode readBookChangeFiles}), else through Polars.
 */
async function changeColumns(
  source: BookSource,
  range: RangeQuery,
  o: { readonly sequence: boolean; readonly scratch: Scratch; readonly key: string },
): Promise<KindColumns | pl.DataFrame | pl.LazyDataFrame> {
  if (source.bookChangeFiles !== undefined) {
    const read = await readBookChangeFiles(await source.bookChangeFiles(range), range, o);
    if (read !== undefined) return read;
  }
  return bookChangeFrame(source.bookChanges(range));
}

/** The changes unevaluated where the store can (the lake: only the needed columns read). */
function bookChangeFrame(result: QueryResult<BookChange>) {
  return result.lazy ? result.lazy() : result.polars();
}
