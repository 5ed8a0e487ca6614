/**
 * The HTTP application: routes over a {@linkcode MarketDataRepository} and a
 * {@linkcode StreamHub}, as a plain `(Request) => Promise<Response>` function.
 * @module
 */
import type { MarketDataRepository } from "../lib/repositories/repository.ts";
import { type Authenticator, AuthError, type Principal, type Scope } from "./auth/authenticator.ts";
import { OriginPolicy } from "./auth/origin.ts";
import type { GuardStats } from "./conn_guard.ts";
import type { DirectSocket } from "./_direct_send.ts";
import { type StreamHub, TooManySubscribersError } from "./hub.ts";
import { ConnectionLimiter, type ConnectionLimits } from "./limits.ts";
import { ServerMetrics } from "./metrics.ts";
import { livePageHtml } from "./page.ts";
import { marketResponse } from "./market_routes.ts";
import { parseStreamFilter } from "./params.ts";
import type { QueryPool } from "./query_pool.ts";
import { holdWhileStreaming } from "./queries.ts";
import { html, HttpError, json, Router } from "./router.ts";
import { sseStream, type StreamOptions, StreamRegistry, webSocketStream } from "./streams.ts";
import {
  TRADING_PREFIX,
  TRADING_STREAM,
  type TradingDesk,
  tradingRoutes,
} from "./trading_routes.ts";

/** What {@linkcode createApp} needs. */
export interface AppOptions extends StreamOptions {
  /** Where `/api/*` reads history. */
  readonly repository: MarketDataRepository;
  /** Where `/ws` and `/sse` get live events. */
  readonly hub: StreamHub;
  /** Aborting ends every open WebSocket and SSE stream (used on shutdown). */
  readonly signal?: AbortSignal;
  /**
   * Who may call: without it (or with no credential configured) every route is open, which
   * {@linkcode startServer} allows only on a loopback interface.
   */
  readonly auth?: Authenticator;
  /** Origin and Host allow-lists (default: same-origin browsers only, any Host). */
  readonly origins?: OriginPolicy;
  /** Caps on open WebSocket and SSE streams. */
  readonly limits?: ConnectionLimits;
  /**
   * Most `/api/*` queries running at once (default 8); beyond it 503 with `Retry-After`, so a
   * burst of heavy queries cannot pile up on the repository.
   */
  readonly maxConcurrentQueries?: number;
  /**
   * Runs the market-data routes in workers over the lake (`query_pool.ts`), off this event
   * loop; give it as many workers as `maxConcurrentQueries`. Without it they run here.
   */
  readonly queryPool?: QueryPool;
  /** WebSocket: how long a client that sends its token as a message has (default 5,000 ms). */
  readonly authTimeoutMs?: number;
  /** A live runner: adds the `/api/trading/*` routes (`server/trading_routes.ts`). */
  readonly trading?: TradingDesk;
  /**
   * The connection guard's counters, when the app is served behind it (`conn_guard.ts`):
   * reported by `/health` (`connections`) and `/metrics` (`alphapulse_server_guard_*`).
   */
  readonly connectionStats?: () => GuardStats;
  /**
   * Resets a client's TCP connection, for a WebSocket that has not completed its closing
   * handshake within `closeGraceMs` (a client that never reads). {@linkcode startServer} sets
   * it when no connection guard is in front (the guard's write timeout does it otherwise).
   */
  readonly resetConnection?: (peer: PeerAddress) => Promise<boolean>;
  /**
   * Finds a client's TCP socket, for a WebSocket stream to write its frames to directly
   * (`_direct_send.ts`). {@linkcode startServer} sets it when no connection guard is in front.
   */
  readonly directSocket?: (peer: PeerAddress) => Promise<DirectSocket | undefined>;
}

/** A client's TCP address. */
export interface PeerAddress {
  readonly hostname: string;
  readonly port: number;
}

/** The connection a request came on (what `Deno.serve` passes as the second argument). */
export interface ConnInfo {
  readonly remoteAddr?: { readonly hostname?: string; readonly port?: number };
}

/** The request handler. */
export type App = (req: Request, info?: ConnInfo) => Promise<Response>;

/** The WebSocket subprotocol naming this API; offer it next to `bearer.<token>`. */
export const WS_PROTOCOL = "alphapulse";

/** Routes anyone may call: liveness and the (data-free) live page. */
const PUBLIC_PATHS = new Set(["/health", "/"]);

