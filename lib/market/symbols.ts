/**
 * Canonical symbols: `BASE-QUOTE`, upper-case, with venue aliases mapped (`XBT` -> `BTC`).
 * @module
 */

const ASSET_ALIASES: Readonly<Record<string, string>> = {
  XBT: "BTC",
  XXBT: "BTC",
  XDG: "DOGE",
  XXDG: "DOGE",
  XETH: "ETH",
  ZUSD: "USD",
  ZEUR: "EUR",
  ZGBP: "GBP",
  ZJPY: "JPY",
  ZCAD: "CAD",
};

/** Quote currencies recognised at the end of a concatenated symbol (`BTCUSDT`), longest first. */
const KNOWN_QUOTES = [
  "FDUSD",
  "USDT",
  "USDC",
  "TUSD",
  "BUSD",
  "DAI",
  "USD",
  "EUR",
  "GBP",
  "JPY",
  "BTC",
  "ETH",
  "BNB",
  "TRY",
  "BRL",
  "AUD",
  "CAD",
];

/** Maps a venue's asset code to the canonical one (`XBT` -> `BTC`). */
export function normalizeAsset(asset: string): string {
  const upper = asset.toUpperCase();
  return ASSET_ALIASES[upper] ?? upper;
}

const cache = new Map<string, string>();

/**
 * Normalises a venue symbol to `BASE-QUOTE`: `XBT/USD` -> `BTC-USD`, `btcusdt` ->
 * `BTC-USDT`, `BTC-USD` stays. Stock tickers without a quote (`SPY`) stay as they are.
 * Results are cached: this runs once per message.
 *
 * @example
 * ```ts
 * import { normalizeSymbol } from "./symbols.ts";
 * import assert from "node:assert/strict";
 * assert.equal(normalizeSymbol("XBT/USD"), "BTC-USD");
 * assert.equal(normalizeSymbol("BTCUSDT"), "BTC-USDT");
 * ```
 */
export function normalizeSymbol(venueSymbol: string): string {
  let out = cache.get(venueSymbol);
  if (out === undefined) {
    out = computeSymbol(venueSymbol);
    if (cache.size > 100_000) cache.clear();
    cache.set(venueSymbol, out);
  }
  return out;
}

function computeSymbol(raw: string): string {
  const s = raw.trim().toUpperCase();
  const sep = /[-/_:]/.exec(s);
  if (sep) {
    const base = s.slice(0, sep.index);
    const quote = s.slice(sep.index + 1);
    return `${normalizeAsset(base)}-${normalizeAsset(quote)}`;
  }
  for (const quote of KNOWN_QUOTES) {
    if (s.length > quote.length && s.endsWith(quote)) {
      return `${normalizeAsset(s.slice(0, -quote.length))}-${quote}`;
    }
  }
  return s;
}

/** Splits a canonical symbol into base and quote (`quote` is `""` for a bare ticker). */
export function splitSymbol(symbol: string): { base: string; quote: string } {
  const i = symbol.indexOf("-");
  return i < 0 ? { base: symbol, quote: "" } : {
    base: symbol.slice(0, i),
    quote: symbol.slice(i + 1),
  };
}
