/**
 * A live collector: one venue connection feeding the pipeline, with book resyncs after
 * every reset, a bounded queue in front of the sinks, periodic and threshold flushes, and
 * a graceful stop that flushes everything in flight.
 *
 * Backpressure: when the queue says a buffering sink is about to overflow (a flood of book
 * changes into the lake), the collector stops reading the connection (raw transport) until
 * a flush made room, instead of dropping events; at most `maxReadPauseMs` at a time, after
 * which it reads again and the queue drops what does not fit (counted, `gap` statuses), so
 * a venue never disconnects us for unanswered pings or a full send buffer. With the
 * runtime's `WebSocket` (`transport: "native"`), which cannot stop reading, the queue drops
 * (`read_pauses.ts`).
 * @module
 */
import type { EventSink, MarketEvent } from "../../lib/market/mod.ts";
import { nowMicros } from "../../lib/market/time.ts";
import { normalizeSymbol } from "../../lib/market/symbols.ts";
import {
  type ConnectionRequest,
  createAdapter,
  venue,
  type VenueAdapter,
  VENUES,
} from "../venues/mod.ts";
import { FeedConnection, type FeedConnectionOptions } from "./connection.ts";
import { FeedDiagnostics } from "./diagnostics.ts";
import { type BookStage, FeedPipeline, type FeedSummary } from "./pipeline.ts";
import type { CollectorMetrics, FeedMetrics } from "./metrics.ts";
import { ResyncScheduler, type ResyncSchedulerOptions } from "./resync.ts";
import { MAX_READ_PAUSE_MS, ReadPauses } from "./read_pauses.ts";
import { SinkQueue, type SinkQueueOptions } from "./sink_queue.ts";
import { Backfiller, type BackfillerOptions } from "../backfill/backfiller.ts";
import { TRADE_HISTORIES } from "../backfill/mod.ts";

export { MAX_READ_PAUSE_MS };

/**
 * Records a connection's raw frames (`collectors/replay/recording.ts`'s `RecordingWriter`
 * is one). Declared here so that the runtime does not depend on the replay folder, which
 * depends on the runtime.
 */
export interface FrameRecorder {
  /** Starts a connection to `url`; returns its id for `send` and `recv`. */
  connect(url: string): string;
  /** Records a frame sent on connection `conn`. */
  send(conn: string, frame: string): void;
  /** Records a frame received on connection `conn`. */
  recv(conn: string, frame: string): void;
  /** What was recorded so far (reported in the collector's summary). */
  readonly stats: Readonly<{ lines: number; files: number; bytes: number; errors: number }>;
  /** Makes everything recorded so far durable. */
  flush(): Promise<void>;
  /** Flushes and closes the recording. */
  close(): Promise<void>;
}

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
  /**
   * Where events go. Sinks that buffer until flushed (`Buffering` in `lib/market/sink.ts`,
   * like `LakeSink`) sit behind the bounded {@linkcode SinkQueue}; others get every event at
   * once.
   */
  readonly sinks: readonly EventSink[];
  /** Book stage with the venue's integrity checks. */
  readonly books?: BookStage;
  /** Flush sinks this often, in milliseconds (default 1,000). */
  readonly flushEveryMs?: number;
  /** Bounds of the sink queue (capacity, early-flush threshold). */
  readonly queue?: Pick<SinkQueueOptions, "capacity" | "flushAt">;
  /**
   * Longest pause of reading while the sink queue is full, ms (default
   * {@linkcode MAX_READ_PAUSE_MS}; 0: never pause, drop instead). Past it the collector reads
   * again and the queue drops what does not fit until a flush made room (logged once per
   * episode). Only the raw transport can pause.
   */
  readonly maxReadPauseMs?: number;
  /** Resync rate limits per symbol. */
  readonly resync?: Pick<ResyncSchedulerOptions, "minIntervalMs" | "maxIntervalMs">;
  /** Connection tuning (watchdog, backoff). */
  readonly connection?: Pick<
    FeedConnectionOptions,
    "watchdogMs" | "backoff" | "log" | "transport"
  >;
  readonly diagnostics?: FeedDiagnostics;
  /** The venue adapter (default: the registry's for `exchange`); for non-default options. */
  readonly adapter?: VenueAdapter;
  /** REST base URL for the default adapter (Binance snapshots; a fake server in tests). */
  readonly restUrl?: string;
  /** Trade-id policy (default: the venue's, see `VenueSpec.tradeIds`). */
  readonly tradeIds?: "sequential" | "unchecked";
  /** Records every raw frame, connect and send; flushed with the sinks, closed by `stop`. */
  readonly recorder?: FrameRecorder;
  /** Where this feed's metrics are registered. */
  readonly metrics?: CollectorMetrics;
  /** Time limit of a REST snapshot fetch, ms (default 10,000). */
  readonly fetchTimeoutMs?: number;
  /**
   * Backfill of missed trades through the venue's REST trade history (venues with checked
   * trade ids and a history in `TRADE_HISTORIES`); off when omitted. `baseUrl` defaults to
   * the venue's public REST API.
   */
  readonly backfill?: Pick<BackfillerOptions, "baseUrl" | "client" | "delayMs" | "maxPages">;
}

