/**
 * Backfill of trades a live feed missed, through each venue's REST trade history: a
 * rate-limited REST client, one {@linkcode TradeHistory} per venue and the
 * {@linkcode Backfiller} that connects them to the trade-id ledger.
 * @module
 */
import type { TradeHistory } from "./history.ts";
import { binanceHistory } from "./binance_history.ts";
import { coinbaseAdvancedHistory } from "./coinbase_advanced_history.ts";
import { coinbaseExchangeHistory } from "./coinbase_exchange_history.ts";
import { krakenHistory } from "./kraken_history.ts";

export * from "./history.ts";
export * from "./rest_client.ts";
export * from "./token_bucket.ts";
export * from "./backfiller.ts";
export * from "./dedupe_by_key.ts";

/** The trade history of every venue that has one, by venue name. */
export const TRADE_HISTORIES: Readonly<Record<string, TradeHistory>> = {
  coinbase: coinbaseExchangeHistory,
  "coinbase-advanced": coinbaseAdvancedHistory,
  binance: binanceHistory,
  kraken: krakenHistory,
};
