/**
 * Results of book changes and feed statuses (the lake's `book_changes` and `event_log`
 * tables) read back as Polars frames, Arrow tables or model rows.
 *
 * Frame columns: `exchange, symbol, ts, recv_ts, digest` (times `Datetime(us)`, digest
 * `Int32`), then for book changes the four level lists as received
 * (`bid_prices, bid_sizes, ask_prices, ask_sizes`, `List(Float64)`, in the venue's order, a
 * size 0 deletes the level) and `first_sequence, sequence, checksum` (`Int64`, null where
 * the venue has none); for statuses `status, reason` (`Utf8`).
 * @module
 */
import pl from "nodejs-polars";
import type { BookChange, FeedStatus } from "../market/types.ts";
import type { QueryResult } from "./repository.ts";
import { microsOf, polarsQueryResult } from "./_result.ts";
import { DICTIONARY, LEVEL_COLUMNS, levelListArrow, levels } from "./_event_result.ts";

/** Column order of book change frames. */
export const BOOK_CHANGE_COLUMNS = [
  "exchange",
  "symbol",
  "ts",
  "recv_ts",
  "digest",
  "bid_prices",
  "bid_sizes",
  "ask_prices",
  "ask_sizes",
  "first_sequence",
  "sequence",
  "checksum",
] as const;

/** Column order of feed status frames. */
export const STATUS_COLUMNS = [
  "exchange",
  "symbol",
  "ts",
  "recv_ts",
  "digest",
  "status",
  "reason",
] as const;

function header(): pl.Series[] {
  return [
    pl.Series("exchange", [], pl.Utf8),
    pl.Series("symbol", [], pl.Utf8),
    pl.Series("ts", [], pl.Int64).cast(pl.Datetime("us")),
    pl.Series("recv_ts", [], pl.Int64).cast(pl.Datetime("us")),
    pl.Series("digest", [], pl.Int32),
  ];
}

/** An empty book change frame with the columns and types of {@linkcode BOOK_CHANGE_COLUMNS}. */
export function emptyBookChangeFrame(): pl.DataFrame {
  // nodejs-polars cannot build an empty List series directly.
  const list = (name: string) => pl.Series(name, [[0]], pl.List(pl.Float64)).slice(0, 0);
  return pl.DataFrame([
    ...header(),
    ...LEVEL_COLUMNS.map(list),
    pl.Series("first_sequence", [], pl.Int64),
    pl.Series("sequence", [], pl.Int64),
    pl.Series("checksum", [], pl.Int64),
  ]);
}

/** An empty status frame with the columns and types of {@linkcode STATUS_COLUMNS}. */
export function emptyStatusFrame(): pl.DataFrame {
  return pl.DataFrame([
    ...header(),
    pl.Series("status", [], pl.Utf8),
    pl.Series("reason", [], pl.Utf8),
  ]);
}

/** A lazy book change result over a frame with the columns of {@linkcode BOOK_CHANGE_COLUMNS}. */
export function bookChangeFrameResult(
  frame: () => Promise<pl.DataFrame | pl.LazyDataFrame>,
): QueryResult<BookChange> {
  return polarsQueryResult({
    frame,
    toRows: bookChangeRowsFromFrame,
    toArrow: (f) => levelListArrow(f, BOOK_CHANGE_COLUMNS),
  });
}

/** A lazy status result over a frame with the columns of {@linkcode STATUS_COLUMNS}. */
export function statusFrameResult(
  frame: () => Promise<pl.DataFrame | pl.LazyDataFrame>,
): QueryResult<FeedStatus> {
  return polarsQueryResult({ frame, toRows: statusRowsFromFrame, dictionary: DICTIONARY });
}

/** Book change rows (the model type; missing sequences and checksums omitted). */
function bookChangeRowsFromFrame(frame: pl.DataFrame): BookChange[] {
  const n = frame.height;
  const text = (name: string) => frame.getColumn(name).toArray() as string[];
  const lists = (name: string) => frame.getColumn(name).toArray() as unknown as number[][];
  const optional = (name: string) => frame.getColumn(name).toArray() as (number | null)[];
  const [exchange, symbol] = [text("exchange"), text("symbol")];
  const [ts, recvTs] = [microsOf(frame, "ts"), microsOf(frame, "recv_ts")];
  const [bp, bs, ap, as] = LEVEL_COLUMNS.map(lists);
  const [first, seq, sum] = ["first_sequence", "sequence", "checksum"].map(optional);
  const out: BookChange[] = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = {
      kind: "book_change",
      exchange: exchange[i],
      symbol: symbol[i],
      ts: ts[i],
      recvTs: recvTs[i],
      bids: levels(bp[i], bs[i]),
      asks: levels(ap[i], as[i]),
      ...(first[i] === null || first[i] === undefined ? {} : { firstSequence: Number(first[i]) }),
      ...(seq[i] === null || seq[i] === undefined ? {} : { sequence: Number(seq[i]) }),
      ...(sum[i] === null || sum[i] === undefined ? {} : { checksum: Number(sum[i]) }),
    };
  }
  return out;
}

/** Feed status rows (the model type). */
function statusRowsFromFrame(frame: pl.DataFrame): FeedStatus[] {
  const text = (name: string) => frame.getColumn(name).toArray() as string[];
  const [exchange, symbol, status, reason] = ["exchange", "symbol", "status", "reason"].map(text);
  const [ts, recvTs] = [microsOf(frame, "ts"), microsOf(frame, "recv_ts")];
  return status.map((s, i) => ({
    kind: "status",
    exchange: exchange[i],
    symbol: symbol[i],
    ts: ts[i],
    recvTs: recvTs[i],
    status: s as FeedStatus["status"],
    reason: reason[i],
  }));
}
