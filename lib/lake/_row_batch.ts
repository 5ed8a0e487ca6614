/**
 * Batches of the lake's row tables: the digest-keyed tables (quotes, book snapshots, book
 * changes, event log; key `ts, recv_ts, digest`) as event rows or book columns, and the
 * action log (key `seq`). One grouping for all of them ({@linkcode groupRows}, through the
 * {@linkcode PartitionTracker}): rows validated by the schema's rules (unless checked
 * already), grouped by partition (exchange, symbol, UTC day of `ts`) and turned into one
 * column table with the file's columns (see `lib/schema/tables.ts`).
 * @module
 */
import type { ActionRow } from "../schema/action_rows.ts";
import { actionRowRejection, type Rejection } from "../schema/rules.ts";
import { bookColumnsFrame, eventFrame } from "./_event_frame.ts";
import type { BookColumns } from "./book_columns.ts";
import { type EventKind, type EventRow, eventRowRejection } from "./event_rows.ts";
import { dayOfMicros } from "./layout.ts";
import { type GroupedBatch, PartitionTracker, type RowPlace } from "./_batch.ts";
import type { ColumnTable, LakeColumn } from "./column_table.ts";

/** How one row table validates, places and frames its rows. */
export interface RowTable<R> {
  readonly rejection: (row: R, latest: number) => Rejection | undefined;
  /** Fills `at` with the row's instrument, time and key (file order). */
  readonly place: (row: R, at: RowPlace) => void;
  /** The table of `rows[take[0..count)]`. */
  readonly frame: (rows: readonly R[], take: Uint32Array, count: number) => ColumnTable;
}

/** A reused place record: no object per row. */
function newPlace(): RowPlace {
  return { exchange: "", symbol: "", ts: 0, k0: 0, k1: 0, k2: 0 };
}

/**
 * Validates (unless `checked`) and groups `rows` of a row table; `reject` hears of every
 * invalid row. `latest` is the latest valid time (the schema's `latestValidMicros`).
 */
export function groupRows<R>(
  table: RowTable<R>,
  rows: readonly R[],
  options: { readonly checked?: boolean; readonly latest: number },
  reject: (row: R, reason: Rejection) => void,
): GroupedBatch {
  const n = rows.length;
  const take = new Uint32Array(n);
  const part = new Uint32Array(n);
  const tracker = new PartitionTracker();
  const at = newPlace();
  let count = 0;
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    const reason = options.checked ? undefined : table.rejection(row, options.latest);
    if (reason !== undefined) {
      reject(row, reason);
      continue;
    }
    table.place(row, at);
    take[count] = i;
    part[count] = tracker.add(at, dayOfMicros(at.ts));
    count++;
  }
  const frame = count > 0 ? table.frame(rows, take, count) : undefined;
  return { table: frame, part: part.subarray(0, count), partitions: tracker.partitions };
}

function placeEvent(row: EventRow, at: RowPlace): void {
  at.exchange = row.exchange;
  at.symbol = row.symbol;
  at.ts = at.k0 = row.ts;
  at.k1 = row.recvTs;
  at.k2 = row.digest;
}

const EVENT_TABLES = new Map<EventKind, RowTable<EventRow>>();

/** The row table of digest-keyed table `kind`. */
export function eventTable(kind: EventKind): RowTable<EventRow> {
  let table = EVENT_TABLES.get(kind);
  if (table === undefined) {
    table = {
      rejection: (row, latest) => eventRowRejection(kind, row, latest),
      place: placeEvent,
      frame: (rows, take, count) => eventFrame(kind, rows, take, count),
    };
    EVENT_TABLES.set(kind, table);
  }
  return table;
}

/**
 * Groups the rows of book `columns` (checked when they were appended) by partition, like
 * {@linkcode groupRows}; the frame's list columns are the columns' arrays.
 */
export function groupBookColumns(columns: BookColumns): GroupedBatch {
  const n = columns.length;
  const part = new Uint32Array(n);
  const tracker = new PartitionTracker();
  const ts = columns.ts.values;
  const recvTs = columns.recvTs.values;
  const digest = columns.digest.values;
  const at = newPlace();
  for (let i = 0; i < n; i++) {
    at.exchange = columns.exchange[i];
    at.symbol = columns.symbol[i];
    at.ts = at.k0 = ts[i];
    at.k1 = recvTs[i];
    at.k2 = digest[i];
    part[i] = tracker.add(at, dayOfMicros(at.ts));
  }
  const table = n > 0 ? bookColumnsFrame(columns) : undefined;
  return { table, part, partitions: tracker.partitions };
}

function column<R, T, A extends { [j: number]: T }>(
  rows: readonly R[],
  take: Uint32Array,
  count: number,
  out: A,
  f: (r: R) => T,
): A {
  for (let j = 0; j < count; j++) out[j] = f(rows[take[j]]);
  return out;
}

/** The action log (`lib/schema/action_rows.ts`): partitioned by source, run and day. */
export const ACTIONS: RowTable<ActionRow> = {
  rejection: (r, latest) => actionRowRejection(r, latest),
  place: (r, at) => {
    at.exchange = r.source;
    at.symbol = r.run;
    at.ts = r.ts;
    at.k0 = r.seq;
    at.k1 = at.k2 = 0;
  },
  frame: (rows, take, count) => {
    const floats = (f: (r: ActionRow) => number) =>
      column(rows, take, count, new Float64Array(count), f);
    const texts = (name: string, f: (r: ActionRow) => string): LakeColumn => ({
      name,
      type: "text",
      values: column(rows, take, count, new Array<string>(count), f),
    });
    return {
      rows: count,
      columns: [
        { name: "seq", type: "int64", values: floats((r) => r.seq) },
        { name: "ts", type: "timestamp", values: floats((r) => r.ts) },
        texts("action", (r) => r.action),
        texts("payload", (r) => r.payload),
        texts("prev", (r) => r.prev),
        texts("hash", (r) => r.hash),
      ],
    };
  },
};

/** A rejected row, for the log. */
export function describeRow(row: unknown): string {
  if (row === null || typeof row !== "object") return String(row);
  const text = JSON.stringify(
    row,
    (_, v) => typeof v === "number" && !Number.isFinite(v) ? String(v) : v,
  );
  return text.length > 400 ? text.slice(0, 400) + "..." : text;
}
