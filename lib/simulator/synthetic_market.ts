/**
 * A seeded **synthetic** market that speaks the Coinbase Exchange websocket protocol: a
 * random-walk fair value, an L2 book around it, and taker orders that trade against the
 * book. Its data is plausible, not real: it exists for the offline demo, tests and
 * benchmarks, and everything it produces is labelled synthetic where shown.
 * @module
 */
import { microsToIso } from "../market/time.ts";
import { SeededRandom } from "./random.ts";

/** One simulated product. */
export interface SyntheticProduct {
  /** Coinbase product id (`BTC-USD`). */
  readonly id: string;
  /** Starting fair value. */
  readonly price: number;
  /** Price increment (tick). */
  readonly tick: number;
  /** Size increment (lot). */
  readonly lot: number;
  /** Annualised volatility of the fair value (default 0.6). */
  readonly volatility?: number;
  /** Mean taker orders per simulated second (default 2). */
  readonly tradesPerSecond?: number;
}

/** Options for {@linkcode SyntheticMarket}. */
export interface SyntheticMarketOptions {
  readonly products: readonly SyntheticProduct[];
  /** Seed: the same seed and steps give the same messages. */
  readonly seed?: number;
  /** Simulated start time, microseconds since the epoch. */
  readonly startTs: number;
  /** Levels kept per side (default 50). */
  readonly depth?: number;
}

/** The default demo products. */
export const DEMO_PRODUCTS: readonly SyntheticProduct[] = [
  { id: "BTC-USD", price: 64_000, tick: 0.01, lot: 0.00000001, tradesPerSecond: 3 },
  { id: "ETH-USD", price: 3_100, tick: 0.01, lot: 0.00000001, tradesPerSecond: 2 },
];

const SECONDS_PER_YEAR = 365 * 24 * 3600;

interface ProductState {
  readonly spec: SyntheticProduct;
  readonly decimals: number;
  readonly lotDecimals: number;
  fair: number;
  /** Level price in ticks -> size in lots. */
  readonly bids: Map<number, number>;
  readonly asks: Map<number, number>;
  tradeId: number;
  sequence: number;
  nextTradeTs: number;
  lastHeartbeatTs: number;
  /** Changes since the last l2update, by "side:tick". */
  readonly pending: Map<string, [side: "buy" | "sell", tick: number]>;
}

