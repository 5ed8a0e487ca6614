/**
 * End to end on the live path: simulator -> collector -> lake + hub -> server -> a websocket
 * client; and `deno task demo` as a user runs it.
 */
import { lakeRowCounts } from "./support/lake_trades.ts";
import assert from "node:assert/strict";
import { Collector } from "../collectors/runtime/collector.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { BookKeeper } from "../lib/book/mod.ts";
import { LakeSink, ParquetLake } from "../lib/lake/mod.ts";
import { LakeRepository } from "../lib/repositories/mod.ts";
import { startCoinbaseSimulator } from "../lib/simulator/mod.ts";
import { StreamHub } from "../server/hub.ts";
import { startServer } from "../server/mod.ts";

Deno.test("a websocket client of the server receives the trades of a collector run", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-e2e-" });
  const sim = startCoinbaseSimulator({ seed: 11, speed: 30, batchMs: 20 });
  const lake = await ParquetLake.open({ root });
  const repository = await LakeRepository.open({ root });
  const hub = new StreamHub();
  const server = await startServer({ repository, hub, port: 0 });
  const collector = new Collector({
    exchange: "coinbase",
    url: sim.url,
    symbols: ["BTC-USD", "ETH-USD"],
    sinks: [new LakeSink(lake), hub],
    books: new BookKeeper({ exchange: "coinbase", integrity: null }),
    flushEveryMs: 100,
    connection: { log: () => {} },
    diagnostics: new FeedDiagnostics({ log: () => {} }),
  });
  const received: Array<{ kind: string; symbol: string; id: string }> = [];
  const ws = new WebSocket(`${server.url.replace(/^http/, "ws")}ws?kinds=trade`);
  try {
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    ws.onmessage = (e) => {
      const data = JSON.parse(e.data);
      for (const event of Array.isArray(data) ? data : [data]) received.push(event);
    };
    collector.start();
    const deadline = Date.now() + 20_000;
    while (received.length < 30 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    ws.close();
    const summary = await collector.stop();
    assert.ok(received.length >= 30, `only ${received.length} trades reached the client`);
    assert.ok(received.every((e) => e.kind === "trade"), "the kinds filter holds");
    // Every streamed trade is a trade the collector stored in the lake.
    const stored = await repository.trades({ exchange: "coinbase", symbol: "BTC-USD" }).rows();
    const storedEth = await repository.trades({ exchange: "coinbase", symbol: "ETH-USD" }).rows();
    const keys = new Set([...stored, ...storedEth].map((t) => `${t.symbol}/${t.id}`));
    const counts = await lakeRowCounts(root);
    assert.equal(keys.size, counts.trades);
    assert.equal(
      summary.rows_written,
      Object.values(counts).reduce((a, b) => a + b, 0),
      "rows_written counts every table",
    );
    for (const e of received) assert.ok(keys.has(`${e.symbol}/${e.id}`), `${e.symbol}/${e.id}`);
  } finally {
    await collector.stop();
    await server.shutdown();
    await sim.shutdown();
    await repository.close();
    await lake.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task demo runs offline, writes the lake and an offline report, exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-demo-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../scripts/demo.ts", import.meta.url).pathname,
        "--duration",
        "3s",
        "--port",
        "0",
        "--lake",
        `${dir}/lake`,
        "--report",
        `${dir}/reports`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, stdout + new TextDecoder().decode(out.stderr));
    assert.match(stdout, /SYNTHETIC/);
    const feed = JSON.parse(/feed: (\{.*\})/.exec(stdout)![1]);
    const counts = await lakeRowCounts(`${dir}/lake`);
    assert.ok(feed.trades > 0 && counts.trades === feed.trades, stdout);
    assert.equal(feed.rows_written, Object.values(counts).reduce((a, b) => a + b, 0), stdout);
    assert.equal(feed.crossed, 0);
    assert.equal(feed.errors, 0);
    const reports = [...Deno.readDirSync(`${dir}/reports`)].map((e) => e.name);
    assert.equal(reports.length, 1);
    const html = await Deno.readTextFile(`${dir}/reports/${reports[0]}`);
    assert.match(html, /LightweightCharts/);
    assert.doesNotMatch(html, /<script[^>]+src=["']https?:/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task demo: a busy port falls back to a free one; --serve stops on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-demo-" });
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const busyPort = (busy.addr as Deno.NetAddr).port;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../scripts/demo.ts", import.meta.url).pathname,
      ...["--duration", "2s", "--serve", "--port", String(busyPort)],
      ...["--lake", `${dir}/lake`, "--report", `${dir}/reports`],
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let url: string | undefined;
    while (url === undefined) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += value;
      url = /collecting; live chart at (\S+)/.exec(stdout)?.[1];
    }
    if (!url) assert.fail(`never served: ${stdout}${await stderr}`);
    assert.match(stdout, new RegExp(`port ${busyPort} is in use`));
    assert.notEqual(new URL(url).port, String(busyPort));
    const health = await fetch(new URL("health", url));
    assert.equal(health.status, 200);
    await health.body?.cancel();
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += value;
    }
    const status = await child.status;
    const errors = await stderr;
    assert.equal(status.code, 0, stdout + errors);
    assert.match(stdout, /report\s+\S+\.html/);
    assert.equal([...Deno.readDirSync(`${dir}/reports`)].length, 1);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await stderr;
    busy.close();
    await Deno.remove(dir, { recursive: true });
  }
});
