/**
 * Event rows and book columns as a {@linkcode ColumnTable} with the lake file's columns:
 * scalar columns in typed arrays, `DOUBLE[]` level lists as flat values + offsets (book
 * columns' own arrays, no copy).
 * @module
 */
import { TABLES } from "../schema/tables.ts";
import type { BookColumns } from "./book_columns.ts";
import type { ColumnTable, LakeColumn } from "./column_table.ts";
import type {
  BookChangeRow,
  BookSnapshotRow,
  EventKind,
  EventRow,
  QuoteRow,
  StatusRow,
} from "./event_rows.ts";

/** The idempotency key within a partition, also the order of rows in each file. */
export const EVENT_KEY: readonly string[] = TABLES.quotes.key;

/** The table of `rows[take[0..count)]`: `ts, recv_ts, digest` and the kind's payload. */
export function eventFrame(
  kind: EventKind,
  rows: readonly EventRow[],
  take: Uint32Array,
  count: number,
): ColumnTable {
  const ts = new Float64Array(count);
  const recvTs = new Float64Array(count);
  const digest = new Int32Array(count);
  for (let j = 0; j < count; j++) {
    const r = rows[take[j]];
    ts[j] = r.ts;
    recvTs[j] = r.recvTs;
    digest[j] = r.digest;
  }
  const header: LakeColumn[] = [
    { name: "ts", type: "timestamp", values: ts },
    { name: "recv_ts", type: "timestamp", values: recvTs },
    { name: "digest", type: "int32", values: digest },
  ];
  const numbers = (name: string, type: "double" | "int64", value: (r: EventRow) => number) => {
    const out = new Float64Array(count);
    for (let j = 0; j < count; j++) out[j] = value(rows[take[j]]);
    return { name, type, values: out } as LakeColumn;
  };
  const double = (name: string, value: (r: QuoteRow) => number) =>
    numbers(name, "double", (r) => value(r as QuoteRow));
  const integer = (name: string, value: (r: BookChangeRow) => number | null) =>
    numbers(name, "int64", (r) => value(r as BookChangeRow) ?? NaN);
  let payload: LakeColumn[];
  switch (kind) {
    case "quotes":
      payload = [
        double("bid_price", (r) => r.bidPrice),
        double("bid_size", (r) => r.bidSize),
        double("ask_price", (r) => r.askPrice),
        double("ask_size", (r) => r.askSize),
      ];
      break;
    case "book_snapshots":
    case "book_changes":
      payload = [
        ...listColumns(rows as readonly BookChangeRow[], take, count),
        ...(kind === "book_changes" ? [integer("first_sequence", (r) => r.firstSequence)] : []),
        integer("sequence", (r) => r.sequence),
        integer("checksum", (r) => r.checksum),
      ];
      break;
    case "event_log": {
      const status = new Array<string>(count);
      const reason = new Array<string>(count);
      for (let j = 0; j < count; j++) {
        const r = rows[take[j]] as StatusRow;
        status[j] = r.status;
        reason[j] = r.reason;
      }
      payload = [
        { name: "status", type: "text", values: status },
        { name: "reason", type: "text", values: reason },
      ];
      break;
    }
    default:
      throw new TypeError(`unknown event kind: ${kind}`);
  }
  return { rows: count, columns: [...header, ...payload] };
}

const LIST_FIELDS = [
  ["bid_prices", "bidPrices"],
  ["bid_sizes", "bidSizes"],
  ["ask_prices", "askPrices"],
  ["ask_sizes", "askSizes"],
] as const;

/** The four level lists as flat values + offsets. */
function listColumns(
  rows: readonly BookSnapshotRow[],
  take: Uint32Array,
  count: number,
): LakeColumn[] {
  return LIST_FIELDS.map(([name, field]) => {
    let total = 0;
    for (let j = 0; j < count; j++) total += rows[take[j]][field].length;
    const values = new Float64Array(total);
    const offsets = new Int32Array(count + 1);
    let at = 0;
    for (let j = 0; j < count; j++) {
      const list = rows[take[j]][field];
      for (let i = 0; i < list.length; i++) values[at++] = list[i];
      offsets[j + 1] = at;
    }
    return { name, type: "double_list", offsets, values };
  });
}

/**
 * The table of every row of book `columns`, as {@linkcode eventFrame} makes it, over the
 * columns' own typed arrays (views, no copy). A missing optional integer is NaN.
 */
export function bookColumnsFrame(columns: BookColumns): ColumnTable {
  const list = (name: string, offsets: Int32Array, values: Float64Array): LakeColumn => ({
    name,
    type: "double_list",
    offsets,
    values,
  });
  const optionals = columns.kind === "book_changes"
    ? ["first_sequence", "sequence", "checksum"] as const
    : ["sequence", "checksum"] as const;
  return {
    rows: columns.length,
    columns: [
      { name: "ts", type: "timestamp", values: columns.ts.view() },
      { name: "recv_ts", type: "timestamp", values: columns.recvTs.view() },
      { name: "digest", type: "int32", values: columns.digest.view() },
      list("bid_prices", columns.bidOffsets.view(), columns.bidPrices.view()),
      list("bid_sizes", columns.bidOffsets.view(), columns.bidSizes.view()),
      list("ask_prices", columns.askOffsets.view(), columns.askPrices.view()),
      list("ask_sizes", columns.askOffsets.view(), columns.askSizes.view()),
      ...optionals.map((name): LakeColumn => ({
        name,
        type: "int64",
        values: columns[name === "first_sequence" ? "firstSequence" : name].view(),
      })),
    ],
  };
}
