/**
 * The {@linkcode TradingContext} a live runner gives its strategy: the same local checks as
 * the backtester (`checkRequest`, `amendProblem`), then the risk gate, then the broker.
 * @module
 */
import { amendProblem, checkRequest, newOrder, orderData } from "../backtest/_context.ts";
import type { InstrumentSpec, TradingContext } from "../backtest/strategy.ts";
import type { Order, OrderAmendment, OrderRequest } from "../backtest/types.ts";
import type { LiveRunner } from "./runner.ts";

/** The context a runner gives its strategy. */
export function liveContext(run: LiveRunner): TradingContext {
  const ctx: TradingContext = {
    now: () => run.now,
    book: (exchange, symbol) => run.inst(exchange, symbol)?.view,
    position: (exchange, symbol) => run.inst(exchange, symbol)?.viewPosition ?? 0,
    cash: () => run.viewCash,
    openOrders(exchange?: string, symbol?: string): readonly Order[] {
      if (exchange === undefined) return run.open;
      return run.open.filter((o) =>
        o.exchange === exchange && (symbol === undefined || o.symbol === symbol)
      );
    },
    order: (id) => run.orders.get(id),
    submit(r: OrderRequest): number {
      const id = ++run.nextOrderId;
      const now = run.now;
      const order = newOrder(id, r, now);
      run.orders.set(id, order);
      const inst = run.inst(r?.exchange, r?.symbol);
      let reason = run.stopped ? "strategy stopped" : checkRequest(r, inst);
      run.log.append(now, "order", orderData(order));
      if (reason === "") reason = run.riskCheck(r);
      if (reason !== "") {
        order.status = "rejected";
        order.reason = reason;
        run.log.append(now, "risk_reject", { id, reason });
        run.localReport({ kind: "rejected", orderId: id, ts: now, reason });
        return id;
      }
      run.open.push(order);
      run.sendOrder(order, r);
      return id;
    },
    amend(id: number, a: OrderAmendment): void {
      const o = run.orders.get(id);
      const sent = run.sent.has(id);
      const reason = amendProblem(o, a, sent ? run.inst(o!.exchange, o!.symbol) : undefined);
      run.log.append(run.now, "amend_request", {
        id,
        price: a?.price ?? null,
        size: a?.size ?? null,
      });
      if (reason !== "" || !sent) {
        run.log.append(run.now, "risk_reject", { id, reason });
        return;
      }
      run.broker.amend(id, a);
    },
    cancel(id: number): void {
      run.log.append(run.now, "cancel_request", { id });
      if (run.sent.has(id)) run.broker.cancel(id);
    },
    cancelAll(exchange?: string, symbol?: string): void {
      for (const o of [...ctx.openOrders(exchange, symbol)]) ctx.cancel(o.id);
    },
    setTimer(at: number, data?: unknown): number {
      if (typeof at !== "number" || !Number.isFinite(at)) {
        throw new RangeError(`timer time must be a finite number, got ${at}`);
      }
      return run.addTimer(at, data);
    },
    cancelTimer(id: number): void {
      run.cancelledTimers.add(id);
    },
    instruments: (): readonly InstrumentSpec[] => run.instruments,
  };
  return ctx;
}
