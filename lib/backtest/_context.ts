/**
 * The simulated {@linkcode TradingContext}: the strategy's port into the backtester. Local
 * checks (the risk gate) run here; everything else goes to the exchange with latency.
 * @module
 */
import type { Engine, Inst } from "./engine.ts";
import type { SimOrder, SimState } from "./_sim_order.ts";
import type { InstrumentSpec, TradingContext } from "./strategy.ts";
import type { Order, OrderAmendment, OrderRequest } from "./types.ts";

const SIDES = new Set(["buy", "sell"]);
const TYPES = new Set(["market", "limit", "stop"]);

/** Why a request fails the local checks, or "" when it passes. */
export function checkRequest(
  r: OrderRequest,
  inst: Pick<Inst, "spec" | "tradable"> | undefined,
): string {
  if (inst === undefined || !inst.tradable) return "unknown instrument";
  if (!SIDES.has(r.side)) return `unknown side ${JSON.stringify(r.side)}`;
  if (!TYPES.has(r.type)) return `unknown order type ${JSON.stringify(r.type)}`;
  if (typeof r.size !== "number" || !(r.size > 0) || !Number.isFinite(r.size)) {
    return `size must be a positive number, got ${r.size}`;
  }
  const { tickSize, lotSize } = inst.spec;
  if (lotSize !== undefined && offGrid(r.size, lotSize)) {
    return `size ${r.size} is off lot ${lotSize}`;
  }
  if (r.type === "limit" && r.price === undefined) return "a limit order needs a price";
  if (r.type === "stop" && r.stopPrice === undefined) return "a stop order needs a stopPrice";
  for (const [name, p] of [["price", r.price], ["stopPrice", r.stopPrice]] as const) {
    if (p === undefined || (name === "price" && r.type === "market")) continue;
    if (typeof p !== "number" || !(p > 0) || !Number.isFinite(p)) {
      return `${name} must be a positive number, got ${p}`;
    }
    if (tickSize !== undefined && offGrid(p, tickSize)) {
      return `${name} ${p} is off tick ${tickSize}`;
    }
  }
  if (r.postOnly && r.type !== "limit") return "postOnly needs a limit order";
  const tif = r.timeInForce ?? "gtc";
  if (tif !== "gtc" && tif !== "ioc") return `unknown timeInForce ${JSON.stringify(tif)}`;
  if (r.postOnly && tif === "ioc") return "postOnly and ioc cannot go together";
  return "";
}

/** Whether `x` is not a whole multiple of `step` (to 1e-9 of a step). */
export function offGrid(x: number, step: number): boolean {
  const r = x / step;
  return Math.abs(r - Math.round(r)) > 1e-9 * Math.max(1, Math.abs(r)) + 1e-9;
}

/** The context the engine gives its strategy. */
export function makeContext(engine: Engine): TradingContext {
  const simOrders = new Map<number, SimOrder>();
  const instOf = new Map<number, Inst>();
  const ctx: TradingContext = {
    now: () => engine.now,
    book: (exchange, symbol) => engine.inst(exchange, symbol)?.view,
    position: (exchange, symbol) => engine.inst(exchange, symbol)?.viewPosition ?? 0,
    cash: () => engine.viewCash,
    openOrders(exchange?: string, symbol?: string): readonly Order[] {
      if (exchange === undefined) return engine.open;
      return engine.open.filter((o) =>
        o.exchange === exchange && (symbol === undefined || o.symbol === symbol)
      );
    },
    order: (id) => engine.orders.get(id),
    submit(r: OrderRequest): number {
      const id = ++engine.nextOrderId;
      const inst = engine.inst(r?.exchange, r?.symbol);
      const order = newOrder(id, r, engine.now);
      engine.orders.set(id, order);
      const reason = engine.stopped ? "strategy stopped" : checkRequest(r, inst);
      engine.log.append(engine.now, "order", orderData(order));
      if (reason !== "") {
        order.status = "rejected";
        order.reason = reason;
        engine.log.append(engine.now, "risk_reject", { id, reason });
        engine.localReport(inst, { kind: "rejected", orderId: id, ts: engine.now, reason });
        return id;
      }
      engine.open.push(order);
      const sim = simOrderOf(order);
      simOrders.set(id, sim);
      instOf.set(id, inst!);
      engine.sendOrder(inst!, sim);
      return id;
    },
    amend(id: number, a: OrderAmendment): void {
      const o = engine.orders.get(id);
      const sim = simOrders.get(id);
      const inst = instOf.get(id);
      const reason = amendProblem(o, a, inst);
      engine.log.append(engine.now, "amend_request", {
        id,
        price: a?.price ?? null,
        size: a?.size ?? null,
      });
      if (reason !== "" || sim === undefined || inst === undefined) {
        engine.log.append(engine.now, "risk_reject", { id, reason });
        return;
      }
      engine.sendAmend(inst, sim, a.price ?? NaN, a.size ?? NaN);
    },
    cancel(id: number): void {
      const inst = instOf.get(id);
      engine.log.append(engine.now, "cancel_request", { id });
      if (inst !== undefined) engine.sendCancel(inst, id);
    },
    cancelAll(exchange?: string, symbol?: string): void {
      for (const o of [...ctx.openOrders(exchange, symbol)]) ctx.cancel(o.id);
    },
    setTimer(at: number, data?: unknown): number {
      if (typeof at !== "number" || !Number.isFinite(at)) {
        throw new RangeError(`timer time must be a finite number, got ${at}`);
      }
      const id = ++engine.nextTimerId;
      engine.addTimer({ id, at, data });
      return id;
    },
    cancelTimer(id: number): void {
      engine.cancelledTimers.add(id);
    },
    instruments: (): readonly InstrumentSpec[] => engine.config.instruments,
  };
  return ctx;
}

