/**
 * Trade ids as venue adapters see them: the integer a consecutive trade id stands for, and
 * the interface of an adapter that announces trade ids without sending the trades. The
 * runtime's `TradeLedger` (`collectors/runtime/trade_ledger.ts`) builds on these; they live
 * here so that adapters import nothing from the runtime.
 * @module
 */

/**
 * Implemented by an adapter whose venue says which trade ids exist without sending the
 * trades (Coinbase Exchange heartbeats carry `last_trade_id`): the pipeline drains these
 * marks after every frame into {@linkcode TradeLedger.mark}, so trades missed while nothing
 * arrived are counted lost at once, by the ledger alone.
 */
export interface TradeIdMarks {
  /**
   * The highest venue trade id announced per symbol since the last call, or `undefined`
   * when there is none. Kept per symbol (at most one entry each), so an adapter never
   * drained holds a bounded map.
   */
  takeTradeIdMarks(): ReadonlyMap<string, number> | undefined;
}

/** Longest decimal text that is always a safe integer (16 digits can exceed 2^53). */
const MAX_ID_DIGITS = 15;

/**
 * A trade id as the integer the ledger checks: plain decimal digits (at most 15), else NaN
 * and the ledger passes the trade unchecked (Kraken v1's synthetic ids, Alpaca's
 * `exchange:id`, non-numeric Coinbase Advanced ids).
 */
export function sequentialTradeId(id: string): number {
  const n = id.length;
  if (n === 0 || n > MAX_ID_DIGITS) return NaN;
  for (let i = 0; i < n; i++) {
    const c = id.charCodeAt(i);
    if (c < 48 || c > 57) return NaN;
  }
  return +id;
}
