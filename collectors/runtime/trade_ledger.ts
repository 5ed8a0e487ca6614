/**
 * Trade-id continuity for venues whose trade ids are consecutive integers per symbol
 * (Coinbase Exchange and Advanced Trade `trade_id`, Binance `t`, Kraken v2 `trade_id`): the
 * one place that drops trades already passed on (a `last_match`, a venue trade snapshot or
 * a replayed frame after a reconnect), so every trade reaches the sinks once, counts the ids
 * that never arrived as lost, and takes back a lost trade that arrives after all. Adapters of
 * these venues pass every trade on and leave repeats and gaps to the ledger.
 * @module
 */
import type { Trade } from "../../lib/market/types.ts";
import { sequentialTradeId, type TradeIdMarks } from "../venues/trade_ids.ts";

export { sequentialTradeId, type TradeIdMarks };

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
 * skipped trade that arrives later (Kraken sends the last 50 trades on subscribing, Coinbase
 * a `last_match`, a reconnect re-sends a frame) is passed on and no longer counted as lost.
 * Ids that are not plain decimal integers (see {@linkcode sequentialTradeId}) pass
 * unchecked.
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
 * assert.equal(ledger.check(trade(8)), "recovered"); // late after all
 * assert.equal(ledger.lost, 1);
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
  /** Size of the gap the last `"gap"` verdict (or a non-zero `mark`) reported. */
  lastGap = 0;

  /** Records a trade; says whether it is new, a repeat, or new after missing ids. */
  check(trade: Trade): TradeVerdict {
    const id = sequentialTradeId(trade.id);
    if (id !== id) return "new"; // NaN: not checked
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
    this.#skip(trade.symbol, last, id - 1);
    this.#last.set(trade.symbol, id);
    return "gap";
  }

  /**
   * The venue says trades up to `lastId` exist for `symbol` (a heartbeat's
   * `last_trade_id`): the ids after the last one passed on are counted lost now, and a trade
   * among them arriving later is `"recovered"`, the next one `"new"`. Returns how many were
   * newly counted lost (0 when we are not behind, or before the symbol's first trade: with
   * no chain yet nothing is known to be missing). Sets `lastGap` when not 0.
   */
  mark(symbol: string, lastId: number): number {
    if (!Number.isSafeInteger(lastId)) return 0;
    const last = this.#last.get(symbol);
    if (last === undefined || lastId <= last) return 0;
    this.#skip(symbol, last, lastId);
    this.#last.set(symbol, lastId);
    return this.lastGap;
  }

  /** Counts the ids `last + 1 .. to` as lost and remembers them as missing. */
  #skip(symbol: string, last: number, to: number): void {
    this.lastGap = to - last;
    this.lost += this.lastGap;
    let ranges = this.#missing.get(symbol);
    if (ranges === undefined) this.#missing.set(symbol, ranges = []);
    ranges.push([last + 1, to]);
    if (ranges.length > MAX_MISSING_RANGES) ranges.shift();
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

  /**
   * The ids still missing, per symbol, as inclusive `[from, to]` ranges, oldest first: what a
   * backfiller asks the venue's REST trade history for.
   */
  missingRanges(): Array<{ symbol: string; from: number; to: number }> {
    const out: Array<{ symbol: string; from: number; to: number }> = [];
    for (const [symbol, ranges] of this.#missing) {
      for (const [from, to] of ranges) out.push({ symbol, from, to });
    }
    return out;
  }

  /** The last trade id passed on (or announced by the venue) for a symbol. */
  last(symbol: string): number | undefined {
    return this.#last.get(symbol);
  }
}
