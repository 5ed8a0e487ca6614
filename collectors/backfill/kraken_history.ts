/**
 * Kraken trade history: `GET /0/public/Trades?pair=&since=&count=` returns
 * `{error: [], result: {<PAIR>: [[price, volume, time, side, ordType, misc, trade_id]],
 * last}}`, oldest first, from `since` (a time: nanoseconds, or seconds) on, at most 1,000
 * rows; `last` is the `since` of the next page. `time` is epoch seconds with a fraction,
 * `side` the taker's (`b`/`s`). Kraken's public REST budget is about one request a second.
 *
 * The backfill is a **time window**: from the last trade received before the gap to the
 * first after it. Rows with a `trade_id` (the 7th element, present since Kraken added ids)
 * are passed with it, and the ledger keeps exactly the missing ones; rows without an id are
 * de-duplicated against the trades received in the window by `(ts, price, size, side)` (see
 * {@linkcode dedupeByKey} for the rule). When as many rows remain as ids are missing, they
 * take those ids in time order (the ledger then takes them back from the lost count);
 * otherwise they pass with synthetic ids (`rest-<ts>-<n>`) and the ids stay counted lost.
 * @module
 */
import type { Trade } from "../../lib/market/types.ts";
import { parseDecimal } from "../../lib/market/decimal.ts";
import { MIN_VALID_MICROS, secondsToMicros } from "../../lib/market/time.ts";
import { splitSymbol } from "../../lib/market/symbols.ts";
import { type Json, parseJsonBody, type TradeHistory } from "./history.ts";
import { dedupeByKey } from "./dedupe_by_key.ts";

/** The public REST API of Kraken. */
export const KRAKEN_REST_URL = "https://api.kraken.com";

const PAGE = 1000;
const REST_ASSETS: Readonly<Record<string, string>> = { BTC: "XBT", DOGE: "XDG" };

/** Canonical `BTC-USD` to Kraken's REST pair name `XBTUSD`. */
export function krakenRestPair(symbol: string): string {
  const { base, quote } = splitSymbol(symbol);
  return (REST_ASSETS[base] ?? base) + (REST_ASSETS[quote] ?? quote);
}

/** A `Trades` row as a trade (id `""` when the row has none); undefined when impossible. */
export function krakenRestTrade(row: Json, symbol: string, recvTs: number): Trade | undefined {
  if (!Array.isArray(row)) return undefined;
  const price = parseDecimal(row[0]);
  const size = parseDecimal(row[1]);
  const ts = secondsToMicros(Number(row[2]));
  const side = row[3] === "b" ? "buy" : row[3] === "s" ? "sell" : "unknown";
  const id = Number.isSafeInteger(row[6]) ? String(row[6]) : "";
  if (!(price > 0) || !(size > 0) || !(ts >= MIN_VALID_MICROS)) return undefined;
  return { kind: "trade", exchange: "kraken", symbol, id, price, size, side, ts, recvTs };
}

/** Kraken's trade history. */
export const krakenHistory: TradeHistory = {
  exchange: "kraken",
  baseUrl: KRAKEN_REST_URL,
  limits: { capacity: 5, refillPerSecond: 1 },
  needsReceived: true,
  async fetch(client, request, { recvTs, signal, maxPages }) {
    const rows: Trade[] = [];
    const pair = krakenRestPair(request.symbol);
    const beforeTs = request.beforeTs ?? Infinity;
    // `since` is exclusive: one microsecond before the last trade received before the gap.
    // Nanoseconds as text (µs + "000"): exact, where µs * 1000 would pass 2^53.
    let since = request.afterTs === undefined ? undefined : `${request.afterTs - 1}000`;
    for (let page = 0; page < maxPages; page++) {
      const query = `pair=${pair}&count=${PAGE}` + (since === undefined ? "" : `&since=${since}`);
      const { body } = await client.get(`/0/public/Trades?${query}`, { signal });
      const answer = parseJsonBody(body, "kraken Trades");
      if (Array.isArray(answer?.error) && answer.error.length > 0) {
        throw new Error(`kraken Trades: ${answer.error.join(", ")}`);
      }
      const result = answer?.result ?? {};
      const key = Object.keys(result).find((k) => k !== "last");
      const list = key === undefined ? undefined : result[key];
      if (!Array.isArray(list) || list.length === 0) break;
      const at = recvTs();
      let newest = -Infinity;
      let maxId = -Infinity;
      for (const row of list) {
        const trade = krakenRestTrade(row, request.symbol, at);
        if (trade === undefined) continue;
        rows.push(trade);
        newest = Math.max(newest, trade.ts);
        if (trade.id !== "") maxId = Math.max(maxId, Number(trade.id));
      }
      if (list.length < PAGE || newest > beforeTs || maxId >= request.to) break;
      if (typeof result.last !== "string" || result.last === since) break;
      since = result.last;
    }
    const withIds = rows.filter((t) => t.id !== "");
    const withoutIds = rows.filter((t) => t.id === "");
    if (withoutIds.length === 0) return withIds;
    const kept = dedupeByKey(
      withoutIds,
      request.received ?? [],
      request.afterTs ?? -Infinity,
      beforeTs,
    );
    // Exactly as many missed as missing ids: they are those ids, in time order (ids grow
    // with time); otherwise they pass with synthetic ids and the ids stay counted lost.
    kept.sort((a, b) => a.ts - b.ts);
    const exact = kept.length === request.to - request.from + 1;
    return [
      ...withIds,
      ...kept.map((t, i) => ({ ...t, id: exact ? String(request.from + i) : `rest-${t.ts}-${i}` })),
    ];
  },
};
