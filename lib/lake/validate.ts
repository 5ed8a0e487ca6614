/**
 * Validation of trades at the lake's edge: a row that fails is rejected and counted, never
 * written (and never thrown).
 * @module
 */
import { MIN_VALID_MICROS } from "../market/time.ts";
import type { Trade } from "../market/types.ts";
import { isValidExchange, isValidSymbol } from "./layout.ts";

/** Why a trade was rejected. */
export type TradeRejection =
  | "exchange"
  | "symbol"
  | "id"
  | "price"
  | "size"
  | "side"
  | "ts"
  | "recv_ts";

/**
 * Returns why `trade` cannot be stored, or `undefined` when it can. A storable trade has a
 * path-safe exchange and symbol (see `layout.ts`), a non-empty id, a finite price > 0, a
 * finite size > 0, a side of `buy`/`sell`/`unknown`, an integer `ts` (microseconds) at or
 * after 2000-01-01 and an integer `recvTs` >= 0, both safe integers.
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
  if (!isValidExchange(trade.exchange)) return "exchange";
  if (!isValidSymbol(trade.symbol)) return "symbol";
  if (typeof trade.id !== "string" || trade.id.length === 0) return "id";
  return tradeValueRejection(trade.price, trade.size, trade.side, trade.ts, trade.recvTs);
}

/**
 * The checks of {@linkcode tradeRejection} after the instrument (exchange and symbol) and
 * the id, on the values as separate arguments: what column-based writes check per row.
 */
export function tradeValueRejection(
  price: unknown,
  size: unknown,
  side: unknown,
  ts: unknown,
  recvTs: unknown,
): TradeRejection | undefined {
  if (!(typeof price === "number" && price > 0 && price < Infinity)) return "price";
  if (!(typeof size === "number" && size > 0 && size < Infinity)) return "size";
  if (side !== "buy" && side !== "sell" && side !== "unknown") return "side";
  if (!Number.isSafeInteger(ts) || (ts as number) < MIN_VALID_MICROS) return "ts";
  if (!Number.isSafeInteger(recvTs) || (recvTs as number) < 0) return "recv_ts";
  return undefined;
}
