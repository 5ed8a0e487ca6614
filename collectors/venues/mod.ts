/**
 * Venue adapters by name.
 * @module
 */
import { COINBASE_EXCHANGE_WS_URL, CoinbaseExchangeAdapter } from "./coinbase_exchange.ts";
import { KRAKEN_WS_URL, KrakenAdapter } from "./kraken.ts";
import { BINANCE_WS_URL, BinanceAdapter } from "./binance.ts";
import type { VenueAdapter, VenueAdapterOptions } from "./venue.ts";

export type { Subscription, VenueAdapter, VenueAdapterOptions } from "./venue.ts";
export { CoinbaseExchangeAdapter } from "./coinbase_exchange.ts";
export { KrakenAdapter } from "./kraken.ts";
export { BinanceAdapter } from "./binance.ts";

/** A venue we can collect: how to build its adapter and where it streams. */
export interface VenueSpec {
  /** Builds the venue's adapter. */
  readonly create: (options: VenueAdapterOptions) => VenueAdapter;
  /** The public websocket URL of the live feed. */
  readonly url: string;
}

/** Every venue with an adapter, by the name used on the command line and in storage. */
export const VENUES: Readonly<Record<string, VenueSpec>> = {
  coinbase: {
    create: (options) => new CoinbaseExchangeAdapter(options),
    url: COINBASE_EXCHANGE_WS_URL,
  },
  kraken: { create: (options) => new KrakenAdapter(options), url: KRAKEN_WS_URL },
  binance: { create: (options) => new BinanceAdapter(options), url: BINANCE_WS_URL },
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

/** Guesses the venue from a URL or file name (`wss://ws-feed.pro.coinbase.com` -> `coinbase`). */
export function guessExchange(text: string): string | undefined {
  const lower = text.toLowerCase();
  return Object.keys(VENUES).find((name) => lower.includes(name));
}
