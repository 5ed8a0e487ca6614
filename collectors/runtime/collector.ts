/**
 * A live collector: one venue connection feeding the pipeline, with periodic flushes and
 * a graceful stop that flushes everything in flight.
 * @module
 */
import type { EventSink } from "../../lib/market/mod.ts";
import { type ConnectionRequest, createAdapter, type VenueAdapter } from "../venues/mod.ts";
import { FeedConnection, type FeedConnectionOptions } from "./connection.ts";
import { FeedDiagnostics } from "./diagnostics.ts";
import { type BookStage, FeedPipeline, type FeedSummary } from "./pipeline.ts";
import type { CollectorMetrics, FeedMetrics } from "./metrics.ts";
import type { RecordingWriter } from "../replay/recording.ts";

/** Options for {@linkcode Collector}. */
export interface CollectorOptions {
  /** Venue name (`coinbase`). */
  readonly exchange: string;
  /** Websocket URL of the venue (or of a local simulator). */
  readonly url: string;
  /** Canonical symbols. */
  readonly symbols: readonly string[];
  /** Venue channels (the adapter's defaults when omitted). */
  readonly channels?: readonly string[];
  /** Where events go. */
  readonly sinks: readonly EventSink[];
  /** Book stage with the venue's integrity checks. */
  readonly books?: BookStage;
  /** Flush sinks this often, in milliseconds (default 1,000). */
  readonly flushEveryMs?: number;
  /** Connection tuning (watchdog, backoff). */
  readonly connection?: Pick<FeedConnectionOptions, "watchdogMs" | "backoff" | "log">;
  readonly diagnostics?: FeedDiagnostics;
  /** The venue adapter (default: the registry's for `exchange`); for non-default options. */
  readonly adapter?: VenueAdapter;
  /** Records every raw frame, connect and send; flushed with the sinks, closed by `stop`. */
  readonly recorder?: RecordingWriter;
  /** Where this feed's metrics are registered. */
  readonly metrics?: CollectorMetrics;
}

/**
 * Runs one venue feed until `stop()`.
 *
 * @example
 * ```ts ignore
 * import { Collector } from "./collector.ts";
 * const collector = new Collector({
 *   exchange: "coinbase",
 *   url: "wss://ws-feed.exchange.coinbase.com",
 *   symbols: ["BTC-USD"],
 *   sinks: [],
 * });
 * collector.start();
 * ```
 */
export class Collector {
  readonly pipeline: FeedPipeline;
  readonly connection: FeedConnection;
  readonly #flushEveryMs: number;
  #flushTimer?: ReturnType<typeof setInterval>;
  #flushing: Promise<unknown> = Promise.resolve();
  #flushErrors = 0;
  readonly #log: (record: Record<string, unknown>) => void;
  readonly #recorder?: RecordingWriter;
  readonly #metrics?: FeedMetrics;
  /** Recording id of the current connection. */
  #conn = "";

  constructor(options: CollectorOptions) {
    const diagnostics = options.diagnostics ??
      new FeedDiagnostics({ context: { exchange: options.exchange } });
    const adapter = options.adapter ?? createAdapter(options.exchange, { diagnostics });
    this.pipeline = new FeedPipeline({
      adapter,
      diagnostics,
      books: options.books,
      sinks: options.sinks,
    });
    this.#flushEveryMs = options.flushEveryMs ?? 1_000;
    this.#log = options.connection?.log ??
      ((record) => console.error(JSON.stringify({ time: new Date().toISOString(), ...record })));
    const recorder = this.#recorder = options.recorder;
    this.connection = new FeedConnection({
      ...options.connection,
      url: options.url,
      subscribeMessages: () => {
        const messages = adapter.subscribeMessages({
          symbols: options.symbols,
          channels: options.channels,
        });
        if (recorder !== undefined) { for (const m of messages) recorder.send(this.#conn, m); }
        return messages;
      },
      onFrame: (frame, recvTs) => {
        recorder?.recv(this.#conn, frame);
        const events = this.pipeline.handleFrame(frame, recvTs);
        this.#metrics?.observe(events);
        const requests = adapter.takeRequests?.();
        if (requests !== undefined) this.#serve(requests, options.exchange);
      },
      onOpen: ({ reconnect }) => {
        if (recorder !== undefined) this.#conn = recorder.connect(options.url);
        if (reconnect) this.pipeline.handleReconnect(Date.now() * 1000, "reconnected");
      },
    });
    const sinks = options.sinks;
    this.#metrics = options.metrics?.addFeed({
      exchange: options.exchange,
      summary: () => this.pipeline.summary(),
      connection: this.connection,
      flushErrors: () => this.#flushErrors,
      recording: recorder?.stats,
      // Sinks that buffer say how much (LakeSink.pending): the queue before persistence.
      queueDepth: () => {
        let depth = 0;
        for (const sink of sinks) {
          const pending = (sink as { pending?: unknown }).pending;
          if (typeof pending === "number") depth += pending;
        }
        return depth;
      },
    });
  }

  /** Carries out what the adapter asked of the connection (replies, reconnects). */
  #serve(requests: readonly ConnectionRequest[], exchange: string): void {
    for (const request of requests) {
      if (request.kind === "send") {
        if (this.connection.send(request.frame)) {
          this.#recorder?.send(this.#conn, request.redacted ?? request.frame);
        } else {
          this.#log({ level: "warn", msg: "not connected: reply not sent", exchange });
        }
      } else {
        this.#log({
          level: "warn",
          msg: "venue adapter asked to reconnect",
          exchange,
          reason: request.reason,
          minDelayMs: request.minDelayMs ?? 0,
        });
        this.connection.restart(request.reason, request.minDelayMs);
      }
    }
  }

  /** Connects and starts periodic flushes. */
  start(): void {
    this.connection.start();
    this.#flushTimer = setInterval(() => this.#flush(), this.#flushEveryMs);
  }

  #flush(): Promise<unknown> {
    // Flushes never overlap: each waits for the previous one.
    this.#flushing = this.#flushing.then(async () => {
      const started = performance.now();
      await this.pipeline.flush();
      this.#metrics?.observeFlush((performance.now() - started) / 1000);
      await this.#recorder?.flush();
    }).catch((error) => {
      this.#flushErrors++;
      console.error(JSON.stringify({ level: "error", msg: "flush failed", error: String(error) }));
    });
    return this.#flushing;
  }

  /** Flush failures so far (the sink keeps what it could not write for the next flush). */
  get flushErrors(): number {
    return this.#flushErrors;
  }

  /** Stops the connection, flushes everything received, closes the sinks and the recorder. */
  async stop(): Promise<FeedSummary> {
    clearInterval(this.#flushTimer);
    await this.connection.stop();
    await this.#flushing;
    await this.pipeline.close();
    await this.#recorder?.close();
    return this.pipeline.summary();
  }
}
