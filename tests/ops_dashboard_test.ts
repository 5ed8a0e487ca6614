/**
 * The Grafana dashboard in ops/grafana: well-formed, and every metric its PromQL reads is
 * exported by a running server, collector or exporter (their `/metrics` scraped over HTTP).
 */
import assert from "node:assert/strict";
import { CollectorMetrics } from "../collectors/runtime/metrics.ts";
import { serveMetrics } from "../collectors/runtime/metrics_server.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { ExportMetrics } from "../scripts/export_metrics.ts";
import { startServer, StreamHub } from "../server/mod.ts";

const DASHBOARD = new URL("../ops/grafana/alphapulse.json", import.meta.url);

/** PromQL words that are not metric names. */
const KEYWORDS = new Set(["by", "without", "and", "or", "unless", "on", "ignoring", "offset"]);

/** The metric names a PromQL expression reads. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, "") // label matchers
    .replace(/\[[^\]]*\]/g, "") // ranges
    .replace(/\b(?:by|without|on|ignoring)\s*\([^)]*\)/g, ""); // grouping labels
  const names: string[] = [];
  for (const m of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)) {
    if (m[2] || KEYWORDS.has(m[1])) continue; // a function call or a keyword
    names.push(m[1]);
  }
  return names;
}

Deno.test("metricNames reads the metrics of PromQL, not its functions or labels", () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.99, sum by (route, le) (rate(a_bucket{job="x",s=~"5.."}[5m])))',
    ),
    ["a_bucket"],
  );
  assert.deepEqual(metricNames('time() - b_seconds{kind="trade"} > 60 and c'), ["b_seconds", "c"]);
});

/** Sample names in a text exposition. */
function sampleNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    assert.ok(m, `not an exposition line: ${line}`);
    names.add(m[1]);
  }
  return names;
}

Deno.test("every metric on the Grafana dashboard is exported by a running daemon", async () => {
  const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD));
  assert.equal(dashboard.uid, "alphapulse");
  const exprs: string[] = [];
  const ids = new Set<number>();
  for (const panel of dashboard.panels) {
    assert.ok(!ids.has(panel.id), `panel id ${panel.id} once`);
    ids.add(panel.id);
    assert.ok(panel.targets.length > 0, `${panel.title}: targets`);
    for (const target of panel.targets) exprs.push(target.expr);
  }
  const used = new Set(exprs.flatMap(metricNames));
  assert.ok(used.size >= 20, [...used].join(", "));

  // The server, after a request so its per-route series exist.
  const hub = new StreamHub();
  // Behind the connection guard, so its series (on the dashboard) are exported too.
  const server = await startServer({
    repository: new MemoryRepository([]),
    hub,
    port: 0,
    connectionGuard: true,
  });
  // A collector's metrics endpoint with one feed.
  const collector = new CollectorMetrics();
  collector.addFeed({
    exchange: "coinbase",
    summary: () => ({
      messages: 3,
      trades: 1,
      snapshots: 1,
      book_updates: 1,
      gaps: 0,
      checksum_ok: 0,
      checksum_failed: 0,
      crossed: 0,
      errors: 0,
      rows_written: 1,
      trades_lost: 0,
      events_dropped: 0,
    }),
    connection: {
      stats: { connects: 1, reconnects: 0, frames: 3, watchdogRestarts: 0, pauses: 0, pausedMs: 0 },
      connected: true,
    },
    queueDepth: () => 0,
    flushErrors: () => 0,
  }).observe([], performance.now());
  const collectorServer = serveMetrics(collector, { port: 0 });
  // The exporter's endpoint after one run.
  const exporter = new ExportMetrics();
  exporter.observe({
    rowsRead: 2,
    rowsWritten: 2,
    watermark: 1_700_000_000_000_000,
    verifiedDays: [],
    unverifiedDays: [],
    kinds: {
      trades: {
        rowsRead: 2,
        rowsWritten: 2,
        watermark: 1_700_000_000_000_000,
        verifiedDays: [],
        unverifiedDays: [],
      },
    },
    millis: 12,
  });
  const exporterServer = exporter.serve({ port: 0 });
  try {
    await (await fetch(`${server.url}health`)).body?.cancel();
    const scrape = async (url: string) => {
      const res = await fetch(url);
      assert.equal(res.status, 200, url);
      return sampleNames(await res.text());
    };
    const sources = {
      server: await scrape(`${server.url}metrics`),
      collector: await scrape(`http://127.0.0.1:${collectorServer.port}/metrics`),
      exporter: await scrape(`http://127.0.0.1:${exporterServer.addr.port}/metrics`),
    };
    const exported = new Set(Object.values(sources).flatMap((s) => [...s]));
    exported.add("up"); // written by Prometheus for every target
    const missing = [...used].filter((name) => !exported.has(name));
    assert.deepEqual(missing, [], `not exported by any daemon: ${missing.join(", ")}`);
    // Each daemon has panels of its own, and process metrics for the CPU and memory panels.
    for (const [name, samples] of Object.entries(sources)) {
      assert.ok(
        [...used].some((m) => m.startsWith("alphapulse_") && samples.has(m)),
        `${name}: no panel`,
      );
      for (const m of ["process_cpu_seconds_total", "process_resident_memory_bytes"]) {
        assert.ok(samples.has(m), `${name}: ${m}`);
      }
    }
  } finally {
    await exporterServer.shutdown();
    await collectorServer.shutdown();
    await server.shutdown();
    await hub.close();
  }
});
