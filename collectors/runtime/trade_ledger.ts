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
  | "gap"
  /** A trade counted as lost before, now received after all (a venue trade snapshot). */
  | "recovered";

/** Missing-id ranges remembered per symbol; older ones stay lost for good. */
const MAX_MISSING_RANGES = 64;

/**
 * Per-symbol last trade id, kept across reconnects, and the ranges of ids skipped so far: a
 * skipped trade that arrives later (Kraken sends the last 50 trades on subscribing) is
 * passed on and no longer counted as lost. Ids that are not safe integers (Kraken v1's
 * synthetic ids, Alpaca's `exchange:id`) pass unchecked.
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
  /** Skipped id ranges `[from, to]` per symbol, oldest first. */
  readonly #missing = new Map<string, Array<[number, number]>>();
  /** Trades whose ids were skipped and have not arrived since. */
  lost = 0;
  /** Skipped trades that arrived later. */
  recovered = 0;
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
      if (this.#recover(trade.symbol, id)) return "recovered";
      this.duplicates++;
      return "duplicate";
    }
    this.#last.set(trade.symbol, id);
    this.lastGap = id - last - 1;
    this.lost += this.lastGap;
    let ranges = this.#missing.get(trade.symbol);
    if (ranges === undefined) this.#missing.set(trade.symbol, ranges = []);
    ranges.push([last + 1, id - 1]);
    if (ranges.length > MAX_MISSING_RANGES) ranges.shift();
    return "gap";
  }

  /** Takes `id` out of the symbol's missing ranges; false when it was not missing. */
  #recover(symbol: string, id: number): boolean {
    const ranges = this.#missing.get(symbol);
    if (ranges === undefined) return false;
    for (let i = ranges.length - 1; i >= 0; i--) {
      const [from, to] = ranges[i];
      if (id < from || id > to) continue;
      const rest: Array<[number, number]> = [];
      if (from < id) rest.push([from, id - 1]);
      if (id < to) rest.push([id + 1, to]);
      ranges.splice(i, 1, ...rest);
      this.lost--;
      this.recovered++;
      return true;
    }
    return false;
  }

  /** The last trade id passed on for a symbol. */
  last(symbol: string): number | undefined {
    return this.#last.get(symbol);
  }
}
