/**
 * Building blocks for {@linkcode QueryResult}s of quotes and book snapshots, shared by every
 * repository: columns, their Polars frames and row objects, Arrow tables.
 *
 * Column names and types (the same in `polars()` and `arrow()`):
 * - quotes: `exchange`, `symbol` (string), `ts`, `recv_ts` (Datetime(us), UTC by
 *   convention), `digest` (i32), `bid_price`, `bid_size`, `ask_price`, `ask_size` (f64);
 * - book snapshots: `exchange`, `symbol`, `ts`, `recv_ts`, `digest` as for quotes, then
 *   `bid_prices`, `bid_sizes`, `ask_prices`, `ask_sizes` (List(f64); bids best first =
 *   price descending, asks price ascending), `sequence`, `checksum` (i64, null when
 *   missing).
 *
 * `digest` is the event's idempotency digest (see `lib/market/event_digest.ts`): with `ts`
 * and `recv_ts` it identifies a stored event, and it breaks ties of events that share both
 * times. Rows are ordered by `(ts, recv_ts, digest)`.
 *
 * In `arrow()` the list columns are `List<Float64>` (32-bit offsets; apache-arrow 21 cannot
 * read Polars' LargeList) and `exchange`/`symbol` are dictionary-encoded like trades.
 *
 * @module
 */
import pl from "nodejs-polars";
import { Field, Float64, List, makeData, makeVector, Table, type Vector } from "apache-arrow";
import type { BookSnapshot, PriceLevel, Quote } from "../market/types.ts";
import type { QueryResult } from "./repository.ts";
import {
  columnsQueryResult,
  microsOf,
  microsSeries,
  polarsQueryResult,
  polarsToArrow,
  stringSeries,
} from "./_result.ts";

/** Quotes as columns. `exchange`/`symbol` may be one value for every row. */
export interface QuoteColumns {
  /** Venue: one value for every row, or one per row. */
  readonly exchange: string | readonly string[];
  /** Canonical symbol: one value for every row, or one per row. */
  readonly symbol: string | readonly string[];
  /** Microseconds since the epoch. */
  readonly ts: Float64Array;
  /** Microseconds since the epoch. */
  readonly recvTs: Float64Array;
  /** The stored event digest (signed 32-bit). */
  readonly digest: Int32Array;
  /** Best bid price. */
  readonly bidPrice: Float64Array;
  /** Size at the best bid. */
  readonly bidSize: Float64Array;
  /** Best ask price. */
  readonly askPrice: Float64Array;
  /** Size at the best ask. */
  readonly askSize: Float64Array;
}

/** Book snapshots as columns: one level list per row and side. */
export interface BookSnapshotColumns {
  /** Venue: one value for every row, or one per row. */
  readonly exchange: string | readonly string[];
  /** Canonical symbol: one value for every row, or one per row. */
  readonly symbol: string | readonly string[];
  /** Microseconds since the epoch. */
  readonly ts: Float64Array;
  /** Microseconds since the epoch. */
  readonly recvTs: Float64Array;
  /** The stored event digest (signed 32-bit). */
  readonly digest: Int32Array;
  /** Bid prices per row, descending. */
  readonly bidPrices: readonly ArrayLike<number>[];
  /** Bid sizes per row, parallel to `bidPrices`. */
  readonly bidSizes: readonly ArrayLike<number>[];
  /** Ask prices per row, ascending. */
  readonly askPrices: readonly ArrayLike<number>[];
  /** Ask sizes per row, parallel to `askPrices`. */
  readonly askSizes: readonly ArrayLike<number>[];
  /** Venue sequence per row, `null` when missing. */
  readonly sequence: readonly (number | null)[];
  /** Venue checksum per row, `null` when missing. */
  readonly checksum: readonly (number | null)[];
}

/** Column order of quote frames. */
export const QUOTE_COLUMNS = [
  "exchange",
  "symbol",
  "ts",
  "recv_ts",
  "digest",
  "bid_price",
  "bid_size",
  "ask_price",
  "ask_size",
] as const;

