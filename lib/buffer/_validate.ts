/**
 * Row validation before anything reaches the buffer: each check returns the reason a row
 * is rejected, or `undefined` when it is fine.
 * @module
 */
import type { MarketEvent, Trade } from "../market/types.ts";
import { MIN_VALID_MICROS } from "../market/time.ts";

/** How far in the future a venue time may be (clock skew), microseconds. */
export const MAX_FUTURE_MICROS = 86_400_000_000;

function badTime(micros: number, now: number): string | undefined {
  if (Number.isNaN(micros)) return "time NaN";
  if (micros < MIN_VALID_MICROS) return "time before 2000-01-01 (placeholder such as year 1)";
  if (micros > now + MAX_FUTURE_MICROS) return "time more than one day in the future";
  if (!Number.isInteger(micros)) return "time is not an integer of microseconds";
  return undefined;
}

/** Checks the header every event has. `now` is wall-clock microseconds. */
export function headerProblem(e: MarketEvent, now: number): string | undefined {
  if (typeof e.exchange !== "string" || e.exchange === "") return "exchange empty";
  if (typeof e.symbol !== "string" || e.symbol === "") return "symbol empty";
  const ts = badTime(e.ts, now);
  if (ts) return ts;
  const recv = badTime(e.recvTs, now);
  if (recv) return "receive " + recv;
  return undefined;
}

/** Checks a trade (header included). */
export function tradeProblem(t: Trade, now: number): string | undefined {
  // Numbers first: they are the common failure and the cheapest to check.
  if (!(t.price > 0) || t.price === Infinity) {
    return Number.isNaN(t.price) ? "price NaN" : "price not positive and finite";
  }
  if (!(t.size > 0) || t.size === Infinity) {
    return Number.isNaN(t.size) ? "size NaN" : t.size < 0 ? "size negative" : "size not positive";
  }
  if (typeof t.id !== "string" || t.id === "") return "trade id empty";
  if (t.side !== "buy" && t.side !== "sell" && t.side !== "unknown") return "side invalid";
  return headerProblem(t, now);
}

/** Checks a list of price levels. */
export function levelsProblem(levels: readonly (readonly [number, number])[]): string | undefined {
  for (const [price, size] of levels) {
    if (!Number.isFinite(price) || !Number.isFinite(size)) return "level not finite";
    if (size < 0) return "level size negative";
  }
  return undefined;
}
