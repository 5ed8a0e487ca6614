/**
 * One backfiller per venue feed: watches the trade-id ledger for runs of missing ids, asks
 * the venue's REST trade history for them (one request at a time, through the venue's rate
 * limits), and hands what it fetched back to the pipeline, which marks the trades
 * `backfilled`, drops the ones already stored (the ledger) and takes the rest back from the
 * lost count: `trades_lost` becomes `trades_recovered`. Each run of missing ids is fetched
 * once; ids the venue no longer has stay lost, counted.
 * @module
 */
import type { MarketEvent, Trade } from "../../lib/market/types.ts";
import { nowMicros } from "../../lib/market/time.ts";
import { RestClient } from "./rest_client.ts";
import type { BackfillRequest, TradeHistory } from "./history.ts";

/**
 * What a backfiller reads of the pipeline's trade-id ledger (`collectors/runtime/trade_ledger.ts`
 * implements it; declared here so backfill does not import the runtime that drives it).
 */
export interface MissingTradeIds {
  /** Trades counted lost so far. */
  readonly lost: number;
  /** Runs of missing ids per symbol, `from` to `to` inclusive. */
  missingRanges(): Array<{ symbol: string; from: number; to: number }>;
}

/** What a backfiller needs of the pipeline. */
export interface BackfillTarget {
  /** The ledger that knows the missing ids (none: nothing to backfill). */
  readonly ledger: MissingTradeIds | undefined;
  /** Passes fetched trades on (marked, de-duplicated); returns what reached the sinks. */
  handleBackfill(trades: readonly Trade[]): MarketEvent[];
}

/** Options for {@linkcode Backfiller}. */
export interface BackfillerOptions {
  readonly source: TradeHistory;
  readonly target: BackfillTarget;
  /** The REST client (default: one on `baseUrl` with the venue's limits). */
  readonly client?: RestClient;
  /** REST base URL (default the venue's public one). */
  readonly baseUrl?: string;
  /** Called with the events each backfill passed on (metrics, logs). */
  readonly onEvents?: (events: readonly MarketEvent[]) => void;
  readonly log?: (record: Record<string, unknown>) => void;
  /** Wait before fetching a new gap, ms, so the venue's history has it (default 500). */
  readonly delayMs?: number;
  /** Pages per run of missing ids at most (default 20). */
  readonly maxPages?: number;
  /** Trades per symbol remembered for venues whose REST rows have no ids (default 5,000). */
  readonly recentTrades?: number;
}

/** Counters of a {@linkcode Backfiller}. */
export interface BackfillStats {
  /** Runs of missing ids fetched. */
  runs: number;
  /** Runs whose fetch failed (their trades stay lost). */
  failed: number;
  /** Trades fetched and passed on. */
  passed: number;
}

interface Hint {
  afterTs?: number;
  beforeTs?: number;
}

/** Fetches the trades a feed missed. */
export class Backfiller {
  readonly client: RestClient;
  readonly stats: BackfillStats = { runs: 0, failed: 0, passed: 0 };
  readonly #source: TradeHistory;
  readonly #target: BackfillTarget;
  readonly #onEvents?: (events: readonly MarketEvent[]) => void;
  readonly #log: (record: Record<string, unknown>) => void;
  readonly #delayMs: number;
  readonly #maxPages: number;
  readonly #recentLimit: number;
  /** Venue time of the last live trade per symbol. */
  readonly #lastTs = new Map<string, number>();
  /** Time hints of the latest gap per symbol, completed by the next live trade. */
  readonly #hints = new Map<string, Hint>();
  /** Id ranges queued or fetched per symbol: never asked for twice. */
  readonly #covered = new Map<string, Array<[number, number]>>();
  /** Recent live trades per symbol (only for sources that need them). */
  readonly #recent = new Map<string, Trade[]>();
  readonly #queue: BackfillRequest[] = [];
  #running?: Promise<void>;
  #abort = new AbortController();
  #stopped = false;
  /** The ledger's lost count when missing ranges were last looked at. */
  #lastLost = 0;

  constructor(options: BackfillerOptions) {
    this.#source = options.source;
    this.#target = options.target;
    this.client = options.client ?? new RestClient({
      baseUrl: options.baseUrl ?? options.source.baseUrl,
      ...options.source.limits,
      headers: options.source.headers?.(),
    });
    this.#onEvents = options.onEvents;
    this.#log = options.log ?? (() => {});
    this.#delayMs = options.delayMs ?? 500;
    this.#maxPages = options.maxPages ?? 20;
    this.#recentLimit = options.recentTrades ?? 5_000;
  }