/** Column order of book snapshot frames. */
export const BOOK_SNAPSHOT_COLUMNS = [
  "exchange",
  "symbol",
  "ts",
  "recv_ts",
  "digest",
  "bid_prices",
  "bid_sizes",
  "ask_prices",
  "ask_sizes",
  "sequence",
  "checksum",
] as const;

/** The level list columns of book snapshot frames. */
export const LEVEL_COLUMNS = ["bid_prices", "bid_sizes", "ask_prices", "ask_sizes"] as const;

/** The order of events without an id: time, then receive time, then digest. */
export const EVENT_ORDER = ["ts", "recv_ts", "digest"] as const;

/** Text columns of event frames dictionary-encoded in Arrow. */
export const DICTIONARY = ["exchange", "symbol"] as const;

/** Quote columns as a Polars frame (see the module doc for names and types). */
export function quoteFrame(c: QuoteColumns): pl.DataFrame {
  const n = c.ts.length;
  return pl.DataFrame([
    stringSeries("exchange", c.exchange, n),
    stringSeries("symbol", c.symbol, n),
    microsSeries("ts", c.ts),
    microsSeries("recv_ts", c.recvTs),
    pl.Series("digest", c.digest, pl.Int32),
    pl.Series("bid_price", c.bidPrice, pl.Float64),
    pl.Series("bid_size", c.bidSize, pl.Float64),
    pl.Series("ask_price", c.askPrice, pl.Float64),
    pl.Series("ask_size", c.askSize, pl.Float64),
  ]);
}

/** Book snapshot columns as a Polars frame (see the module doc for names and types). */
export function bookSnapshotFrame(c: BookSnapshotColumns): pl.DataFrame {
  const n = c.ts.length;
  return pl.DataFrame([
    stringSeries("exchange", c.exchange, n),
    stringSeries("symbol", c.symbol, n),
    microsSeries("ts", c.ts),
    microsSeries("recv_ts", c.recvTs),
    pl.Series("digest", c.digest, pl.Int32),
    listSeries("bid_prices", c.bidPrices),
    listSeries("bid_sizes", c.bidSizes),
    listSeries("ask_prices", c.askPrices),
    listSeries("ask_sizes", c.askSizes),
    optionalIntegerSeries("sequence", c.sequence),
    optionalIntegerSeries("checksum", c.checksum),
  ]);
}

/** Quote columns to row objects. */
function quoteRowsFromColumns(c: QuoteColumns): Quote[] {
  const n = c.ts.length;
  const out: Quote[] = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = {
      kind: "quote",
      exchange: typeof c.exchange === "string" ? c.exchange : c.exchange[i],
      symbol: typeof c.symbol === "string" ? c.symbol : c.symbol[i],
      ts: c.ts[i],
      recvTs: c.recvTs[i],
      bidPrice: c.bidPrice[i],
      bidSize: c.bidSize[i],
      askPrice: c.askPrice[i],
      askSize: c.askSize[i],
    };
  }
  return out;
}

/** Book snapshot columns to row objects (`sequence`/`checksum` omitted when missing). */
function bookSnapshotRowsFromColumns(c: BookSnapshotColumns): BookSnapshot[] {
  const n = c.ts.length;
  const out: BookSnapshot[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const sequence = c.sequence[i];
    const checksum = c.checksum[i];
    out[i] = {
      kind: "book_snapshot",
      exchange: typeof c.exchange === "string" ? c.exchange : c.exchange[i],
      symbol: typeof c.symbol === "string" ? c.symbol : c.symbol[i],
      ts: c.ts[i],
      recvTs: c.recvTs[i],
      bids: levels(c.bidPrices[i], c.bidSizes[i]),
      asks: levels(c.askPrices[i], c.askSizes[i]),
      ...(sequence === null || sequence === undefined ? {} : { sequence }),
      ...(checksum === null || checksum === undefined ? {} : { checksum }),
    };
  }
  return out;
}

