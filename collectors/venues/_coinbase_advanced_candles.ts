/**
 * Coinbase Advanced Trade `candles` channel as bars: events `snapshot` / `update` with
 * `candles: [{start, open, high, low, close, volume, product_id}]`, `start` in epoch
 * seconds (text), five-minute buckets. An `update` repeats the bucket still forming with
 * its values so far. Pure parse: no I/O.
 * @module
 */
import type { Bar, MarketEvent } from "../../lib/market/types.ts";
import { parseDecimal } from "../../lib/market/decimal.ts";
import { normalizeSymbol } from "../../lib/market/symbols.ts";
import type { VenueDiagnostics } from "./venue.ts";

/** The length of an Advanced Trade candle: five minutes, in microseconds. */
export const ADVANCED_CANDLE_MICROS = 300_000_000;

/** Appends a bar per candle of a `candles` message's events; bad candles are counted. */
export function advancedCandles(
  exchange: string,
  events: readonly unknown[],
  frame: string,
  recvTs: number,
  diagnostics: VenueDiagnostics,
  out: MarketEvent[],
): void {
  for (const event of events) {
    const candles = (event as { candles?: unknown })?.candles;
    if (!Array.isArray(candles)) {
      diagnostics.error("candles event without candles", frame);
      continue;
    }
    for (const c of candles) {
      const product = c?.product_id;
      const start = typeof c?.start === "string" && /^\d{1,12}$/.test(c.start)
        ? Number(c.start) * 1_000_000
        : NaN;
      const [open, high, low, close, volume] = [c?.open, c?.high, c?.low, c?.close, c?.volume]
        .map((v) => (typeof v === "string" ? parseDecimal(v) : NaN));
      if (
        typeof product !== "string" || product.length === 0 || !(start > 0) ||
        !(low > 0) || !(high >= low) || !(open >= low && open <= high) ||
        !(close >= low && close <= high) || !(volume >= 0)
      ) {
        diagnostics.error("candle with impossible values", frame);
        continue;
      }
      const bar: Bar = {
        kind: "bar",
        exchange,
        symbol: normalizeSymbol(product),
        ts: start,
        recvTs,
        interval: ADVANCED_CANDLE_MICROS,
        open,
        high,
        low,
        close,
        volume,
        vwap: NaN, // not given
        trades: NaN, // not given
      };
      out.push(bar);
    }
  }
}
