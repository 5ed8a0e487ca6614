/**
 * The HTTP application: routes over a {@linkcode MarketDataRepository} and a
 * {@linkcode StreamHub}, as a plain `(Request) => Promise<Response>` function.
 * @module
 */
import type { MarketDataRepository } from "../lib/repositories/repository.ts";
import type { StreamHub } from "./hub.ts";
import { livePageHtml } from "./page.ts";
import {
  parseAnyBarQuery,
  parseBookSnapshotQuery,
  parseInstrumentsOptions,
  parseRangeQuery,
  parseStreamFilter,
  parseTradeListOptions,
  type TradeListOptions,
} from "./params.ts";
import { html, json, Router } from "./router.ts";
import { sseStream, type StreamOptions, StreamRegistry, webSocketStream } from "./streams.ts";

/** What {@linkcode createApp} needs. */
export interface AppOptions extends StreamOptions {
  /** Where `/api/*` reads history. */
  readonly repository: MarketDataRepository;
  /** Where `/ws` and `/sse` get live events. */
  readonly hub: StreamHub;
  /** Aborting ends every open WebSocket and SSE stream (used on shutdown). */
  readonly signal?: AbortSignal;
}

/**
 * Builds the request handler.
 *
 * Routes (all `GET`; errors are JSON `{ "error": ... }` with a 4xx/5xx status):
 * - `/health`: `{ status, uptimeSeconds, streamClients, eventsPublished, ... }`
 * - `/api/instruments?table=trades|quotes|book_snapshots`: instruments with rows in the table
 *   (default `trades`), each with `rows` (and `trades` for the trades table), `first` and
 *   `last` (venue times, epoch microseconds)
 * - `/api/bars?exchange=&symbol=&interval=1m&start=&end=`: OHLCV rows; times are ISO 8601
 *   or epoch microseconds, `start` inclusive, `end` exclusive; with `by=ticks|volume|dollars`
 *   and `threshold=` instead of `interval`: tick, volume or dollar bars
 * - `/api/trades?exchange=&symbol=&start=&end=&limit=1000&order=asc|desc`: trades; the
 *   `x-total-count` header gives the number in the range
 * - `/api/quotes?...` (same parameters): best bid and offer
 * - `/api/book_snapshots?...&depth=10` (same parameters, `depth` levels per side): stored
 *   book snapshots
 * - `/ws`, `/sse` with `?exchange=&symbol=&kinds=trade,quote`: live events, each message a
 *   JSON array of events
 * - `/`: the live chart page (`?exchange=&symbol=`)
 *
 * @example
 * ```ts ignore
 * import { createApp, StreamHub } from "./mod.ts";
 * const app = createApp({ repository, hub: new StreamHub() });
 * const res = await app(new Request("http://localhost/health"));
 * ```
 */
export function createApp(options: AppOptions): (req: Request) => Promise<Response> {
  const { repository, hub } = options;
  if (!repository || typeof repository.bars !== "function") {
    throw new TypeError("createApp: repository must implement MarketDataRepository");
  }
  if (!hub || typeof hub.subscribe !== "function") {
    throw new TypeError("createApp: hub must be a StreamHub");
  }
  const startedAt = performance.now();
  const streams = new StreamRegistry();
  if (options.signal?.aborted) streams.closeAll();
  options.signal?.addEventListener("abort", () => streams.closeAll(), { once: true });

  const router = new Router()
    .get("/health", () => {
      const stats = hub.stats();
      return json({
        status: "ok",
        uptimeSeconds: Math.round((performance.now() - startedAt) / 1000),
        streamClients: stats.clients,
        eventsPublished: stats.published,
        eventsDelivered: stats.delivered,
        slowDisconnects: stats.slowDisconnects,
      });
    })
    .get(
      "/api/instruments",
      async ({ query }) => json(await repository.instruments(parseInstrumentsOptions(query))),
    )
    .get("/api/bars", async ({ query }) => {
      const bars = parseAnyBarQuery(query);
      const result = "time" in bars
        ? repository.bars(bars.time)
        : repository.activityBars(bars.activity);
      return json(await result.rows());
    })
    .get("/api/trades", async ({ query }) => {
      const options = parseTradeListOptions(query);
      return listPage(await repository.trades(parseRangeQuery(query)).rows(), options);
    })
    .get("/api/quotes", async ({ query }) => {
      const options = parseTradeListOptions(query);
      return listPage(await repository.quotes(parseRangeQuery(query)).rows(), options);
    })
    .get("/api/book_snapshots", async ({ query }) => {
      const options = parseTradeListOptions(query);
      const snapshots = repository.bookSnapshots(parseBookSnapshotQuery(query));
      return listPage(await snapshots.rows(), options);
    })
    .get("/ws", ({ req, query }) => {
      const filter = parseStreamFilter(query);
      return webSocketStream(req, streams.subscribe(hub, filter), options);
    })
    .get(
      "/sse",
      ({ query }) => sseStream(streams.subscribe(hub, parseStreamFilter(query)), options),
    )
    .get("/", () => html(livePageHtml()));
  return router.fetch;
}

/**
 * One page of a time-ordered list: the first `limit` rows (`asc`) or the last `limit`,
 * newest first (`desc`), with the range's total in `x-total-count`.
 */
function listPage<Row>(rows: Row[], options: TradeListOptions): Response {
  const { limit, order } = options;
  const page = order === "asc"
    ? rows.slice(0, limit)
    : rows.slice(Math.max(0, rows.length - limit)).reverse();
  return json(page, { headers: { "x-total-count": String(rows.length) } });
}