/**
 * Builds the request handler.
 *
 * Routes (all `GET`; errors are JSON `{ "error": ... }` with a 4xx/5xx status):
 * - `/health`: `{ status, uptimeSeconds, streamClients, eventsPublished, ... }`; behind the
 *   connection guard also `connections: { open, refused, refusedBy, headerTimeouts,
 *   idleTimeouts, writeTimeouts, unguardedRefused }`
 * - `/api/instruments?table=trades|quotes|book_snapshots`: instruments with rows in the table
 *   (default `trades`), each with `rows` (and `trades` for the trades table), `first` and
 *   `last` (venue times, epoch microseconds)
 * - `/api/bars?exchange=&symbol=&interval=1m&start=&end=`: OHLCV rows; times are ISO 8601
 *   or epoch microseconds, `start` inclusive, `end` exclusive; with `by=ticks|volume|dollars`
 *   and `threshold=` instead of `interval`: tick, volume or dollar bars
 * - `/api/trades?exchange=&symbol=&start=&end=&limit=1000&order=asc|desc&cursor=`: one page
 *   of trades (limit and cursor pushed down into the repository); `x-next-cursor` (and
 *   `Link: rel="next"`) give the next page's cursor; `format=ndjson|arrow` (or `Accept:
 *   application/x-ndjson`) streams the whole range (or `limit` rows) page by page (see
 *   `queries.ts`)
 * - `/api/quotes?...` (same parameters): best bid and offer
 * - `/api/book_snapshots?...&depth=10` (same parameters, `depth` levels per side): stored
 *   book snapshots
 * - `/ws`, `/sse` with `?exchange=&symbol=&kinds=trade,quote`: live events, each message a
 *   JSON array of events
 * - `/metrics`: Prometheus exposition (requests, latency, streams, hub drops, process)
 * - `/`: the live chart page (`?exchange=&symbol=`)
 * - with `trading`: `/api/trading/{positions,orders,fills,pnl,stream}` and
 *   `POST /api/trading/kill` (see {@linkcode tradingRoutes}); they need the `trade` scope
 *
 * With `auth`, every route but `/health` and `/` needs a bearer credential with the `read`
 * scope (`Authorization: Bearer`; for `/ws` also a `bearer.<token>` subprotocol or a first
 * message `{"type":"auth","token":...}` within `authTimeoutMs`).
 *
 * @example
 * ```ts ignore
 * import { createApp, StreamHub } from "./mod.ts";
 * const app = createApp({ repository, hub: new StreamHub() });
 * const res = await app(new Request("http://localhost/health"));
 * ```
 */
export function createApp(options: AppOptions): App {
  const state = appState(options);
  const router = appRouter(state, async () =>
    new Response(await metrics.exposition(), {
      headers: { "content-type": metrics.registry.contentType, "cache-control": "no-store" },
    }));
  const metrics: ServerMetrics = new ServerMetrics({
    hub: state.hub,
    limiter: state.limiter,
    routes: router.paths(),
    guard: options.connectionStats,
  });
  const METHODS = new Set(["GET", "HEAD", "OPTIONS", "POST"]);
  return async (req, info) => {
    const started = performance.now();
    const method = METHODS.has(req.method) ? req.method : "other";
    const path = new URL(req.url).pathname;
    const res = await handle(state, router, req, info, path);
    metrics.observe(method, path, res.status, (performance.now() - started) / 1000);
    return res;
  };
}

/** What one app's routes and request gate share. */
interface AppState {
  readonly options: AppOptions;
  readonly repository: MarketDataRepository;
  readonly hub: StreamHub;
  readonly startedAt: number;
  readonly streams: StreamRegistry;
  readonly limiter: ConnectionLimiter;
  readonly origins: OriginPolicy;
  readonly auth: Authenticator | undefined;
  readonly maxQueries: number;
  /** `/api/*` queries running now. */
  queries: number;
  /** Requests whose WebSocket client will send its token as the first message. */
  readonly deferred: WeakSet<Request>;
  /** Open-stream slots taken for a request, released when its stream ends. */
  readonly slots: WeakMap<Request, () => void>;
  /** Who made each authenticated request (for the trading routes' action log). */
  readonly principals: WeakMap<Request, Principal>;
  /** The client address of each stream request. */
  readonly peers: WeakMap<Request, PeerAddress>;
}

