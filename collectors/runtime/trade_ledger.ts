/**
 * Trade-id continuity for venues whose trade ids are consecutive integers per symbol
 * (Coinbase Exchange `trade_id`, Binance `t`, Kraken v2 `trade_id`): drops trades already
 * passed on (a `last_match`, a Kraken trade snapshot or a replayed frame after a reconnect),
 * so every trade reaches the sinks once, and counts the ids that never arrived as lost.
 * @module
 */
import type { Trade } from "../../lib/market/types.ts";

/** What {@linkcode TradeLedger.check} says about a trade. */
export type TradeVerdict =
  | "new"
  | "duplicate"
  /** New, and `TradeLedger.lastGap` trades before it never arrived. */
  | "gap";

/**
 * Per-symbol last trade id, kept across reconnects. Ids that are not safe integers (Kraken
 * v1's synthetic ids, Alpaca's `exchange:id`) pass unchecked.
 *
 * @example
 * ```ts
 * import { TradeLedger } from "./trade_ledger.ts";
 * import assert from "node:assert/strict";
 * const ledger = new TradeLedger();
 * const trade = (id: number) => ({ kind: "trade" as const, exchange: "binance",
 *   symbol: "BTC-USDT", id: String(id), price: 1, size: 1, side: "buy" as const, ts: 1,
 *   recvTs: 1 });
 * assert.equal(ledger.check(trade(7)), "new");
 * assert.equal(ledger.check(trade(7)), "duplicate");
 * assert.equal(ledger.check(trade(10)), "gap"); // 8 and 9 never came
 * assert.equal(ledger.lost, 2);
 * ```
 */
export class TradeLedger {
  readonly #last = new Map<string, number>();
  /** Trades whose ids were skipped (never received), since construction. */
  lost = 0;
  /** Trades dropped because their id was already passed on. */
  duplicates = 0;
  /** Size of the gap the last `"gap"` verdict reported. */
  lastGap = 0;

  /** Records a trade; says whether it is new, a repeat, or new after missing ids. */
  check(trade: Trade): TradeVerdict {
    const id = Number(trade.id);
    if (!Number.isSafeInteger(id)) return "new";
    const last = this.#last.get(trade.symbol);
    if (last === undefined || id === last + 1) {
      this.#last.set(trade.symbol, id);
      return "new";
    }
    if (id <= last) {
      this.duplicates++;
      return "duplicate";
    }
    this.#last.set(trade.symbol, id);
    this.lastGap = id - last - 1;
    this.lost += this.lastGap;
    return "gap";
  }

  /** The last trade id passed on for a symbol. */
  last(symbol: string): number | undefined {
    return this.#last.get(symbol);
  }
}