function decimalsOf(step: number): number {
  const text = step.toFixed(12).replace(/0+$/, "");
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

/**
 * Advances the market in simulated time and returns Coinbase Exchange messages as JSON text.
 *
 * @example
 * ```ts
 * import { SyntheticMarket, DEMO_PRODUCTS } from "./synthetic_market.ts";
 * import assert from "node:assert/strict";
 * const market = new SyntheticMarket({ products: DEMO_PRODUCTS, seed: 1, startTs: 1.7e15 });
 * const messages = market.advance(10_000_000); // 10 simulated seconds
 * assert.ok(messages.some((m) => m.includes('"type":"match"')));
 * ```
 */
export class SyntheticMarket {
  readonly #random: SeededRandom;
  readonly #depth: number;
  readonly #products: ProductState[];
  #now: number;

  constructor(options: SyntheticMarketOptions) {
    if (options.products.length === 0) throw new RangeError("no products to simulate");
    this.#random = new SeededRandom(options.seed ?? 42);
    this.#depth = options.depth ?? 50;
    this.#now = options.startTs;
    this.#products = options.products.map((spec, i) => {
      const state: ProductState = {
        spec,
        decimals: decimalsOf(spec.tick),
        lotDecimals: decimalsOf(spec.lot),
        fair: spec.price,
        bids: new Map(),
        asks: new Map(),
        tradeId: 1_000_000 * (i + 1),
        sequence: 5_000_000 * (i + 1),
        nextTradeTs: options.startTs,
        lastHeartbeatTs: options.startTs,
        pending: new Map(),
      };
      this.#refill(state);
      state.pending.clear();
      return state;
    });
  }

  /** Simulated now, microseconds since the epoch. */
  get now(): number {
    return this.#now;
  }

  /** Product ids. */
  get productIds(): string[] {
    return this.#products.map((p) => p.spec.id);
  }

  /** The `snapshot` and `last_match` messages a new subscriber receives for `productId`. */
  subscribeMessages(productId: string): string[] {
    const p = this.#products.find((s) => s.spec.id === productId);
    if (p === undefined) return [];
    const side = (m: Map<number, number>, desc: boolean) =>
      [...m].sort((a, b) => desc ? b[0] - a[0] : a[0] - b[0]).map((
        [tick, lots],
      ) => [this.#px(p, tick), this.#sz(p, lots)]);
    return [
      JSON.stringify({
        type: "snapshot",
        product_id: p.spec.id,
        bids: side(p.bids, true),
        asks: side(p.asks, false),
      }),
      JSON.stringify({
        type: "last_match",
        trade_id: p.tradeId,
        maker_order_id: "synthetic",
        taker_order_id: "synthetic",
        side: "buy",
        size: this.#sz(p, 1000),
        price: this.#px(p, Math.round(p.fair / p.spec.tick)),
        product_id: p.spec.id,
        sequence: p.sequence,
        time: microsToIso(this.#now),
      }),
    ];
  }

  /** Advances simulated time by `micros`; returns the messages produced, in time order. */
  advance(micros: number): string[] {
    const out: string[] = [];
    const end = this.#now + micros;
    const step = 50_000; // 50 ms batches, like level2_batch
    while (this.#now < end) {
      const dt = Math.min(step, end - this.#now);
      this.#now += dt;
      for (const p of this.#products) this.#step(p, dt, out);
    }
    return out;
  }

  #px(p: ProductState, tick: number): string {
    return (tick * p.spec.tick).toFixed(p.decimals);
  }

  #sz(p: ProductState, lots: number): string {
    return (lots * p.spec.lot).toFixed(p.lotDecimals);
  }

  #set(p: ProductState, bid: boolean, tick: number, lots: number): void {
    const side = bid ? p.bids : p.asks;
    if (lots <= 0) side.delete(tick);
    else side.set(tick, lots);
    p.pending.set(`${bid ? "b" : "a"}${tick}`, [bid ? "buy" : "sell", tick]);
  }

  /** Typical level size in lots: about 0.05-2 units of the base asset for BTC-like lots. */
  #levelLots(p: ProductState): number {
    const unitLots = Math.round(1 / p.spec.lot);
    const units = 0.02 + this.#random.exponential(0.4) * (64_000 / p.spec.price) ** 0.5;
    return Math.max(1, Math.round(units * unitLots / 10) * 10);
  }

  #refill(p: ProductState): void {
    const fairTick = Math.round(p.fair / p.spec.tick);
    const halfSpread = Math.max(1, Math.round(p.fair * 0.00005 / p.spec.tick));
    // Drop levels that the fair value moved through (they were taken or cancelled).
    for (const tick of [...p.bids.keys()]) if (tick >= fairTick) this.#set(p, true, tick, 0);
    for (const tick of [...p.asks.keys()]) if (tick <= fairTick) this.#set(p, false, tick, 0);
    const gap = Math.max(1, Math.round(p.fair * 0.00002 / p.spec.tick));
    for (let i = 0; p.bids.size < this.#depth && i < this.#depth * 4; i++) {
      const tick = fairTick - halfSpread - i * gap;
      if (!p.bids.has(tick)) this.#set(p, true, tick, this.#levelLots(p));
    }
    for (let i = 0; p.asks.size < this.#depth && i < this.#depth * 4; i++) {
      const tick = fairTick + halfSpread + i * gap;
      if (!p.asks.has(tick)) this.#set(p, false, tick, this.#levelLots(p));
    }
    // Keep the configured depth: drop the farthest levels.
    trimFar(p.bids, this.#depth, true, (tick) => this.#set(p, true, tick, 0));
    trimFar(p.asks, this.#depth, false, (tick) => this.#set(p, false, tick, 0));
  }

  #step(p: ProductState, dt: number, out: string[]): void {
    const sigma = (p.spec.volatility ?? 0.6) * Math.sqrt(dt / 1e6 / SECONDS_PER_YEAR);
    p.fair *= Math.exp(sigma * this.#random.normal());
    this.#refill(p);
    // Size changes near the top: makers adding and cancelling.
    for (let k = 0; k < 2; k++) {
      const bid = this.#random.next() < 0.5;
      const side = bid ? p.bids : p.asks;
      const ticks = [...side.keys()].sort((a, b) => bid ? b - a : a - b).slice(0, 10);
      const tick = ticks[this.#random.int(0, ticks.length - 1)];
      if (tick !== undefined) this.#set(p, bid, tick, this.#levelLots(p));
    }
    // Taker orders arriving as a Poisson process.
    const mean = 1e6 / (p.spec.tradesPerSecond ?? 2);
    while (p.nextTradeTs <= this.#now) {
      this.#take(p, p.nextTradeTs, out);
      p.nextTradeTs += Math.max(1, Math.round(this.#random.exponential(mean)));
    }
    if (p.pending.size > 0) {
      const changes = [...p.pending.values()].map(([side, tick]) => {
        const lots = (side === "buy" ? p.bids : p.asks).get(tick) ?? 0;
        return [side, this.#px(p, tick), this.#sz(p, lots)];
      });
      p.pending.clear();
      out.push(JSON.stringify({
        type: "l2update",
        product_id: p.spec.id,
        changes,
        time: microsToIso(this.#now),
      }));
    }
    if (this.#now - p.lastHeartbeatTs >= 1_000_000) {
      p.lastHeartbeatTs = this.#now;
      out.push(JSON.stringify({
        type: "heartbeat",
        last_trade_id: p.tradeId,
        product_id: p.spec.id,
        sequence: p.sequence,
        time: microsToIso(this.#now),
      }));
    }
  }

  /** A taker order walks the opposite side of the book. */
  #take(p: ProductState, ts: number, out: string[]): void {
    const takerBuys = this.#random.next() < 0.5;
    const book = takerBuys ? p.asks : p.bids;
    let remaining = Math.max(1, Math.round(this.#levelLots(p) * (0.1 + this.#random.next())));
    const ticks = [...book.keys()].sort((a, b) => takerBuys ? a - b : b - a);
    for (const tick of ticks) {
      if (remaining <= 0) break;
      const available = book.get(tick)!;
      const filled = Math.min(available, remaining);
      remaining -= filled;
      this.#set(p, !takerBuys, tick, available - filled);
      p.tradeId++;
      p.sequence += 1 + this.#random.int(0, 3);
      out.push(JSON.stringify({
        type: "match",
        trade_id: p.tradeId,
        maker_order_id: "synthetic",
        taker_order_id: "synthetic",
        side: takerBuys ? "sell" : "buy", // Coinbase reports the maker's side
        size: this.#sz(p, filled),
        price: this.#px(p, tick),
        product_id: p.spec.id,
        sequence: p.sequence,
        time: microsToIso(ts),
      }));
    }
  }
}

function trimFar(
  side: Map<number, number>,
  depth: number,
  bid: boolean,
  remove: (tick: number) => void,
): void {
  if (side.size <= depth) return;
  const ticks = [...side.keys()].sort((a, b) => bid ? b - a : a - b);
  for (const tick of ticks.slice(depth)) remove(tick);
}
