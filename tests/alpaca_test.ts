import assert from "node:assert/strict";
import { AlpacaAdapter } from "../collectors/venues/alpaca.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { Collector } from "../collectors/runtime/collector.ts";
import { CollectorMetrics } from "../collectors/runtime/metrics.ts";
import type { ConnectionRequest } from "../collectors/venues/venue.ts";
import type {
  Bar,
  BookChange,
  BookSnapshot,
  FeedStatus,
  MarketEvent,
  Quote,
  Trade,
} from "../lib/market/types.ts";
import { startFakeAlpacaServer } from "./fakes/alpaca_server.ts";
import { MemorySink, until } from "./support/live.ts";

const RECV = 1_710_239_268_900_000;
const SECRET = "s3cr3t-DO-NOT-LOG-9f2c";
const KEY = "AKFAKEKEY123";

function setup(market: "stocks" | "crypto" = "stocks", live = true) {
  const logs: string[] = [];
  const diagnostics = new FeedDiagnostics({ log: (l) => logs.push(l) });
  const adapter = new AlpacaAdapter({
    diagnostics,
    market,
    credentials: { key: KEY, secret: SECRET },
    log: (r) => logs.push(JSON.stringify(r)),
  });
  if (live) adapter.subscribeMessages({ symbols: market === "crypto" ? ["BTC-USD"] : ["SPY"] });
  const parse = (frame: unknown) => {
    const out: MarketEvent[] = [];
    adapter.parse(typeof frame === "string" ? frame : JSON.stringify(frame), RECV, out);
    return out;
  };
  return { adapter, diagnostics, logs, parse };
}

Deno.test("alpaca: the handshake answers the greeting with auth, then subscribes", () => {
  const { adapter, parse } = setup("crypto");
  assert.deepEqual(adapter.subscribeMessages({ symbols: ["BTC-USD", "ETH-USD"] }), []);
  parse([{ T: "success", msg: "connected" }]);
  const [auth] = adapter.takeRequests()! as Extract<ConnectionRequest, { kind: "send" }>[];
  assert.deepEqual(JSON.parse(auth.frame), { action: "auth", key: KEY, secret: SECRET });
  assert.ok(!auth.redacted!.includes(SECRET) && !auth.redacted!.includes(KEY));
  parse([{ T: "success", msg: "authenticated" }]);
  const [subscribe] = adapter.takeRequests()! as Extract<ConnectionRequest, { kind: "send" }>[];
  assert.deepEqual(JSON.parse(subscribe.frame), {
    action: "subscribe",
    trades: ["BTC/USD", "ETH/USD"],
    quotes: ["BTC/USD", "ETH/USD"],
    orderbooks: ["BTC/USD", "ETH/USD"],
  });
  assert.equal(adapter.takeRequests(), undefined);
});

Deno.test("alpaca: replay (no live subscription) raises no requests", () => {
  const { adapter, parse } = setup("stocks", false);
  parse([{ T: "success", msg: "connected" }]);
  parse([{ T: "error", code: 402, msg: "auth failed" }]);
  assert.equal(adapter.takeRequests(), undefined);
});

Deno.test("alpaca stocks: trades, quotes and minute bars with exact values", () => {
  const { parse } = setup();
  const out = parse([
    {
      T: "t",
      i: 52983525029461,
      S: "SPY",
      x: "V",
      p: 512.34,
      s: 100,
      t: "2024-03-12T13:30:00.123456789Z",
      c: ["@", "I"],
      z: "B",
    },
    {
      T: "q",
      S: "SPY",
      bx: "V",
      bp: 512.3,
      bs: 2,
      ax: "V",
      ap: 512.35,
      as: 3,
      t: "2024-03-12T13:30:00.2Z",
      c: ["R"],
      z: "B",
    },
    {
      T: "b",
      S: "SPY",
      o: 512,
      h: 513,
      l: 511.5,
      c: 512.5,
      v: 12000,
      t: "2024-03-12T13:30:00Z",
      n: 87,
      vw: 512.41,
    },
  ]);
  assert.deepEqual(out[0] as Trade, {
    kind: "trade",
    exchange: "alpaca",
    symbol: "SPY",
    id: "V:52983525029461",
    price: 512.34,
    size: 100,
    side: "unknown",
    ts: 1_710_250_200_123_456,
    recvTs: RECV,
  });
  const quote = out[1] as Quote;
  assert.deepEqual([quote.bidPrice, quote.bidSize, quote.askPrice, quote.askSize], [
    512.3,
    2,
    512.35,
    3,
  ]);
  const bar = out[2] as Bar;
  assert.equal(bar.interval, 60_000_000);
  assert.equal(bar.ts, 1_710_250_200_000_000);
  assert.deepEqual([bar.open, bar.high, bar.low, bar.close, bar.volume, bar.vwap, bar.trades], [
    512,
    513,
    511.5,
    512.5,
    12000,
    512.41,
    87,
  ]);
});

