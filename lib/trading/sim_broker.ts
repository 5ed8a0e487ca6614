/**
 * A simulated broker: the backtester's fill model (L2 walk, queue position, latency, fees;
 * `lib/backtest/exchange.ts`, `queue.ts`, `latency.ts`, `fees.ts`) applied to the live books
 * it is fed, on the run's {@linkcode Scheduler}. With the same seed and configuration it
 * draws the same latencies as the backtester (order entry `seed + 1`, response `seed + 2`), so
 * a replay through it makes the same fills as a backtest.
 * @module
 */
import type { MarketEvent } from "../market/types.ts";
import { type ExchangeListener, SimulatedExchange } from "../backtest/exchange.ts";
import { feeOf, type FeeSchedule, type FeeSpec, feeSpecFor } from "../backtest/fees.ts";
import { LatencyModel, type LatencySpec } from "../backtest/latency.ts";
import { queueModel, type QueueSpec } from "../backtest/queue.ts";
import { PositionBook } from "../backtest/_account.ts";
import { type SimOrder, SimState } from "../backtest/_sim_order.ts";
import type { InstrumentSpec } from "../backtest/strategy.ts";
import type { Liquidity, OrderAmendment, OrderReport } from "../backtest/types.ts";
import type {
  Broker,
  BrokerAccount,
  BrokerListener,
  BrokerOrder,
  BrokerOrderRequest,
  BrokerPosition,
} from "./broker.ts";
import { Scheduler } from "./scheduler.ts";

/** Options of {@linkcode SimBroker}. */
export interface SimBrokerOptions {
  /** Instruments it trades; market events of others are ignored. */
  readonly instruments: readonly InstrumentSpec[];
  /** The run's scheduler (shared with the runner); default its own, on the event clock. */
  readonly scheduler?: Scheduler;
  /** Order entry and response latencies in microseconds (default 0 each). */
  readonly latency?: { readonly orderEntry?: LatencySpec; readonly response?: LatencySpec };
  /** Queue model (default conservative). */
  readonly queue?: QueueSpec;
  readonly fees?: FeeSchedule;
  /** Seed of the latency draws (default 1, as the backtester). */
  readonly seed?: number;
  /** Starting cash (default 1,000,000). */
  readonly initialCash?: number;
}

interface Venue {
  readonly spec: InstrumentSpec;
  readonly sim: SimulatedExchange;
  readonly fees: FeeSpec;
  readonly account: PositionBook;
}

/** A broker that simulates its venue on live (or replayed) books. */
export class SimBroker implements Broker {
  readonly name = "sim";
  readonly scheduler: Scheduler;
  /** Cash at the venue. */
  cash: number;
  readonly #venues = new Map<string, Venue>();
  readonly #orders = new Map<number, { venue: Venue; sim: SimOrder; clientOrderId: string }>();
  readonly #listeners = new Set<BrokerListener>();
  readonly #entry: LatencyModel;
  readonly #response: LatencyModel;
  #fills = 0;

  constructor(options: SimBrokerOptions) {
    if (!Array.isArray(options?.instruments)) {
      throw new TypeError("instruments must be an array of { exchange, symbol }");
    }
    this.scheduler = options.scheduler ?? new Scheduler();
    const seed = options.seed ?? 1;
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    this.#entry = new LatencyModel(options.latency?.orderEntry ?? 0, seed + 1);
    this.#response = new LatencyModel(options.latency?.response ?? 0, seed + 2);
    this.cash = options.initialCash ?? 1_000_000;
    const queue = queueModel(options.queue ?? { kind: "conservative" });
    for (const spec of options.instruments) {
      const key = keyOf(spec.exchange, spec.symbol);
      if (this.#venues.has(key)) continue;
      const listener = this.#listenerFor(() => venue);
      const venue: Venue = {
        spec,
        sim: new SimulatedExchange({ queue, listener }),
        fees: feeSpecFor(options.fees, spec.exchange),
        account: new PositionBook(),
      };
      this.#venues.set(key, venue);
    }
  }

  /** The simulated exchange of an instrument (its book is the venue's book). */
  exchange(exchange: string, symbol: string): SimulatedExchange | undefined {
    return this.#venues.get(keyOf(exchange, symbol))?.sim;
  }

  subscribe(listener: BrokerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onMarket(e: MarketEvent, now: number): void {
    const venue = this.#venues.get(keyOf(e.exchange, e.symbol));
    if (venue === undefined) return;
    const sim = venue.sim;
    switch (e.kind) {
      case "book_change":
      case "book_snapshot":
        sim.applyBook(e);
        break;
      case "trade":
        sim.applyTrade(e, now);
        break;
      case "quote":
        sim.applyQuote(e);
        break;
      case "bar":
        sim.applyBar(e);
        break;
      case "status":
        if (e.status === "reset") sim.reset();
        break;
    }
  }

  submit(r: BrokerOrderRequest): void {
    const venue = this.#venues.get(keyOf(r.exchange, r.symbol));
    if (venue === undefined) {
      const ts = this.scheduler.now;
      this.#emitVenue("rejected", ts, { id: r.id, reason: "unknown instrument" });
      this.#report({ kind: "rejected", orderId: r.id, ts, reason: "unknown instrument" }, ts);
      return;
    }
    const sim: SimOrder = {
      id: r.id,
      sign: r.side === "buy" ? 1 : -1,
      type: r.type,
      price: r.type === "market" ? NaN : r.price ?? NaN,
      stopPrice: r.stopPrice ?? NaN,
      size: r.size,
      filled: 0,
      timeInForce: r.type === "market" ? "ioc" : r.timeInForce ?? "gtc",
      postOnly: r.postOnly ?? false,
      reduceOnly: r.reduceOnly ?? false,
      state: 0 as SimState,
      ahead: 0,
      levelSize: 0,
      traded: 0,
    };
    this.#orders.set(r.id, { venue, sim, clientOrderId: r.clientOrderId });
    const s = this.scheduler;
    s.at(this.#entry.arrival(s.now), () => venue.sim.arrive(sim, s.now));
  }

  amend(id: number, a: OrderAmendment): void {
    const entry = this.#orders.get(id);
    if (entry === undefined) return;
    const s = this.scheduler;
    const price = a?.price ?? NaN;
    const size = a?.size ?? NaN;
    s.at(this.#entry.arrival(s.now), () => {
      const o = entry.sim;
      const p = price === price ? price : o.price;
      const z = size === size ? size : o.size;
      if (!entry.venue.sim.amend(id, p, z, s.now)) {
        this.#emitVenue("amend_rejected", s.now, { id, reason: "not a resting limit" });
        return;
      }
      if (o.state === SimState.Done) return;
      this.#emitVenue("amended", s.now, { id, price: o.price, size: o.size });
      this.#report(
        { kind: "amended", orderId: id, ts: s.now, price: o.price, size: o.size },
        s.now,
      );
    });
  }

  cancel(id: number): void {
    const entry = this.#orders.get(id);
    if (entry === undefined) return;
    const s = this.scheduler;
    s.at(this.#entry.arrival(s.now), () => {
      if (!entry.venue.sim.cancel(id, s.now)) {
        this.#emitVenue("cancel_rejected", s.now, { id, reason: "not open" });
      }
    });
  }

