/** The server's Prometheus `/metrics`: counts by route and status, streams, hub, process. */
import assert from "node:assert/strict";
import type { Trade } from "../lib/market/types.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { Authenticator, createApp, StreamHub } from "../server/mod.ts";
import { parseExposition } from "./support/checking_sink.ts";

const T0 = Date.UTC(2021, 3, 17, 16, 0) * 1000;
const trade = (i: number): Trade => ({
  kind: "trade",
  exchange: "coinbase",
  symbol: "BTC-USD",
  ts: T0 + i,
  recvTs: T0 + i,
  id: String(i),
  price: 100,
  size: 1,
  side: "buy",
});

/** One sample by name and labels, whatever order prom-client wrote the labels in. */
function sample(
  samples: Map<string, number>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(",");
  for (const [key, value] of samples) {
    const brace = key.indexOf("{");
    const keyName = brace < 0 ? key : key.slice(0, brace);
    const keyLabels = brace < 0 ? "" : key.slice(brace + 1, -1).split(",").sort().join(",");
    if (keyName === name && keyLabels === want) return value;
  }
  return undefined;
}

/** Every line is a comment or `name{labels} value` with a number (Prometheus text format). */
function assertParses(text: string): void {
  const sampleLine =
    /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? \S+$/;
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    assert.match(line, sampleLine);
    const value = line.slice(line.lastIndexOf(" ") + 1);
    assert.ok(/^(Nan|NaN|[+-]?Inf)$/.test(value) || Number.isFinite(Number(value)), line);
  }
}

Deno.test("/metrics counts requests by route and status, streams and hub drops, process", async () => {
  const hub = new StreamHub();
  const app = createApp({ repository: new MemoryRepository([trade(1)]), hub });
  const get = (path: string) => app(new Request(`http://localhost${path}`));
  for (let i = 0; i < 3; i++) await (await get("/api/instruments")).body?.cancel();
  await (await get("/api/bars?interval=banana")).body?.cancel();
  await (await get("/no/such/path")).body?.cancel();
  await (await get("/another/unknown")).body?.cancel();
  const sub = hub.subscribe();
  hub.write([trade(1), trade(2)]);

  const res = await get("/metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/plain/);
  const text = await res.text();
  assertParses(text);
  const samples = parseExposition(text);
  const requests = (route: string, status: string) =>
    sample(samples, "http_requests_total", { method: "GET", route, status });
  assert.equal(requests("/api/instruments", "200"), 3);
  assert.equal(requests("/api/bars", "400"), 1);
  assert.equal(requests("other", "404"), 2, "unknown paths share one label");
  assert.equal(
    sample(samples, "http_request_duration_seconds_count", {
      method: "GET",
      route: "/api/instruments",
    }),
    3,
  );
  assert.equal(
    sample(samples, "http_request_duration_seconds_bucket", {
      method: "GET",
      route: "/api/instruments",
      le: "+Inf",
    }),
    3,
  );
  assert.equal(sample(samples, "alphapulse_hub_events_published_total"), 2);
  assert.equal(sample(samples, "alphapulse_hub_events_delivered_total"), 2);
  assert.equal(sample(samples, "alphapulse_hub_subscribers"), 1);
  assert.equal(sample(samples, "alphapulse_open_streams"), 0);
  assert.equal(sample(samples, "alphapulse_hub_dropped_events_total"), 0);
  assert.ok(sample(samples, "process_cpu_seconds_total")! > 0);
  assert.ok(sample(samples, "process_resident_memory_bytes")! > 1e6);
  const start = sample(samples, "process_start_time_seconds")!;
  assert.ok(start > 1e9 && start <= Date.now() / 1000, `start time ${start}`);
  sub.close();
  await hub.close();
});

Deno.test("/metrics needs the read scope when authentication is on", async () => {
  const token = "metrics-token-0123456789";
  const auth = await Authenticator.create({ tokens: [{ token, scopes: ["read"] }] });
  const app = createApp({ repository: new MemoryRepository([]), hub: new StreamHub(), auth });
  const none = await app(new Request("http://localhost/metrics"));
  assert.equal(none.status, 401);
  await none.body?.cancel();
  const ok = await app(
    new Request("http://localhost/metrics", { headers: { authorization: `Bearer ${token}` } }),
  );
  assert.equal(ok.status, 200);
  const samples = parseExposition(await ok.text());
  assert.equal(
    sample(samples, "http_requests_total", { method: "GET", route: "/metrics", status: "401" }),
    1,
  );
});
