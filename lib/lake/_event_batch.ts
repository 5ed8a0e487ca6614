/**
 * A batch of a digest-keyed table (quotes, book snapshots, book changes, event log):
 * rows validated (the schema's rules), grouped by partition (exchange, symbol, UTC day) and
 * turned into one Polars frame with the file's columns, with each partition's time range
 * and order.
 * @module
 */
import type pl from "nodejs-polars";
import type { Bar, BookChange, BookSnapshot, MarketEvent, Trade } from "../market/types.ts";
import { eventRejection, type Rejection } from "../schema/rules.ts";
import { bookColumnsFrame, eventFrame } from "./_event_frame.ts";
import { BookColumns, type BookKind } from "./book_columns.ts";
import {
  type EventKind,
  eventKindOf,
  type EventRow,
  eventRow,
  eventRowRejection,
  type RowEvent,
} from "./event_rows.ts";
import { dayOfMicros } from "./layout.ts";
import { samePartition } from "./_trade_batch.ts";

/** One (exchange, symbol, day) group of a batch of event rows being written. */
export interface EventPartition {
  readonly exchange: string;
  readonly symbol: string;
  readonly day: number;
  /** Valid rows of the batch in this partition. */
  rows: number;
  minTs: number;
  maxTs: number;
  lastTs: number;
  lastRecvTs: number;
  lastDigest: number;
  /** Rows arrived in `(ts, recv_ts, digest)` order: the file needs no sort. */
  sorted: boolean;
  /** Keys arrived strictly increasing: none repeats within the batch. */
  increasing: boolean;
}

/** A grouped batch: its frame (with a partition index `p` first) and its partitions. */
export interface GroupedEvents {
  readonly frame: pl.DataFrame | undefined;
  readonly partitions: readonly EventPartition[];
}

/**
 * Validates (unless `checked`: the rows' events were checked already) and groups `rows` of
 * table `kind`; `reject` hears of every invalid row.
 */
export function groupEventRows(
  kind: EventKind,
  rows: readonly EventRow[],
  options: { readonly checked: boolean; readonly latest: number },
  reject: (row: EventRow, reason: Rejection) => void,
): GroupedEvents {
  const n = rows.length;
  const take = new Uint32Array(n);
  const part = new Uint32Array(n);
  const partitions: EventPartition[] = [];
  const index = new Map<string, number>();
  let count = 0;
  let k = -1;
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    const reason = options.checked ? undefined : eventRowRejection(kind, row, options.latest);
    if (reason !== undefined) {
      reject(row, reason);
      continue;
    }
    const day = dayOfMicros(row.ts);
    if (k < 0 || !samePartition(partitions[k], row.exchange, row.symbol, day)) {
      k = partitionIndex(partitions, index, row, day);
    }
    track(partitions[k], row);
    take[count] = i;
    part[count] = k;
    count++;
  }
  const frame = count > 0 ? eventFrame(kind, rows, take, part, count) : undefined;
  return { frame, partitions };
}

/**
 * Groups the rows of book `columns` (checked when they were appended) by partition, like
 * {@linkcode groupEventRows}; the frame's list columns are the columns' arrays.
 */
export function groupBookColumns(columns: BookColumns): GroupedEvents {
  const n = columns.length;
  const part = new Uint32Array(n);
  const partitions: EventPartition[] = [];
  const index = new Map<string, number>();
  const ts = columns.ts.values;
  const recvTs = columns.recvTs.values;
  const digest = columns.digest.values;
  // One reused row-shaped record: no object per row.
  const row = { exchange: "", symbol: "", ts: 0, recvTs: 0, digest: 0 };
  let k = -1;
  for (let i = 0; i < n; i++) {
    row.exchange = columns.exchange[i];
    row.symbol = columns.symbol[i];
    row.ts = ts[i];
    row.recvTs = recvTs[i];
    row.digest = digest[i];
    const day = dayOfMicros(row.ts);
    if (k < 0 || !samePartition(partitions[k], row.exchange, row.symbol, day)) {
      k = partitionIndex(partitions, index, row, day);
    }
    track(partitions[k], row);
    part[i] = k;
  }
  const frame = n > 0 ? bookColumnsFrame(columns, part) : undefined;
  return { frame, partitions };
}

/** The fields of a row that place and order it. */
type RowPlace = Pick<EventRow, "exchange" | "symbol" | "ts" | "recvTs" | "digest">;

function partitionIndex(
  partitions: EventPartition[],
  index: Map<string, number>,
  row: RowPlace,
  day: number,
): number {
  const { exchange, symbol, ts, recvTs, digest } = row;
  const key = `${exchange}/${symbol}/${day}`;
  let k = index.get(key) ?? -1;
  if (k < 0) {
    k = partitions.length;
    index.set(key, k);
    partitions.push({
      exchange,
      symbol,
      day,
      rows: 0,
      minTs: ts,
      maxTs: ts,
      lastTs: ts,
      lastRecvTs: recvTs,
      lastDigest: digest,
      sorted: true,
      increasing: true,
    });
  }
  return k;
}

/** Tracks a partition's order and time range with its next row. */
function track(p: EventPartition, row: RowPlace): void {
  const { ts, recvTs, digest } = row;
  if (p.rows > 0) {
    const order = ts - p.lastTs || recvTs - p.lastRecvTs || digest - p.lastDigest;
    if (order <= 0) {
      p.increasing = false;
      if (order < 0) p.sorted = false;
    }
    if (ts < p.minTs) p.minTs = ts;
    else if (ts > p.maxTs) p.maxTs = ts;
  }
  p.lastTs = ts;
  p.lastRecvTs = recvTs;
  p.lastDigest = digest;
  p.rows++;
}

/** A rejected row, for the log. */
export function describeEventRow(row: EventRow): string {
  if (row === null || typeof row !== "object") return String(row);
  const text = JSON.stringify(
    row,
    (_, v) => typeof v === "number" && !Number.isFinite(v) ? String(v) : v,
  );
  return text.length > 400 ? text.slice(0, 400) + "..." : text;
}

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
 * to `depth`, so both stores refuse the same events.
 */
export function splitEvents(
  events: readonly MarketEvent[],
  options: SplitEventsOptions,
): SplitEvents {
  const trades: Trade[] = [];
  const bars: Bar[] = [];
  const rows = new Map<EventKind, EventRow[]>();
  const books = new Map<BookKind, BookColumns>();
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
    let reason = eventRejection(e, options.latest);
    if (reason === undefined && (kind === "book_snapshots" || kind === "book_changes")) {
      let columns = books.get(kind);
      if (columns === undefined) books.set(kind, columns = new BookColumns(kind, options.depth));
      try {
        columns.append(e as BookSnapshot | BookChange);
        continue;
      } catch {
        reason = "levels"; // levels that are not lists of [price, size] cannot be sorted
      }
    }
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
  return { trades, bars, rows, books };
}
