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
export { type AppOptions, createApp } from "./app.ts";
export { type RunningServer, startServer, type StartServerOptions } from "./start.ts";
export {
  type CloseReason,
  type StreamFilter,
  StreamHub,
  type StreamHubOptions,
  type StreamHubStats,
  type StreamItem,
  Subscription,
} from "./hub.ts";
export { SLOW_CONSUMER_CLOSE_CODE, type StreamOptions } from "./streams.ts";
export { parseBarQuery, parseRangeQuery, parseStreamFilter, parseTimeParam } from "./params.ts";
export { HttpError } from "./router.ts";
