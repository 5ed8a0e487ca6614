/**
 * Event rows to a Polars frame with the lake file's columns: scalar columns from typed
 * arrays, `DOUBLE[]` level lists from flat values + offsets (`_list_series.ts`; far faster
 * than Polars building lists from nested JS arrays).
 * @module
 */
import pl from "nodejs-polars";
import { TABLES } from "../schema/tables.ts";
import type { BookColumns } from "./book_columns.ts";
import { listSeries } from "./_list_series.ts";
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

/**
 * The frame of `rows[take[0..count)]`, with a `p` column (partition index, `part[j]` for
 * the j-th taken row) first, then `ts, recv_ts, digest` and the kind's payload columns.
 */
export function eventFrame(
  kind: EventKind,
  rows: readonly EventRow[],
  take: Uint32Array,
  part: Uint32Array,
  count: number,
): pl.DataFrame {
  const ts = new Float64Array(count);
  const recvTs = new Float64Array(count);
  const digest = new Int32Array(count);
  for (let j = 0; j < count; j++) {
    const r = rows[take[j]];
    ts[j] = r.ts;
    recvTs[j] = r.recvTs;
    digest[j] = r.digest;
  }
  const micros = (name: string, values: Float64Array) =>
    pl.Series(name, values, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us"));
  const header = [
    pl.Series(
      "p",
      (part.length === count ? part : part.slice(0, count)) as unknown as number[],
      pl.UInt32,
    ),
    micros("ts", ts),
    micros("recv_ts", recvTs),
    pl.Series("digest", digest, pl.Int32),
  ];
  const numbers = (name: string, value: (r: EventRow) => number) => {
    const out = new Float64Array(count);
    for (let j = 0; j < count; j++) out[j] = value(rows[take[j]]);
    return pl.Series(name, out, pl.Float64);
  };
  const integers = (name: string, value: (r: EventRow) => number | null) => {
    const out = new Array<number | null>(count);
    for (let j = 0; j < count; j++) out[j] = value(rows[take[j]]);
    return pl.Series(name, out, pl.Int64);
  };
  switch (kind) {
    case "quotes":
      return pl.DataFrame([
        ...header,
        numbers("bid_price", (r) => (r as QuoteRow).bidPrice),
        numbers("bid_size", (r) => (r as QuoteRow).bidSize),
        numbers("ask_price", (r) => (r as QuoteRow).askPrice),
        numbers("ask_size", (r) => (r as QuoteRow).askSize),
      ]);
    case "book_snapshots":
    case "book_changes": {
      const books = rows as readonly BookChangeRow[];
      const lists = listFrame(books, take, count);
      const optionals = [
        ...(kind === "book_changes"
          ? [integers("first_sequence", (r) => (r as BookChangeRow).firstSequence)]
          : []),
        integers("sequence", (r) => (r as BookSnapshotRow).sequence),
        integers("checksum", (r) => (r as BookSnapshotRow).checksum),
      ];
      return pl.DataFrame([...header, ...lists.getColumns(), ...optionals]);
    }
    case "event_log": {
      const status = new Array<string>(count);
      const reason = new Array<string>(count);
      for (let j = 0; j < count; j++) {
        const r = rows[take[j]] as StatusRow;
        status[j] = r.status;
        reason[j] = r.reason;
      }
      return pl.DataFrame([
        ...header,
        pl.Series("status", status, pl.Utf8),
        pl.Series("reason", reason, pl.Utf8),
      ]);
    }
    default:
      throw new TypeError(`unknown event kind: ${kind}`);
  }
}

const LIST_FIELDS = [
  ["bid_prices", "bidPrices"],
  ["bid_sizes", "bidSizes"],
  ["ask_prices", "askPrices"],
  ["ask_sizes", "askSizes"],
] as const;

/** The four level lists as `List(Float64)` columns (flat values + offsets, `listSeries`). */
function listFrame(
  rows: readonly BookSnapshotRow[],
  take: Uint32Array,
  count: number,
): pl.DataFrame {
  const columns: pl.Series[] = [];
  for (const [column, field] of LIST_FIELDS) {
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
    columns.push(listSeries(column, offsets, values));
  }
  return pl.DataFrame(columns);
}

/**
 * The frame of every row of book `columns`, with a `p` column (partition index `part[i]`)
 * first, then the table's columns, as {@linkcode eventFrame} makes them: each column one
 * series over the columns' typed arrays, the level lists made by `listSeries` (one copy
 * of the levels).
 */
export function bookColumnsFrame(columns: BookColumns, part: Uint32Array): pl.DataFrame {
  const n = columns.length;
  const micros = (name: string, values: Float64Array) =>
    pl.Series(name, values, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us"));
  const series = [
    pl.Series("p", part.subarray(0, n) as unknown as number[], pl.UInt32),
    micros("ts", columns.ts.view()),
    micros("recv_ts", columns.recvTs.view()),
    pl.Series("digest", columns.digest.view(), pl.Int32),
    listSeries("bid_prices", columns.bidOffsets.view(), columns.bidPrices.view()),
    listSeries("bid_sizes", columns.bidOffsets.view(), columns.bidSizes.view()),
    listSeries("ask_prices", columns.askOffsets.view(), columns.askPrices.view()),
    listSeries("ask_sizes", columns.askOffsets.view(), columns.askSizes.view()),
  ];
  const optionals = columns.kind === "book_changes"
    ? ["first_sequence", "sequence", "checksum"] as const
    : ["sequence", "checksum"] as const;
  for (const name of optionals) {
    const field = name === "first_sequence" ? "firstSequence" : name;
    series.push(pl.Series(name, columns[field].view(), pl.Float64));
  }
  // A missing optional integer is NaN in the columns, a null in the file.
  return pl.DataFrame(series).withColumns(
    ...optionals.map((name) => pl.col(name).fillNan(null).cast(pl.Int64)),
  );
}
