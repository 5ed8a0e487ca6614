/**
 * The backtester's instrument registry: one {@linkcode Inst} per exchange and symbol, the
 * configured (tradable) ones first, the ones only seen in the feed added as they appear.
 * The last instrument asked for by name (the strategy's context) and the last event's
 * instrument (the event loop) are found without the maps.
 * @module
 */
import type { MarketEvent } from "../market/types.ts";
import { OrderBook } from "../book/order_book.ts";
import type { ResolvedConfig } from "./config.ts";
import { SimulatedExchange } from "./exchange.ts";
import { type FeeSpec, feeSpecFor } from "./fees.ts";
import { queueModel } from "./queue.ts";
import { PositionBook } from "./_account.ts";
import type { SimOrder } from "./_sim_order.ts";
import type { InstrumentSpec } from "./strategy.ts";
import type { Liquidity } from "./types.ts";

/** Per instrument state. */
export interface Inst {
  readonly spec: InstrumentSpec;
  readonly tradable: boolean;
  readonly sim: SimulatedExchange;
  /** The strategy's view of the book (the exchange's own book when market data is instant). */
  readonly view: OrderBook;
  readonly fees: FeeSpec;
  readonly account: PositionBook;
  viewPosition: number;
  readonly markDue: number[];
  readonly markFill: number[];
  markHead: number;
}

/** What an instrument's simulated exchange tells the engine (its `ExchangeListener`, per instrument). */
export interface InstHooks {
  fill(inst: Inst, order: SimOrder, price: number, size: number, liq: Liquidity, ts: number): void;
  closed(
    inst: Inst,
    order: SimOrder,
    kind: "cancelled" | "rejected",
    reason: string,
    ts: number,
  ): void;
  accepted(inst: Inst, order: SimOrder, ts: number): void;
  triggered(inst: Inst, order: SimOrder, ts: number): void;
}

/** Options of {@linkcode Instruments}. */
export interface InstrumentsOptions {
  readonly config: Pick<ResolvedConfig, "queue" | "fees" | "sameBarClose">;
  /** Market data reaches the strategy at once: its view is the exchange's own book. */
  readonly mdZero: boolean;
  readonly hooks: InstHooks;
}

/** The instruments of one run, by exchange and symbol. */
export class Instruments {
  /** Every instrument, in the order added. */
  readonly list: Inst[] = [];
  readonly #options: InstrumentsOptions;
  readonly #byVenue = new Map<string, Map<string, Inst>>();
  #lastEx = "";
  #lastSym = "";
  #lastInst: Inst | undefined;
  #named: Inst | undefined;

  constructor(options: InstrumentsOptions) {
    this.#options = options;
  }

  /** The instrument of `exchange`/`symbol`, if tradable or seen. */
  get(exchange: string, symbol: string): Inst | undefined {
    const cached = this.#named;
    if (
      cached !== undefined && cached.spec.symbol === symbol && cached.spec.exchange === exchange
    ) {
      return cached;
    }
    const inst = this.#byVenue.get(exchange)?.get(symbol);
    if (inst !== undefined) this.#named = inst;
    return inst;
  }

  /** The instrument of `spec`, added (with its simulated exchange) when new. */
  add(spec: InstrumentSpec, tradable: boolean): Inst {
    let venue = this.#byVenue.get(spec.exchange);
    if (venue === undefined) this.#byVenue.set(spec.exchange, venue = new Map());
    const existing = venue.get(spec.symbol);
    if (existing !== undefined) return existing;
    const inst = this.#create(spec, tradable);
    venue.set(spec.symbol, inst);
    this.list.push(inst);
    return inst;
  }

  /** The instrument of a market event; one only seen in the feed is added, not tradable. */
  lookup(e: MarketEvent): Inst {
    if (e.symbol === this.#lastSym && e.exchange === this.#lastEx) return this.#lastInst!;
    const inst = this.get(e.exchange, e.symbol) ??
      this.add({ exchange: e.exchange, symbol: e.symbol }, false);
    this.#lastEx = e.exchange;
    this.#lastSym = e.symbol;
    this.#lastInst = inst;
    return inst;
  }

  #create(spec: InstrumentSpec, tradable: boolean): Inst {
    const { config, mdZero, hooks } = this.#options;
    const sim = new SimulatedExchange({
      queue: queueModel(config.queue),
      listener: {
        fill: (o, p, s, l, ts) => hooks.fill(inst, o, p, s, l, ts),
        closed: (o, kind, reason, ts) => hooks.closed(inst, o, kind, reason, ts),
        accepted: (o, ts) => hooks.accepted(inst, o, ts),
        triggered: (o, ts) => hooks.triggered(inst, o, ts),
      },
      sameBarClose: config.sameBarClose,
    });
    const inst: Inst = {
      spec,
      tradable,
      sim,
      view: mdZero ? sim.book : new OrderBook(),
      fees: feeSpecFor(config.fees, spec.exchange),
      account: new PositionBook(),
      viewPosition: 0,
      markDue: [],
      markFill: [],
      markHead: 0,
    };
    return inst;
  }
}
