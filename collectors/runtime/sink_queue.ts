/**
 * The bounded queue between parsing and the sinks: a sink that buffers until `flush` (a
 * `Buffering` sink, `lib/market/sink.ts`, like `LakeSink`) may hold at most `capacity`
 * events; past `flushAt` the queue asks for a flush at once instead of waiting for the
 * timer. Before a sink would overflow, the queue says so (`onFull`): a producer that can
 * stop reading pauses there and waits for {@linkcode SinkQueue.whenRoom} (the collector's
 * raw websocket transport: TCP flow control then holds the flood in the kernel's and the
 * venue's buffers, nothing is lost, memory stays bounded by `capacity`). A producer that
 * cannot pause (the runtime's `WebSocket`, or a pause that lasted too long, see
 * `Collector`'s `maxReadPauseMs`) keeps writing, and when the sink still cannot keep up,
 * further events are dropped for that sink, **counted** and logged, never silently and
 * never by growing memory without bound: once the sink has room again it gets a `gap`
 * status per instrument it missed events of, so what it stores says where its stream is
 * incomplete. Producers that can wait (replay, benchmarks) await {@linkcode SinkQueue.room}
 * instead, which also waits for `BackpressureReporting` sinks such as the PostgreSQL writer.
 * Other sinks (the server's stream hub, the PostgreSQL writer, which spills rather than
 * holds) take every event on `write`.
 * @module
 */
import {
  type BackpressureReporting,
  type Buffering,
  type EventSink,
  type FeedStatus,
  isBuffering,
  type MarketEvent,
  reportsBackpressure,
} from "../../lib/market/mod.ts";

/** Options for {@linkcode SinkQueue}. */
export interface SinkQueueOptions {
  /** The sinks fed, in order. */
  readonly sinks: readonly EventSink[];
  /** Events a buffering sink may hold before more are dropped for it (default 200,000). */
  readonly capacity?: number;
  /** A buffering sink holding this many asks for a flush now (default `capacity / 4`). */
  readonly flushAt?: number;
  /**
   * Room kept for trades beyond `capacity` (default `capacity / 4`): a full sink drops book,
   * quote and status events first and keeps taking the trades until it holds
   * `capacity + tradeReserve` events, so a flood of book changes never costs a trade first.
   */
  readonly tradeReserve?: number;
  /** Called (once per flush) when a sink passed `flushAt`: flush soon. */
  readonly onFlushNeeded?: () => void;
  /**
   * Called after a write that left a buffering sink less room than the largest write seen
   * so far (or that found it full): the next write may be dropped for it. A producer that
   * can pause stops here and waits for {@linkcode SinkQueue.whenRoom}.
   */
  readonly onFull?: () => void;
  /** JSON-line logger for drop episodes (default: stderr). */
  readonly log?: (record: Record<string, unknown>) => void;
}

/** Counters of a {@linkcode SinkQueue}. */
export interface SinkQueueStats {
  /** Events not handed to a sink because it was full (counted per sink). */
  droppedEvents: number;
  /** Trades among `droppedEvents`. */
  droppedTrades: number;
  /** Times a sink passed `flushAt` and asked for an early flush. */
  earlyFlushes: number;
  /** Largest depth seen. */
  maxDepth: number;
}

/** What one sink lost of one instrument during a drop episode. */
interface DroppedRange {
  readonly exchange: string;
  readonly symbol: string;
  /** Latest venue and receive times among the lost events. */
  ts: number;
  recvTs: number;
  /** Lost events per kind. */
  kinds: Partial<Record<MarketEvent["kind"], number>>;
}

/**
 * An {@linkcode EventSink} in front of other sinks that bounds what they buffer.
 *
 * @example
 * ```ts
 * import { SinkQueue } from "./sink_queue.ts";
 * import type { MarketEvent } from "../../lib/market/mod.ts";
 * import assert from "node:assert/strict";
 * const held: MarketEvent[] = [];
 * const slow = {
 *   get pending() { return held.length; },
 *   write(events: readonly MarketEvent[]) { held.push(...events); },
 *   flush() { const n = held.length; held.length = 0; return Promise.resolve(n); },
 *   close() { return Promise.resolve(); },
 * };
 * let asked = 0;
 * const queue = new SinkQueue({ sinks: [slow], capacity: 2, flushAt: 1, onFlushNeeded: () => asked++,
 *   log: () => {} });
 * const trade = { kind: "trade" as const, exchange: "x", symbol: "A-B", id: "1", price: 1, size: 1,
 *   side: "buy" as const, ts: 1, recvTs: 1 };
 * queue.write([trade]);
 * queue.write([trade]);
 * queue.write([trade]); // full: dropped and counted
 * assert.equal(queue.depth, 2);
 * assert.equal(queue.stats.droppedTrades, 1);
 * assert.equal(asked, 1);
 * ```
 */
