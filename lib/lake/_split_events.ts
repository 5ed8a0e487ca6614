/**
 * Model events split by table before they are stored: trades and bars (checked later by
 * their tables' write paths), checked rows of quotes and statuses, and checked book
 * columns of snapshots and changes.
 * @module
 */
import type { Bar, BookChange, BookSnapshot, MarketEvent, Trade } from "../market/types.ts";
import { eventRejection, type Rejection } from "../schema/rules.ts";
import { BookColumns, type BookKind } from "./book_columns.ts";
import { computeDigests, type DigestStream, digestStream } from "./digest_pool.ts";
import {
  type EventKind,
  eventKindOf,
  type EventRow,
  eventRow,
  type RowEvent,
} from "./event_rows.ts";

/** What {@linkcode splitEvents} calls back with. */
export interface SplitEventsOptions {
  /** Levels per side kept of a book snapshot. */
  readonly depth: number;
  /** The latest valid time (the schema's `latestValidMicros`). */
  readonly latest: number;
  /** An event of a kind without a table. */
  readonly ignored: (kind: unknown) => void;
  /** An event the schema's rules refuse (checked before levels are cut to `depth`). */
  readonly rejected: (kind: EventKind, event: MarketEvent, reason: Rejection) => void;
}

/** What {@linkcode splitEvents} gives: trades, rows per event table, book columns. */
export interface SplitEvents {
  readonly trades: Trade[];
  /** Bar events (stored through `bar_store.ts`). */
  readonly bars: Bar[];
  /** Checked rows of quotes and statuses. */
  readonly rows: Map<EventKind, EventRow[]>;
  /** Checked book snapshots and changes, as columns. */
  readonly books: Map<BookKind, BookColumns>;
}

/**
 * Splits model events into trades and bars (both checked later, by their tables' write
 * paths), checked rows of quotes and statuses and checked book columns: each of those is
 * checked as the buffer writer checks it (the schema's rules), before snapshot levels are cut
 * to `depth`, so both stores refuse the same events (book events while their levels are
 * copied into the columns: {@linkcode BookColumns.appendChecked}).
 */
export function splitEvents(
  events: readonly MarketEvent[],
  options: SplitEventsOptions,
): SplitEvents {
  const trades: Trade[] = [];
  const bars: Bar[] = [];
  const rows = new Map<EventKind, EventRow[]>();
  const books = new Map<BookKind, BookColumns>();
  // Digests of a large batch shared with a worker while its rows are copied.
  const streams = new Map<BookKind, DigestStream | undefined>();
  try {
    splitInto(events, options, { trades, bars, rows, books }, streams);
  } finally {
    for (const stream of streams.values()) stream?.finish();
  }
  for (const [kind, columns] of books) {
    if (streams.get(kind) === undefined) computeDigests(columns, 0);
  }
  return { trades, bars, rows, books };
}

/** The loop of {@linkcode splitEvents}: each event into `out`. */
function splitInto(
  events: readonly MarketEvent[],
  options: SplitEventsOptions,
  { trades, bars, rows, books }: SplitEvents,
  streams: Map<BookKind, DigestStream | undefined>,
): void {
  for (const e of events) {
    if (e?.kind === "trade") {
      trades.push(e);
      continue;
    }
    if (e?.kind === "bar") {
      bars.push(e);
      continue;
    }
    const kind = e === null || typeof e !== "object" ? undefined : eventKindOf(e);
    if (kind === undefined) {
      options.ignored((e as { kind?: unknown })?.kind);
      continue;
    }
    if (kind === "book_snapshots" || kind === "book_changes") {
      let columns = books.get(kind);
      if (columns === undefined) {
        books.set(kind, columns = new BookColumns(kind, options.depth));
        streams.set(kind, digestStream(columns, 0, presize(columns, events)));
      }
      let rejection: Rejection | undefined;
      try {
        // Checked by the schema's rules as its levels are copied; digests by the stream or after.
        rejection = columns.appendChecked(e as BookSnapshot | BookChange, options.latest, true);
      } catch {
        rejection = "levels"; // levels that are not lists of [price, size] cannot be sorted
      }
      if (rejection !== undefined) options.rejected(kind, e, rejection);
      else streams.get(kind)?.advance();
      continue;
    }
    let reason = eventRejection(e, options.latest);
    let row: EventRow | undefined;
    if (reason === undefined) {
      try {
        row = eventRow(e as RowEvent, { depth: options.depth });
      } catch {
        reason = "levels";
      }
    }
    if (row === undefined) {
      options.rejected(kind, e, reason ?? "levels");
      continue;
    }
    const list = rows.get(kind);
    if (list) list.push(row);
    else rows.set(kind, [row]);
  }
}

/**
 * Reserves room in `columns` for the book events of its table in `events` (levels as
 * stored: a snapshot's sides cut to the depth), so that they are appended without growing
 * an array. Events the rules refuse are counted too: a little room to spare. Returns the
 * rows reserved.
 */
function presize(columns: BookColumns, events: readonly MarketEvent[]): number {
  const kind = columns.kind === "book_snapshots" ? "book_snapshot" : "book_change";
  const cut = kind === "book_snapshot" ? columns.depth : Infinity;
  const size = (levels: unknown) => Array.isArray(levels) ? Math.min(levels.length, cut) : 0;
  let rows = 0;
  let bids = 0;
  let asks = 0;
  for (const e of events) {
    if (e?.kind !== kind) continue;
    rows++;
    bids += size(e.bids);
    asks += size(e.asks);
  }
  columns.reserve(rows, bids, asks);
  return rows;
}