Deno.test("alpaca crypto: taker side, ids beyond 2^53 kept exactly, order books", () => {
  const { parse, adapter } = setup("crypto");
  const frame =
    '[{"T":"t","S":"BTC/USD","p":61000.5,"s":0.25,"t":"2024-03-12T10:27:48.858228144Z",' +
    '"i":3447222699101865076,"tks":"S"},{"T":"t","S":"BTC/USD","p":61000,"s":0.1,' +
    '"t":"2024-03-12T10:27:48.9Z","i":3447222699101865077,"tks":"B"}]';
  const trades = parse(frame) as Trade[];
  assert.deepEqual(trades.map((t) => [t.symbol, t.id, t.side]), [
    ["BTC-USD", "3447222699101865076", "sell"],
    ["BTC-USD", "3447222699101865077", "buy"],
  ]);
  assert.equal(parse(frame).length, 0, "repeats are dropped");
  assert.equal(adapter.duplicateTrades, 2);

  const [snap] = parse([{
    T: "o",
    S: "BTC/USD",
    t: "2024-03-12T10:27:49Z",
    b: [{ p: 60999, s: 1.5 }],
    a: [{ p: 61001, s: 2 }],
    r: true,
  }]);
  assert.equal(snap.kind, "book_snapshot");
  assert.deepEqual((snap as BookSnapshot).bids, [[60999, 1.5]]);
  const [change] = parse([{
    T: "o",
    S: "BTC/USD",
    t: "2024-03-12T10:27:49.5Z",
    b: [{ p: 60999, s: 0 }],
  }]);
  assert.equal(change.kind, "book_change");
  assert.deepEqual((change as BookChange).bids, [[60999, 0]]);
  assert.deepEqual((change as BookChange).asks, []);
});

Deno.test("alpaca: corrections and cancels are counted, logged and passed on as status", () => {
  const { adapter, logs, parse, diagnostics } = setup();
  const out = parse([
    {
      T: "c",
      S: "SPY",
      x: "V",
      oi: 10,
      op: 512,
      os: 100,
      oc: [],
      ci: 11,
      cp: 512.5,
      cs: 100,
      cc: [],
      z: "B",
      t: "2024-03-12T13:31:00Z",
    },
    { T: "x", S: "SPY", i: 12, x: "V", p: 512, s: 50, a: "C", z: "B", t: "2024-03-12T13:31:01Z" },
  ]) as FeedStatus[];
  assert.deepEqual(out.map((s) => [s.kind, s.status, s.symbol]), [
    ["status", "reset", "SPY"],
    ["status", "reset", "SPY"],
  ]);
  assert.match(out[0].reason, /correction V:10 .* -> V:11/);
  assert.match(out[1].reason, /cancel V:12/);
  assert.equal(adapter.corrections, 1);
  assert.equal(adapter.cancels, 1);
  assert.equal(logs.length, 2);
  assert.equal(diagnostics.errors, 0, "not bad input");
});

Deno.test("alpaca: venue errors get specific messages, statuses and reconnect delays", () => {
  const { adapter, logs, parse } = setup();
  const statuses = (code: number, msg: string) =>
    parse([{ T: "error", code, msg }]) as FeedStatus[];
  const s402 = statuses(402, "auth failed");
  assert.deepEqual(s402.map((s) => [s.status, s.symbol]), [["disconnected", "*"]]);
  assert.match(s402[0].reason, /402.*ALPACA_API_KEY/);
  assert.deepEqual(adapter.takeRequests(), [{
    kind: "reconnect",
    reason: s402[0].reason,
    minDelayMs: 60_000,
  }]);
  assert.equal(statuses(406, "connection limit exceeded")[0].status, "disconnected");
  assert.equal((adapter.takeRequests()![0] as { minDelayMs: number }).minDelayMs, 30_000);
  assert.equal(statuses(407, "slow client")[0].status, "gap");
  assert.equal(adapter.takeRequests()![0].kind, "reconnect");
  assert.deepEqual(statuses(405, "symbol limit exceeded"), []);
  assert.equal(adapter.takeRequests(), undefined, "405: nothing to reconnect for");
  assert.deepEqual([...adapter.errorsByCode.keys()], [402, 406, 407, 405]);
  for (
    const [code, words] of [[402, /auth failed/], [406, /another connection/], [
      407,
      /slow client/,
    ], [405, /symbol limit/]] as const
  ) {
    assert.ok(logs.some((l) => l.includes(`error ${code}`) && words.test(l)), `log for ${code}`);
  }
  // A frame echoing the secret is quoted masked.
  parse(`[{"T":"error","code":400,"msg":"invalid syntax: ${SECRET}"}]`);
  assert.ok(logs.length > 0 && logs.every((l) => !l.includes(SECRET)));
});

Deno.test("alpaca: bad input is counted and survived", () => {
  const { parse, diagnostics } = setup("crypto");
  assert.deepEqual(parse("[{oops"), []);
  assert.deepEqual(parse({ T: "t" }), []); // not an array
  assert.deepEqual(
    parse([{ T: "t", S: "BTC/USD", p: -1, s: 1, t: "2024-03-12T10:27:48Z", i: 1 }]),
    [],
  );
  const [reset] = parse([{ T: "o", S: "BTC/USD", t: "2024-03-12T10:27:48Z", b: [{ p: "x" }] }]);
  assert.equal((reset as FeedStatus).status, "reset");
  assert.equal(diagnostics.errors, 4);
});

