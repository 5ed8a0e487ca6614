/**
 * The event-driven backtester: market events from a feed reach each instrument's
 * {@linkcode SimulatedExchange} at venue time and the strategy after the market-data
 * latency; orders reach the exchange after the order-entry latency, reports come back after
 * the response latency. Everything runs on one clock in one order, so the same feed, config
 * and seed give the same fills and the same action log, byte for byte, in any process.
 *
 * Order of things at one instant: scheduled items (deliveries, orders, reports, timers) in
 * the order they were scheduled, then the next market event. With zero latency a strategy
 * therefore acts on exactly the book it saw, before the next event.
 * @module
 */
import type { MarketEvent } from "../market/types.ts";
import { ActionLog } from "./action_log.ts";
import { type BacktestConfig, resolveConfig, type ResolvedConfig } from "./config.ts";
import { eventTime, type FeedSource, mergeFeeds, receiveTime } from "./feed.ts";
import { LatencyModel } from "./latency.ts";
import { ScheduleHeap } from "./_heap.ts";
import { type SimOrder, SimState } from "./_sim_order.ts";
import { type Inst, Instruments } from "./_instruments.ts";
import { applyReport, recordFill } from "./_ledger.ts";
import type { PositionRow, RunRecord } from "./_run_record.ts";
import { makeContext } from "./_context.ts";
import { callStrategy, strategyFailed } from "./_strategy_guard.ts";
import type { Strategy, TradingContext } from "./strategy.ts";
import type { Fill, Liquidity, Order, OrderReport, Timer } from "./types.ts";

export type { Inst } from "./_instruments.ts";

const enum Kind {
  Deliver,
  Arrive,
  Cancel,
  Amend,
  Report,
  Timer,
}

interface Task {
  time: number;
  seq: number;
  kind: Kind;
  inst: Inst | undefined;
  event: MarketEvent | undefined;
  order: SimOrder | undefined;
  report: OrderReport | undefined;
  timer: Timer | undefined;
  price: number;
  size: number;
}

/** The engine of one run (internal; use `backtest`). */
export class Engine {
  readonly config: ResolvedConfig;
  readonly strategy: Strategy;
  readonly log: ActionLog = new ActionLog();
  readonly ctx: TradingContext;
  readonly orders: Map<number, Order> = new Map();
  /** Pending and open orders, in id order. */
  open: Order[] = [];
  readonly fills: Fill[] = [];
  readonly markouts: number[] = [];
  readonly positions: PositionRow[] = [];
  readonly equityTs: number[] = [];
  readonly equity: number[] = [];
  readonly warnings: string[] = [];
  readonly instList: Inst[];
  now = -Infinity;
  cash: number;
  viewCash: number;
  stopped = false;
  error: string | undefined;
  nextOrderId = 0;
  nextTimerId = 0;
  readonly cancelledTimers: Set<number> = new Set();
  readonly #instruments: Instruments;
  readonly #heap = new ScheduleHeap<Task>();
  #seq = 0;
  readonly #md: LatencyModel;
  readonly #entry: LatencyModel;
  readonly #response: LatencyModel;
  readonly #mdZero: boolean;
  #events = 0;
  #outOfOrder = 0;
  #nextSample = -Infinity;

