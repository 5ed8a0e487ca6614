/**
 * Validation of trades at the lake's edge: the schema's rules (`lib/schema/rules.ts`),
 * which every store applies. A row that fails is rejected and counted, never written (and
 * never thrown).
 * @module
 */
import { nowMicros } from "../market/time.ts";
import type { Trade } from "../market/types.ts";
import {
  latestValidMicros,
  type Rejection,
  timesRejection,
  tradeRejection as schemaTradeRejection,
  tradeValuesRejection,
} from "../schema/rules.ts";

/** Why a trade was rejected: the schema's {@linkcode Rejection}. */
export type TradeRejection = Rejection;

/**
 * Returns why `trade` cannot be stored, or `undefined` when it can (the schema's rules, with
 * the wall clock now): a path-safe exchange and symbol, integer `ts` and `recvTs`
 * (microseconds) from 2000-01-01 to one day after now, a non-empty id, a finite price > 0,
 * a finite size > 0 and a side of `buy`/`sell`/`unknown`.
 *
 * @example
 * ```ts
 * import { tradeRejection } from "./validate.ts";
 * import assert from "node:assert/strict";
 * const trade = {
 *   kind: "trade", exchange: "coinbase", symbol: "BTC-USD", id: "1", price: 0, size: 1,
 *   side: "buy", ts: 1_700_000_000_000_000, recvTs: 1_700_000_000_000_100,
 * } as const;
 * assert.equal(tradeRejection(trade), "price");
 * ```
 */
export function tradeRejection(trade: Trade): TradeRejection | undefined {
  return schemaTradeRejection(trade, latestValidMicros(nowMicros()));
}

/**
 * The checks of {@linkcode tradeRejection} after the instrument (exchange and symbol) and
 * the id, on the values as separate arguments: what column-based writes check per row.
 * `latest` is the latest valid time (default: one day after now).
 */
export function tradeValueRejection(
  price: unknown,
  size: unknown,
  side: unknown,
  ts: unknown,
  recvTs: unknown,
  latest: number = latestValidMicros(nowMicros()),
): TradeRejection | undefined {
  return timesRejection(ts, recvTs, latest) ??
    tradeValuesRejection(price, size, side);
}
