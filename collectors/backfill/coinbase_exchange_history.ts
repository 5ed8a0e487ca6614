/**
 * Coinbase Exchange trade history: `GET /products/{product_id}/trades` returns the newest
 * trades first (`[{time, trade_id, price, size, side}]`, `side` the **maker's**), at most
 * 1,000 a page, paged by trade id: `after=N` gives the trades older than `N`, and the
 * `CB-AFTER` header the cursor of the next older page. A run of missing ids `from..to` is
 * fetched from `after = to + 1` downwards until `from` is passed. Public limit: 10 requests
 * per second per IP, bursts of 15.
 * @module
 */
import type { Trade } from "../../lib/market/types.ts";
import { parseDecimal } from "../../lib/market/decimal.ts";
import { MIN_VALID_MICROS, parseIsoMicros } from "../../lib/market/time.ts";
import { type Json, parseJsonBody, type TradeHistory } from "./history.ts";

/** The public REST API of Coinbase Exchange. */
export const COINBASE_EXCHANGE_REST_URL = "https://api.exchange.coinbase.com";

/** Trades per page (the venue's maximum). */
const PAGE = 1000;

/** A row of `/products/{id}/trades` as a trade; undefined when a field is impossible. */
export function coinbaseExchangeRestTrade(
  row: Json,
  symbol: string,
  recvTs: number,
): Trade | undefined {
  const id = row?.trade_id;
  const price = parseDecimal(row?.price);
  const size = parseDecimal(row?.size);
  const ts = typeof row?.time === "string" ? parseIsoMicros(row.time) : NaN;
  // `side` is the maker's: a maker buy means the taker sold.
  const side = row?.side === "buy" ? "sell" : row?.side === "sell" ? "buy" : undefined;
  if (!Number.isSafeInteger(id) || !(price > 0) || !(size > 0) || side === undefined) {
    return undefined;
  }
  if (!(ts >= MIN_VALID_MICROS)) return undefined;
  return {
    kind: "trade",
    exchange: "coinbase",
    symbol,
    id: String(id),
    price,
    size,
    side,
    ts,
    recvTs,
  };
}

/** Coinbase Exchange's trade history. */
export const coinbaseExchangeHistory: TradeHistory = {
  exchange: "coinbase",
  baseUrl: COINBASE_EXCHANGE_REST_URL,
  limits: { capacity: 15, refillPerSecond: 10 },
  async fetch(client, request, { recvTs, signal, maxPages }) {
    const out: Trade[] = [];
    const product = encodeURIComponent(request.symbol);
    let cursor = request.to + 1;
    for (let page = 0; page < maxPages && cursor > request.from; page++) {
      const limit = Math.min(PAGE, cursor - request.from);
      const { body, headers } = await client.get(
        `/products/${product}/trades?after=${cursor}&limit=${limit}`,
        { signal },
      );
      const rows = parseJsonBody(body, "coinbase trades");
      if (!Array.isArray(rows) || rows.length === 0) break;
      const at = recvTs();
      let oldest = Infinity;
      for (const row of rows) {
        const trade = coinbaseExchangeRestTrade(row, request.symbol, at);
        if (trade === undefined) continue;
        out.push(trade);
        oldest = Math.min(oldest, Number(trade.id));
      }
      const next = Number(headers.get("cb-after") ?? oldest);
      if (!(next < cursor)) break; // no progress: stop rather than loop
      cursor = next;
    }
    return out;
  },
};