/** The columns of a quote frame with the columns of {@linkcode quoteFrame}. */
function quoteColumnsFromFrame(frame: pl.DataFrame): QuoteColumns {
  const f64 = (name: string) =>
    frame.getColumn(name).cast(pl.Float64).toTypedArray() as Float64Array;
  return {
    exchange: frame.getColumn("exchange").toArray() as string[],
    symbol: frame.getColumn("symbol").toArray() as string[],
    ts: microsOf(frame, "ts"),
    recvTs: microsOf(frame, "recv_ts"),
    digest: Int32Array.from(frame.getColumn("digest").cast(pl.Int32).toTypedArray()),
    bidPrice: f64("bid_price"),
    bidSize: f64("bid_size"),
    askPrice: f64("ask_price"),
    askSize: f64("ask_size"),
  };
}

/** The columns of a book snapshot frame with the columns of {@linkcode bookSnapshotFrame}. */
function bookSnapshotColumnsFromFrame(frame: pl.DataFrame): BookSnapshotColumns {
  const lists = (name: string) => frame.getColumn(name).toArray() as unknown as number[][];
  const optional = (name: string) =>
    (frame.getColumn(name).cast(pl.Float64).toArray() as (number | null)[]).map((v) =>
      v === null || v === undefined || Number.isNaN(v) ? null : v
    );
  return {
    exchange: frame.getColumn("exchange").toArray() as string[],
    symbol: frame.getColumn("symbol").toArray() as string[],
    ts: microsOf(frame, "ts"),
    recvTs: microsOf(frame, "recv_ts"),
    digest: Int32Array.from(frame.getColumn("digest").cast(pl.Int32).toTypedArray()),
    bidPrices: lists("bid_prices"),
    bidSizes: lists("bid_sizes"),
    askPrices: lists("ask_prices"),
    askSizes: lists("ask_sizes"),
    sequence: optional("sequence"),
    checksum: optional("checksum"),
  };
}

/** No quotes, with the quote frame's columns. */
export function emptyQuoteColumns(exchange = "", symbol = ""): QuoteColumns {
  const none = new Float64Array(0);
  return {
    exchange,
    symbol,
    ts: none,
    recvTs: none,
    digest: new Int32Array(0),
    bidPrice: none,
    bidSize: none,
    askPrice: none,
    askSize: none,
  };
}

/** No book snapshots, with the book snapshot frame's columns. */
export function emptyBookSnapshotColumns(exchange = "", symbol = ""): BookSnapshotColumns {
  const none = new Float64Array(0);
  return {
    exchange,
    symbol,
    ts: none,
    recvTs: none,
    digest: new Int32Array(0),
    bidPrices: [],
    bidSizes: [],
    askPrices: [],
    askSizes: [],
    sequence: [],
    checksum: [],
  };
}

/**
 * Keeps the first `depth` levels of each side of a book snapshot frame (the lists are
 * best first, so these are the best levels); `undefined` keeps them all.
 */
export function limitDepth<F extends pl.DataFrame | pl.LazyDataFrame>(
  frame: F,
  depth: number | undefined,
): F {
  if (depth === undefined) return frame;
  return frame.withColumns(...LEVEL_COLUMNS.map((c) => pl.col(c).list.head(depth))) as F;
}

/** A lazy quote result over columns loaded on demand (rows without Polars). */
export function quoteColumnsResult(load: () => Promise<QuoteColumns>): QueryResult<Quote> {
  return columnsQueryResult({
    load,
    toRows: quoteRowsFromColumns,
    toFrame: quoteFrame,
    dictionary: DICTIONARY,
  });
}

/** The rows of a quote frame with the columns of {@linkcode quoteFrame}. */
export function quoteRowsFromFrame(frame: pl.DataFrame): Quote[] {
  return quoteRowsFromColumns(quoteColumnsFromFrame(frame));
}

/** The rows of a book snapshot frame with the columns of {@linkcode bookSnapshotFrame}. */
export function bookSnapshotRowsFromFrame(frame: pl.DataFrame): BookSnapshot[] {
  return bookSnapshotRowsFromColumns(bookSnapshotColumnsFromFrame(frame));
}

