/**
 * The collector's HTTP endpoint: `GET /metrics` (Prometheus text) and `GET /health` (JSON,
 * 200 when every feed is connected and fresh, else 503).
 * @module
 */
import type { CollectorMetrics } from "./metrics.ts";

/**
 * The request handler, usable without a server.
 *
 * @example
 * ```ts
 * import { metricsHandler } from "./metrics_server.ts";
 * import { CollectorMetrics } from "./metrics.ts";
 * import assert from "node:assert/strict";
 * const handle = metricsHandler(new CollectorMetrics());
 * const response = handle(new Request("http://localhost/health"));
 * assert.equal(response.status, 503); // no feed yet
 * ```
 */
export function metricsHandler(metrics: CollectorMetrics): (request: Request) => Response {
  return (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const path = new URL(request.url).pathname;
    if (path === "/metrics") {
      return new Response(metrics.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    if (path === "/health") {
      const report = metrics.health();
      return Response.json(report, { status: report.status === "ok" ? 200 : 503 });
    }
    return new Response("not found: try /metrics or /health\n", { status: 404 });
  };
}

/** Options for {@linkcode serveMetrics}. */
export interface ServeMetricsOptions {
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Interface to bind (default `127.0.0.1`; `0.0.0.0` for a remote Prometheus). */
  readonly hostname?: string;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The bound port. */
  readonly port: number;
  /** Stops the server. */
  shutdown(): Promise<void>;
}

/** Serves `/metrics` and `/health` until `shutdown()`. */
export function serveMetrics(
  metrics: CollectorMetrics,
  options: ServeMetricsOptions,
): MetricsServer {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) {
    throw new RangeError(`metrics port must be an integer in 0..65535, got ${options.port}`);
  }
  const server = Deno.serve(
    { port: options.port, hostname: options.hostname ?? "127.0.0.1", onListen: () => {} },
    metricsHandler(metrics),
  );
  return { port: server.addr.port, shutdown: () => server.shutdown() };
}
