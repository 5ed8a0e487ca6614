/**
 * Building blocks for {@linkcode QueryResult}s, shared by every repository (lake, memory,
 * and the PostgreSQL buffer): trade and bar columns, their Polars frames and row objects,
 * and Polars -> Arrow through IPC.
 *
 * Column names and types (the same in `polars()` and `arrow()`):
 * - trades: `exchange`, `symbol`, `id` (string), `price`, `size` (f64), `side` (string),
 *   `ts`, `recv_ts` (Datetime(us), no time zone, UTC by convention), `backfilled` (bool:
 *   fetched from the venue's REST history after being missed live; false in lake files
 *   written before the column existed). Row objects carry `backfilled: true` only on
 *   backfilled trades (absent otherwise, as on trades received live);
 * - bars: `exchange`, `symbol`, `ts` (bar open time), `open`, `high`, `low`, `close`,
 *   `volume`, `vwap` (f64), `trades` (u32), `recv_ts` (latest receive time of the bar's
 *   trades).
 *
 * In `arrow()` the low-cardinality text columns (`exchange`, `symbol`, `side`) are
 * dictionary-encoded (`Dictionary<Uint32, LargeUtf8>`): the same values, a third of the
 * bytes to move for a million trades.
 *
 * @module
 */
import pl from "nodejs-polars";
import { type Table, tableFromIPC } from "apache-arrow";
import type { Bar, TakerSide, Trade } from "../market/types.ts";
import type { QueryResult } from "./repository.ts";
import type { BarSeries } from "../market/bars.ts";

/** Trades as columns. `exchange`/`symbol` may be one value for every row. */
export interface TradeColumns {
  readonly exchange: string | readonly string[];
  readonly symbol: string | readonly string[];
  readonly id: readonly string[];
  readonly price: Float64Array;
  readonly size: Float64Array;
  readonly side: readonly string[];
  /** Microseconds since the epoch. */
  readonly ts: Float64Array;
  /** Microseconds since the epoch. */
  readonly recvTs: Float64Array;
  /** Non-zero for a backfilled trade; absent: none is. */
  readonly backfilled?: ArrayLike<number | boolean>;
}

/**
 * Bars of one interval as columns: the bar kernel's {@linkcode BarSeries} with their
 * instrument. `exchange`/`symbol` may be one value for every row.
 */
export interface BarColumns extends BarSeries {
  readonly exchange: string | readonly string[];
  readonly symbol: string | readonly string[];
}

/** Column order of trade frames. */
export const TRADE_COLUMNS = [
  "exchange",
  "symbol",
  "id",
  "price",
  "size",
  "side",
  "ts",
  "recv_ts",
  "backfilled",
] as const;

/** Column order of bar frames. */
export const BAR_COLUMNS = [
  "exchange",
  "symbol",
  "ts",
  "open",
  "high",
  "low",
  "close",
  "volume",
  "vwap",
  "trades",
  "recv_ts",
] as const;

/** How a result's `arrow()` is built from its frame. */
export interface ArrowOptions {
  /** Text columns to dictionary-encode in `arrow()` (through Polars IPC). */
  readonly dictionary?: readonly string[];
  /**
   * Builds the Arrow table from the collected frame instead of Polars IPC (level lists,
   * which apache-arrow cannot read from Polars).
   */
  readonly toArrow?: (frame: pl.DataFrame) => Promise<Table>;
}

/**
 * A lazy result over a Polars frame: `frame()` runs on each accessor call, `polars()`
 * collects it, `rows()` maps the collected columns to objects, `arrow()` goes through IPC
 * (or `toArrow`). The one result of every table read as a frame.
 */
export function polarsQueryResult<Row>(
  options: ArrowOptions & {
    readonly frame: () => Promise<pl.DataFrame | pl.LazyDataFrame>;
    readonly toRows: (frame: pl.DataFrame) => Row[];
  },
): QueryResult<Row> {
  const collect = async (): Promise<pl.DataFrame> => collectFrame(await options.frame());
  const toArrow = options.toArrow;
  return {
    rows: async () => options.toRows(await collect()),
    polars: collect,
    arrow: async () =>
      toArrow ? await toArrow(await collect()) : polarsToArrow(await options.frame(), options),
    lazy: async () => {
      const frame = await options.frame();
      return isLazy(frame) ? frame : frame.lazy();
    },
  };
}

/**
 * A lazy result over columns loaded on demand (from SQL, memory, ...): `rows()` maps the
 * columns straight to objects without Polars; `polars()` and `arrow()` build a frame. The
 * one result of every table read as columns.
 */
