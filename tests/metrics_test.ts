import assert from "node:assert/strict";
import { CollectorMetrics, Histogram } from "../collectors/runtime/metrics.ts";
import { metricsHandler, serveMetrics } from "../collectors/runtime/metrics_server.ts";
import type { FeedSummary } from "../collectors/runtime/pipeline.ts";
import type { MarketEvent } from "../lib/market/types.ts";

function summary(overrides: Partial<FeedSummary> = {}): FeedSummary {
  return {
    messages: 120,
    trades: 40,
    snapshots: 2,
    book_updates: 70,
    gaps: 3,
    checksum_ok: 65,
    checksum_failed: 1,
    crossed: 0,
    errors: 5,
    rows_written: 40,
    ...overrides,
  };
}

function feedSetup() {
  const metrics = new CollectorMetrics({ staleAfterMs: 60_000 });
  const connection = {
    stats: { connects: 4, reconnects: 3, frames: 120, watchdogRestarts: 1 },
    connected: true,
  };
  let depth = 17;
  const feed = metrics.addFeed({
    exchange: "kraken",
    summary: () => summary(),
    connection,
    queueDepth: () => depth,
    flushErrors: () => 2,
  });
  return { metrics, feed, connection, setDepth: (n: number) => (depth = n) };
}

/** Parses the exposition into `name{labels}` -> value, checking every line's shape. */
function parseExposition(text: string): Map<string, number> {
  const values = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.trimEnd().split("\n")) {
    if (line.startsWith("# TYPE ")) {
      const name = line.split(" ")[2];
      assert.ok(!typed.has(name), `TYPE once per family: ${name}`);
      typed.add(name);
      continue;
    }
    if (line.startsWith("# HELP ")) continue;
    const m = /^([a-z_:][a-z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    assert.ok(m, `not an exposition line: ${line}`);
    values.set(m[1] + (m[2] ?? ""), Number(m[3].replace("+Inf", "Infinity")));
  }
  return values;
}

const trade = (ts: number, recvTs: number): MarketEvent => ({
  kind: "trade",
  exchange: "kraken",
  symbol: "BTC-USD",
  id: "1",
  price: 1,
  size: 1,
  side: "buy",
  ts,
  recvTs,
});

Deno.test("histogram buckets are cumulative with +Inf last", () => {
  const h = new Histogram([0.001, 0.01, 0.1]);
  for (const v of [0.0005, 0.001, 0.005, 0.05, 0.5, NaN]) h.observe(v);
  assert.deepEqual(h.cumulative(), [2, 3, 4, 5]);
  assert.equal(h.count, 5);
  assert.throws(() => new Histogram([1, 1]), RangeError);
});

Deno.test("metrics: Prometheus text with counters, gauges, statuses and the lag histogram", () => {
  const { metrics, feed } = feedSetup();
  feed.observe([
    trade(1_000_000, 1_000_300), // 0.3 ms
    trade(1_000_000, 1_020_000), // 20 ms
    {
      kind: "status",
      exchange: "kraken",
      symbol: "*",
      ts: 1,
      recvTs: 1,
      status: "reset",
      reason: "checksum",
    },
    {
      kind: "status",
      exchange: "kraken",
      symbol: "*",
      ts: 1,
      recvTs: 1,
      status: "gap",
      reason: "x",
    },
  ]);
  feed.observeFlush(0.004);
  const v = parseExposition(metrics.render());
  const p = "alphapulse_collector_";
  const l = '{exchange="kraken"}';
  assert.equal(v.get(`${p}messages_total${l}`), 120);
  assert.equal(v.get(`${p}trades_total${l}`), 40);
  assert.equal(v.get(`${p}book_updates_total${l}`), 70);
  assert.equal(v.get(`${p}gaps_total${l}`), 3);
  assert.equal(v.get(`${p}checksum_failures_total${l}`), 1);
  assert.equal(v.get(`${p}reconnects_total${l}`), 3);
  assert.equal(v.get(`${p}watchdog_restarts_total${l}`), 1);
  assert.equal(v.get(`${p}connected${l}`), 1);
  assert.equal(v.get(`${p}sink_queue_depth${l}`), 17);
  assert.equal(v.get(`${p}flush_errors_total${l}`), 2);
  assert.equal(v.get(`${p}status_events_total{exchange="kraken",status="reset"}`), 1);
  assert.equal(v.get(`${p}status_events_total{exchange="kraken",status="gap"}`), 1);
  assert.equal(v.get(`${p}exchange_lag_seconds_bucket{exchange="kraken",le="0.0005"}`), 1);
  assert.equal(v.get(`${p}exchange_lag_seconds_bucket{exchange="kraken",le="0.01"}`), 1);
  assert.equal(v.get(`${p}exchange_lag_seconds_bucket{exchange="kraken",le="0.025"}`), 2);
  assert.equal(v.get(`${p}exchange_lag_seconds_bucket{exchange="kraken",le="+Inf"}`), 2);
  assert.equal(v.get(`${p}exchange_lag_seconds_count${l}`), 2);
  assert.ok(Math.abs(v.get(`${p}exchange_lag_seconds_sum${l}`)! - 0.0203) < 1e-9);
  assert.equal(v.get(`${p}flush_duration_seconds_count${l}`), 1);
  assert.equal(v.get(`${p}flush_duration_seconds_bucket{exchange="kraken",le="0.005"}`), 1);
  assert.ok(v.get("process_resident_memory_bytes")! > 0);
});

Deno.test("metrics endpoint: /metrics, /health (503 until fresh and connected), 404, 405", async () => {
  const { metrics, feed, connection } = feedSetup();
  const handle = metricsHandler(metrics);
  const get = (path: string, method = "GET") =>
    handle(new Request(`http://localhost${path}`, { method }));

  const m = get("/metrics");
  assert.equal(m.status, 200);
  assert.match(m.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  assert.match(await m.text(), /alphapulse_collector_trades_total\{exchange="kraken"\} 40/);

  let health = get("/health");
  assert.equal(health.status, 503, "no frame yet");
  assert.equal((await health.json()).feeds[0].lastFrameAgeSeconds, null);
  feed.observe([]);
  health = get("/health");
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, "ok");
  connection.connected = false;
  health = get("/health");
  assert.equal(health.status, 503);
  assert.equal((await health.json()).feeds[0].connected, false);

  assert.equal(get("/nope").status, 404);
  assert.equal(get("/metrics", "POST").status, 405);
});

Deno.test("metrics server answers over HTTP on a free port", async () => {
  const { metrics } = feedSetup();
  const server = serveMetrics(metrics, { port: 0 });
  try {
    const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /# TYPE alphapulse_collector_messages_total counter/);
  } finally {
    await server.shutdown();
  }
  assert.throws(() => serveMetrics(metrics, { port: 70_000 }), RangeError);
});
