/**
 * Prometheus metrics of the server (`GET /metrics`, prom-client): requests by route and
 * status, latency histograms, open and refused streams, hub deliveries and drops, the
 * connection guard's TCP connections (when the server runs behind it), and the process's
 * CPU, memory and start time.
 * @module
 */
import client from "prom-client";
import type { GuardStats } from "./conn_guard.ts";
import type { StreamHub } from "./hub.ts";
import type { ConnectionLimiter } from "./limits.ts";
import { webSocketMessagesSent } from "./streams.ts";

/** What {@linkcode ServerMetrics} reads at scrape time. */
export interface ServerMetricsOptions {
  readonly hub: StreamHub;
  readonly limiter: ConnectionLimiter;
  /** Paths reported as their own `route` label; anything else is `other`. */
  readonly routes: Iterable<string>;
  /**
   * The connection guard's counters (`conn_guard.ts`), when the server runs behind it: adds
   * the `alphapulse_server_guard_*` series.
   */
  readonly guard?: () => GuardStats;
}

/**
 * One app's metrics, in their own registry (several apps in one process do not clash).
 *
 * @example
 * ```ts ignore
 * const metrics = new ServerMetrics({ hub, limiter, routes: ["/health"] });
 * metrics.observe("GET", "/health", 200, 0.001);
 * console.log(await metrics.exposition());
 * ```
 */
export class ServerMetrics {
  /** The registry, for `contentType` and custom additions. */
  readonly registry: client.Registry = new client.Registry();
  readonly #routes: ReadonlySet<string>;
  readonly #requests: client.Counter<"method" | "route" | "status">;
  readonly #latency: client.Histogram<"method" | "route">;

  constructor(options: ServerMetricsOptions) {
    const { hub, limiter } = options;
    const registers = [this.registry];
    this.#routes = new Set(options.routes);
    client.collectDefaultMetrics({ register: this.registry });
    this.#requests = new client.Counter({
      name: "http_requests_total",
      help: "HTTP requests answered, by method, route and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.#latency = new client.Histogram({
      name: "http_request_duration_seconds",
      help: "Time to the response head, by method and route (streams: to the upgrade)",
      labelNames: ["method", "route"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new client.Gauge({
      name: "alphapulse_open_streams",
      help: "WebSocket and SSE streams open now",
      registers,
      collect() {
        this.set(limiter.open);
      },
    });
    const counter = (name: string, help: string, read: () => number) =>
      new client.Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    counter(
      "alphapulse_streams_refused_total",
      "Stream connections refused by the connection caps",
      () => limiter.refused,
    );
    counter(
      "alphapulse_hub_events_published_total",
      "Events written to the stream hub",
      () => hub.stats().published,
    );
    counter(
      "alphapulse_hub_events_delivered_total",
      "Events queued to stream subscribers (one per subscriber)",
      () => hub.stats().delivered,
    );
    counter(
      "alphapulse_hub_dropped_events_total",
      "Events never delivered because their subscriber was dropped as slow",
      () => hub.stats().dropped,
    );
    counter(
      "alphapulse_hub_slow_disconnects_total",
      "Subscribers disconnected because they did not keep up",
      () => hub.stats().slowDisconnects,
    );
    new client.Gauge({
      name: "alphapulse_hub_subscribers",
      help: "Stream hub subscribers now",
      registers,
      collect() {
        this.set(hub.stats().clients);
      },
    });
    webSocketPathMetrics(registers);
    if (options.guard) guardMetrics(registers, options.guard);
  }

  /** Records one answered request. */
  observe(method: string, path: string, status: number, seconds: number): void {
    const route = this.#routes.has(path) ? path : "other";
    this.#requests.inc({ method, route, status: String(status) });
    this.#latency.observe({ method, route }, seconds);
  }

  /** The text exposition. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }
}

/** WebSocket stream messages by the path they took (`streams.ts`), read at scrape time. */
function webSocketPathMetrics(registers: client.Registry[]): void {
  new client.Counter({
    name: "alphapulse_ws_messages_sent_total",
    help: "WebSocket stream messages this process sent, by path: written straight to the " +
      "socket (direct) or through WebSocket.send (websocket: before the socket was found, " +
      "behind the guard, or while the client is behind)",
    labelNames: ["path"],
    registers,
    collect() {
      this.reset();
      const { direct, webSocket } = webSocketMessagesSent();
      this.inc({ path: "direct" }, direct);
      this.inc({ path: "websocket" }, webSocket);
    },
  });
}

/** The connection guard's series, read from `stats` at scrape time. */
function guardMetrics(registers: client.Registry[], stats: () => GuardStats): void {
  new client.Gauge({
    name: "alphapulse_server_guard_connections_open",
    help: "TCP connections open through the connection guard now",
    registers,
    collect() {
      this.set(stats().open);
    },
  });
  new client.Counter({
    name: "alphapulse_server_guard_connections_refused_total",
    help: "TCP connections refused by the guard's caps, by cap (total: 503, address: 429)",
    labelNames: ["reason"],
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(stats().refusedBy)) this.inc({ reason }, n);
    },
  });
  const counter = (name: string, help: string, read: (s: GuardStats) => number) =>
    new client.Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(stats()));
      },
    });
  counter(
    "alphapulse_server_guard_header_timeouts_total",
    "Connections closed for not sending a request head within the header timeout",
    (s) => s.headerTimeouts,
  );
  counter(
    "alphapulse_server_guard_idle_timeouts_total",
    "Keep-alive connections closed for idling past the idle timeout",
    (s) => s.idleTimeouts,
  );
  counter(
    "alphapulse_server_guard_write_timeouts_total",
    "Connections closed because the client stopped reading (a write waited past the write timeout)",
    (s) => s.writeTimeouts,
  );
  counter(
    "alphapulse_server_guard_unguarded_refused_total",
    "Requests refused (403) because they reached the loopback hop without passing the guard",
    (s) => s.unguardedRefused,
  );
}
