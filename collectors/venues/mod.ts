/**
 * Venue adapters by name.
 * @module
 */
import { COINBASE_EXCHANGE_WS_URL, CoinbaseExchangeAdapter } from "./coinbase_exchange.ts";
import { KRAKEN_WS_URL, KrakenAdapter } from "./kraken.ts";
import { BINANCE_WS_URL, BinanceAdapter } from "./binance.ts";
import { COINBASE_ADVANCED_WS_URL, CoinbaseAdvancedAdapter } from "./coinbase_advanced.ts";
import {
  ALPACA_CRYPTO_WS_URL,
  ALPACA_STOCKS_WS_URL,
  AlpacaAdapter,
  alpacaCredentialsFromEnv,
} from "./alpaca.ts";
import type { VenueAdapter, VenueAdapterOptions } from "./venue.ts";
import { BookKeeper } from "../../lib/book/book_keeper.ts";
import type { IntegrityRule } from "../../lib/book/integrity.ts";

export type {
  ConnectionRequest,
  Subscription,
  VenueAdapter,
  VenueAdapterOptions,
} from "./venue.ts";
export { CoinbaseExchangeAdapter } from "./coinbase_exchange.ts";
export { KrakenAdapter } from "./kraken.ts";
export { BinanceAdapter } from "./binance.ts";
export { CoinbaseAdvancedAdapter } from "./coinbase_advanced.ts";
export { AlpacaAdapter, alpacaStocksUrl } from "./alpaca.ts";

/** A venue we can collect: how to build its adapter and where it streams. */
export interface VenueSpec {
  /** Builds the venue's adapter. */
  readonly create: (options: VenueAdapterOptions) => VenueAdapter;
  /** The public websocket URL of the live feed. */
  readonly url: string;
  /**
   * `"sequential"` when trade ids are consecutive integers per symbol: the collector drops
   * repeated trades and counts missing ids as lost.
   */
  readonly tradeIds?: "sequential";
  /**
   * True when a lost book message cannot be detected by sequence or checksum (Coinbase
   * Exchange): an unreadable frame then resets the books.
   */
  readonly resetBooksOnUnreadableFrame?: boolean;
  /**
   * The venue's book integrity rule (`lib/book/integrity.ts`): a checksum or a sequence
   * chain; absent when the feed has neither (crossed books are checked for every venue).
   */
  readonly bookIntegrity?: IntegrityRule;
  /**
   * True when the feed sends level-2 book changes: a collector storing into the lake keeps
   * them by default (`--no-book-changes` leaves them out; the buffer always stores them).
   */
  readonly bookChanges?: boolean;
}

/** Every venue with an adapter, by the name used on the command line and in storage. */
export const VENUES: Readonly<Record<string, VenueSpec>> = {
  coinbase: {
    create: (options) => new CoinbaseExchangeAdapter(options),
    url: COINBASE_EXCHANGE_WS_URL,
    tradeIds: "sequential",
    resetBooksOnUnreadableFrame: true,
    bookChanges: true,
  },
  // v2 trade ids are consecutive per pair (v1 ids are synthetic text: not checked).
  kraken: {
    create: (options) => new KrakenAdapter(options),
    url: KRAKEN_WS_URL,
    tradeIds: "sequential",
    bookIntegrity: "kraken-crc32",
    bookChanges: true,
  },
  binance: {
    create: (options) => new BinanceAdapter(options),
    url: BINANCE_WS_URL,
    tradeIds: "sequential",
    bookIntegrity: "binance-update-id",
    bookChanges: true,
  },
  // Numeric trade ids, consecutive per product, as on Coinbase Exchange.
  "coinbase-advanced": {
    create: (options) => new CoinbaseAdvancedAdapter(options),
    url: COINBASE_ADVANCED_WS_URL,
    tradeIds: "sequential",
    bookIntegrity: "sequence_num",
    bookChanges: true,
  },
  // Stocks on IEX by default; SIP with --url wss://stream.data.alpaca.markets/v2/sip.
  alpaca: {
    create: (options) =>
      new AlpacaAdapter({ ...options, market: "stocks", credentials: alpacaCredentialsFromEnv() }),
    url: ALPACA_STOCKS_WS_URL,
  },
  "alpaca-crypto": {
    create: (options) =>
      new AlpacaAdapter({ ...options, market: "crypto", credentials: alpacaCredentialsFromEnv() }),
    url: ALPACA_CRYPTO_WS_URL,
    bookChanges: true, // the `orderbooks` channel
  },
};

/**
 * Creates the adapter for a venue name.
 * @throws {RangeError} for a venue we have no adapter for.
 */
export function createAdapter(exchange: string, options: VenueAdapterOptions): VenueAdapter {
  return venue(exchange).create(options);
}

/**
 * The spec of a venue by name.
 * @throws {RangeError} for a venue we have no adapter for.
 */
export function venue(exchange: string): VenueSpec {
  const spec = VENUES[exchange];
  if (spec === undefined) {
    throw new RangeError(
      `unknown exchange "${exchange}": expected one of ${Object.keys(VENUES).join(", ")}`,
    );
  }
  return spec;
}

/**
 * A book keeper for a venue's feed, running the integrity rule the venue declares.
 * @throws {RangeError} for a venue we have no adapter for.
 */
export function venueBookKeeper(exchange: string, options: { depth?: number } = {}): BookKeeper {
  return new BookKeeper({ ...options, exchange, integrity: venue(exchange).bookIntegrity ?? null });
}

/**
 * Guesses the venue from a URL or file name (`wss://ws-feed.pro.coinbase.com` -> `coinbase`):
 * the venue whose feed URL (host and path) or name is the longest match, so
 * `wss://advanced-trade-ws.coinbase.com` is `coinbase-advanced` and `alpaca-crypto-...` is
 * not `alpaca`.
 */
export function guessExchange(text: string): string | undefined {
  const lower = text.toLowerCase();
  let best: string | undefined;
  let bestLength = 0;
  for (const [name, spec] of Object.entries(VENUES)) {
    for (const needle of [name, spec.url.replace(/^wss?:\/\//, "")]) {
      if (needle.length > bestLength && lower.includes(needle)) {
        best = name;
        bestLength = needle.length;
      }
    }
  }
  return best;
}