export function columnsQueryResult<Row, Columns>(
  options: ArrowOptions & {
    readonly load: () => Promise<Columns>;
    readonly toRows: (columns: Columns) => Row[];
    readonly toFrame: (columns: Columns) => pl.DataFrame;
  },
): QueryResult<Row> {
  const frame = async () => options.toFrame(await options.load());
  const toArrow = options.toArrow;
  return {
    rows: async () => options.toRows(await options.load()),
    polars: frame,
    arrow: async () =>
      toArrow ? await toArrow(await frame()) : polarsToArrow(await frame(), options),
  };
}

/** A frame, collected when lazy. */
async function collectFrame(frame: pl.DataFrame | pl.LazyDataFrame): Promise<pl.DataFrame> {
  return isLazy(frame) ? await frame.collect() : frame;
}

/** Text columns of trades dictionary-encoded in Arrow. */
export const TRADE_DICTIONARY_COLUMNS = ["exchange", "symbol", "side"] as const;
/** Text columns of bars dictionary-encoded in Arrow. */
const BAR_DICTIONARY_COLUMNS = ["exchange", "symbol"] as const;

/** A {@linkcode columnsQueryResult} of trades. */
export function tradeColumnsResult(load: () => Promise<TradeColumns>): QueryResult<Trade> {
  return columnsQueryResult({
    load,
    toRows: tradeRowsFromColumns,
    toFrame: tradeFrame,
    dictionary: TRADE_DICTIONARY_COLUMNS,
  });
}

/** A {@linkcode columnsQueryResult} of bars. */
export function barColumnsResult(load: () => Promise<BarColumns>): QueryResult<Bar> {
  return columnsQueryResult({
    load,
    toRows: barRowsFromColumns,
    toFrame: barFrame,
    dictionary: BAR_DICTIONARY_COLUMNS,
  });
}

/**
 * A Polars frame as an Apache Arrow table. Polars writes an IPC file at the oldest
 * compatibility level (strings as LargeUtf8: apache-arrow 21 cannot read Polars' default
 * Utf8View) to a temporary file, which `tableFromIPC` reads. Lazy frames stream straight
 * to the file without collecting in JavaScript first. Columns named in
 * `options.dictionary` are dictionary-encoded (Polars Categorical).
 */
