/**
 * Venue adapters by name.
 * @module
 */
import { CoinbaseExchangeAdapter } from "./coinbase_exchange.ts";
import type { VenueAdapter, VenueAdapterOptions } from "./venue.ts";

export type { Subscription, VenueAdapter, VenueAdapterOptions } from "./venue.ts";
export { CoinbaseExchangeAdapter } from "./coinbase_exchange.ts";

/** Builds a venue's adapter. */
export type AdapterFactory = (options: VenueAdapterOptions) => VenueAdapter;

/** Every venue with an adapter, by the name used on the command line and in storage. */
export const VENUES: Readonly<Record<string, AdapterFactory>> = {
  coinbase: (options) => new CoinbaseExchangeAdapter(options),
};

/**
 * Creates the adapter for a venue name.
 * @throws {RangeError} for a venue we have no adapter for.
 */
export function createAdapter(exchange: string, options: VenueAdapterOptions): VenueAdapter {
  const factory = VENUES[exchange];
  if (factory === undefined) {
    throw new RangeError(
      `unknown exchange "${exchange}": expected one of ${Object.keys(VENUES).join(", ")}`,
    );
  }
  return factory(options);
}

/** Guesses the venue from a URL or file name (`wss://ws-feed.pro.coinbase.com` -> `coinbase`). */
export function guessExchange(text: string): string | undefined {
  const lower = text.toLowerCase();
  return Object.keys(VENUES).find((name) => lower.includes(name));
}
