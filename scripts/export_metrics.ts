/**
 * Prometheus metrics of `deno task export --every ... --metrics-port N` (prom-client): runs
 * by result, rows read and written per table, each table's watermark (the export lag is
 * `time() - alphapulse_export_watermark_timestamp_seconds`), the last success, the run's
 * duration, and the process's CPU, memory and start time.
 * @module
 */
import client from "prom-client";
import type { ExportReport } from "../lib/buffer/exporter.ts";

/**
 * The exporter's metrics, in their own registry.
 *
 * @example
 * ```ts ignore
 * const metrics = new ExportMetrics();
 * metrics.observe(await exporter.run());
 * const server = metrics.serve({ port: 9465 });
 * ```
 */
export class ExportMetrics {
  readonly registry: client.Registry = new client.Registry();
  readonly #runs: client.Counter<"result">;
  readonly #rowsRead: client.Counter<"kind">;
  readonly #rowsWritten: client.Counter<"kind">;
  readonly #watermark: client.Gauge<"kind">;
  readonly #lastSuccess: client.Gauge;
  readonly #duration: client.Gauge;
  readonly #unverified: client.Gauge;

  constructor() {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    this.#runs = new client.Counter({
      name: "alphapulse_export_runs_total",
      help: "Export runs, by result (ok, error)",
      labelNames: ["result"],
      registers,
    });
    this.#rowsRead = new client.Counter({
      name: "alphapulse_export_rows_read_total",
      help: "Rows read from the buffer, by table",
      labelNames: ["kind"],
      registers,
    });
    this.#rowsWritten = new client.Counter({
      name: "alphapulse_export_rows_written_total",
      help: "Rows newly stored in the lake, by table",
      labelNames: ["kind"],
      registers,
    });
    this.#watermark = new client.Gauge({
      name: "alphapulse_export_watermark_timestamp_seconds",
      help: "Venue time up to which each table is in the lake (Unix seconds)",
      labelNames: ["kind"],
      registers,
    });
    this.#lastSuccess = new client.Gauge({
      name: "alphapulse_export_last_success_timestamp_seconds",
      help: "When the last export run succeeded (Unix seconds)",
      registers,
    });
    this.#duration = new client.Gauge({
      name: "alphapulse_export_last_run_duration_seconds",
      help: "Wall time of the last export run",
      registers,
    });
    this.#unverified = new client.Gauge({
      name: "alphapulse_export_unverified_days",
      help: "Days whose lake rows are still short of the buffer's after the last run",
      registers,
    });
    this.#runs.inc({ result: "ok" }, 0);
    this.#runs.inc({ result: "error" }, 0);
  }

  /** Records a successful run. */
  observe(report: ExportReport, now: number = Date.now()): void {
    this.#runs.inc({ result: "ok" });
    const unverified = new Set<string>();
    for (const [kind, k] of Object.entries(report.kinds)) {
      if (!k) continue;
      this.#rowsRead.inc({ kind }, k.rowsRead);
      this.#rowsWritten.inc({ kind }, k.rowsWritten);
      if (k.watermark !== undefined) this.#watermark.set({ kind }, k.watermark / 1e6);
      for (const day of k.unverifiedDays) unverified.add(day);
    }
    this.#unverified.set(unverified.size);
    this.#lastSuccess.set(now / 1000);
    this.#duration.set(report.millis / 1000);
  }

  /** Records a failed run. */
  observeError(): void {
    this.#runs.inc({ result: "error" });
  }

  /** Serves `GET /metrics` on `hostname:port` (default 127.0.0.1) until shut down. */
  serve(options: { port: number; hostname?: string }): Deno.HttpServer<Deno.NetAddr> {
    return Deno.serve({
      port: options.port,
      hostname: options.hostname ?? "127.0.0.1",
      onListen: () => {},
    }, async (req) => {
      if (new URL(req.url).pathname !== "/metrics") {
        return new Response("not found: try /metrics\n", { status: 404 });
      }
      return new Response(await this.registry.metrics(), {
        headers: { "content-type": this.registry.contentType },
      });
    });
  }
}
