/**
 * The live runner: an unchanged `lib/backtest` {@linkcode Strategy} on a live (or replayed)
 * `MarketEvent` stream, its orders through a {@linkcode Broker}, every action in the same
 * hash-chained action log as the backtester (orders, amends, cancels, venue reports, fills,
 * risk rejections, errors, the kill switch).
 *
 * Per event: tasks due (orders in flight, reports, timers) run first, then the broker's venue
 * sees the event, then the strategy's book and the strategy (at once, or after the market-data
 * latency when one is set) and what it sent goes out at once. On the event clock with a {@linkcode SimBroker} this is the backtester's order
 * of things, so a replay makes the same orders as a backtest.
 *
 * Stopping: `stop()` (or the end of the feed) lets the strategy's `onStop` run, then cancels
 * every open order; `kill()` cancels every open order at once and stops without asking the
 * strategy.
 * @module
 */
import type { MarketEvent } from "../market/types.ts";
import { OrderBook } from "../book/order_book.ts";
import { type ActionEntry, ActionLog, parseLine } from "../backtest/action_log.ts";
import { applyReport } from "../backtest/_ledger.ts";
import { callStrategy, strategyFailed } from "../backtest/_strategy_guard.ts";
import type { FeedSource } from "../backtest/feed.ts";
import type { InstrumentSpec, Strategy, TradingContext } from "../backtest/strategy.ts";
import type { Fill, Order, OrderReport, OrderRequest } from "../backtest/types.ts";
import { LatencyModel } from "../backtest/latency.ts";
import type { Broker } from "./broker.ts";
import { checkRisk, type Exposure, type RiskLimits, validateLimits } from "./risk.ts";
import { Scheduler } from "./scheduler.ts";
import { liveContext } from "./_live_context.ts";
import { type RunnerPosition, type RunnerUpdate, Watchers } from "./watchers.ts";

export type { KillOptions, LiveInst, LiveRunnerOptions, LiveRunRecord } from "./runner_types.ts";
import type { KillOptions, LiveInst, LiveRunnerOptions, LiveRunRecord } from "./runner_types.ts";

/** Runs one strategy live. */
export class LiveRunner {
  readonly strategy: Strategy;
  readonly broker: Broker;
  readonly scheduler: Scheduler;
  readonly instruments: readonly InstrumentSpec[];
  readonly log: ActionLog = new ActionLog();
  readonly ctx: TradingContext;
  readonly orders: Map<number, Order> = new Map();
  /** Pending and open orders, in id order. */
  open: Order[] = [];
  /** Ids of orders handed to the broker. */
  readonly sent: Set<number> = new Set();
  readonly fills: Fill[] = [];
  readonly cancelledTimers: Set<number> = new Set();
  readonly risk: RiskLimits;
  readonly initialCash: number;
  viewCash: number;
  nextOrderId = 0;
  stopped = false;
  error: string | undefined;
  readonly #insts = new Map<string, LiveInst>();
  readonly #receive: boolean;
  readonly #runId: string;
  readonly #config: Readonly<Record<string, unknown>>;
  readonly #resume: readonly ActionEntry[];
  readonly #reconcile: boolean;
  readonly #recent: number[] = [];
  #nextTimerId = 0;
  #events = 0;
  #started = false;
  #reason = "";
  #wakeUp: (() => void) | undefined;
  readonly #md: LatencyModel;
  readonly #watchers = new Watchers();
  #done = false;

  constructor(options: LiveRunnerOptions) {
    const s = options?.strategy;
    if (typeof s !== "object" || s === null || typeof s.name !== "string") {
      throw new TypeError("strategy must be an object with a name");
    }
    if (typeof options.broker?.submit !== "function") throw new TypeError("broker is required");
    if (!Array.isArray(options.instruments)) {
      throw new TypeError("instruments must be an array of { exchange, symbol }");
    }
    this.strategy = s;
    this.broker = options.broker;
    this.scheduler = options.scheduler ?? new Scheduler();
    this.instruments = options.instruments;
    this.risk = validateLimits(options.risk ?? {});
    this.initialCash = this.viewCash = options.initialCash ?? 1_000_000;
    this.#receive = (options.eventTime ?? "venue") === "receive";
    this.#runId = options.runId ?? "run";
    this.#config = options.config ?? {};
    const lines = typeof options.resume === "string"
      ? options.resume.split("\n")
      : options.resume ?? [];
    this.#resume = lines.filter((l) => l.trim() !== "").map(parseLine);
    this.#reconcile = options.reconcile ?? options.resume !== undefined;
    const seed = options.seed ?? 1;
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    this.#md = new LatencyModel(options.marketDataLatency ?? 0, seed);
    for (const spec of options.instruments) this.#addInst(spec, true);
    this.ctx = liveContext(this);
  }

