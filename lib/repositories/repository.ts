/**
 * The one read interface over every store: the Parquet lake, the PostgreSQL buffer, both
 * together, memory. Notebooks, the server and backtests depend on this, never on a store.
 * @module
 */
import type { Bar, Trade } from "../market/types.ts";
import type { Table } from "apache-arrow";
import type pl from "nodejs-polars";

/** A time range and instrument filter. Times are microseconds since the epoch. */
export interface RangeQuery {
  /** Venue, e.g. `coinbase`. */
  readonly exchange: string;
  /** Canonical symbol, e.g. `BTC-USD`. */
  readonly symbol: string;
  /** Inclusive start, microseconds since the epoch (default: the beginning). */
  readonly start?: number;
  /** Exclusive end, microseconds since the epoch (default: no end). */
  readonly end?: number;
}

/** A bar query: time bars of a fixed length. */
export interface BarQuery extends RangeQuery {
  /** Bar length in microseconds (see `parseDuration` for `"1m"` etc.). */
  readonly interval: number;
}

/** What closes an activity bar: its trade count, summed size, or summed `price * size`. */
export type ActivityMeasure = "ticks" | "volume" | "dollars";

/**
 * An activity (information-driven) bar query: tick, volume or dollar bars. A bar closes at
 * the trade that brings its measure to at least `threshold`; that trade belongs to it.
 */
export interface ActivityBarQuery extends RangeQuery {
  /** What is counted: trades (`ticks`), summed size (`volume`), summed `price * size` (`dollars`). */
  readonly by: ActivityMeasure;
  /** Positive and finite; a whole number for `ticks`. */
  readonly threshold: number;
}

/** An instrument present in a store, with its trade count and time span. */
export interface InstrumentSummary {
  readonly exchange: string;
  readonly symbol: string;
  readonly trades: number;
  /** First trade time, microseconds. */
  readonly first: number;
  /** Last trade time, microseconds. */
  readonly last: number;
}

/**
 * A lazily evaluated result: nothing runs until one of the accessors is called, and each
 * produces the same rows in the same order (time ascending). Bulk accessors (`polars`,
 * `arrow`) move columns without building a JavaScript object per row.
 */
export interface QueryResult<Row> {
  /** Plain row objects (the model types). Best for small results. */
  rows(): Promise<Row[]>;
  /** A nodejs-polars DataFrame, columns named in snake_case, times as Datetime(us). */
  polars(): Promise<pl.DataFrame>;
  /** An Apache Arrow table with the same columns as `polars()`. */
  arrow(): Promise<Table>;
}

/** Read access to collected market data. */
export interface MarketDataRepository {
  /** Instruments with data, ordered by exchange then symbol. */
  instruments(): Promise<InstrumentSummary[]>;
  /** Trades in a range, time ascending, each exactly once. */
  trades(query: RangeQuery): QueryResult<Trade>;
  /** OHLCV bars with VWAP and trade count; bars without trades are omitted. */
  bars(query: BarQuery): QueryResult<Bar>;
  /**
   * Tick, volume or dollar bars over the trades in range, ordered by `(ts, id)`: OHLCV, VWAP
   * and trade count like time bars, `ts` the bar's first trade time, `interval` 0. A bar
   * closes at the trade that brings its measure to `>= threshold` (no carry-over into the
   * next bar); the last bar is included even when incomplete (below the threshold).
   * @throws {RangeError} for an unknown `by` or a threshold that is not positive and finite
   * (or not whole, for `ticks`).
   */
  activityBars(query: ActivityBarQuery): QueryResult<Bar>;
  /** Releases connections. */
  close(): Promise<void>;
}