export class SinkQueue implements EventSink {
  readonly #sinks: readonly EventSink[];
  /** Per sink: the sink when it is {@linkcode Buffering}, else `undefined` (delivers at once). */
  readonly #bounded: readonly ((EventSink & Buffering) | undefined)[];
  readonly #buffering: readonly (EventSink & Buffering)[];
  readonly #backpressured: readonly (EventSink & BackpressureReporting)[];
  readonly #capacity: number;
  readonly #flushAt: number;
  readonly #tradeReserve: number;
  readonly #onFlushNeeded?: () => void;
  readonly #onFull?: () => void;
  /** Most events handed over in one write so far (what the next write may bring). */
  #largestWrite = 1;
  readonly #log: (record: Record<string, unknown>) => void;
  #flushAsked = false;
  /** Drops of the current episode per sink index (logged when it starts and when it ends). */
  readonly #dropping: number[];
  /** What each sink lost in the current episode, per instrument (for the gap events). */
  readonly #holes: Map<string, DroppedRange>[];
  #waiters: Array<() => void> = [];
  /** Counters since construction. */
  readonly stats: SinkQueueStats = {
    droppedEvents: 0,
    droppedTrades: 0,
    earlyFlushes: 0,
    maxDepth: 0,
  };

  constructor(options: SinkQueueOptions) {
    this.#sinks = options.sinks;
    this.#bounded = options.sinks.map((sink) => isBuffering(sink) ? sink : undefined);
    this.#buffering = options.sinks.filter(isBuffering);
    this.#backpressured = options.sinks.filter(reportsBackpressure);
    this.#capacity = options.capacity ?? 200_000;
    this.#flushAt = options.flushAt ?? Math.max(1, Math.floor(this.#capacity / 4));
    if (!Number.isInteger(this.#capacity) || this.#capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${this.#capacity}`);
    }
    if (!(this.#flushAt >= 1 && this.#flushAt <= this.#capacity)) {
      throw new RangeError(`flushAt must be in 1..capacity, got ${this.#flushAt}`);
    }
    this.#tradeReserve = options.tradeReserve ?? Math.floor(this.#capacity / 4);
    if (!Number.isInteger(this.#tradeReserve) || this.#tradeReserve < 0) {
      throw new RangeError(`tradeReserve must be an integer >= 0, got ${this.#tradeReserve}`);
    }
    this.#onFlushNeeded = options.onFlushNeeded;
    this.#onFull = options.onFull;
    this.#log = options.log ??
      ((record) => console.error(JSON.stringify({ time: new Date().toISOString(), ...record })));
    this.#dropping = options.sinks.map(() => 0);
    this.#holes = options.sinks.map(() => new Map());
  }

  /** Events the buffering sinks hold, not yet persisted (the queue depth). */
  get depth(): number {
    let depth = 0;
    for (const sink of this.#buffering) depth += sink.pending;
    return depth;
  }

  /** The configured capacity per buffering sink. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Hands events to every sink that has room; drops (and counts) them for a full one. */
  write(events: readonly MarketEvent[]): void {
    const sinks = this.#sinks;
    if (events.length > this.#largestWrite) this.#largestWrite = events.length;
    let full = false;
    for (let s = 0; s < sinks.length; s++) {
      const sink = sinks[s];
      const bounded = this.#bounded[s];
      if (bounded === undefined) {
        sink.write(events);
        continue;
      }
      const pending = bounded.pending;
      if (pending >= this.#capacity) {
        full = true;
        const trades = pending < this.#capacity + this.#tradeReserve
          ? events.filter((e) => e.kind === "trade")
          : [];
        if (trades.length < events.length) {
          this.#drop(s, trades.length ? events.filter((e) => e.kind !== "trade") : events);
        }
        if (trades.length) sink.write(trades);
        continue;
      }
      if (this.#dropping[s] > 0) this.#endEpisode(s);
      sink.write(events);
      const after = pending + events.length;
      if (after > this.stats.maxDepth) this.stats.maxDepth = after;
      if (after + this.#largestWrite > this.#capacity) full = true;
      if (after >= this.#flushAt && !this.#flushAsked && this.#onFlushNeeded !== undefined) {
        this.#flushAsked = true;
        this.stats.earlyFlushes++;
        this.#onFlushNeeded();
      }
    }
    if (full) this.#onFull?.();
  }

  #drop(s: number, events: readonly MarketEvent[]): void {
    let trades = 0;
    const holes = this.#holes[s];
    let hole: DroppedRange | undefined;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      if (e.kind === "trade") trades++;
      // A batch is mostly one instrument: look the hole up only when the instrument changes.
      if (hole === undefined || hole.symbol !== e.symbol || hole.exchange !== e.exchange) {
        const key = e.exchange + "\u0000" + e.symbol;
        hole = holes.get(key);
        if (hole === undefined) {
          hole = { exchange: e.exchange, symbol: e.symbol, ts: e.ts, recvTs: e.recvTs, kinds: {} };
          holes.set(key, hole);
        }
      }
      if (e.ts > hole.ts) hole.ts = e.ts;
      if (e.recvTs > hole.recvTs) hole.recvTs = e.recvTs;
      hole.kinds[e.kind] = (hole.kinds[e.kind] ?? 0) + 1;
    }
    this.stats.droppedEvents += events.length;
    this.stats.droppedTrades += trades;
    if (this.#dropping[s] === 0) {
      this.#log({
        level: "error",
        msg: "sink queue full: the sink cannot keep up, dropping events (counted as lost)",
        sink: s,
        capacity: this.#capacity,
      });
    }
    this.#dropping[s] += events.length;
  }

  /**
   * Logs the end of a drop episode and tells the sink what it missed: one `gap` status per
   * instrument (at the time of the last event it lost), so what the sink stores says where
   * its stream is incomplete (a book rebuilt from stored changes must not cross it).
   */
  #endEpisode(s: number): void {
    this.#log({
      level: "warn",
      msg: "sink queue has room again",
      sink: s,
      droppedEvents: this.#dropping[s],
    });
    this.#dropping[s] = 0;
    const gaps: FeedStatus[] = [];
    for (const hole of this.#holes[s].values()) {
      const what = Object.entries(hole.kinds).map(([kind, n]) => `${n} ${kind}`).join(", ");
      gaps.push({
        kind: "status",
        exchange: hole.exchange,
        symbol: hole.symbol,
        ts: hole.ts,
        recvTs: hole.recvTs,
        status: "gap",
        reason: `sink queue full: this store missed ${what}`,
      });
    }
    this.#holes[s].clear();
    if (gaps.length) this.#sinks[s].write(gaps);
  }

