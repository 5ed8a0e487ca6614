/**
 * The books of a run: what a fill does to cash, positions, the fills and the action log
 * (exchange side, at fill time), and what a report does to the strategy's view of its
 * orders, position and cash (strategy side, when the report arrives).
 * @module
 */
import { addSize } from "./_account.ts";
import type { Engine, Inst } from "./engine.ts";
import { feeOf } from "./fees.ts";
import type { SimOrder } from "./_sim_order.ts";
import type { Fill, Liquidity, Order, OrderReport } from "./types.ts";

/** Books a fill at the exchange: cash, position, fill row, markout slot, log entry. */
export function recordFill(
  engine: Engine,
  inst: Inst,
  o: SimOrder,
  price: number,
  size: number,
  liquidity: Liquidity,
  ts: number,
): Fill {
  const fee = feeOf(inst.fees, liquidity, price, size);
  engine.cash -= o.sign * price * size + fee;
  const realized = inst.account.apply(o.sign * size, price);
  const fill: Fill = {
    id: engine.fills.length + 1,
    orderId: o.id,
    exchange: inst.spec.exchange,
    symbol: inst.spec.symbol,
    side: o.sign > 0 ? "buy" : "sell",
    price,
    size,
    fee,
    liquidity,
    ts,
  };
  engine.fills.push(fill);
  engine.markouts.push(NaN);
  inst.markDue.push(ts + engine.config.markoutHorizon);
  inst.markFill.push(fill.id - 1);
  engine.positions.push({
    ts,
    exchange: fill.exchange,
    symbol: fill.symbol,
    position: inst.sim.position,
    cash: engine.cash,
    realized,
  });
  engine.log.append(ts, "fill", {
    id: fill.id,
    order: o.id,
    side: fill.side,
    price,
    size,
    fee,
    liquidity,
    position: inst.sim.position,
  });
  return fill;
}

/** What {@linkcode applyReport} updates: the strategy's view of its orders and cash. */
export type ViewBooks = Pick<Engine, "orders" | "now" | "open" | "viewCash">;

/** Updates the strategy's view when a report reaches it (the engine's, or a live runner's). */
export function applyReport(
  engine: ViewBooks,
  inst: Pick<Inst, "viewPosition"> | undefined,
  r: OrderReport,
): void {
  const o = engine.orders.get(r.orderId);
  if (o === undefined) return;
  o.updatedAt = engine.now;
  switch (r.kind) {
    case "accepted":
      if (o.status === "pending") o.status = "open";
      break;
    case "fill": {
      const f = r.fill;
      const sign = f.side === "buy" ? 1 : -1;
      o.avgPrice = o.filled === 0
        ? f.price
        : (o.avgPrice * o.filled + f.price * f.size) / (o.filled + f.size);
      o.filled = addSize(o.filled, f.size);
      // Partial sizes may not sum to the order's size to the last bit.
      if (o.filled >= o.size || o.size - o.filled <= 1e-9 * o.size) {
        o.filled = o.size;
        close(engine, o, "filled", "");
      }
      if (inst !== undefined) inst.viewPosition = addSize(inst.viewPosition, sign * f.size);
      engine.viewCash -= sign * f.price * f.size + f.fee;
      break;
    }
    case "cancelled":
    case "rejected":
      close(engine, o, r.kind, r.reason);
      break;
    case "amended":
      o.price = r.price;
      o.size = r.size;
      break;
  }
}

function close(engine: ViewBooks, o: Order, status: Order["status"], reason: string): void {
  o.status = status;
  o.reason = reason;
  const i = engine.open.indexOf(o);
  if (i >= 0) engine.open.splice(i, 1);
}
