/**
 * The REST client of the backfillers: one per venue, every request through the venue's
 * {@linkcode TokenBucket}; `429 Too Many Requests` and `418` (Binance's IP ban) honour the
 * `Retry-After` header (seconds or an HTTP date) and hold back every later request of the
 * client until then; server errors and network failures are retried with a doubling delay;
 * retries are bounded, so a dead venue costs a known number of requests.
 * @module
 */
import { TokenBucket } from "./token_bucket.ts";

/** Time as the client sees it: injectable so tests never wait on the wall clock. */
export interface RestClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Resolves after `ms` (rejects when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The wall clock. */
export const SYSTEM_CLOCK: RestClock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/** Options for {@linkcode RestClient}. */
export interface RestClientOptions {
  /** Base URL (`https://api.exchange.coinbase.com`); request paths are appended. */
  readonly baseUrl: string;
  /** Burst size of the token bucket, in request weight. */
  readonly capacity: number;
  /** Weight refilled per second. */
  readonly refillPerSecond: number;
  /** Retries after the first attempt (default 4). */
  readonly maxRetries?: number;
  /** First delay after a server error or network failure, ms (default 250; doubles). */
  readonly retryDelayMs?: number;
  /** Longest wait a `Retry-After` may ask for before the request fails instead, ms (default 120,000). */
  readonly maxRetryAfterMs?: number;
  /** Wait when a 429/418 has no readable `Retry-After`, ms (default 1,000). */
  readonly defaultRetryAfterMs?: number;
  /** Time limit of one attempt, ms (default 10,000). */
  readonly timeoutMs?: number;
  readonly clock?: RestClock;
  /** Headers sent with every request (an API key); never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The transport (default the global `fetch`). */
  readonly fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

/** A request that failed for good (after its retries, or at once for a client error). */
export class RestError extends Error {
  constructor(
    message: string,
    /** HTTP status of the last attempt; 0 for a network failure. */
    readonly status: number,
    /** Attempts made. */
    readonly attempts: number,
  ) {
    super(message);
    this.name = "RestError";
  }
}

/** A successful answer. */
export interface RestResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** Counters of a {@linkcode RestClient}. */
export interface RestClientStats {
  requests: number;
  retries: number;
  /** 429 and 418 answers. */
  rateLimited: number;
  failures: number;
  /** Milliseconds spent waiting for the bucket or a `Retry-After`. */
  waitedMs: number;
  /** Milliseconds of `Retry-After` honoured (every later request held back until then). */
  retryAfterMs: number;
}

/**
 * Rate-limited GET requests with bounded retries.
 *
 * @example
 * ```ts ignore
 * const client = new RestClient({ baseUrl: "https://api.binance.com", capacity: 6000,
 *   refillPerSecond: 100 });
 * const { body } = await client.get("/api/v3/historicalTrades?symbol=BTCUSDT", { weight: 25 });
 * ```
 */
export class RestClient {
  readonly baseUrl: string;
  readonly stats: RestClientStats = {
    requests: 0,
    retries: 0,
    rateLimited: 0,
    failures: 0,
    waitedMs: 0,
    retryAfterMs: 0,
  };
  readonly #bucket: TokenBucket;
  readonly #clock: RestClock;
  readonly #fetch: (url: string, init: RequestInit) => Promise<Response>;
  readonly #maxRetries: number;
  readonly #retryDelayMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #defaultRetryAfterMs: number;
  readonly #timeoutMs: number;
  readonly #headers?: Readonly<Record<string, string>>;
  /** No request leaves before this time (a venue's `Retry-After`). */
  #blockedUntil = -Infinity;

  constructor(options: RestClientOptions) {
    if (typeof options.baseUrl !== "string" || options.baseUrl.length === 0) {
      throw new TypeError("baseUrl is required");
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#bucket = new TokenBucket({
      capacity: options.capacity,
      refillPerSecond: options.refillPerSecond,
      now: () => this.#clock.now(),
    });
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#headers = options.headers;
    this.#maxRetries = options.maxRetries ?? 4;
    this.#retryDelayMs = options.retryDelayMs ?? 250;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
    this.#defaultRetryAfterMs = options.defaultRetryAfterMs ?? 1_000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    if (!(this.#maxRetries >= 0)) throw new RangeError("maxRetries must be >= 0");
  }

  /**
   * GETs `path` (appended to the base URL). `weight`: the request's cost in the venue's
   * budget (default 1). Resolves with a 2xx answer; rejects with {@linkcode RestError}.
   */
  async get(
    path: string,
    options: { weight?: number; signal?: AbortSignal } = {},
  ): Promise<RestResponse> {
    const url = this.baseUrl + path;
    const signal = options.signal;
    let delay = this.#retryDelayMs;
    for (let attempt = 1;; attempt++) {
      const wait = Math.max(
        this.#bucket.reserve(options.weight ?? 1),
        this.#blockedUntil - this.#clock.now(),
      );
      if (wait > 0) {
        this.stats.waitedMs += wait;
        await this.#clock.sleep(wait, signal);
      }
      this.stats.requests++;
      let status = 0;
      let problem: string;
      let retryIn = delay;
      try {
        const response = await this.#fetch(url, {
          headers: this.#headers,
          signal: signal === undefined
            ? AbortSignal.timeout(this.#timeoutMs)
            : AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]),
        });
        status = response.status;
        const body = await response.text();
        if (response.ok) return { status, headers: response.headers, body };
        problem = `HTTP ${status}: ${body.slice(0, 200)}`;
        if (status === 429 || status === 418) {
          this.stats.rateLimited++;
          retryIn = this.#retryAfter(response.headers.get("retry-after"));
          if (retryIn > this.#maxRetryAfterMs) {
            this.stats.failures++;
            throw new RestError(
              `${url}: ${problem} (Retry-After ${retryIn} ms is too long)`,
              status,
              attempt,
            );
          }
          this.stats.retryAfterMs += retryIn;
          this.#blockedUntil = Math.max(this.#blockedUntil, this.#clock.now() + retryIn);
        } else if (status < 500) {
          this.stats.failures++;
          throw new RestError(`${url}: ${problem}`, status, attempt);
        } else {
          delay *= 2;
        }
      } catch (error) {
        if (error instanceof RestError) throw error;
        if (signal?.aborted) throw error;
        problem = String(error);
        delay *= 2;
      }
      if (attempt > this.#maxRetries) {
        this.stats.failures++;
        throw new RestError(`${url}: ${problem} after ${attempt} attempts`, status, attempt);
      }
      this.stats.retries++;
      if (status !== 429 && status !== 418) {
        this.stats.waitedMs += retryIn;
        await this.#clock.sleep(retryIn, signal);
      }
    }
  }

  /** `Retry-After` in ms: delta seconds or an HTTP date; the default when unreadable. */
  #retryAfter(header: string | null): number {
    if (header === null) return this.#defaultRetryAfterMs;
    const text = header.trim();
    if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
    const date = Date.parse(text);
    if (Number.isNaN(date)) return this.#defaultRetryAfterMs;
    return Math.max(0, date - Date.now());
  }
}
