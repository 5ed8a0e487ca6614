/**
 * Coinbase Advanced Trade trade history: the public market trades endpoint
 * `GET /api/v3/brokerage/market/products/{product_id}/ticker?limit=&start=&end=` (no
 * authentication; `start`/`end` UNIX seconds) returns
 * `{trades: [{trade_id, product_id, price, size, time, side, exchange}], best_bid, best_ask}`,
 * newest first, `side` the **taker's** (`BUY`/`SELL`). It pages by time, not id: the window
 * is the gap's (the last trade before it to the first after), narrowed to older trades page
 * by page while ids are still missing. Public limit: 10 requests per second per IP.
 * @module
 */
import type { Trade } from "../../lib/market/types.ts";
import { parseDecimal } from "../../lib/market/decimal.ts";
import { MIN_VALID_MICROS, parseIsoMicros } from "../../lib/market/time.ts";
import { type Json, parseJsonBody, type TradeHistory } from "./history.ts";

/** The public REST API of Coinbase Advanced Trade. */
export const COINBASE_ADVANCED_REST_URL = "https://api.coinbase.com";

const PAGE = 1000;

/** A market trade row as a trade; undefined when a field is impossible. */
export function coinbaseAdvancedRestTrade(
  row: Json,
  symbol: string,
  recvTs: number,
): Trade | undefined {
  const id = row?.trade_id;
  const price = parseDecimal(row?.price);
  const size = parseDecimal(row?.size);
  const ts = typeof row?.time === "string" ? parseIsoMicros(row.time) : NaN;
  const side = row?.side === "BUY" ? "buy" : row?.side === "SELL" ? "sell" : "unknown";
  if (typeof id !== "string" || id.length === 0 || !(price > 0) || !(size > 0)) return undefined;
  if (!(ts >= MIN_VALID_MICROS)) return undefined;
  return {
    kind: "trade",
    exchange: "coinbase-advanced",
    symbol,
    id,
    price,
    size,
    side,
    ts,
    recvTs,
  };
}

/** Coinbase Advanced Trade's trade history. */
export const coinbaseAdvancedHistory: TradeHistory = {
  exchange: "coinbase-advanced",
  baseUrl: COINBASE_ADVANCED_REST_URL,
  limits: { capacity: 10, refillPerSecond: 10 },
  async fetch(client, request, { recvTs, signal, maxPages }) {
    const out: Trade[] = [];
    const product = encodeURIComponent(request.symbol);
    const start = request.afterTs === undefined ? undefined : Math.floor(request.afterTs / 1e6);
    let end = request.beforeTs === undefined ? undefined : Math.floor(request.beforeTs / 1e6) + 1;
    let lowest = Infinity;
    for (let page = 0; page < maxPages; page++) {
      const query = `limit=${PAGE}` + (start === undefined ? "" : `&start=${start}`) +
        (end === undefined ? "" : `&end=${end}`);
      const { body } = await client.get(
        `/api/v3/brokerage/market/products/${product}/ticker?${query}`,
        { signal },
      );
      const rows = parseJsonBody(body, "coinbase advanced market trades")?.trades;
      if (!Array.isArray(rows) || rows.length === 0) break;
      const at = recvTs();
      let oldestTs = Infinity;
      let pageLowest = Infinity;
      for (const row of rows) {
        const trade = coinbaseAdvancedRestTrade(row, request.symbol, at);
        if (trade === undefined) continue;
        out.push(trade);
        oldestTs = Math.min(oldestTs, trade.ts);
        const id = Number(trade.id);
        if (id === id) pageLowest = Math.min(pageLowest, id);
      }
      // A full page whose oldest trade is still after the gap: the next page ends there.
      if (rows.length < PAGE || pageLowest <= request.from || !(pageLowest < lowest)) break;
      lowest = pageLowest;
      end = Math.floor(oldestTs / 1e6) + 1;
    }
    return out;
  },
};
