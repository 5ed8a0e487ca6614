/**
 * `deno task collect` as a process: SIGTERM in the middle of a burst loses nothing the
 * sink took in and exits 0 after flushing; a config file runs several venues in one
 * process; a bad config gets a clear error; book changes are stored by default for venues
 * that send them, and not with `--no-book-changes`.
 */
import { lakeRowCounts } from "./support/lake_trades.ts";
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import { parseCollectConfig } from "../collectors/runtime/config.ts";
import { startFaultServer } from "./fakes/fault_server.ts";
import { coinbaseProtocol, loadCoinbaseSession } from "./fakes/coinbase_exchange_fake.ts";
import { binanceProtocol, loadBinanceSession } from "./fakes/binance_fake.ts";
import { startFakeAlpacaServer } from "./fakes/alpaca_server.ts";
import { until } from "./support/checking_sink.ts";

const MAIN = new URL("../collectors/main.ts", import.meta.url).pathname;

/** `exchange/symbol/id` of every trade in a lake. */
async function lakeTrades(root: string): Promise<string[]> {
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  try {
    const reader = await conn.runAndReadAll(
      `SELECT exchange || '/' || symbol || '/' || id AS k FROM read_parquet(
         '${root}/trades/**/*.parquet', hive_partitioning = true) ORDER BY k`,
    );
    return reader.getRowObjects().map((r) => String(r.k));
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

/** Summary lines (JSON objects with `exchange`) of a run's stdout. */
function summaries(stdout: string): Array<Record<string, number | string>> {
  return stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

function collect(args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
}

Deno.test("collect: SIGTERM during a burst flushes every trade taken in, then exits 0", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-sigterm-" });
  const session = await loadBinanceSession();
  const server = startFaultServer({ protocol: binanceProtocol(session), path: "/stream" });
  try {
    const child = collect([
      "--exchange",
      "binance",
      "--symbols",
      "BTC-USDT",
      "--url",
      server.url,
      "--rest-url",
      server.httpUrl,
      "--lake",
      root,
    ]);
    const output = child.output();
    // Mid-burst: the recorded session streams at full speed when the signal arrives.
    await until(() => server.cursor >= server.length * 0.3, "the burst to be under way", 60_000);
    child.kill("SIGTERM");
    const cursorAtSignal = server.cursor;
    const out = await output;
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.ok(cursorAtSignal < server.length, "signalled before the session ended");
    assert.match(stderr, /"msg":"stopping: flushing","why":"SIGTERM"/);
    const [summary] = summaries(new TextDecoder().decode(out.stdout));
    assert.equal(summary.exchange, "binance");
    const trades = summary.trades as number;
    assert.ok(trades > 1000, `trades before the signal: ${trades}`);
    // Every trade the collector took in is in the lake, once, and is a session trade.
    const stored = await lakeTrades(root);
    assert.equal(stored.length, trades);
    const counts = await lakeRowCounts(root);
    assert.ok(counts.book_changes > 0, "binance sends book changes: stored by default");
    assert.ok(counts.book_snapshots > 0, "snapshots are stored by default");
    assert.equal(counts.trades, trades);
    assert.equal(
      summary.rows_written,
      Object.values(counts).reduce((a, b) => a + b, 0),
      "every table's rows",
    );
    assert.equal(summary.trades_dropped, 0);
    assert.equal(new Set(stored).size, stored.length);
    const known = new Set(session.trades.map((t) => `binance/BTC-USDT/${t}`));
    for (const key of stored) assert.ok(known.has(key), key);
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("collect --config: two venues in one process, one summary each, one lake", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-config-" });
  const session = await loadCoinbaseSession();
  const coinbase = startFaultServer({ protocol: coinbaseProtocol(session) });
  const script = Array.from({ length: 50 }, (_, i) => ({
    T: "t",
    i: 500 + i,
    S: "SPY",
    x: "V",
    p: 500 + i / 100,
    s: 10,
    t: `2024-03-12T13:30:${String(i).padStart(2, "0")}.5Z`,
    z: "B",
  }));
  const alpaca = startFakeAlpacaServer({ key: "KEY1", secret: "SECRET1", script });
  const config = `${root}/collect.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      lake: `${root}/lake`,
      metricsPort: 0,
      venues: [
        { exchange: "coinbase", symbols: [...session.snapshots.keys()], url: coinbase.url },
        // The runtime's WebSocket instead of our client, for this venue.
        { exchange: "alpaca", symbols: ["SPY"], url: alpaca.url, transport: "native" },
      ],
    }),
  );
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "--config", config],
      stdout: "piped",
      stderr: "piped",
      env: { ALPACA_API_KEY: "KEY1", ALPACA_API_SECRET: "SECRET1" },
    }).spawn();
    const stdout = new Response(child.stdout).text();
    let stderr = "";
    const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (stderr += chunk) }),
    );
    await until(() => /"metricsPort":\d+/.test(stderr), "the collecting line", 60_000);
    const port = /"metricsPort":(\d+)/.exec(stderr)![1];
    // Both sessions fully received, read from the process's own /metrics.
    const traded = async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const count = (exchange: string) =>
        Number(
          new RegExp(`^alphapulse_collector_trades_total\\{exchange="${exchange}"\\} (\\d+)$`, "m")
            .exec(text)?.[1] ?? 0,
        );
      return count("coinbase") === session.trades.length && count("alpaca") === 50;
    };
    const deadline = Date.now() + 60_000;
    while (!(await traded())) {
      if (Date.now() > deadline) throw new Error(`not every trade arrived:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGTERM");
    const { code } = await child.status;
    await stderrDone;
    assert.equal(code, 0, stderr);
    const lines = summaries(await stdout);
    assert.deepEqual(lines.map((s) => s.exchange), ["coinbase", "alpaca"]);
    assert.equal(lines[0].trades, session.trades.length);
    assert.equal(lines[1].trades, 50);
    const stored = await lakeTrades(`${root}/lake`);
    assert.equal(stored.filter((k) => k.startsWith("coinbase/")).length, session.trades.length);
    assert.equal(stored.filter((k) => k.startsWith("alpaca/")).length, 50);
    const counts = await lakeRowCounts(`${root}/lake`);
    assert.ok(counts.book_changes > 0 && counts.book_snapshots > 0, JSON.stringify(counts));
    assert.equal(
      (lines[0].rows_written as number) + (lines[1].rows_written as number),
      Object.values(counts).reduce((a, b) => a + b, 0),
    );
    assert.ok(!stderr.includes("SECRET1"), "the secret is never logged");
  } finally {
    await coinbase.shutdown();
    await alpaca.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("collect config: clear errors naming the file and the field", async () => {
  const bad = (text: string, message: RegExp) =>
    assert.throws(() => parseCollectConfig(text, "c.json"), (e: Error) => {
      assert.ok(e instanceof SyntaxError);
      assert.match(e.message, /^c\.json: /);
      assert.match(e.message, message);
      return true;
    });
  bad("{venues:", /not valid JSON/);
  bad("[]", /expected a JSON object/);
  bad('{"venues":[]}', /"venues" must be a non-empty array/);
  bad('{"venue":[]}', /unknown key "venue"/);
  bad(
    '{"venues":[{"exchange":"ftx","symbols":["BTC-USD"]}]}',
    /venues\[0\]\.exchange must be one of .*coinbase/,
  );
  bad('{"venues":[{"exchange":"coinbase"}]}', /venues\[0\]\.symbols must be a non-empty array/);
  bad(
    '{"venues":[{"exchange":"coinbase","symbols":["A-B"],"url":"http://x"}]}',
    /url must start with ws/,
  );
  bad('{"venues":[{"exchange":"coinbase","symbols":["A-B"],"depth":5}]}', /unknown key "depth"/);
  bad(
    '{"venues":[{"exchange":"coinbase","symbols":["A-B"]},{"exchange":"coinbase","symbols":["C-D"]}]}',
    /venues\[1\]: "coinbase" appears twice/,
  );
  bad(
    '{"venues":[{"exchange":"coinbase","symbols":["A-B"],"transport":"tcp"}]}',
    /transport must be "raw" or "native"/,
  );
  bad('{"metricsPort":70000,"venues":[{"exchange":"coinbase","symbols":["A-B"]}]}', /metricsPort/);
  const ok = parseCollectConfig(
    '{"lake":"l","venues":[{"exchange":"binance","symbols":["BTC-USDT"],"restUrl":"http://127.0.0.1:1"}]}',
    "c.json",
  );
  assert.deepEqual(ok.venues[0], {
    exchange: "binance",
    symbols: ["BTC-USDT"],
    restUrl: "http://127.0.0.1:1",
  });

  // Through the CLI: exit 2 and the message, nothing started.
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-badconfig-" });
  try {
    await Deno.writeTextFile(`${dir}/c.json`, '{"venues":[{"exchange":"ftx","symbols":["X-Y"]}]}');
    const out = await collect(["--config", `${dir}/c.json`]).output();
    assert.equal(out.code, 2);
    assert.match(new TextDecoder().decode(out.stderr), /c\.json: venues\[0\]\.exchange must be/);
    const both = await collect([
      "--exchange",
      "coinbase",
      "--symbols",
      "A-B",
      "--book-changes",
      "--no-book-changes",
    ]).output();
    assert.equal(both.code, 2);
    assert.match(new TextDecoder().decode(both.stderr), /--book-changes and --no-book-changes/);
    const clash = await collect(["--config", `${dir}/c.json`, "--exchange", "coinbase"]).output();
    assert.equal(clash.code, 2);
    assert.match(
      new TextDecoder().decode(clash.stderr),
      /--config names the venues: drop --exchange/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("collect --no-book-changes: a venue that sends them stores none", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-no-book-changes-" });
  const session = await loadCoinbaseSession();
  const server = startFaultServer({ protocol: coinbaseProtocol(session) });
  try {
    const child = collect([
      "--exchange",
      "coinbase",
      "--symbols",
      [...session.snapshots.keys()].join(","),
      "--url",
      server.url,
      "--lake",
      root,
      "--no-book-changes",
    ]);
    const output = child.output();
    await until(() => server.cursor >= server.length, "the session to be sent", 60_000);
    child.kill("SIGTERM");
    const out = await output;
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const counts = await lakeRowCounts(root);
    assert.equal(counts.book_changes, undefined, JSON.stringify(counts));
    assert.ok(counts.book_snapshots > 0 && counts.trades > 0, JSON.stringify(counts));
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});
