/**
 * Collector metrics in the Prometheus text exposition format (version 0.0.4), and the health
 * verdict behind `/health`. Counters that the pipeline, books and connection already keep
 * are read when scraped (no hot-path cost); only the exchange-to-local lag and the flush
 * latency are observed per event / per flush, into fixed-bucket histograms.
 * @module
 */
import type { MarketEvent } from "../../lib/market/types.ts";
import type { FeedSummary } from "./pipeline.ts";
import { FEED_FAMILIES } from "./_metric_families.ts";
import type { FeedConnectionStats } from "./connection.ts";
import process from "node:process";

/** When this process started (Unix seconds), for `process_start_time_seconds`. */
const PROCESS_START_SECONDS = Math.round(performance.timeOrigin / 1000);

/** Lag buckets, seconds: venue time to local receive time. */
export const LAG_BUCKETS_SECONDS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];
/** Flush latency buckets, seconds. */
export const FLUSH_BUCKETS_SECONDS = [
  0.001,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

/**
 * A Prometheus histogram with fixed upper bounds.
 *
 * @example
 * ```ts
 * import { Histogram } from "./metrics.ts";
 * import assert from "node:assert/strict";
 * const h = new Histogram([0.1, 1]);
 * h.observe(0.05);
 * h.observe(0.5);
 * h.observe(7);
 * assert.deepEqual(h.cumulative(), [1, 2, 3]); // le=0.1, le=1, le=+Inf
 * assert.equal(h.count, 3);
 * ```
 */
export class Histogram {
  readonly bounds: readonly number[];
  readonly #counts: Float64Array;
  /** Observations so far. */
  count = 0;
  /** Sum of the observed values. */
  sum = 0;

  constructor(bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i] > bounds[i - 1])) throw new RangeError("bounds must increase");
    }
    this.bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  /** Records one value (NaN is ignored). */
  observe(value: number): void {
    if (value !== value) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.#counts[i]++;
    this.count++;
    this.sum += value;
  }

  /** Cumulative counts per bound, then the `+Inf` total. */
  cumulative(): number[] {
    const out: number[] = [];
    let total = 0;
    for (const c of this.#counts) out.push(total += c);
    return out;
  }
}

/** What metrics read from one feed (a collector) when scraped. */
export interface MetricsFeedSource {
  /** Venue name, the `exchange` label. */
  readonly exchange: string;
  /** The pipeline's counters. */
  summary(): FeedSummary;
  /** The feed's connection (`FeedConnection`): stats and whether it is open. */
  readonly connection?: { readonly stats: FeedConnectionStats; readonly connected: boolean };
  /** Events written to sinks and not yet persisted (the queue between parsing and sinks). */
  queueDepth?(): number;
  /** Flushes that failed so far. */
  flushErrors?(): number;
  /** Recording counters, when recording. */
  readonly recording?: {
    readonly lines: number;
    readonly bytes: number;
    readonly files: number;
    readonly errors: number;
  };
}

/** Per-feed observations made on the hot path; returned by {@linkcode CollectorMetrics.addFeed}. */
export class FeedMetrics {
  readonly source: MetricsFeedSource;
  /** Venue time to local receive time of trades, quotes and book changes, seconds. */
  readonly lag = new Histogram(LAG_BUCKETS_SECONDS);
  /** Duration of sink flushes, seconds. */
  readonly flush = new Histogram(FLUSH_BUCKETS_SECONDS);
  /** Status events passed to sinks, by status. */
  readonly statuses = new Map<string, number>();
  /** `performance.now()` of the last frame (NaN before the first). */
  lastFrameAt = NaN;

  constructor(source: MetricsFeedSource) {
    this.source = source;
  }

