/**
 * The market-data model: the one set of values that flows from a venue adapter through the
 * books and sinks to repositories, the server's streams and backtests.
 *
 * ## Time
 * Every timestamp is **microseconds since the Unix epoch as a `number`**. A double holds
 * every integer up to 2^53, so microseconds stay exact until the year 2255, and number
 * arithmetic is far cheaper than `bigint` on the per-message hot path. Venues that publish
 * nanoseconds (Alpaca) are truncated to microseconds here; recordings keep the raw
 * nanosecond local receive time (see `collectors/replay`). Each event carries both the
 * venue's time (`ts`) and our local receive time (`recvTs`).
 *
 * ## Prices and sizes
 * Prices and sizes are **doubles parsed from the venue's decimal text** by
 * {@linkcode parseDecimal}. Any decimal with at most 15 significant digits converts to a
 * distinct double and back to the same shortest text, so two distinct exchange prices can
 * never collide and the text is recoverable (for checksums, with the instrument's decimals).
 * Every venue we collect quotes well inside that limit (BTC-USD at 8 decimals needs 13).
 * `parseDecimal` rejects text with more significant digits instead of rounding it, so a
 * value that would lose precision is counted as bad input, never stored wrongly.
 * Doubles keep books and Parquet columns fast and native to DuckDB, Polars and Arrow.
 *
 * @module
 */

/** A venue we collect from, lower-case: `coinbase`, `kraken`, `binance`, `alpaca`, ... */
export type Exchange = string;

/** The taker (aggressor) side of a trade; `unknown` where the venue does not say. */
export type TakerSide = "buy" | "sell" | "unknown";

/** A book side. */
export type BookSide = "bid" | "ask";

/** One price level: price and absolute size. A size of 0 deletes the level. */
export type PriceLevel = readonly [price: number, size: number];

/** Fields every event carries. */
export interface EventHeader {
  /** Venue, lower-case (`coinbase`). */
  readonly exchange: Exchange;
  /** Canonical symbol `BASE-QUOTE`, upper-case (`BTC-USD`). */
  readonly symbol: string;
  /** Venue time, microseconds since the epoch. */
  readonly ts: number;
  /** Local receive time, microseconds since the epoch. */
  readonly recvTs: number;
}

/** A public trade. */
export interface Trade extends EventHeader {
  readonly kind: "trade";
  /** The venue's trade id as text (ids may exceed 2^53; text is lossless). */
  readonly id: string;
  readonly price: number;
  readonly size: number;
  /** Taker (aggressor) side. */
  readonly side: TakerSide;
  /**
   * True for a trade missed live and fetched afterwards from the venue's REST trade history
   * (`collectors/backfill`); absent for trades received on the feed.
   */
  readonly backfilled?: boolean;
}

/** A full L2 book image that replaces whatever the consumer held for the instrument. */
export interface BookSnapshot extends EventHeader {
  readonly kind: "book_snapshot";
  /** Bids, any order. */
  readonly bids: readonly PriceLevel[];
  /** Asks, any order. */
  readonly asks: readonly PriceLevel[];
  /** Venue sequence of this image where the venue has one (Binance `lastUpdateId`). */
  readonly sequence?: number;
  /** Venue checksum of the book after applying this image (Kraken CRC32), unsigned. */
  readonly checksum?: number;
  /**
   * Levels per side the venue maintains for this subscription (Kraken `depth`): it sends no
   * deletes for levels that fall out of range, so the book truncates to this after each change.
   */
  readonly depth?: number;
  /** Digits after the point in the venue's price text (formats prices for checksums). */
  readonly priceDecimals?: number;
  /** Digits after the point in the venue's size text (formats sizes for checksums). */
  readonly sizeDecimals?: number;
}

/**
 * Absolute-size level changes of one venue message. Size 0 deletes the level; deleting an
 * absent level is ignored (and counted by the book).
 */
export interface BookChange extends EventHeader {
  readonly kind: "book_change";
  readonly bids: readonly PriceLevel[];
  readonly asks: readonly PriceLevel[];
  /** First venue sequence id covered by this message (Binance `U`). */
  readonly firstSequence?: number;
  /** Last venue sequence id covered by this message (Binance `u`, Coinbase `sequence_num`). */
  readonly sequence?: number;
  /** Venue checksum of the book after applying this change (Kraken CRC32), unsigned. */
  readonly checksum?: number;
}

/**
 * Best bid and offer. Sizes are NaN where the venue does not publish them (Coinbase
 * Exchange's `ticker` before 2022); stores keep that NaN as it is.
 */
export interface Quote extends EventHeader {
  readonly kind: "quote";
  readonly bidPrice: number;
  /** Size at the best bid; NaN when the venue does not give it. */
  readonly bidSize: number;
  readonly askPrice: number;
  /** Size at the best ask; NaN when the venue does not give it. */
  readonly askSize: number;
}

/**
 * An OHLCV bar; `ts` is the bar's open time. Time bars start at `ts` and last `interval`;
 * activity bars (tick, volume, dollar bars) have `interval` 0 and `ts` their first trade's time.
 */
export interface Bar extends EventHeader {
  readonly kind: "bar";
  /** Bar length in microseconds; 0 for activity (tick, volume, dollar) bars. */
  readonly interval: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  /** Volume-weighted average price; NaN for a bar with zero volume. */
  readonly vwap: number;
  readonly trades: number;
}

/**
 * What happened to a feed: a reset means the consumer must discard its state for the
 * instrument (the book is invalid until the next snapshot).
 */
export interface FeedStatus extends EventHeader {
  readonly kind: "status";
  readonly status: "connected" | "disconnected" | "reset" | "gap";
  /** Human-readable reason (`trade_id gap 1568270 -> 1568275`). */
  readonly reason: string;
}

/** The one event envelope: everything between a venue and a sink is one of these. */
export type MarketEvent = Trade | BookSnapshot | BookChange | Quote | Bar | FeedStatus;

/** The `kind` tag of a {@linkcode MarketEvent}. */
export type MarketEventKind = MarketEvent["kind"];
