/**
 * The AlphaPulse HTTP server: history from a `MarketDataRepository` as JSON, live events
 * from a {@linkcode StreamHub} over WebSocket and SSE, and a live chart page.
 *
 * - {@linkcode createApp}: the handler, `(Request) => Promise<Response>`, testable without
 *   a network.
 * - {@linkcode startServer}: serve it; returns `{ url, port, shutdown() }`.
 * - {@linkcode StreamHub}: the `EventSink` the collector writes live events to.
 *
 * @example
 * ```ts ignore
 * import { startServer, StreamHub } from "./server/mod.ts";
 * const hub = new StreamHub();           // give it to the collector as a sink
 * const server = await startServer({ repository, hub, port: 8787 });
 * console.log(`open ${server.url}`);
 * ```
 * @module
 */
export { type App, type AppOptions, type ConnInfo, createApp, WS_PROTOCOL } from "./app.ts";
export {
  ConfigurationError,
  type RunningServer,
  startServer,
  type StartServerOptions,
} from "./start.ts";
export {
  type ApiToken,
  Authenticator,
  type AuthenticatorOptions,
  AuthError,
  type JwtSettings,
  type Principal,
  type Scope,
  SCOPES,
} from "./auth/authenticator.ts";
export { importJwtKey, type JwtAlgorithm, JwtError, verifyJwt } from "./auth/jwt.ts";
export { defaultAllowedHosts, isLoopback, OriginPolicy } from "./auth/origin.ts";
export { ConnectionLimiter, type ConnectionLimits } from "./limits.ts";
export { QueryPool, type QueryPoolOptions, QueryTimeoutError } from "./query_pool.ts";
export {
  type CloseReason,
  type StreamFilter,
  StreamHub,
  type StreamHubOptions,
  type StreamHubStats,
  type StreamItem,
  Subscription,
  TooManySubscribersError,
} from "./hub.ts";
export {
  FORBIDDEN_CLOSE_CODE,
  SLOW_CONSUMER_CLOSE_CODE,
  type StreamOptions,
  UNAUTHORIZED_CLOSE_CODE,
} from "./streams.ts";
export { parseBarQuery, parseRangeQuery, parseStreamFilter, parseTimeParam } from "./params.ts";
export { HttpError } from "./router.ts";
export {
  TRADING_PREFIX,
  type TradingDesk,
  type TradingPnl,
  type TradingRouteOptions,
  tradingRoutes,
} from "./trading_routes.ts";
