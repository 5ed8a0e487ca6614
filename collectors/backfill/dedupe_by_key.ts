/**
 * De-duplication of fetched trades that carry no venue trade id (Kraken's REST rows before
 * it added ids, v1 feeds): the rule a time-window backfill follows.
 *
 * **Rule.** A trade's key is `(ts, price, size, side)`: venue time in microseconds, price,
 * size and taker side exactly as parsed. The trades received live in the window
 * `[afterTs, beforeTs]` (the last trade before the gap and the first after it, both
 * included) form a multiset of keys. Each fetched row inside the window whose key is still
 * in the multiset takes one copy out and is dropped (it was received); every other fetched
 * row inside the window was missed and is kept. Rows outside the window are dropped: the
 * feed had them. Two real trades with the same key in the window are both kept when only one
 * was received, since the multiset counts copies.
 * @module
 */
import type { Trade } from "../../lib/market/types.ts";

/** The key of the rule: `ts|price|size|side`. */
export function tradeKey(t: Pick<Trade, "ts" | "price" | "size" | "side">): string {
  return `${t.ts}|${t.price}|${t.size}|${t.side}`;
}

/**
 * The fetched trades that were not received, by the rule above.
 *
 * @example
 * ```ts
 * import { dedupeByKey } from "./dedupe_by_key.ts";
 * import assert from "node:assert/strict";
 * const t = (ts: number, price: number) => ({ kind: "trade" as const, exchange: "kraken",
 *   symbol: "BTC-USD", id: "", price, size: 1, side: "buy" as const, ts, recvTs: ts });
 * const kept = dedupeByKey([t(1, 10), t(2, 11), t(2, 11), t(3, 12)], [t(1, 10), t(2, 11),
 *   t(3, 12)], 1, 3);
 * assert.deepEqual(kept.map((x) => x.ts), [2]); // the second trade at ts 2 was missed
 * ```
 */
export function dedupeByKey(
  fetched: readonly Trade[],
  received: readonly Trade[],
  afterTs: number,
  beforeTs: number,
): Trade[] {
  const seen = new Map<string, number>();
  for (const t of received) {
    if (t.ts < afterTs || t.ts > beforeTs) continue;
    const key = tradeKey(t);
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  const kept: Trade[] = [];
  for (const t of fetched) {
    if (t.ts < afterTs || t.ts > beforeTs) continue;
    const key = tradeKey(t);
    const n = seen.get(key) ?? 0;
    if (n > 0) {
      seen.set(key, n - 1);
      continue;
    }
    kept.push(t);
  }
  return kept;
}