Deno.test("alpaca live: every trade exactly once through auth failure, 406, 407 and drops; secret never logged", async () => {
  const TRADES = 600;
  const script: (Record<string, unknown> | string)[] = [];
  for (let i = 0; i < TRADES; i++) {
    const second = String(i % 60).padStart(2, "0");
    script.push({
      T: "t",
      i: 1000 + i,
      S: "SPY",
      x: "V",
      p: 500 + (i % 7) / 100,
      s: 1 + (i % 5),
      t: `2024-03-12T13:${String(30 + Math.floor(i / 60)).padStart(2, "0")}:${second}.5Z`,
      c: ["@"],
      z: "B",
    });
    if (i % 50 === 0) {
      script.push({
        T: "q",
        S: "SPY",
        bp: 500,
        bs: 1,
        ap: 500.1,
        as: 2,
        t: "2024-03-12T13:30:00Z",
      });
    }
    if (i === 300) script.push('[{"T":"t","S":"SPY"'); // truncated frame
  }
  const server = startFakeAlpacaServer({ key: KEY, secret: SECRET, script, intervalMs: 1 });
  const logs: string[] = [];
  const log = (r: Record<string, unknown>) => logs.push(JSON.stringify(r));
  const diagnostics = new FeedDiagnostics({ log: (l) => logs.push(l) });
  const sink = new MemorySink();
  const metrics = new CollectorMetrics();
  const collector = new Collector({
    exchange: "alpaca",
    metrics,
    url: server.url,
    symbols: ["SPY"],
    sinks: [sink],
    flushEveryMs: 50,
    diagnostics,
    adapter: new AlpacaAdapter({
      diagnostics,
      credentials: { key: KEY, secret: SECRET },
      log,
      refusedRetryMs: { 402: 30, 406: 30 },
    }),
    connection: { log, backoff: { initialMs: 10, maxMs: 40 } },
  });
  const trades = () => sink.events.filter((e): e is Trade => e.kind === "trade");
  const statuses = () => sink.events.filter((e): e is FeedStatus => e.kind === "status");
  try {
    server.failAuth(1);
    collector.start();
    await until(() => trades().length >= 100, "trades after the auth failure");
    server.dropClients();
    await until(() => collector.connection.stats.reconnects >= 2, "reconnect after drop");
    await until(() => server.cursor >= 300, "stream resumed");
    server.refuseConnections(1);
    server.dropClients();
    await until(() => server.cursor >= 450, "stream resumed after the connection limit");
    server.slowClient();
    await server.finished;
    await until(() => trades().length >= TRADES, "all trades");
    const summary = await collector.stop();

    const ids = trades().map((t) => t.id);
    assert.equal(new Set(ids).size, ids.length, "no duplicates");
    assert.equal(ids.length, TRADES, "none lost");
    assert.deepEqual(
      ids.map((id) => Number(id.slice(2))).sort((a, b) => a - b),
      Array.from({ length: TRADES }, (_, i) => 1000 + i),
    );
    // Each fault is visible to consumers and in the logs.
    const reasons = statuses().map((s) => `${s.status} ${s.reason}`);
    assert.ok(reasons.some((r) => r.startsWith("disconnected alpaca error 402")), "402 status");
    assert.ok(reasons.some((r) => r.startsWith("disconnected alpaca error 406")), "406 status");
    assert.ok(reasons.some((r) => r.startsWith("gap alpaca error 407")), "407 status");
    assert.ok(logs.some((l) => /auth failed: check ALPACA_API_KEY/.test(l)), "auth failure logged");
    assert.ok(logs.some((l) => /connection limit/.test(l)), "connection limit logged");
    assert.ok(logs.some((l) => /watchdog|retrying/.test(l)), "reconnects logged");
    assert.equal(summary.errors >= 1 + 3, true, "truncated frame and venue errors counted");
    // ... and in the metrics.
    const exposition = metrics.render();
    const metric = (name: string) =>
      Number(new RegExp(`^alphapulse_collector_${name} (\\S+)$`, "m").exec(exposition)?.[1]);
    assert.ok(metric('reconnects_total\\{exchange="alpaca"\\}') >= 4, exposition);
    assert.ok(metric('status_events_total\\{exchange="alpaca",status="disconnected"\\}') >= 2);
    assert.ok(metric('status_events_total\\{exchange="alpaca",status="gap"\\}') >= 1);
    assert.equal(metric('trades_total\\{exchange="alpaca"\\}'), TRADES);
    // The secret went to the server, never to a log line.
    assert.ok(server.received.some((m) => m.includes(SECRET)));
    assert.ok(logs.length > 5);
    for (const line of logs) assert.ok(!line.includes(SECRET), `secret in: ${line}`);
  } finally {
    await collector.stop();
    await server.shutdown();
  }
});
