/**
 * Kraken pair names and precision: canonical symbols to v1/v2 pair names, and the REST
 * `AssetPairs` answer to price and size decimals.
 * @module
 */
import { normalizeSymbol, splitSymbol } from "../../lib/market/symbols.ts";
import type { Json } from "./_kraken_state.ts";

/** Price and size precision of a pair. */
export interface KrakenInstrument {
  /** Digits after the point in prices (`pair_decimals`, v2 `price_precision`). */
  readonly priceDecimals: number;
  /** Digits after the point in sizes (`lot_decimals`, v2 `qty_precision`). */
  readonly sizeDecimals: number;
}

const V1_ASSETS: Readonly<Record<string, string>> = { BTC: "XBT", DOGE: "XDG" };

/** Canonical `BTC-USD` to Kraken's pair name: `BTC/USD` (v2) or `XBT/USD` (v1). */
export function krakenPair(symbol: string, v1 = false): string {
  const { base, quote } = splitSymbol(normalizeSymbol(symbol));
  if (quote === "") throw new RangeError(`not a BASE-QUOTE symbol: "${symbol}"`);
  return v1 ? `${V1_ASSETS[base] ?? base}/${V1_ASSETS[quote] ?? quote}` : `${base}/${quote}`;
}

/**
 * Pair precision from the REST `AssetPairs` answer (`{"error":[],"result":{...}}`), by
 * canonical symbol (from each pair's `wsname`): `pair_decimals` and `lot_decimals`.
 *
 * @example
 * ```ts
 * import { parseKrakenAssetPairs } from "./kraken.ts";
 * import assert from "node:assert/strict";
 * const pairs = parseKrakenAssetPairs(
 *   '{"error":[],"result":{"XXBTZUSD":{"wsname":"XBT/USD","pair_decimals":1,"lot_decimals":8}}}',
 * );
 * assert.deepEqual(pairs.get("BTC-USD"), { priceDecimals: 1, sizeDecimals: 8 });
 * ```
 * @throws {SyntaxError} when the text is not such an answer.
 */
export function parseKrakenAssetPairs(text: string): Map<string, KrakenInstrument> {
  const body = JSON.parse(text);
  const result = body?.result;
  if (result === null || typeof result !== "object") {
    throw new SyntaxError("not a Kraken AssetPairs answer: no result object");
  }
  const out = new Map<string, KrakenInstrument>();
  for (const pair of Object.values(result) as Json[]) {
    if (
      typeof pair?.wsname === "string" && Number.isInteger(pair.pair_decimals) &&
      Number.isInteger(pair.lot_decimals)
    ) {
      out.set(normalizeSymbol(pair.wsname), {
        priceDecimals: pair.pair_decimals,
        sizeDecimals: pair.lot_decimals,
      });
    }
  }
  return out;
}