  /**
   * Observes the events one frame produced; `at` is when the frame arrived
   * (`performance.now()`, read now when omitted).
   */
  observe(events: readonly MarketEvent[], at: number = performance.now()): void {
    this.lastFrameAt = at;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      switch (e.kind) {
        case "trade":
        case "quote":
        case "book_change":
          this.lag.observe((e.recvTs - e.ts) / 1e6);
          break;
        case "status":
          this.statuses.set(e.status, (this.statuses.get(e.status) ?? 0) + 1);
          break;
      }
    }
  }

  /**
   * Counts the status events of `events` only (no frame arrived: a reconnect's
   * `disconnected` status).
   */
  observeStatuses(events: readonly MarketEvent[]): void {
    for (const e of events) {
      if (e.kind === "status") this.statuses.set(e.status, (this.statuses.get(e.status) ?? 0) + 1);
    }
  }

  /** Observes one flush of the sinks. */
  observeFlush(seconds: number): void {
    this.flush.observe(seconds);
  }
}

/** Options for {@linkcode CollectorMetrics}. */
export interface CollectorMetricsOptions {
  /** A feed is unhealthy when it received nothing for this long (default 30,000 ms). */
  readonly staleAfterMs?: number;
}

/** One feed's line in the health report. */
export interface FeedHealth {
  readonly exchange: string;
  readonly connected: boolean;
  /** Seconds since the last frame; null before the first. */
  readonly lastFrameAgeSeconds: number | null;
  readonly healthy: boolean;
}

/** The `/health` answer. */
export interface HealthReport {
  readonly status: "ok" | "unhealthy";
  readonly feeds: readonly FeedHealth[];
}

const PREFIX = "alphapulse_collector_";

/**
 * The metrics of every feed a process collects.
 *
 * @example
 * ```ts
 * import { CollectorMetrics } from "./metrics.ts";
 * import assert from "node:assert/strict";
 * const metrics = new CollectorMetrics();
 * const feed = metrics.addFeed({
 *   exchange: "coinbase",
 *   summary: () => ({
 *     messages: 3, trades: 1, snapshots: 1, book_updates: 1, gaps: 0, checksum_ok: 0,
 *     checksum_failed: 0, crossed: 0, errors: 0, rows_written: 1,
 *   }),
 * });
 * feed.observe([{ kind: "trade", exchange: "coinbase", symbol: "BTC-USD", id: "1", price: 1,
 *   size: 1, side: "buy", ts: 1_000_000, recvTs: 1_002_000 }]);
 * assert.match(metrics.render(), /alphapulse_collector_trades_total\{exchange="coinbase"\} 1/);
 * ```
 */
export class CollectorMetrics {
  readonly #feeds: FeedMetrics[] = [];
  readonly #staleAfterMs: number;

