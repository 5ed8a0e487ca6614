/**
 * A venue websocket that stays connected: reconnect with backoff and jitter, a watchdog
 * for silent connections, resubscribe on every connect, and (raw transport only) reading
 * paused on request while the consumer cannot take more ({@linkcode FeedConnection.pause}).
 * @module
 */
import { Backoff, type BackoffOptions } from "./backoff.ts";
import { RawWebSocket } from "./raw_websocket.ts";

/** What the connection needs of a websocket: `WebSocket` and {@linkcode RawWebSocket} fit. */
interface FeedSocket {
  readonly readyState: number;
  send(text: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((...args: never[]) => unknown) | null;
  /** `data` is text with the raw transport; `WebSocket` may hand binary data. */
  onmessage: ((event: { data: string; bytes: Uint8Array | undefined }) => unknown) | null;
  onclose: ((event: { code: number; reason: string; wasClean: boolean }) => unknown) | null;
  onerror: ((...args: never[]) => unknown) | null;
  /** Stop and restart reading ({@linkcode RawWebSocket}; `WebSocket` cannot). */
  pause?(): void;
  resume?(): void;
}

/** `performance.timeOrigin`, read once (receive times are `nowMicros()` from one clock read). */
const TIME_ORIGIN = performance.timeOrigin;

const OPEN = 1;
const CLOSED = 3;

/** What a {@linkcode FeedConnection} reports. */
export interface FeedConnectionStats {
  connects: number;
  reconnects: number;
  frames: number;
  watchdogRestarts: number;
  /** Times reading was paused ({@linkcode FeedConnection.pause}). */
  pauses?: number;
  /** Milliseconds spent paused, ended pauses only. */
  pausedMs?: number;
}

/** Options for {@linkcode FeedConnection}. */
export interface FeedConnectionOptions {
  /** Websocket URL (`wss://ws-feed.exchange.coinbase.com`, or a local simulator). */
  readonly url: string;
  /** Frames to send after each connect (subscriptions). */
  readonly subscribeMessages: () => string[];
  /**
   * Every received text frame with its local receive time in microseconds and, with the raw
   * transport, its UTF-8 bytes (valid during the call only).
   */
  readonly onFrame: (frame: string, recvTs: number, utf8?: Uint8Array) => void;
  /** Called when a connection opens; `reconnect` is false for the first one. */
  readonly onOpen?: (info: { reconnect: boolean }) => void;
  /** Called when a connection is lost, with why. */
  readonly onClose?: (reason: string) => void;
  /** Restart a connection that received nothing for this long (default 15,000 ms). */
  readonly watchdogMs?: number;
  /** Reconnect delays. */
  readonly backoff?: BackoffOptions;
  /** JSON-line logger (default: stderr). */
  readonly log?: (record: Record<string, unknown>) => void;
  /**
   * `raw`: our RFC 6455 client over TCP/TLS ({@linkcode RawWebSocket}), which cuts frames
   * itself and costs about a third of the CPU per frame; `native`: the runtime's
   * `WebSocket`. Default: `raw`, for `ws://` and `wss://` alike (see `#connect`).
   */
  readonly transport?: "raw" | "native";
  /**
   * Extra certificate authorities (PEM) trusted for `wss://` by the raw transport (a local
   * server with its own CA); the runtime's `WebSocket` takes them only from
   * `deno run --cert FILE` or `DENO_CERT`.
   */
  readonly caCerts?: readonly string[];
}

/**
 * Keeps one websocket to a venue open until `stop()`.
 *
 * @example
 * ```ts ignore
 * import { FeedConnection } from "./connection.ts";
 * const conn = new FeedConnection({
 *   url: "wss://ws-feed.exchange.coinbase.com",
 *   subscribeMessages: () => ['{"type":"subscribe","product_ids":["BTC-USD"],"channels":["matches"]}'],
 *   onFrame: (frame) => console.log(frame),
 * });
 * conn.start();
 * ```
 */
export class FeedConnection {
  readonly #options: FeedConnectionOptions;
  readonly #backoff: Backoff;
  readonly #log: (record: Record<string, unknown>) => void;
  #socket?: FeedSocket;
  #stopped = true;
  #lastFrameAt = 0;
  /** `performance.now()` when reading was paused; `undefined` while reading. */
  #pausedAt?: number;
  /** `performance.now()` of the last resume: the watchdog counts silence from here too. */
  #resumedAt = 0;
  #watchdog?: ReturnType<typeof setInterval>;
  #retryTimer?: ReturnType<typeof setTimeout>;
  #closed?: PromiseWithResolvers<void>;
  /** Least delay before the next reconnect (set by `restart`). */
  #minDelayMs = 0;
  /** Counters for metrics. */
  readonly stats: Required<FeedConnectionStats> = {
    connects: 0,
    reconnects: 0,
    frames: 0,
    watchdogRestarts: 0,
    pauses: 0,
    pausedMs: 0,
  };