  /** Cancels every live order at the venue at once (no order-entry latency). */
  cancelAll(reason: string): void {
    const now = this.scheduler.now;
    for (const venue of this.#venues.values()) {
      for (const o of venue.sim.liveOrders()) venue.sim.cancel(o.id, now, reason);
    }
  }

  openOrders(): Promise<readonly BrokerOrder[]> {
    const out: BrokerOrder[] = [];
    for (const venue of this.#venues.values()) {
      for (const o of venue.sim.liveOrders()) {
        out.push({
          id: o.id,
          clientOrderId: this.#orders.get(o.id)!.clientOrderId,
          exchange: venue.spec.exchange,
          symbol: venue.spec.symbol,
          side: o.sign > 0 ? "buy" : "sell",
          price: o.price,
          size: o.size,
          filled: o.filled,
        });
      }
    }
    return Promise.resolve(out);
  }

  positions(): Promise<readonly BrokerPosition[]> {
    const out: BrokerPosition[] = [];
    for (const v of this.#venues.values()) {
      if (v.sim.position === 0) continue;
      out.push({
        exchange: v.spec.exchange,
        symbol: v.spec.symbol,
        position: v.sim.position,
        avgPrice: v.account.avgPrice,
      });
    }
    return Promise.resolve(out);
  }

  account(): Promise<BrokerAccount> {
    let equity = this.cash;
    for (const v of this.#venues.values()) {
      if (v.sim.position !== 0) equity += v.sim.position * v.sim.mark;
    }
    return Promise.resolve({ cash: this.cash, equity });
  }

  close(): Promise<void> {
    this.#listeners.clear();
    return Promise.resolve();
  }

  #listenerFor(venue: () => Venue): ExchangeListener {
    return {
      fill: (o, price, size, liquidity, ts) => this.#onFill(venue(), o, price, size, liquidity, ts),
      closed: (o, kind, reason, ts) => {
        this.#emitVenue(kind, ts, { id: o.id, reason });
        this.#report({ kind, orderId: o.id, ts, reason }, ts);
      },
      accepted: (o, ts) => {
        this.#emitVenue("accepted", ts, { id: o.id });
        this.#report({ kind: "accepted", orderId: o.id, ts }, ts);
      },
      triggered: (o, ts) => {
        this.#emitVenue("triggered", ts, { id: o.id });
        this.#report({ kind: "triggered", orderId: o.id, ts }, ts);
      },
    };
  }

  #onFill(v: Venue, o: SimOrder, price: number, size: number, liq: Liquidity, ts: number): void {
    const fee = feeOf(v.fees, liq, price, size);
    this.cash -= o.sign * price * size + fee;
    v.account.apply(o.sign * size, price);
    const fill = {
      id: ++this.#fills,
      orderId: o.id,
      exchange: v.spec.exchange,
      symbol: v.spec.symbol,
      side: o.sign > 0 ? "buy" as const : "sell" as const,
      price,
      size,
      fee,
      liquidity: liq,
      ts,
    };
    this.#emitVenue("fill", ts, {
      id: fill.id,
      order: o.id,
      side: fill.side,
      price,
      size,
      fee,
      liquidity: liq,
      position: v.sim.position,
    });
    this.#report({ kind: "fill", orderId: o.id, ts, fill }, ts);
  }

  #emitVenue(action: string, ts: number, data: Record<string, unknown>): void {
    for (const l of this.#listeners) l.venue(action, ts, data);
  }

  /** A report reaches the trader after the response latency. */
  #report(report: OrderReport, at: number): void {
    this.scheduler.at(this.#response.arrival(at), () => {
      for (const l of this.#listeners) l.report(report);
    });
  }
}

function keyOf(exchange: string, symbol: string): string {
  return `${exchange}\u0000${symbol}`;
}