/** Checks `options` and sets up the app's shared state (the streams end on `signal`). */
function appState(options: AppOptions): AppState {
  const { repository, hub } = options;
  if (!repository || typeof repository.bars !== "function") {
    throw new TypeError("createApp: repository must implement MarketDataRepository");
  }
  if (!hub || typeof hub.subscribe !== "function") {
    throw new TypeError("createApp: hub must be a StreamHub");
  }
  const limiter = new ConnectionLimiter(options.limits);
  const maxQueries = options.maxConcurrentQueries ?? 8;
  if (!Number.isInteger(maxQueries) || maxQueries < 1) {
    throw new RangeError(`maxConcurrentQueries must be a positive integer: ${maxQueries}`);
  }
  const streams = new StreamRegistry();
  if (options.signal?.aborted) streams.closeAll();
  options.signal?.addEventListener("abort", () => streams.closeAll(), { once: true });
  return {
    options,
    repository,
    hub,
    startedAt: performance.now(),
    streams,
    limiter,
    origins: options.origins ?? new OriginPolicy(),
    auth: options.auth?.enabled ? options.auth : undefined,
    maxQueries,
    queries: 0,
    deferred: new WeakSet(),
    slots: new WeakMap(),
    peers: new WeakMap(),
    principals: new WeakMap(),
  };
}

/** The app's routes; `/metrics` answers with `metrics()`. */
function appRouter(state: AppState, metrics: () => Promise<Response>): Router {
  const { options, repository, hub, limiter } = state;
  const router: Router = new Router()
    .get("/health", () => {
      const stats = hub.stats();
      return json({
        status: "ok",
        uptimeSeconds: Math.round((performance.now() - state.startedAt) / 1000),
        streamClients: stats.clients,
        eventsPublished: stats.published,
        eventsDelivered: stats.delivered,
        slowDisconnects: stats.slowDisconnects,
        openStreams: limiter.open,
        refusedStreams: limiter.refused,
        ...(options.connectionStats ? { connections: options.connectionStats() } : {}),
      });
    })
    .get("/api/instruments", market)
    .get("/api/bars", market)
    .get("/api/trades", market)
    .get("/api/quotes", market)
    .get("/api/book_snapshots", market)
    .get("/ws", ({ req, query }) => webSocketRoute(state, req, query))
    .get("/sse", ({ req, query }) => sseRoute(state, req, query))
    .get("/metrics", metrics)
    .get("/", () => html(livePageHtml()));
  if (options.trading) {
    tradingRoutes(router, options.trading, {
      signal: options.signal,
      streamSlot: (req) => takeSlot(state, req),
      principalOf: (req) => state.principals.get(req),
    });
  }
  return router;

  /** A market-data route: in a query worker with `queryPool`, else on this thread. */
  function market({ req, url }: { req: Request; url: URL }): Promise<Response> {
    const accept = req.headers.get("accept");
    return options.queryPool
      ? options.queryPool.fetch(url, accept)
      : marketResponse(repository, url, accept);
  }
}

/** `/ws`: a WebSocket stream of the events `query` selects. */
function webSocketRoute(state: AppState, req: Request, query: URLSearchParams): Response {
  const { options, hub, streams, auth, deferred } = state;
  const filter = parseStreamFilter(query);
  const offered = offeredProtocols(req);
  const release = takeSlot(state, req);
  try {
    return webSocketStream(req, () => streams.subscribe(hub, filter), {
      ...options,
      protocol: offered.includes(WS_PROTOCOL)
        ? WS_PROTOCOL
        : offered.find((p) => p.startsWith("bearer.")),
      authenticate: auth && deferred.has(req)
        ? (token) => auth.authenticate(token, "read")
        : undefined,
      onEnd: release,
      resetConnection: resetterOf(state, req),
      directSocket: directOf(state, req),
    });
  } catch (error) {
    release();
    throw error;
  }
}

/** `/sse`: a Server-Sent Events stream of the events `query` selects. */
function sseRoute(state: AppState, req: Request, query: URLSearchParams): Response {
  const filter = parseStreamFilter(query);
  const release = takeSlot(state, req);
  let sub;
  try {
    sub = state.streams.subscribe(state.hub, filter);
  } catch (error) {
    release();
    throw error instanceof TooManySubscribersError ? busy(error.message) : error;
  }
  return sseStream(sub, {
    ...state.options,
    onEnd: release,
    resetConnection: resetterOf(state, req),
  });
}

/** The stream slot `openStream` took for `req`. */
function takeSlot(state: AppState, req: Request): () => void {
  const release = state.slots.get(req);
  if (!release) throw new Error("no connection slot taken for a stream request");
  return release;
}

/** How to reset the TCP connection of a stream request, where the server can. */
function resetterOf(state: AppState, req: Request): (() => void) | undefined {
  const peer = state.peers.get(req);
  const reset = state.options.resetConnection;
  return peer && reset ? () => void reset(peer) : undefined;
}