  constructor(options: FeedConnectionOptions) {
    if (!/^wss?:\/\//.test(options.url)) {
      throw new TypeError(`websocket URL must start with ws:// or wss://, got ${options.url}`);
    }
    this.#options = options;
    this.#backoff = new Backoff(options.backoff);
    this.#log = options.log ??
      ((record) => console.error(JSON.stringify({ time: new Date().toISOString(), ...record })));
  }

  /** `performance.now()` when the last frame arrived. */
  get lastFrameAt(): number {
    return this.#lastFrameAt;
  }

  /** True while a socket is open. */
  get connected(): boolean {
    return this.#socket?.readyState === OPEN;
  }

  /** True when the transport can stop reading (`raw`; the runtime's `WebSocket` cannot). */
  get canPause(): boolean {
    return (this.#options.transport ?? "raw") === "raw";
  }

  /** True while reading is paused. */
  get paused(): boolean {
    return this.#pausedAt !== undefined;
  }

  /**
   * Stops reading frames (after the one being handled) until {@linkcode FeedConnection.resume},
   * across reconnects too; false (nothing changed) when the transport cannot
   * ({@linkcode FeedConnection.canPause}). TCP flow control then holds what the venue sends
   * in the kernel's buffers and the venue's. The watchdog does not count paused time as
   * silence. Nothing is read meanwhile, the venue's pings neither: the caller bounds the
   * pause (a venue drops a client that leaves its pings unanswered, or whose send buffer
   * overflows, typically within a minute or so).
   */
  pause(): boolean {
    if (!this.canPause) return false;
    if (this.#pausedAt !== undefined) return true;
    this.#pausedAt = performance.now();
    this.stats.pauses++;
    this.#socket?.pause?.();
    return true;
  }

  /** Reads again after {@linkcode FeedConnection.pause}. */
  resume(): void {
    if (this.#pausedAt === undefined) return;
    const now = performance.now();
    this.stats.pausedMs += now - this.#pausedAt;
    this.#pausedAt = undefined;
    this.#resumedAt = now;
    this.#socket?.resume?.();
  }

  /** Connects, and keeps reconnecting until `stop()`. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#closed = Promise.withResolvers();
    this.#connect();
    const watchdogMs = this.#options.watchdogMs ?? 15_000;
    this.#watchdog = setInterval(() => {
      // Silence is counted from the last frame or the last resume; never while WE paused.
      if (
        this.connected && this.#pausedAt === undefined &&
        performance.now() - Math.max(this.#lastFrameAt, this.#resumedAt) > watchdogMs
      ) {
        this.stats.watchdogRestarts++;
        this.#log({
          level: "warn",
          msg: "watchdog: no frame, restarting",
          url: this.#options.url,
          watchdogMs,
        });
        this.#socket?.close(4000, "watchdog");
      }
    }, Math.max(100, Math.floor(watchdogMs / 4)));
  }

  #connect(): void {
    if (this.#stopped) return;
    const reconnect = this.stats.connects > 0;
    let socket: FeedSocket;
    try {
      // `raw` by default for `wss://` too: over a local TLS server (tests/raw_websocket_test.ts:
      // frames and headers cut across TLS records, ping/pong, close, fragments, reconnects)
      // `deno task bench collect` (`collect_wss_messages_per_second`, 300,010 Coinbase
      // frames, best of 3) measured 362,632 frames/s against the runtime's `WebSocket`'s
      // 147,510 (x2.46), and x2.18 frames per CPU-second (load average 16 on 2 cores).
      const transport = this.#options.transport ?? "raw";
      socket = transport === "native"
        ? new WebSocket(this.#options.url) as unknown as FeedSocket
        : new RawWebSocket(this.#options.url, { caCerts: this.#options.caCerts });
    } catch (error) {
      this.#scheduleRetry(`cannot connect: ${(error as Error).message}`);
      return;
    }
    this.#socket = socket;
    if (this.#pausedAt !== undefined) socket.pause?.(); // still paused: the new one too
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.#lastFrameAt = performance.now();
      this.stats.connects++;
      if (reconnect) this.stats.reconnects++;
      this.#log({
        level: "info",
        msg: reconnect ? "reconnected" : "connected",
        url: this.#options.url,
      });
      this.#options.onOpen?.({ reconnect });
      for (const message of this.#options.subscribeMessages()) socket.send(message);
    };
    socket.onmessage = (event) => {
      // One clock read per frame: the receive time and the watchdog's last-frame time.
      const now = performance.now();
      const recvTs = Math.round((TIME_ORIGIN + now) * 1000);
      this.#lastFrameAt = now;
      this.stats.frames++;
      if (this.stats.frames % 1000 === 0) this.#backoff.reset();
      const data = event.data;
      this.#options.onFrame(
        typeof data === "string" ? data : new TextDecoder().decode(data as ArrayBuffer),
        recvTs,
        event.bytes,
      );
    };
    socket.onerror = () => {}; // the close event that follows says what happened
    socket.onclose = (event) => {
      if (this.#socket === socket) this.#socket = undefined;
      const reason = opened
        ? `closed (code ${event.code}${event.reason ? `: ${event.reason}` : ""})`
        : "connection failed";
      if (opened) this.#options.onClose?.(reason);
      if (this.#stopped) {
        this.#closed?.resolve();
        return;
      }
      this.#scheduleRetry(reason);
    };
  }

  #scheduleRetry(reason: string): void {
    const delay = Math.max(this.#backoff.next(), this.#minDelayMs);
    this.#minDelayMs = 0;
    this.#log({
      level: "warn",
      msg: "disconnected, retrying",
      reason,
      url: this.#options.url,
      attempt: this.#backoff.attempt,
      delayMs: delay,
    });
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  /** Sends a frame on the open connection; false (nothing sent) when not connected. */
  send(frame: string): boolean {
    const socket = this.#socket;
    if (socket === undefined || socket.readyState !== OPEN) return false;
    socket.send(frame);
    return true;
  }

  /**
   * Drops the current connection and connects again (fresh subscriptions), waiting at least
   * `minDelayMs` (a venue that refused us must not be hammered) or the usual backoff delay,
   * whichever is longer.
   */
  restart(reason: string, minDelayMs = 0): void {
    if (this.#stopped) return;
    this.#minDelayMs = Math.max(this.#minDelayMs, minDelayMs);
    this.#log({ level: "warn", msg: "restarting connection", reason, url: this.#options.url });
    this.#socket?.close(4001, reason.slice(0, 100));
  }

  /** Closes the socket and stops reconnecting; resolves once closed. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#watchdog);
    clearTimeout(this.#retryTimer);
    const socket = this.#socket;
    const open = socket !== undefined && socket.readyState !== CLOSED;
    if (open) socket.close(1000, "stopping"); // reads the server's answer, delivers nothing more
    this.resume();
    if (open) await this.#closed?.promise;
  }
}
