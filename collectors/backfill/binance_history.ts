/**
 * Binance spot trade history: `GET /api/v3/historicalTrades?symbol=&fromId=&limit=` returns
 * up to 1,000 trades from `fromId` on, oldest first
 * (`[{id, price, qty, quoteQty, time, isBuyerMaker, isBestMatch}]`, `time` in ms,
 * `isBuyerMaker: true` meaning the taker sold). Request weight 25 against 6,000 per minute
 * per IP; a 429 carries `Retry-After`, and ignoring it earns a 418 ban with its own. The
 * endpoint once needed an API key (`X-MBX-APIKEY`, no signature); `BINANCE_API_KEY`, when
 * set, is sent for that reason.
 * @module
 */
import type { Trade } from "../../lib/market/types.ts";
import { parseDecimal } from "../../lib/market/decimal.ts";
import { MICROS_PER_MILLI, MIN_VALID_MICROS } from "../../lib/market/time.ts";
import { binanceSymbol } from "../venues/binance.ts";
import { type Json, parseJsonBody, type TradeHistory } from "./history.ts";

/** The public REST API of Binance spot. */
export const BINANCE_REST_URL = "https://api.binance.com";

/** Request weight of `historicalTrades`. */
export const HISTORICAL_TRADES_WEIGHT = 25;

const PAGE = 1000;

/** A row of `historicalTrades` as a trade; undefined when a field is impossible. */
export function binanceRestTrade(row: Json, symbol: string, recvTs: number): Trade | undefined {
  const id = row?.id;
  const price = parseDecimal(row?.price);
  const size = parseDecimal(row?.qty);
  const ts = Number(row?.time) * MICROS_PER_MILLI;
  if (!Number.isSafeInteger(id) || !(price > 0) || !(size > 0) || !(ts >= MIN_VALID_MICROS)) {
    return undefined;
  }
  const side = row.isBuyerMaker === true ? "sell" : row.isBuyerMaker === false ? "buy" : "unknown";
  return {
    kind: "trade",
    exchange: "binance",
    symbol,
    id: String(id),
    price,
    size,
    side,
    ts,
    recvTs,
  };
}

/** Binance's trade history. */
export const binanceHistory: TradeHistory = {
  exchange: "binance",
  baseUrl: BINANCE_REST_URL,
  limits: { capacity: 6000, refillPerSecond: 100 },
  headers() {
    let key: string | undefined;
    try {
      key = Deno.env.get("BINANCE_API_KEY");
    } catch { /* no env permission: none */ }
    return key ? { "X-MBX-APIKEY": key } : undefined;
  },
  async fetch(client, request, { recvTs, signal, maxPages }) {
    const out: Trade[] = [];
    const symbol = binanceSymbol(request.symbol);
    let fromId = request.from;
    for (let page = 0; page < maxPages && fromId <= request.to; page++) {
      const limit = Math.min(PAGE, request.to - fromId + 1);
      const { body } = await client.get(
        `/api/v3/historicalTrades?symbol=${symbol}&fromId=${fromId}&limit=${limit}`,
        { weight: HISTORICAL_TRADES_WEIGHT, signal },
      );
      const rows = parseJsonBody(body, "binance historicalTrades");
      if (!Array.isArray(rows) || rows.length === 0) break;
      const at = recvTs();
      let newest = -Infinity;
      for (const row of rows) {
        const trade = binanceRestTrade(row, request.symbol, at);
        if (trade === undefined) continue;
        out.push(trade);
        newest = Math.max(newest, Number(trade.id));
      }
      if (!(newest >= fromId)) break;
      fromId = newest + 1;
    }
    return out;
  },
};