  /** The run's current time, microseconds. */
  get now(): number {
    return this.scheduler.now;
  }

  /** The instrument's view, if tradable or seen. */
  inst(exchange: string, symbol: string): LiveInst | undefined {
    return this.#insts.get(`${exchange}\u0000${symbol}`);
  }

  /** Whether `run` has ended (its record is out). */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Calls `fn` on every order change (sent, accepted, filled, amended, cancelled, rejected),
   * every fill the strategy hears of, and once when the run has ended. A throwing watcher is
   * ignored. Returns the function that stops watching.
   */
  watch(fn: (update: RunnerUpdate) => void): () => void {
    return this.#watchers.add(fn);
  }

  /** Positions of the strategy's view (non-zero ones), each marked at its book's mid. */
  positions(): RunnerPosition[] {
    const out: RunnerPosition[] = [];
    for (const inst of this.#insts.values()) {
      if (inst.viewPosition === 0) continue;
      const { exchange, symbol } = inst.spec;
      out.push({ exchange, symbol, position: inst.viewPosition, mark: inst.view.mid });
    }
    return out;
  }

  /** Runs the strategy over `feed` until it ends, `stop()` or `kill()`. */
  async run(feed: FeedSource): Promise<LiveRunRecord> {
    const s = this.strategy;
    this.log.append(0, "start", {
      strategy: s.name,
      version: s.version ?? "",
      params: s.params ?? {},
      config: {
        ...this.#config,
        broker: this.broker.name,
        instruments: this.instruments,
        risk: this.risk,
        clock: this.scheduler.mode,
      },
    });
    const unsubscribe = this.broker.subscribe({
      venue: (action, ts, data) => this.log.append(ts, action, data),
      report: (r) => this.#receiveReport(r),
    });
    if (this.#resume.length > 0) this.#resumeFrom(this.#resume);
    if (this.#reconcile) await this.#reconcileWithBroker();
    const stopped = new Promise<void>((resolve) => this.#wakeUp = resolve);
    const it = eventsOf(feed);
    try {
      while (!this.stopped) {
        const next = await Promise.race([it.next(), stopped.then(() => undefined)]);
        if (next === undefined || next.done) break;
        this.#onEvent(next.value);
      }
    } finally {
      it.return?.(undefined);
    }
    await this.#finish();
    unsubscribe();
    this.scheduler.close();
    this.#done = true;
    this.#watchers.notify({ type: "stopped", reason: this.#reason });
    return {
      orders: [...this.orders.values()],
      fills: this.fills,
      log: this.log,
      reason: this.#reason,
      error: this.error,
      events: this.#events,
    };
  }

  #resumeFrom(entries: readonly ActionEntry[]): void {
    let last = 0;
    for (const e of entries) {
      if (e.action === "order" && typeof e.data.id === "number") last = Math.max(last, e.data.id);
    }
    this.nextOrderId = last;
    const tail = entries[entries.length - 1];
    this.log.append(0, "resume", { entries: entries.length, head: tail.hash, lastOrderId: last });
  }

  /** Positions from the broker; open orders an earlier run of this id left are cancelled. */
  async #reconcileWithBroker(): Promise<void> {
    const [positions, open] = await Promise.all([
      this.broker.positions(),
      this.broker.openOrders(),
    ]);
    for (const p of positions) {
      const inst = this.inst(p.exchange, p.symbol) ??
        this.#addInst({ exchange: p.exchange, symbol: p.symbol }, false);
      inst.viewPosition = p.position;
    }
    const mine = open.filter((o) => o.clientOrderId.startsWith(`${this.#runId}-`));
    this.log.append(0, "reconcile", {
      positions: positions.map((p) => ({ ...p })),
      openOrders: open.map((o) => ({ ...o })),
    });
    for (const o of mine) {
      this.log.append(0, "reconcile_cancel", { id: o.id, clientOrderId: o.clientOrderId });
      this.broker.cancel(o.id);
    }
  }

  /** A clean stop: the strategy's `onStop` runs, then every open order is cancelled. */
  stop(): void {
    if (this.#reason === "") this.#reason = "stopped";
    this.#wakeUp?.();
  }

  /**
   * The kill switch: cancels every open order at once and stops; logged with `reason` and,
   * when given, `by` (who pulled it: a token's name or a JWT subject, never a secret).
   */
  kill(reason = "kill switch", options: KillOptions = {}): void {
    if (this.stopped && this.#reason !== "") return;
    const by = options.by;
    if (by !== undefined && typeof by !== "string") {
      throw new TypeError("kill: by must be a string");
    }
    this.log.append(
      this.now === -Infinity ? 0 : this.now,
      "kill",
      by === undefined ? { reason } : { reason, by },
    );
    this.#reason = reason;
    this.stopped = true;
    this.broker.cancelAll(reason);
    this.#wakeUp?.();
  }

  #onEvent(e: MarketEvent): void {
    const sch = this.scheduler;
    let t = sch.mode === "wall"
      ? sch.wallNow()
      : this.#receive
      ? e.recvTs
      : e.kind === "bar"
      ? e.ts + e.interval
      : e.ts;
    if (t < sch.now) t = sch.now;
    if (!this.#started) {
      this.#started = true;
      sch.now = t;
      this.#call(() => this.strategy.onStart?.(this.ctx));
    }
    sch.drain(t);
    if (e.kind === "status" && e.status === "reset") {
      this.log.append(t, "feed_reset", {
        exchange: e.exchange,
        symbol: e.symbol,
        reason: e.reason,
      });
    }
    this.broker.onMarket?.(e, t);
    this.#events++;
    if (!this.stopped) {
      if (this.#md.zero) this.#deliver(e);
      else sch.at(this.#md.arrival(t, e), () => this.stopped || this.#deliver(e));
    }
    sch.drain(t); // what the strategy sent with no latency goes out now
  }

  #deliver(e: MarketEvent): void {
    const s = this.strategy;
    const inst = this.inst(e.exchange, e.symbol) ??
      this.#addInst({ exchange: e.exchange, symbol: e.symbol }, false);
    try {
      switch (e.kind) {
        case "book_change":
        case "book_snapshot":
          if (e.kind === "book_snapshot") inst.view.applySnapshot(e.bids, e.asks);
          else inst.view.applyChange(e.bids, e.asks);
          s.onBook?.(e, this.ctx);
          break;
        case "trade":
          s.onTrade?.(e, this.ctx);
          break;
        case "quote":
          if (inst.view.bidDepth + inst.view.askDepth <= 2) {
            inst.view.applySnapshot([[e.bidPrice, e.bidSize]], [[e.askPrice, e.askSize]]);
          }
          s.onQuote?.(e, this.ctx);
          break;
        case "bar":
          s.onBar?.(e, this.ctx);
          break;
        case "status":
          if (e.status === "reset") inst.view.clear();
          s.onStatus?.(e, this.ctx);
          break;
      }
    } catch (err) {
      strategyFailed(this, err);
    }
  }

  #receiveReport(r: OrderReport): void {
    const o = this.orders.get(r.orderId);
    const inst = o === undefined ? undefined : this.inst(o.exchange, o.symbol);
    applyReport(this, inst, r);
    if (r.kind === "fill") this.fills.push(r.fill);
    if (this.#watchers.size > 0) {
      if (o !== undefined) this.#watchers.notify({ type: "order", order: o });
      if (r.kind === "fill") this.#watchers.notify({ type: "fill", fill: r.fill });
    }
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

  /** Risk gate of one request (after the local checks): "" or the breach. */
  riskCheck(r: OrderRequest): string {
    const recent = this.#recent;
    const now = this.now;
    while (recent.length > 0 && recent[0] <= now - 1_000_000) recent.shift();
    const reason = checkRisk(this.risk, {
      request: r,
      book: this.inst(r.exchange, r.symbol)?.view,
      exposures: this.#exposures(),
      recentOrders: recent.length,
      pnl: this.pnl(),
    });
    if (reason === "") recent.push(now);
    return reason;
  }

  /** Cash change plus positions at mid (the strategy's view). */
  pnl(): number {
    let pnl = this.viewCash - this.initialCash;
    for (const inst of this.#insts.values()) {
      if (inst.viewPosition !== 0) pnl += inst.viewPosition * inst.view.mid;
    }
    return pnl;
  }

  #exposures(): Exposure[] {
    const out = new Map<LiveInst, { openBuy: number; openSell: number }>();
    for (const inst of this.#insts.values()) {
      if (inst.viewPosition !== 0) out.set(inst, { openBuy: 0, openSell: 0 });
    }
    for (const o of this.open) {
      const inst = this.inst(o.exchange, o.symbol)!;
      let x = out.get(inst);
      if (x === undefined) out.set(inst, x = { openBuy: 0, openSell: 0 });
      if (o.side === "buy") x.openBuy += o.size - o.filled;
      else x.openSell += o.size - o.filled;
    }
    return [...out].map(([inst, x]) => ({
      exchange: inst.spec.exchange,
      symbol: inst.spec.symbol,
      position: inst.viewPosition,
      mark: inst.view.mid,
      ...x,
    }));
  }

  /** Hands an order that passed every check to the broker. */
  sendOrder(o: Order, r: OrderRequest): void {
    this.sent.add(o.id);
    this.broker.submit({ ...r, id: o.id, clientOrderId: `${this.#runId}-${o.id}` });
    if (this.#watchers.size > 0) this.#watchers.notify({ type: "order", order: o });
  }

  /** A report decided here (a rejection) reaches the strategy on the queue, now. */
  localReport(r: OrderReport): void {
    this.scheduler.at(this.now, () => this.#receiveReport(r));
  }

  /** Schedules a strategy timer. */
  addTimer(at: number, data: unknown): number {
    const id = ++this.#nextTimerId;
    this.scheduler.at(at, () => {
      if (this.cancelledTimers.delete(id) || this.stopped) return;
      this.#call(() => this.strategy.onTimer?.({ id, at, data }, this.ctx));
    }, true);
    return id;
  }

  #addInst(spec: InstrumentSpec, tradable: boolean): LiveInst {
    const key = `${spec.exchange}\u0000${spec.symbol}`;
    const known = this.#insts.get(key);
    if (known !== undefined) return known;
    const inst: LiveInst = { spec, tradable, view: new OrderBook(), viewPosition: 0 };
    this.#insts.set(key, inst);
    return inst;
  }

  #call(fn: () => void): void {
    callStrategy(this, fn);
  }

  /** After a strategy error (see `lib/backtest/_strategy_guard.ts`): cancel everything, stop. */
  haltStrategy(): void {
    this.#reason = "strategy_error";
    this.broker.cancelAll("strategy_error");
  }

  async #finish(): Promise<void> {
    const sch = this.scheduler;
    const last = sch.now;
    if (this.#reason === "") this.#reason = "end of data";
    if (this.#started) {
      sch.drain(last);
      this.#call(() => this.strategy.onStop?.(this.ctx));
      sch.drainAll(last);
      this.broker.cancelAll("end of run");
      sch.drainAll(last);
      // A remote broker answers asynchronously: wait (up to 1 s) for the cancels to land.
      for (let i = 0; i < 100 && this.open.length > 0 && sch.size === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    this.log.append(this.#started ? sch.now : 0, "stop", {
      reason: this.#reason,
      events: this.#events,
      orders: this.orders.size,
      fills: this.fills.length,
      cash: this.viewCash,
      open: this.open.length,
      sha256: this.log.sha256(),
    });
  }
}

/** Any feed as an iterator of single events (no batching: live events go through at once). */
async function* eventsOf(feed: FeedSource): AsyncGenerator<MarketEvent, void, undefined> {
  if (Symbol.asyncIterator in (feed as object)) {
    for await (const item of feed as AsyncIterable<MarketEvent | readonly MarketEvent[]>) {
      if (Array.isArray(item)) yield* item;
      else yield item as MarketEvent;
    }
    return;
  }
  yield* feed as Iterable<MarketEvent>;
}