/** A lazy quote result over a Polars frame with the columns of {@linkcode quoteFrame}. */
export function quoteFrameResult(
  frame: () => Promise<pl.DataFrame | pl.LazyDataFrame>,
): QueryResult<Quote> {
  return polarsQueryResult({
    frame,
    toRows: (f) => quoteRowsFromColumns(quoteColumnsFromFrame(f)),
    dictionary: DICTIONARY,
  });
}

/** A lazy book snapshot result over columns loaded on demand (rows without Polars). */
export function bookSnapshotColumnsResult(
  load: () => Promise<BookSnapshotColumns>,
): QueryResult<BookSnapshot> {
  return columnsQueryResult({
    load,
    toRows: bookSnapshotRowsFromColumns,
    toFrame: bookSnapshotFrame,
    toArrow: bookSnapshotArrow,
  });
}

/** A lazy book snapshot result over a frame with the columns of {@linkcode bookSnapshotFrame}. */
export function bookSnapshotFrameResult(
  frame: () => Promise<pl.DataFrame | pl.LazyDataFrame>,
): QueryResult<BookSnapshot> {
  return polarsQueryResult({
    frame,
    toRows: (f) => bookSnapshotRowsFromColumns(bookSnapshotColumnsFromFrame(f)),
    toArrow: bookSnapshotArrow,
  });
}

/** A book snapshot frame as an Arrow table (see {@linkcode levelListArrow}). */
function bookSnapshotArrow(frame: pl.DataFrame): Promise<Table> {
  return levelListArrow(frame, BOOK_SNAPSHOT_COLUMNS);
}

/**
 * A frame with level list columns as an Arrow table of `columns`: the scalar columns through
 * Polars IPC, the level lists rebuilt as `List<Float64>` from their flat values and lengths
 * (no row objects).
 */
export async function levelListArrow(
  frame: pl.DataFrame,
  columns: readonly string[],
): Promise<Table> {
  const scalars = await polarsToArrow(frame.drop(...LEVEL_COLUMNS), { dictionary: DICTIONARY });
  const vectors: Record<string, Vector> = {};
  for (const name of columns) {
    vectors[name] = (LEVEL_COLUMNS as readonly string[]).includes(name)
      ? listVector(frame.getColumn(name))
      : scalars.getChild(name)!;
  }
  return new Table(vectors);
}

/** A `List(Float64)` series as an Arrow list vector, from its flat values and lengths. */
function listVector(series: pl.Series): Vector {
  const lengths = series.list.lengths().toTypedArray();
  const offsets = new Int32Array(lengths.length + 1);
  for (let i = 0; i < lengths.length; i++) offsets[i + 1] = offsets[i] + Number(lengths[i]);
  // Explode turns an empty list into one null; level values are never null.
  const flat = Float64Array.from(series.explode().dropNulls().toTypedArray() as Float64Array);
  if (flat.length !== offsets[lengths.length]) {
    throw new Error(`level list ${series.name}: ${flat.length} values for ${offsets.at(-1)}`);
  }
  const child = makeData({ type: new Float64(), length: flat.length, data: flat });
  const type = new List(new Field("item", new Float64(), true));
  return makeVector(
    makeData({ type, length: lengths.length, nullCount: 0, valueOffsets: offsets, child }),
  );
}

/** Parallel price and size lists as levels. */
export function levels(prices: ArrayLike<number>, sizes: ArrayLike<number>): PriceLevel[] {
  const out: PriceLevel[] = new Array(prices.length);
  for (let i = 0; i < prices.length; i++) out[i] = [prices[i], sizes[i]];
  return out;
}

function listSeries(name: string, lists: readonly ArrayLike<number>[]): pl.Series {
  // nodejs-polars cannot build an empty List series directly.
  if (lists.length === 0) return pl.Series(name, [[0]], pl.List(pl.Float64)).slice(0, 0);
  return pl.Series(name, lists as number[][], pl.List(pl.Float64));
}

function optionalIntegerSeries(name: string, values: readonly (number | null)[]): pl.Series {
  return pl.Series(name, values as number[], pl.Int64);
}