/** How to find the TCP socket of a WebSocket request, where the server can. */
function directOf(
  state: AppState,
  req: Request,
): (() => Promise<DirectSocket | undefined>) | undefined {
  const peer = state.peers.get(req);
  const find = state.options.directSocket;
  return peer && find ? () => find(peer) : undefined;
}

/**
 * The gate in front of the routes: origin and Host checks, CORS preflight, authentication,
 * stream slots and the cap on running queries.
 */
async function handle(
  state: AppState,
  router: Router,
  req: Request,
  info: ConnInfo | undefined,
  path: string,
): Promise<Response> {
  const { origins, auth, options } = state;
  const refusal = origins.check(req);
  if (refusal) return json({ error: refusal.message }, { status: refusal.status });
  const preflight = origins.preflight(req);
  if (preflight) return preflight;
  const origin = req.headers.get("origin");
  if (auth && !PUBLIC_PATHS.has(path)) {
    const scope = path.startsWith(TRADING_PREFIX) ? "trade" : "read";
    const denied = await authorize(auth, req, path, scope, state);
    if (denied) return origins.decorate(origin, denied);
  }
  if (path === "/ws" || path === "/sse" || (path === TRADING_STREAM && options.trading)) {
    return origins.decorate(origin, await openStream(state, router, req, info));
  }
  // Trading routes are cheap and the kill switch must not wait behind market-data queries.
  if (!path.startsWith("/api/") || path.startsWith(TRADING_PREFIX)) {
    return origins.decorate(origin, await router.fetch(req));
  }
  if (state.queries >= state.maxQueries) {
    const busy = json({
      error: `the server is running its maximum of ${state.maxQueries} queries`,
    }, { status: 503, headers: { "retry-after": "1" } });
    return origins.decorate(origin, busy);
  }
  state.queries++;
  let res: Response;
  try {
    res = await router.fetch(req);
  } catch (error) {
    state.queries--;
    throw error;
  }
  // The slot is held until the body (pages written as they are read) is sent.
  return origins.decorate(origin, holdWhileStreaming(res, () => state.queries--));
}

/** A stream route, once it has a slot under the stream caps (or the refusal). */
async function openStream(
  state: AppState,
  router: Router,
  req: Request,
  info: ConnInfo | undefined,
): Promise<Response> {
  const { limiter } = state;
  const slot = limiter.acquire(info?.remoteAddr?.hostname ?? "unknown");
  if (typeof slot !== "function") {
    const message = slot === "total"
      ? `the server has its maximum of ${limiter.maxConnections} streams open`
      : `this address has its maximum of ${limiter.maxConnectionsPerAddress} streams open`;
    return tooMany(slot === "total" ? 503 : 429, message);
  }
  state.slots.set(req, slot);
  const peer = info?.remoteAddr;
  if (typeof peer?.hostname === "string" && typeof peer.port === "number") {
    state.peers.set(req, { hostname: peer.hostname, port: peer.port });
  }
  const res = await router.fetch(req);
  // A refused stream (bad parameters, not an upgrade) gives its slot back at once.
  if (res.status >= 300) slot();
  return res;
}

function offeredProtocols(req: Request): string[] {
  return (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim())
    .filter(Boolean);
}

/** The bearer credential of a request: `Authorization: Bearer`, or for WebSockets a
 * `bearer.<token>` subprotocol. */
function credentialOf(req: Request): string | undefined {
  const header = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get("authorization") ?? "");
  if (header) return header[1];
  const offered = offeredProtocols(req).find((p) => p.startsWith("bearer."));
  return offered?.slice("bearer.".length) || undefined;
}

/** Returns the refusal for `req`, or `undefined` when it may proceed. */
async function authorize(
  auth: Authenticator,
  req: Request,
  path: string,
  scope: Scope,
  seen: { deferred: WeakSet<Request>; principals: WeakMap<Request, Principal> },
): Promise<Response | undefined> {
  const credential = credentialOf(req);
  if (
    credential === undefined && path === "/ws" &&
    req.headers.get("upgrade")?.toLowerCase() === "websocket"
  ) {
    seen.deferred.add(req); // the token comes as the first message
    return undefined;
  }
  try {
    seen.principals.set(req, await auth.authenticate(credential, scope));
    return undefined;
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    return json({ error: error.message }, {
      status: error.status,
      headers: {
        "www-authenticate": error.status === 401
          ? 'Bearer realm="alphapulse"'
          : `Bearer realm="alphapulse", error="insufficient_scope", scope="${scope}"`,
      },
    });
  }
}

function tooMany(status: 429 | 503, message: string): Response {
  return json({ error: message }, { status, headers: { "retry-after": "5" } });
}

function busy(message: string): HttpError {
  return new HttpError(503, message);
}