/** Status log lines allowed per second (resets and gaps are logged, a storm is counted). */
const STATUS_LOGS_PER_SECOND = 20;

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
  /** The bounded queue in front of the sinks. */
  readonly queue: SinkQueue;
  /** Fetches missed trades from the venue's REST history (`backfill` option). */
  readonly backfiller?: Backfiller;
  readonly #exchange: string;
  readonly #symbols: readonly string[];
  readonly #adapter: VenueAdapter;
  readonly #flushEveryMs: number;
  readonly #fetchTimeoutMs: number;
  #flushTimer?: ReturnType<typeof setInterval>;
  #flushing: Promise<unknown> = Promise.resolve();
  #flushQueued = false;
  #flushErrors = 0;
  #fetchErrors = 0;
  readonly #log: (record: Record<string, unknown>) => void;
  readonly #recorder?: FrameRecorder;
  readonly #metrics?: FeedMetrics;
  readonly #resync: ResyncScheduler;
  /** Aborts REST fetches in flight on stop. */
  #abort = new AbortController();
  readonly #fetches = new Set<Promise<void>>();
  /** Connections opened so far: answers fetched for an older connection are dropped. */
  #epoch = 0;
  #stopped = false;
  /** Symbols that had a book snapshot: the ones a reset resyncs. */
  readonly #bookSymbols = new Set<string>();
  #statusLogSecond = 0;
  #statusLogs = 0;
  #statusLogsSuppressed = 0;
  /** Recording id of the current connection. */
  #conn = "";
  /** Reading paused while the queue has no room (see `read_pauses.ts`). */
  readonly #readPauses: ReadPauses;

  constructor(options: CollectorOptions) {
    this.#exchange = options.exchange;
    this.#symbols = options.symbols.map((s) => normalizeSymbol(s));
    const diagnostics = options.diagnostics ??
      new FeedDiagnostics({ context: { exchange: options.exchange } });
    const adapter = this.#adapter = options.adapter ??
      createAdapter(options.exchange, { diagnostics, restUrl: options.restUrl });
    this.#log = options.connection?.log ??
      ((record) => console.error(JSON.stringify({ time: new Date().toISOString(), ...record })));
    const spec = options.exchange in VENUES ? venue(options.exchange) : undefined;
    const tradeIds = options.tradeIds ?? spec?.tradeIds;
    this.queue = new SinkQueue({
      ...options.queue,
      sinks: options.sinks,
      onFlushNeeded: () => this.#flush(),
      onFull: () => this.#readPauses.pause(),
      log: this.#log,
    });
    this.pipeline = new FeedPipeline({
      adapter,
      diagnostics,
      books: options.books,
      sinks: [this.queue],
      tradeIds,
      resetBooksOnUnreadableFrame: spec?.resetBooksOnUnreadableFrame,
    });
    const history = TRADE_HISTORIES[options.exchange];
    if (options.backfill !== undefined && history !== undefined && this.pipeline.ledger) {
      this.backfiller = new Backfiller({
        ...options.backfill,
        source: history,
        target: this.pipeline,
        log: this.#log,
        onEvents: (events) => this.#metrics?.observe(events, this.connection.lastFrameAt),
      });
    }
    this.#flushEveryMs = options.flushEveryMs ?? 1_000;
    this.#fetchTimeoutMs = options.fetchTimeoutMs ?? 10_000;
    this.#resync = new ResyncScheduler({
      ...options.resync,
      run: (symbol, reason) => this.#runResync(symbol, reason),
    });
    const recorder = this.#recorder = options.recorder;
    this.connection = this.#connection(options, adapter);
    this.#readPauses = new ReadPauses({
      connection: this.connection,
      queue: this.queue,
      maxPauseMs: options.maxReadPauseMs ?? MAX_READ_PAUSE_MS,
      exchange: options.exchange,
      log: this.#log,
    });
    this.#metrics = options.metrics?.addFeed({
      exchange: options.exchange,
      summary: () => this.summary(),
      connection: this.connection,
      flushErrors: () => this.#flushErrors,
      recording: recorder?.stats,
      queueDepth: () => this.queue.depth,
    });
  }

  /** The venue connection: subscribes, records, and hands every frame to the pipeline. */
  #connection(options: CollectorOptions, adapter: VenueAdapter): FeedConnection {
    const recorder = options.recorder;
    return new FeedConnection({
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
      onFrame: (frame, recvTs, utf8) => {
        recorder?.recv(this.#conn, frame);
        this.#after(this.pipeline.handleFrame(frame, recvTs, utf8));
      },
      onOpen: ({ reconnect }) => {
        this.#epoch++;
        // A new connection subscribes afresh: its snapshots replace any pending resync.
        this.#resync.cancel();
        if (recorder !== undefined) this.#conn = recorder.connect(options.url);
        if (reconnect) {
          // Consumers and the metrics both learn of it (status_events_total{disconnected}).
          const events = this.pipeline.handleReconnect(nowMicros(), "reconnected");
          this.#metrics?.observeStatuses(events);
        }
      },
    });
  }

  /** After the events of one frame or fetch: metrics, adapter requests, resyncs, logs. */
  #after(events: readonly MarketEvent[]): void {
    this.#metrics?.observe(events, this.connection.lastFrameAt);
    this.backfiller?.observe(events);
    const requests = this.#adapter.takeRequests?.();
    const reconnecting = requests !== undefined && this.#serve(requests);
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      if (e.kind === "book_snapshot") this.#bookSymbols.add(e.symbol);
      if (e.kind !== "status") continue;
      if (e.status === "reset" || e.status === "gap") this.#logStatus(e.symbol, e.status, e.reason);
      // Only books are rebuilt (an Alpaca trade correction also says "reset").
      if (
        e.status === "reset" && !reconnecting &&
        (e.symbol === "*" ? this.#bookSymbols.size > 0 : this.#bookSymbols.has(e.symbol))
      ) {
        this.#requestResync(e.symbol, e.reason);
      }
    }
  }

  #requestResync(symbol: string, reason: string): void {
    if (this.#adapter.resyncRequests === undefined) {
      // Without a per-symbol way, a reconnect rebuilds every book.
      this.#resync.request("*", reason);
      return;
    }
    if (symbol === "*") {
      for (const s of this.#symbols) this.#resync.request(s, reason);
    } else {
      this.#resync.request(symbol, reason);
    }
  }

  #runResync(symbol: string, reason: string): void {
    if (this.#stopped) return;
    this.#log({ level: "warn", msg: "resync book", exchange: this.#exchange, symbol, reason });
    const requests = symbol === "*" ? undefined : this.#adapter.resyncRequests?.(symbol);
    if (requests === undefined) {
      this.#resync.cancel();
      this.connection.restart(`resync: ${reason}`);
      return;
    }
    this.#serve(requests);
  }

  /**
   * Carries out what the adapter asked of the connection (replies, reconnects, fetches);
   * true when a reconnect was asked for.
   */
  #serve(requests: readonly ConnectionRequest[]): boolean {
    let reconnect = false;
    for (const request of requests) {
      switch (request.kind) {
        case "send":
          if (this.connection.send(request.frame)) {
            this.#recorder?.send(this.#conn, request.redacted ?? request.frame);
          } else {
            this.#log({ level: "warn", msg: "not connected: not sent", exchange: this.#exchange });
          }
          break;
        case "reconnect":
          reconnect = true;
          this.#log({
            level: "warn",
            msg: "venue adapter asked to reconnect",
            exchange: this.#exchange,
            reason: request.reason,
            minDelayMs: request.minDelayMs ?? 0,
          });
          this.#resync.cancel();
          this.connection.restart(request.reason, request.minDelayMs);
          break;
        case "fetch":
          this.#fetch(request);
          break;
      }
    }
    return reconnect;
  }

  /** Fetches a REST snapshot and feeds the answer through the pipeline. */
  #fetch(request: Extract<ConnectionRequest, { kind: "fetch" }>): void {
    const epoch = this.#epoch;
    const signal = AbortSignal.any([
      this.#abort.signal,
      AbortSignal.timeout(this.#fetchTimeoutMs),
    ]);
    const done = (async () => {
      try {
        const response = await fetch(request.url, { signal });
        const body = await response.text();
        if (!response.ok) throw new Error(`HTTP ${response.status}: ${body.slice(0, 200)}`);
        if (this.#stopped || epoch !== this.#epoch) return; // for an older connection
        this.#after(this.pipeline.handleFetched(request, body, nowMicros()));
      } catch (error) {
        if (this.#stopped) return;
        this.#fetchErrors++;
        this.#log({
          level: "warn",
          msg: "snapshot fetch failed",
          exchange: this.#exchange,
          symbol: request.symbol,
          url: request.url,
          error: String(error),
        });
        if (epoch === this.#epoch) this.#requestResync(request.symbol, "snapshot fetch failed");
      }
    })();
    this.#fetches.add(done);
    done.finally(() => this.#fetches.delete(done));
  }

  #logStatus(symbol: string, status: string, reason: string): void {
    const second = Math.floor(performance.now() / 1000);
    if (second !== this.#statusLogSecond) {
      if (this.#statusLogsSuppressed > 0) {
        this.#log({
          level: "warn",
          msg: "feed status lines suppressed",
          exchange: this.#exchange,
          count: this.#statusLogsSuppressed,
        });
      }
      this.#statusLogSecond = second;
      this.#statusLogs = 0;
      this.#statusLogsSuppressed = 0;
    }
    if (++this.#statusLogs > STATUS_LOGS_PER_SECOND) {
      this.#statusLogsSuppressed++;
      return;
    }
    this.#log({
      level: "warn",
      msg: status === "reset" ? "book reset" : "trade gap",
      exchange: this.#exchange,
      symbol,
      reason,
    });
  }

  /** Connects and starts periodic flushes. */
  start(): void {
    this.#stopped = false;
    this.#readPauses.start();
    this.connection.start();
    this.#flushTimer = setInterval(() => this.#flush(), this.#flushEveryMs);
  }

  #flush(): Promise<unknown> {
    // Flushes never overlap: each waits for the previous one; requests meanwhile fold.
    if (this.#flushQueued) return this.#flushing;
    this.#flushQueued = true;
    this.#flushing = this.#flushing.then(async () => {
      this.#flushQueued = false;
      const started = performance.now();
      await this.pipeline.flush();
      this.#metrics?.observeFlush((performance.now() - started) / 1000);
      await this.#recorder?.flush();
    }).catch((error) => {
      this.#flushErrors++;
      this.#log({ level: "error", msg: "flush failed", error: String(error) });
    });
    return this.#flushing;
  }

  /** Flush failures so far (the sink keeps what it could not write for the next flush). */
  get flushErrors(): number {
    return this.#flushErrors;
  }

  /** REST snapshot fetches that failed so far (each retried through a rate-limited resync). */
  get fetchErrors(): number {
    return this.#fetchErrors;
  }

  /** Counters so far: the pipeline's, with resyncs and sink-queue drops. */
  summary(): FeedSummary {
    return {
      ...this.pipeline.summary(),
      resyncs: this.#resync.stats.run,
      events_dropped: this.queue.stats.droppedEvents,
      trades_dropped: this.queue.stats.droppedTrades,
      read_pauses: this.connection.stats.pauses,
      read_pause_timeouts: this.#readPauses.timedOut,
    };
  }

  /** Stops the connection, flushes everything received, closes the sinks and the recorder. */
  async stop(): Promise<FeedSummary> {
    this.#stopped = true;
    clearInterval(this.#flushTimer);
    this.#readPauses.stop();
    this.#resync.cancel();
    await this.connection.stop();
    await this.backfiller?.stop();
    this.#abort.abort();
    await Promise.allSettled([...this.#fetches]);
    this.#abort = new AbortController();
    await this.#flushing;
    await this.pipeline.close();
    await this.#recorder?.close();
    return this.summary();
  }
}