export async function polarsToArrow(
  frame: pl.DataFrame | pl.LazyDataFrame,
  options: { readonly dictionary?: readonly string[] } = {},
): Promise<Table> {
  const path = await Deno.makeTempFile({ prefix: "alphapulse-", suffix: ".arrow" });
  try {
    let lazy = isLazy(frame) ? frame : frame.lazy();
    const dictionary = options.dictionary ?? [];
    if (dictionary.length > 0) {
      lazy = lazy.withColumns(...dictionary.map((c) => pl.col(c).cast(pl.Categorical)));
    }
    await lazy.sinkIpc(path, { compatLevel: "oldest" }).collect();
    return tableFromIPC(await readWholeFile(path));
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

/**
 * Reads a file into one buffer sized from `stat` (about twice as fast as `Deno.readFile`
 * for tens of megabytes here, which grows its buffer as it goes).
 */
async function readWholeFile(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const size = (await file.stat()).size;
  const buffer = new Uint8Array(size);
  let offset = 0;
  while (offset < size) {
    const n = await file.read(buffer.subarray(offset));
    if (n === null) break;
    offset += n;
  }
  return offset === size ? buffer : buffer.subarray(0, offset);
}

/** Microseconds (as doubles) to a `Datetime(us)` series. */
export function microsSeries(name: string, micros: Float64Array): pl.Series {
  return pl.Series(name, micros, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us"));
}

/** A `Datetime(us)` column (or any integer-like column) as microseconds in doubles. */
export function microsOf(frame: pl.DataFrame, column: string): Float64Array {
  return frame.getColumn(column).cast(pl.Int64).cast(pl.Float64).toTypedArray() as Float64Array;
}

/** Trade columns as a Polars frame (see the module doc for names and types). */
export function tradeFrame(c: TradeColumns): pl.DataFrame {
  const n = c.id.length;
  return pl.DataFrame([
    stringSeries("exchange", c.exchange, n),
    stringSeries("symbol", c.symbol, n),
    pl.Series("id", c.id as string[], pl.Utf8),
    pl.Series("price", c.price, pl.Float64),
    pl.Series("size", c.size, pl.Float64),
    pl.Series("side", c.side as string[], pl.Utf8),
    microsSeries("ts", c.ts),
    microsSeries("recv_ts", c.recvTs),
    backfilledSeries(c.backfilled, n),
  ]);
}

/** The `backfilled` column: `values` as booleans, or `n` times false. */
function backfilledSeries(values: ArrayLike<number | boolean> | undefined, n: number): pl.Series {
  let flags: Uint8Array;
  if (values instanceof Uint8Array && values.length === n) flags = values; // non-zero: true
  else {
    flags = new Uint8Array(n);
    if (values !== undefined) { for (let i = 0; i < n; i++) flags[i] = values[i] ? 1 : 0; }
  }
  return pl.Series("backfilled", flags as unknown as number[], pl.UInt8).cast(pl.Bool);
}

/** Bar columns as a Polars frame (see the module doc for names and types). */
export function barFrame(c: BarColumns): pl.DataFrame {
  const n = c.ts.length;
  return pl.DataFrame([
    stringSeries("exchange", c.exchange, n),
    stringSeries("symbol", c.symbol, n),
    microsSeries("ts", c.ts),
    pl.Series("open", c.open, pl.Float64),
    pl.Series("high", c.high, pl.Float64),
    pl.Series("low", c.low, pl.Float64),
    pl.Series("close", c.close, pl.Float64),
    pl.Series("volume", c.volume, pl.Float64),
    pl.Series("vwap", c.vwap, pl.Float64),
    pl.Series("trades", c.trades, pl.Float64).cast(pl.UInt32),
    microsSeries("recv_ts", c.recvTs),
  ]);
}

/** The rows of a trade frame with the columns of {@linkcode tradeFrame}. */
export function tradeRowsFromFrame(frame: pl.DataFrame): Trade[] {
  return tradeRowsFromColumns({
    exchange: frame.getColumn("exchange").toArray() as string[],
    symbol: frame.getColumn("symbol").toArray() as string[],
    id: frame.getColumn("id").toArray() as string[],
    price: frame.getColumn("price").toTypedArray() as Float64Array,
    size: frame.getColumn("size").toTypedArray() as Float64Array,
    side: frame.getColumn("side").toArray() as string[],
    ts: microsOf(frame, "ts"),
    recvTs: microsOf(frame, "recv_ts"),
    backfilled: frame.getColumn("backfilled").cast(pl.UInt8).toTypedArray() as Uint8Array,
  });
}

/** Trade columns to row objects. */
function tradeRowsFromColumns(c: TradeColumns): Trade[] {
  const n = c.id.length;
  const out: Trade[] = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = {
      kind: "trade",
      exchange: typeof c.exchange === "string" ? c.exchange : c.exchange[i],
      symbol: typeof c.symbol === "string" ? c.symbol : c.symbol[i],
      ts: c.ts[i],
      recvTs: c.recvTs[i],
      id: c.id[i],
      price: c.price[i],
      size: c.size[i],
      side: c.side[i] as TakerSide,
    };
    if (c.backfilled?.[i]) out[i] = { ...out[i], backfilled: true };
  }
  return out;
}

/** Bar columns to row objects. */
function barRowsFromColumns(c: BarColumns): Bar[] {
  const n = c.ts.length;
  const out: Bar[] = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = {
      kind: "bar",
      exchange: typeof c.exchange === "string" ? c.exchange : c.exchange[i],
      symbol: typeof c.symbol === "string" ? c.symbol : c.symbol[i],
      ts: c.ts[i],
      recvTs: c.recvTs[i],
      interval: c.interval,
      open: c.open[i],
      high: c.high[i],
      low: c.low[i],
      close: c.close[i],
      volume: c.volume[i],
      vwap: c.vwap[i],
      trades: c.trades[i],
    };
  }
  return out;
}

/** No trades, with the trade frame's columns. */
export function emptyTradeColumns(exchange = "", symbol = ""): TradeColumns {
  const none = new Float64Array(0);
  return {
    exchange,
    symbol,
    id: [],
    price: none,
    size: none,
    side: [],
    ts: none,
    recvTs: none,
  };
}

/** No bars, with the bar frame's columns. */
export function emptyBarColumns(interval: number, exchange = "", symbol = ""): BarColumns {
  const none = new Float64Array(0);
  return {
    exchange,
    symbol,
    interval,
    ts: none,
    open: none,
    high: none,
    low: none,
    close: none,
    volume: none,
    vwap: none,
    trades: none,
    recvTs: none,
  };
}

/** A text column: one value repeated `n` times, or one value per row. */
export function stringSeries(
  name: string,
  value: string | readonly string[],
  n: number,
): pl.Series {
  if (typeof value !== "string") return pl.Series(name, value as string[], pl.Utf8);
  return n === 0 ? pl.Series(name, [], pl.Utf8) : pl.repeat(value, n, name).cast(pl.Utf8);
}

function isLazy(frame: pl.DataFrame | pl.LazyDataFrame): frame is pl.LazyDataFrame {
  return typeof (frame as pl.LazyDataFrame).collectSync === "function";
}
