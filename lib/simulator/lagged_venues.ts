/**
 * A **synthetic** two-venue market where one venue follows the other with a known delay:
 * one seeded random-walk fair value, the leading venue trading at it, the lagging venue
 * trading at the value it had `delay` earlier. For cross-venue research (lead-lag) where
 * the right answer is known. Not market data.
 * @module
 */
import type { Trade } from "../market/types.ts";
import { SeededRandom } from "./random.ts";

/** One venue of {@linkcode laggedVenueTrades}. */
export interface LaggedVenue {
  readonly exchange: string;
  /** Mean trades per simulated second (default 20). */
  readonly tradesPerSecond?: number;
}

/** Options of {@linkcode laggedVenueTrades}. */
export interface LaggedVenuesOptions {
  /** Simulated start, microseconds since the epoch. */
  readonly startTs: number;
  /** Simulated length, microseconds (> 0). */
  readonly durationUs: number;
  /** How long the lagging venue's price trails the leader's, microseconds (>= 0). */
  readonly delayUs: number;
  /** Symbol traded on both venues (default `BTC-USD`). */
  readonly symbol?: string;
  /** Default `{ exchange: "sim-lead" }`. */
  readonly leader?: LaggedVenue;
  /** Default `{ exchange: "sim-lag" }`. */
  readonly follower?: LaggedVenue;
  /** Starting fair value (default 64 000). */
  readonly price?: number;
  /** Annualised volatility of the fair value (default 0.8). */
  readonly volatility?: number;
  /** Fair-value step, microseconds (default 10 000: 10 ms). */
  readonly stepUs?: number;
  /** Price tick (default 0.01). */
  readonly tick?: number;
  /** Seed: the same seed and options give the same trades (default 7). */
  readonly seed?: number;
}

/** The trades of both venues and the fair-value path they were drawn from. */
export interface LaggedVenueMarket {
  readonly leader: Trade[];
  readonly follower: Trade[];
  /**
   * The fair value in force at `ts` (the last step at or before it), unrounded; the leader
   * trades at `fair(ts)`, the follower at `fair(ts - delayUs)`, both rounded to the tick.
   */
  fair(ts: number): number;
}

const SECONDS_PER_YEAR = 365 * 24 * 3600;

/**
 * Simulates both venues over `[startTs, startTs + durationUs)`: a geometric random walk
 * fair value `F` on a grid of `stepUs`; each venue trades at Poisson times (its
 * `tradesPerSecond`) with a random taker side and an exponential size; the leader's price is
 * `F(t)`, the follower's `F(t - delayUs)` (the start value before the start), rounded to
 * `tick`.
 *
 * @throws {RangeError} for a non-positive duration or step, a negative delay, or a delay
 * longer than the duration.
 */
export function laggedVenueTrades(options: LaggedVenuesOptions): LaggedVenueMarket {
  const { startTs, durationUs, delayUs } = options;
  const stepUs = options.stepUs ?? 10_000;
  const tick = options.tick ?? 0.01;
  if (!(durationUs > 0)) throw new RangeError(`durationUs must be > 0, got ${durationUs}`);
  if (!(stepUs > 0)) throw new RangeError(`stepUs must be > 0, got ${stepUs}`);
  if (!(delayUs >= 0 && delayUs < durationUs)) {
    throw new RangeError(`delayUs must be in [0, durationUs), got ${delayUs}`);
  }
  const random = new SeededRandom(options.seed ?? 7);
  const steps = Math.ceil(durationUs / stepUs);
  const sigma = (options.volatility ?? 0.8) * Math.sqrt(stepUs / 1e6 / SECONDS_PER_YEAR);
  const path = new Float64Array(steps + 1);
  path[0] = options.price ?? 64_000;
  for (let i = 1; i <= steps; i++) path[i] = path[i - 1] * Math.exp(sigma * random.normal());
  const fair = (ts: number) =>
    path[Math.min(steps, Math.max(0, Math.floor((ts - startTs) / stepUs)))];
  const decimals = (String(tick).split(".")[1] ?? "").length;
  const round = (p: number) => Number((Math.round(p / tick) * tick).toFixed(decimals));
  const symbol = options.symbol ?? "BTC-USD";
  const venue = (v: LaggedVenue, lag: number, firstId: number): Trade[] => {
    const rate = v.tradesPerSecond ?? 20;
    const out: Trade[] = [];
    let ts = startTs + Math.floor(random.exponential(1e6 / rate));
    while (ts < startTs + durationUs) {
      out.push({
        kind: "trade",
        exchange: v.exchange,
        symbol,
        ts,
        recvTs: ts,
        id: String(firstId + out.length),
        price: round(fair(ts - lag)),
        size: Math.max(1e-8, Number(random.exponential(0.05).toFixed(8))),
        side: random.next() < 0.5 ? "buy" : "sell",
      });
      ts += 1 + Math.floor(random.exponential(1e6 / rate));
    }
    return out;
  };
  return {
    leader: venue(options.leader ?? { exchange: "sim-lead" }, 0, 1_000_000),
    follower: venue(options.follower ?? { exchange: "sim-lag" }, delayUs, 2_000_000),
    fair,
  };
}
