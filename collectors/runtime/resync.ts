/**
 * Rate-limited book resyncs: after a book reset (checksum failure, crossed book, sequence
 * gap) the collector asks for a fresh snapshot of that symbol, at most once per interval
 * per symbol, with the interval doubling while resyncs keep failing, so a feed that breaks
 * the book on every message cannot cause a resync storm.
 * @module
 */

/** Options for {@linkcode ResyncScheduler}. */
export interface ResyncSchedulerOptions {
  /** Carries out the resync of one symbol (`*`: every book of the connection). */
  readonly run: (symbol: string, reason: string) => void;
  /** Least time between two resyncs of the same symbol, ms (default 1,000). */
  readonly minIntervalMs?: number;
  /** Largest interval after repeated failures, ms (default 60,000). */
  readonly maxIntervalMs?: number;
  /** Clock in ms (default `performance.now`; injectable for tests). */
  readonly now?: () => number;
}

/** Counters of a {@linkcode ResyncScheduler}. */
export interface ResyncStats {
  /** Resyncs asked for. */
  requested: number;
  /** Resyncs carried out. */
  run: number;
  /** Requests folded into one already waiting. */
  coalesced: number;
}

interface SymbolState {
  lastRunAt: number;
  intervalMs: number;
  timer?: ReturnType<typeof setTimeout>;
  reason: string;
}

/**
 * Schedules resyncs per symbol. The first request for a symbol runs at once; a request
 * within twice the symbol's interval after its last resync means that resync did not hold:
 * the interval doubles (up to `maxIntervalMs`) and the resync waits until that much time
 * has passed since the last one (further requests meanwhile fold into it). A quiet spell
 * resets the interval.
 *
 * @example
 * ```ts
 * import { ResyncScheduler } from "./resync.ts";
 * import assert from "node:assert/strict";
 * let t = 0;
 * const runs: string[] = [];
 * const scheduler = new ResyncScheduler({ run: (s) => runs.push(s), now: () => t });
 * scheduler.request("BTC-USD", "checksum mismatch");
 * scheduler.request("BTC-USD", "crossed book"); // within 1 s: waits
 * assert.deepEqual(runs, ["BTC-USD"]);
 * assert.equal(scheduler.pending, 1);
 * scheduler.cancel(); // a reconnect brings fresh snapshots anyway
 * ```
 */
export class ResyncScheduler {
  readonly #run: (symbol: string, reason: string) => void;
  readonly #minIntervalMs: number;
  readonly #maxIntervalMs: number;
  readonly #now: () => number;
  readonly #symbols = new Map<string, SymbolState>();
  /** Counters since construction. */
  readonly stats: ResyncStats = { requested: 0, run: 0, coalesced: 0 };

  constructor(options: ResyncSchedulerOptions) {
    this.#run = options.run;
    this.#minIntervalMs = options.minIntervalMs ?? 1_000;
    this.#maxIntervalMs = options.maxIntervalMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
    if (!(this.#minIntervalMs >= 0) || !(this.#maxIntervalMs >= this.#minIntervalMs)) {
      throw new RangeError("resync intervals need 0 <= minIntervalMs <= maxIntervalMs");
    }
  }

  /** Resyncs waiting for their interval to pass. */
  get pending(): number {
    let n = 0;
    for (const state of this.#symbols.values()) if (state.timer !== undefined) n++;
    return n;
  }

  /** Asks for a resync of `symbol`; runs it now or when its interval has passed. */
  request(symbol: string, reason: string): void {
    this.stats.requested++;
    const now = this.#now();
    let state = this.#symbols.get(symbol);
    if (state === undefined) {
      state = { lastRunAt: -Infinity, intervalMs: this.#minIntervalMs, reason };
      this.#symbols.set(symbol, state);
    }
    if (state.timer !== undefined) {
      this.stats.coalesced++;
      return;
    }
    // A reset soon after the last resync means that resync did not hold: back off.
    state.intervalMs = now - state.lastRunAt < 2 * state.intervalMs
      ? Math.min(this.#maxIntervalMs, state.intervalMs * 2)
      : this.#minIntervalMs;
    const wait = state.lastRunAt + state.intervalMs - now;
    state.reason = reason;
    if (wait <= 0) return this.#fire(symbol, state);
    const s = state;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      this.#fire(symbol, s);
    }, wait);
  }

  #fire(symbol: string, state: SymbolState): void {
    state.lastRunAt = this.#now();
    this.stats.run++;
    this.#run(symbol, state.reason);
  }

  /**
   * Drops waiting resyncs (a new connection subscribes afresh); `symbol` alone, or all.
   * Intervals are kept, so a flapping feed stays rate-limited across reconnects.
   */
  cancel(symbol?: string): void {
    for (const [key, state] of this.#symbols) {
      if (symbol !== undefined && key !== symbol) continue;
      clearTimeout(state.timer);
      state.timer = undefined;
    }
  }
}
