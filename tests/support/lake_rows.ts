/**
 * Events for the lake writer's tests (`tests/lake_known_keys_test.ts`,
 * `tests/support/live_compaction.ts`): book changes and trades numbered `i`, each with a
 * key of its own, so a test knows the distinct rows it wrote.
 * @module
 */
import type { BookChange, Trade } from "../../lib/market/types.ts";

/** The first event's time, microseconds. */
export const T0 = Date.UTC(2024, 4, 6, 12) * 1000;

/** Book change `i` of ETH-USD on Coinbase: 500 us apart, one bid and mostly one ask. */
export function bookChange(i: number): BookChange {
  return {
    kind: "book_change",
    exchange: "coinbase",
    symbol: "ETH-USD",
    ts: T0 + i * 500,
    recvTs: T0 + i * 500 + 3,
    bids: [[2000 - (i % 5), 1 + i]],
    asks: i % 3 === 0 ? [] : [[2001 + (i % 4), 0.5]],
    sequence: 10_000 + i,
  };
}

/** BTC-USD trade `id` on Coinbase at `ts`. */
export function trade(id: number, ts: number): Trade {
  return {
    kind: "trade",
    exchange: "coinbase",
    symbol: "BTC-USD",
    id: String(id),
    price: 100 + (id % 17),
    size: 0.25,
    side: id % 2 === 0 ? "buy" : "sell",
    ts,
    recvTs: ts + 11,
  };
}