  constructor(options: CollectorMetricsOptions = {}) {
    this.#staleAfterMs = options.staleAfterMs ?? 30_000;
    if (!(this.#staleAfterMs > 0)) throw new RangeError("staleAfterMs must be positive");
  }

  /** Registers a feed; the returned object takes its per-event observations. */
  addFeed(source: MetricsFeedSource): FeedMetrics {
    const feed = new FeedMetrics(source);
    this.#feeds.push(feed);
    return feed;
  }

  /** The Prometheus text exposition of every metric. */
  render(): string {
    const out: string[] = [];
    const summaries = this.#feeds.map((f) => f.source.summary());
    for (const family of FEED_FAMILIES) {
      const rows: string[] = [];
      for (let i = 0; i < this.#feeds.length; i++) {
        const feed = this.#feeds[i];
        const v = family.value(feed, summaries[i]);
        if (v !== undefined) rows.push(`${PREFIX}${family.name}{${labels(feed)}} ${num(v)}`);
      }
      if (rows.length === 0) continue;
      out.push(
        `# HELP ${PREFIX}${family.name} ${family.help}`,
        `# TYPE ${PREFIX}${family.name} ${family.type}`,
        ...rows,
      );
    }
    const statusRows: string[] = [];
    for (const feed of this.#feeds) {
      for (const [status, n] of feed.statuses) {
        statusRows.push(`${PREFIX}status_events_total{${labels(feed, { status })}} ${n}`);
      }
    }
    if (statusRows.length > 0) {
      out.push(
        `# HELP ${PREFIX}status_events_total Status events (connected, disconnected, reset, gap).`,
        `# TYPE ${PREFIX}status_events_total counter`,
        ...statusRows,
      );
    }
    this.#histogram(
      out,
      "exchange_lag_seconds",
      "Venue time to local receive time (trades, quotes, book changes).",
      (f) => f.lag,
    );
    this.#histogram(out, "flush_duration_seconds", "Sink flush latency.", (f) => f.flush);
    const memory = memoryUsage();
    if (memory !== undefined) {
      out.push(
        "# HELP process_resident_memory_bytes Resident memory size in bytes.",
        "# TYPE process_resident_memory_bytes gauge",
        `process_resident_memory_bytes ${memory.rss}`,
        "# HELP nodejs_heap_size_used_bytes JavaScript heap in use, bytes.",
        "# TYPE nodejs_heap_size_used_bytes gauge",
        `nodejs_heap_size_used_bytes ${memory.heapUsed}`,
        "# HELP nodejs_heap_size_total_bytes JavaScript heap reserved, bytes.",
        "# TYPE nodejs_heap_size_total_bytes gauge",
        `nodejs_heap_size_total_bytes ${memory.heapTotal}`,
        "# HELP nodejs_external_memory_bytes Memory outside the JavaScript heap that its " +
          "objects hold (array buffers), bytes.",
        "# TYPE nodejs_external_memory_bytes gauge",
        `nodejs_external_memory_bytes ${memory.external}`,
      );
    }
    const cpu = process.cpuUsage();
    out.push(
      "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
      "# TYPE process_cpu_seconds_total counter",
      `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
      "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
      "# TYPE process_start_time_seconds gauge",
      `process_start_time_seconds ${PROCESS_START_SECONDS}`,
    );
    return out.join("\n") + "\n";
  }

  #histogram(
    out: string[],
    name: string,
    help: string,
    of: (feed: FeedMetrics) => Histogram,
  ): void {
    if (this.#feeds.length === 0) return;
    out.push(`# HELP ${PREFIX}${name} ${help}`, `# TYPE ${PREFIX}${name} histogram`);
    for (const feed of this.#feeds) {
      const h = of(feed);
      const cumulative = h.cumulative();
      for (let i = 0; i < h.bounds.length; i++) {
        out.push(
          `${PREFIX}${name}_bucket{${labels(feed, { le: String(h.bounds[i]) })}} ${cumulative[i]}`,
        );
      }
      out.push(`${PREFIX}${name}_bucket{${labels(feed, { le: "+Inf" })}} ${h.count}`);
      out.push(`${PREFIX}${name}_sum{${labels(feed)}} ${num(h.sum)}`);
      out.push(`${PREFIX}${name}_count{${labels(feed)}} ${h.count}`);
    }
  }

  /** Every feed connected and heard from within `staleAfterMs`. */
  health(): HealthReport {
    const now = performance.now();
    const feeds = this.#feeds.map((f): FeedHealth => {
      const connected = f.source.connection?.connected ?? true;
      const age = Number.isNaN(f.lastFrameAt) ? null : (now - f.lastFrameAt) / 1000;
      return {
        exchange: f.source.exchange,
        connected,
        lastFrameAgeSeconds: age,
        healthy: connected && age !== null && age * 1000 <= this.#staleAfterMs,
      };
    });
    return {
      status: feeds.length > 0 && feeds.every((f) => f.healthy) ? "ok" : "unhealthy",
      feeds,
    };
  }
}

function labels(feed: FeedMetrics, extra?: Record<string, string>): string {
  let text = `exchange="${escapeLabel(feed.source.exchange)}"`;
  for (const [k, v] of Object.entries(extra ?? {})) text += `,${k}="${escapeLabel(v)}"`;
  return text;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function num(value: number): string {
  return Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN";
}

function memoryUsage(): Deno.MemoryUsage | undefined {
  try {
    return Deno.memoryUsage();
  } catch {
    return undefined;
  }
}