  /**
   * Sees the events a frame put through the pipeline: remembers trade times around gaps
   * and queues a fetch for every new run of missing ids.
   */
  observe(events: readonly MarketEvent[]): void {
    const ledger = this.#target.ledger;
    if (ledger === undefined || this.#stopped) return;
    let gapSeen = false;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      if (e.kind === "trade") {
        if (e.backfilled === true) continue;
        const hint = this.#hints.get(e.symbol);
        if (hint !== undefined && hint.beforeTs === undefined) hint.beforeTs = e.ts;
        this.#lastTs.set(e.symbol, e.ts);
        if (this.#source.needsReceived) this.#remember(e);
      } else if (e.kind === "status" && e.status === "gap") {
        gapSeen = true;
        this.#hints.set(e.symbol, { afterTs: this.#lastTs.get(e.symbol) });
      }
    }
    // Only when something new went missing: the ranges are not walked on every frame.
    if (gapSeen || ledger.lost > this.#lastLost) this.#schedule(ledger);
    this.#lastLost = ledger.lost;
  }

  #remember(trade: Trade): void {
    let list = this.#recent.get(trade.symbol);
    if (list === undefined) this.#recent.set(trade.symbol, list = []);
    list.push(trade);
    if (list.length > this.#recentLimit * 2) list.splice(0, list.length - this.#recentLimit);
  }

  #schedule(ledger: MissingTradeIds): void {
    for (const { symbol, from, to } of ledger.missingRanges()) {
      let covered = this.#covered.get(symbol);
      if (covered === undefined) this.#covered.set(symbol, covered = []);
      if (covered.some(([a, b]) => a <= from && to <= b)) continue;
      covered.push([from, to]);
      if (covered.length > 256) covered.shift();
      const hint = this.#hints.get(symbol) ?? {};
      this.#queue.push({ symbol, from, to, afterTs: hint.afterTs, beforeTs: hint.beforeTs });
    }
    if (this.#queue.length > 0 && this.#running === undefined) {
      this.#running = this.#drain().finally(() => this.#running = undefined);
    }
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stopped) {
      if (this.#delayMs > 0) {
        await new Promise((r) => setTimeout(r, this.#delayMs));
        if (this.#stopped) return;
      }
      const request = this.#queue.shift()!;
      await this.#run(this.#complete(request));
    }
  }

  /** Fills in what became known since the request was queued (the time after the gap). */
  #complete(request: BackfillRequest): BackfillRequest {
    const hint = this.#hints.get(request.symbol);
    const beforeTs = request.beforeTs ?? hint?.beforeTs;
    if (!this.#source.needsReceived) return { ...request, beforeTs };
    const after = request.afterTs ?? -Infinity;
    const before = beforeTs ?? Infinity;
    const received = (this.#recent.get(request.symbol) ?? []).filter((t) =>
      t.ts >= after && t.ts <= before
    );
    return { ...request, beforeTs, received };
  }

  async #run(request: BackfillRequest): Promise<void> {
    this.stats.runs++;
    let fetched: Trade[];
    try {
      fetched = await this.#source.fetch(this.client, request, {
        recvTs: nowMicros,
        signal: this.#abort.signal,
        maxPages: this.#maxPages,
      });
    } catch (error) {
      if (this.#stopped) return;
      this.stats.failed++;
      this.#log({
        level: "warn",
        msg: "backfill failed",
        exchange: this.#source.exchange,
        symbol: request.symbol,
        from: request.from,
        to: request.to,
        error: String(error),
      });
      return;
    }
    if (this.#stopped) return;
    // Only the missing run (and id-less rows the source already de-duplicated), oldest first.
    const wanted = fetched.filter((t) => {
      if (t.symbol !== request.symbol) return false;
      const id = Number(t.id);
      return id !== id || (id >= request.from && id <= request.to);
    }).sort((a, b) => a.ts - b.ts || Number(a.id) - Number(b.id));
    const events = this.#target.handleBackfill(wanted);
    let passed = 0;
    for (const e of events) if (e.kind === "trade") passed++;
    this.stats.passed += passed;
    this.#log({
      level: "info",
      msg: "trades backfilled",
      exchange: this.#source.exchange,
      symbol: request.symbol,
      from: request.from,
      to: request.to,
      missing: request.to - request.from + 1,
      fetched: fetched.length,
      passed,
    });
    if (events.length > 0) this.#onEvents?.(events);
  }

  /** Resolves once every queued run was fetched (tests, a graceful stop). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Stops fetching; runs in flight are abandoned. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#queue.length = 0;
    this.#abort.abort();
    await this.#running?.catch(() => {});
    this.#abort = new AbortController();
  }
}