  /**
   * Resolves when every buffering sink is below `flushAt` and every sink that reports
   * backpressure is ready (for producers that can wait).
   */
  async room(): Promise<void> {
    await this.whenRoom();
    for (const sink of this.#backpressured) await sink.ready();
  }

  /**
   * Resolves when every buffering sink is below `flushAt` (at once, or when a flush ends
   * that left them so, or on `close`): where a paused producer reads again.
   */
  whenRoom(): Promise<void> {
    if (!this.#full()) return Promise.resolve();
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #full(): boolean {
    for (const sink of this.#buffering) if (sink.pending >= this.#flushAt) return true;
    return false;
  }

  /** Flushes every sink; resolves to the rows they persisted. */
  async flush(): Promise<number> {
    this.#flushAsked = false;
    let rows = 0;
    try {
      for (const sink of this.#sinks) rows += await sink.flush();
    } finally {
      if (this.#waiters.length > 0 && !this.#full()) {
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const resolve of waiters) resolve();
      }
    }
    return rows;
  }

  /** Flushes and closes every sink (a sink still in a drop episode gets its gap events). */
  async close(): Promise<void> {
    for (let s = 0; s < this.#sinks.length; s++) {
      if (this.#dropping[s] > 0) this.#endEpisode(s);
    }
    for (const sink of this.#sinks) await sink.close();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}