  constructor(config: BacktestConfig, strategy: Strategy) {
    this.config = resolveConfig(config);
    if (typeof strategy !== "object" || strategy === null || typeof strategy.name !== "string") {
      throw new TypeError("strategy must be an object with a name");
    }
    this.strategy = strategy;
    const { latency, seed } = this.config;
    this.#md = new LatencyModel(latency.marketData, seed);
    this.#entry = new LatencyModel(latency.orderEntry, seed + 1);
    this.#response = new LatencyModel(latency.response, seed + 2);
    this.#mdZero = this.#md.zero;
    this.cash = this.viewCash = this.config.initialCash;
    this.#instruments = new Instruments({
      config: this.config,
      mdZero: this.#mdZero,
      hooks: {
        fill: (inst, o, p, s, l, ts) => this.#onFill(inst, o, p, s, l, ts),
        closed: (inst, o, kind, reason, ts) => {
          this.log.append(ts, kind, { id: o.id, reason });
          this.#report(inst, { kind, orderId: o.id, ts, reason }, ts);
        },
        accepted: (inst, o, ts) => {
          this.log.append(ts, "accepted", { id: o.id });
          this.#report(inst, { kind: "accepted", orderId: o.id, ts }, ts);
        },
        triggered: (inst, o, ts) => {
          this.log.append(ts, "triggered", { id: o.id });
          this.#report(inst, { kind: "triggered", orderId: o.id, ts }, ts);
        },
      },
    });
    this.instList = this.#instruments.list;
    for (const spec of this.config.instruments) this.#instruments.add(spec, true);
    this.ctx = makeContext(this);
  }

  /** The instrument of `exchange`/`symbol`, if tradable or seen. */
  inst(exchange: string, symbol: string): Inst | undefined {
    return this.#instruments.get(exchange, symbol);
  }

  /** Runs the feed through; resolves with the raw record. */
  async run(sources: readonly FeedSource[]): Promise<RunRecord> {
    const s = this.strategy;
    this.log.append(0, "start", {
      strategy: s.name,
      version: s.version ?? "",
      params: s.params ?? {},
      config: this.config,
    });
    const md = this.config.latency.marketData;
    if (this.config.clock === "receive" && typeof md === "object" && md.kind === "recorded") {
      this.#warn(
        'clock "receive" with recorded market-data latency counts the latency twice: ' +
          "events already happen at their receive time",
      );
    }
    if (this.config.sameBarClose) {
      this.#warn(
        "sameBarClose: market orders fill at the close of the bar the strategy just saw, " +
          "a price it could not have traded at (look-ahead)",
      );
    }
    let started = false;
    const end = this.config.end ?? Infinity;
    const heap = this.#heap;
    const receive = this.config.clock === "receive";
    outer: for await (const batch of mergeFeeds(sources, receive ? receiveTime : eventTime)) {
      for (let i = 0; i < batch.length; i++) {
        const e = batch[i];
        let t = receive ? e.recvTs : e.kind === "bar" ? e.ts + e.interval : e.ts;
        if (t >= end) break outer;
        if (t < this.now) {
          this.#outOfOrder++;
          t = this.now;
        }
        if (!started) {
          started = true;
          this.now = t;
          this.#call(() => s.onStart?.(this.ctx));
        }
        if (heap.size > 0 && heap.peekTime() <= t) this.#drain(t);
        this.now = t;
        const inst = this.#instruments.lookup(e);
        this.#applyExchange(inst, e);
        this.#events++;
        if (inst.markHead < inst.markDue.length) this.#markouts(inst, t);
        if (t >= this.#nextSample) this.#sample(t);
        if (this.stopped) continue;
        if (this.#mdZero) this.deliver(inst, e);
        else this.#push(Kind.Deliver, this.#md.arrival(t, e), inst, e);
      }
    }
    return this.#finish(started);
  }

  #applyExchange(inst: Inst, e: MarketEvent): void {
    switch (e.kind) {
      case "book_change":
      case "book_snapshot":
        inst.sim.applyBook(e);
        break;
      case "trade":
        inst.sim.applyTrade(e, this.now);
        break;
      case "quote":
        inst.sim.applyQuote(e);
        break;
      case "bar":
        inst.sim.applyBar(e);
        break;
      case "status":
        if (e.status === "reset") {
          inst.sim.reset();
          this.log.append(this.now, "feed_reset", {
            exchange: e.exchange,
            symbol: e.symbol,
            reason: e.reason,
          });
        }
        break;
    }
  }

  /** Hands a market event to the strategy (its view of the book first). */
  deliver(inst: Inst, e: MarketEvent): void {
    const s = this.strategy;
    try {
      switch (e.kind) {
        case "book_change":
        case "book_snapshot":
          if (inst.view !== inst.sim.book) {
            if (e.kind === "book_snapshot") inst.view.applySnapshot(e.bids, e.asks);
            else inst.view.applyChange(e.bids, e.asks);
          }
          if (s.onBook !== undefined) s.onBook(e, this.ctx);
          break;
        case "trade":
          if (s.onTrade !== undefined) s.onTrade(e, this.ctx);
          break;
        case "quote":
          if (inst.view !== inst.sim.book && inst.view.bidDepth + inst.view.askDepth <= 2) {
            inst.view.applySnapshot([[e.bidPrice, e.bidSize]], [[e.askPrice, e.askSize]]);
          }
          if (s.onQuote !== undefined) s.onQuote(e, this.ctx);
          break;
        case "bar":
          if (s.onBar !== undefined) s.onBar(e, this.ctx);
          break;
        case "status":
          if (e.status === "reset" && inst.view !== inst.sim.book) inst.view.clear();
          if (s.onStatus !== undefined) s.onStatus(e, this.ctx);
          break;
      }
    } catch (err) {
      strategyFailed(this, err);
    }
  }

  /** Processes every scheduled item due at or before `t`. */
  #drain(t: number): void {
    const heap = this.#heap;
    while (heap.size > 0 && heap.peekTime() <= t) this.#runTask(heap.pop()!);
  }

  #runTask(task: Task): void {
    if (task.time > this.now) this.now = task.time;
    const inst = task.inst!;
    switch (task.kind) {
      case Kind.Deliver:
        if (!this.stopped) this.deliver(inst, task.event!);
        break;
      case Kind.Arrive:
        inst.sim.arrive(task.order!, this.now);
        break;
      case Kind.Cancel:
        if (!inst.sim.cancel(task.size, this.now)) {
          this.log.append(this.now, "cancel_rejected", { id: task.size, reason: "not open" });
        }
        break;
      case Kind.Amend:
        this.#amendArrives(inst, task);
        break;
      case Kind.Report:
        this.#receive(inst, task.report!);
        break;
      case Kind.Timer: {
        const timer = task.timer!;
        if (this.cancelledTimers.delete(timer.id) || this.stopped) break;
        this.#call(() => this.strategy.onTimer?.(timer, this.ctx));
        break;
      }
    }
  }

  #amendArrives(inst: Inst, task: Task): void {
    const o = task.order!;
    const price = task.price === task.price ? task.price : o.price;
    const size = task.size === task.size ? task.size : o.size;
    if (!inst.sim.amend(o.id, price, size, this.now)) {
      this.log.append(this.now, "amend_rejected", { id: o.id, reason: "not a resting limit" });
      return;
    }
    if (o.state === SimState.Done) return;
    this.log.append(this.now, "amended", { id: o.id, price: o.price, size: o.size });
    this.#report(inst, {
      kind: "amended",
      orderId: o.id,
      ts: this.now,
      price: o.price,
      size: o.size,
    }, this.now);
  }

  #push(
    kind: Kind,
    time: number,
    inst: Inst | undefined,
    event?: MarketEvent,
    extra?: Partial<Task>,
  ): void {
    this.#heap.push({
      time,
      seq: ++this.#seq,
      kind,
      inst,
      event,
      order: extra?.order,
      report: extra?.report,
      timer: extra?.timer,
      price: extra?.price ?? NaN,
      size: extra?.size ?? NaN,
    });
  }

  /** Sends an accepted order to its exchange (after the order-entry latency). */
  sendOrder(inst: Inst, o: SimOrder): void {
    this.#push(Kind.Arrive, this.#entry.arrival(this.now), inst, undefined, { order: o });
  }

  /** Sends a cancel to the exchange. */
  sendCancel(inst: Inst, id: number): void {
    this.#push(Kind.Cancel, this.#entry.arrival(this.now), inst, undefined, { size: id });
  }

  /** Sends an amendment (NaN keeps a field). */
  sendAmend(inst: Inst, o: SimOrder, price: number, size: number): void {
    this.#push(Kind.Amend, this.#entry.arrival(this.now), inst, undefined, {
      order: o,
      price,
      size,
    });
  }

  /** Schedules a timer. */
  addTimer(timer: Timer): void {
    this.#push(Kind.Timer, Math.max(timer.at, this.now), undefined, undefined, { timer });
  }

  /** A report to the strategy: `at` plus the response latency (local reports: at once). */
  #report(inst: Inst, report: OrderReport, at: number): void {
    this.#push(Kind.Report, this.#response.arrival(at), inst, undefined, { report });
  }

  /** A report decided locally (a risk rejection) reaches the strategy now. */
  localReport(inst: Inst | undefined, report: OrderReport): void {
    this.#push(Kind.Report, this.now, inst, undefined, { report });
  }

  #onFill(inst: Inst, o: SimOrder, price: number, size: number, liq: Liquidity, ts: number): void {
    const fill = recordFill(this, inst, o, price, size, liq, ts);
    this.#report(inst, { kind: "fill", orderId: o.id, ts, fill }, ts);
  }

  /** A report reaches the strategy: its view of the order, position and cash changes. */
  #receive(inst: Inst | undefined, r: OrderReport): void {
    applyReport(this, inst, r);
    if (this.stopped) return;
    const s = this.strategy;
    if (s.onOrder === undefined && s.onFill === undefined) return;
    try {
      s.onOrder?.(r, this.ctx);
      if (r.kind === "fill") s.onFill?.(r.fill, this.ctx);
    } catch (err) {
      strategyFailed(this, err);
    }
  }

  #markouts(inst: Inst, t: number): void {
    const mark = inst.sim.mark;
    while (inst.markHead < inst.markDue.length && inst.markDue[inst.markHead] <= t) {
      const f = this.fills[inst.markFill[inst.markHead++]];
      this.markouts[f.id - 1] = (f.side === "buy" ? 1 : -1) * (mark - f.price);
    }
  }

  #sample(t: number): void {
    let value = this.cash;
    for (const inst of this.instList) {
      const pos = inst.sim.position;
      if (pos !== 0) value += pos * inst.sim.mark;
    }
    this.equityTs.push(t);
    this.equity.push(value);
    const every = this.config.equityEvery;
    this.#nextSample = (Math.floor(t / every) + 1) * every;
  }

  /** Runs a strategy callback; a throw stops the strategy. */
  #call(fn: () => void): void {
    callStrategy(this, fn);
  }

  /** After a strategy error (see `_strategy_guard.ts`). */
  haltStrategy(): void {
    this.#cancelEverything("strategy_error");
  }

  #cancelEverything(reason: string): void {
    for (const inst of this.instList) {
      for (const o of inst.sim.liveOrders()) inst.sim.cancel(o.id, this.now, reason);
    }
  }

  #warn(message: string): void {
    this.warnings.push(message);
    this.log.append(this.now === -Infinity ? 0 : this.now, "warning", { message });
  }

  #finish(started: boolean): RunRecord {
    const last = this.now;
    if (started) {
      this.#drain(last);
      this.#call(() => this.strategy.onStop?.(this.ctx));
      this.#drainOrders(last);
      this.#cancelEverything("end of run");
      this.#drainOrders(last);
      const at = Math.max(this.now, last);
      if (this.equityTs.at(-1) === at) { // the last sample again: keep one, up to date
        this.equityTs.pop();
        this.equity.pop();
      }
      this.#sample(at);
    }
    this.log.append(started ? this.now : 0, "stop", {
      reason: this.error === undefined ? "end of data" : "strategy_error",
      events: this.#events,
      orders: this.orders.size,
      fills: this.fills.length,
      cash: this.cash,
      equity: this.equity.length > 0 ? this.equity[this.equity.length - 1] : this.cash,
      sha256: this.log.sha256(),
    });
    const s = this.strategy;
    return {
      config: this.config,
      strategy: { name: s.name, version: s.version ?? "", params: s.params ?? {} },
      orders: [...this.orders.values()],
      fills: this.fills,
      markouts: this.markouts,
      positions: this.positions,
      equityTs: this.equityTs,
      equity: this.equity,
      log: this.log,
      events: this.#events,
      outOfOrder: this.#outOfOrder,
      warnings: this.warnings,
      error: this.error,
    };
  }

  /** After the data: everything still scheduled except timers set beyond `last`. */
  #drainOrders(last: number): void {
    const heap = this.#heap;
    while (heap.size > 0) {
      const task = heap.pop()!;
      if (task.kind === Kind.Timer && task.time > last) continue;
      this.#runTask(task);
    }
  }
}