/** The simulator's working state of a newly accepted order. */
function simOrderOf(order: Order): SimOrder {
  return {
    id: order.id,
    sign: order.side === "buy" ? 1 : -1,
    type: order.type,
    price: order.price,
    stopPrice: order.stopPrice,
    size: order.size,
    filled: 0,
    timeInForce: order.type === "market" ? "ioc" : order.timeInForce,
    postOnly: order.postOnly,
    reduceOnly: order.reduceOnly,
    state: 0 as SimState,
    ahead: 0,
    levelSize: 0,
    traded: 0,
  };
}

/** Why an amendment fails the local checks, or "" when it passes. */
export function amendProblem(
  o: Order | undefined,
  a: OrderAmendment,
  inst: Pick<Inst, "spec"> | undefined,
): string {
  if (o === undefined || inst === undefined) return "unknown order";
  if (o.status !== "open" && o.status !== "pending") return `order is ${o.status}`;
  if (o.type !== "limit") return "only limit orders can be amended";
  const { price, size } = a ?? {};
  if (price !== undefined) {
    if (!(price > 0) || !Number.isFinite(price)) return `price must be positive, got ${price}`;
    const tick = inst.spec.tickSize;
    if (tick !== undefined && offGrid(price, tick)) return `price ${price} is off tick ${tick}`;
  }
  if (size !== undefined && (!(size > 0) || !Number.isFinite(size))) {
    return `size must be positive, got ${size}`;
  }
  return "";
}

/** An order as the action log records it. */
export function orderData(o: Order): Record<string, unknown> {
  return {
    id: o.id,
    exchange: o.exchange,
    symbol: o.symbol,
    side: o.side,
    type: o.type,
    price: o.price,
    stopPrice: o.stopPrice,
    size: o.size,
    timeInForce: o.timeInForce,
    postOnly: o.postOnly,
    reduceOnly: o.reduceOnly,
    tag: o.tag,
  };
}

/**
 * A new order from a strategy's request, before any check (the backtester and the live
 * runner both make their orders here, so a strategy sees the same order in either).
 */
export function newOrder(id: number, r: OrderRequest, now: number): Order {
  return {
    id,
    exchange: String(r?.exchange),
    symbol: String(r?.symbol),
    side: r?.side,
    type: r?.type,
    price: r?.type === "market" ? NaN : r?.price ?? NaN,
    stopPrice: r?.stopPrice ?? NaN,
    size: r?.size,
    filled: 0,
    avgPrice: NaN,
    timeInForce: r?.timeInForce ?? "gtc",
    postOnly: r?.postOnly ?? false,
    reduceOnly: r?.reduceOnly ?? false,
    status: "pending",
    reason: "",
    submittedAt: now,
    updatedAt: now,
    tag: r?.tag ?? "",
  };
}
