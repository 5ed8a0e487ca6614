/**
 * `deno task bench server`: live-stream fan-out and delivery, and the bars API.
 *
 * - `hub_fanout`: events/s through `StreamHub.write` to 8 matching subscribers that drain
 *   their queues after every batch of 100 (each event serialised once).
 * - `ws_delivery`: trades/s from `hub.write` to a local WebSocket client (batches of 100,
 *   at most 5,000 in flight), versus peer `ws-per-event`: a minimal `Deno.serve` WebSocket
 *   server that sends each event as its own `JSON.stringify` message, in the same run: both
 *   set up once and warmed up (20,000 events each, not counted), then `BENCH_WS_ROUNDS`
 *   (default 5) rounds alternating which goes first. The figure is the median of each and
 *   the ratio of the medians, with every round's values.
 * - `sse_delivery`: the same over Server-Sent Events.
 * - `api_bars`: bars/s served by `GET /api/bars` (100,000 bars, JSON) through the handler.
 * - `server_fanout_1000_p99`, `server_fanout_stalled_p99_increase`,
 *   `server_cap_flood_p99_increase`: 1,000 WebSocket clients over 10 symbols at 10,000
 *   trades/s, publish-to-receive p99 with the server and the clients in separate processes
 *   (the median of the baseline windows' p99s); the increase of that p99 with one client that
 *   never reads (the median of the increases of `BENCH_FANOUT_PAIRS`, default 5, interleaved
 *   baseline/stalled pairs of 10 s windows after one uncounted warm-up stalled window, each
 *   window's p99 also given, with the A/A increases between adjacent baseline windows and the
 *   baseline windows' spread as the noise the figure carries); and during 5,000
 *   connection attempts past the cap (see `bench/_fanout.ts` for how it is measured). The
 *   load comes from the C client (`bench/fanout_client.c`, compiled on demand with `cc`);
 *   `BENCH_FANOUT_CLIENTS=deno` runs the Deno clients instead, as does a machine without a C
 *   compiler; the figures' `clients` field says which ran and `client_cores` what they cost.
 *
 * Size: `BENCH_SERVER_EVENTS` (default 200,000).
 * @module
 */
import type { Bar, Trade } from "../lib/market/types.ts";
import type { MarketDataRepository, QueryResult } from "../lib/repositories/repository.ts";
import { createApp, startServer, StreamHub } from "../server/mod.ts";
import { emit } from "./_figure.ts";
import { MemoryRepository } from "../lib/repositories/memory_repository.ts";
import { fanout } from "./_fanout.ts";
import { increasePercent, median } from "./_stats.ts";

const EVENTS = Number(Deno.env.get("BENCH_SERVER_EVENTS") ?? 200_000);
const BATCH = 100;
const IN_FLIGHT = 5_000;
/** Rounds of `ws_delivery` (ours and the peer alternating). */
const WS_ROUNDS = Number(Deno.env.get("BENCH_WS_ROUNDS") ?? 5);
/** Events of the unrecorded first round of ours and of the peer. */
const WARM_UP = 20_000;
const T0 = Date.UTC(2024, 7, 8) * 1000;

function makeTrades(n: number): Trade[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: "trade",
    exchange: "binance",
    symbol: "BTC-USDT",
    ts: T0 + i * 1000,
    recvTs: T0 + i * 1000 + 250,
    id: String(3_000_000_000 + i),
    price: 56_000 + (i % 1000) / 100,
    size: 0.00123 + (i % 7) / 1000,
    side: i % 2 ? "buy" : "sell",
  }));
}

function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function emptyRepository(bars: Bar[] = []): MarketDataRepository {
  const result = <Row>(rows: Row[]): QueryResult<Row> => ({
    rows: () => Promise.resolve(rows),
    polars: () => Promise.reject(new Error("not used")),
    arrow: () => Promise.reject(new Error("not used")),
  });
  return {
    instruments: () => Promise.resolve([]),
    trades: (q) => new MemoryRepository().trades(q),
    bars: () => result(bars),
    activityBars: () => result(bars),
    quotes: (q) => new MemoryRepository().quotes(q),
    bookSnapshots: (q) => new MemoryRepository().bookSnapshots(q),
    close: () => Promise.resolve(),
  };
}

async function hubFanout(trades: Trade[]): Promise<number> {
  const hub = new StreamHub({ maxQueue: 10_000 });
  const subs = Array.from({ length: 8 }, () => hub.subscribe({ kinds: new Set(["trade"]) }));
  const start = performance.now();
  for (const batch of batches(trades, BATCH)) {
    hub.write(batch);
    for (const sub of subs) await sub.next();
  }
  const seconds = (performance.now() - start) / 1000;
  await hub.close();
  return trades.length / seconds;
}

/** Publishes in batches, keeping at most IN_FLIGHT events unreceived; returns events/s. */
async function deliver(
  trades: Trade[],
  publish: (batch: Trade[]) => void,
  received: () => number,
): Promise<number> {
  const start = performance.now();
  let published = 0;
  for (const batch of batches(trades, BATCH)) {
    while (published - received() > IN_FLIGHT) await new Promise((r) => setTimeout(r, 0));
    publish(batch);
    published += batch.length;
  }
  while (received() < trades.length) await new Promise((r) => setTimeout(r, 0));
  return trades.length / ((performance.now() - start) / 1000);
}

/** A server with one connected client, ready to run {@linkcode deliver} rounds. */
interface DeliveryRig {
  /** Events/s for one delivery of `trades` to the client. */
  round(trades: Trade[]): Promise<number>;
  close(): Promise<void>;
}

async function wsOurs(): Promise<DeliveryRig> {
  const hub = new StreamHub();
  const server = await startServer({ repository: emptyRepository(), hub, port: 0 });
  const ws = new WebSocket(`${server.url.replace("http", "ws")}ws?kinds=trade`);
  let count = 0;
  ws.onmessage = (m) => count += JSON.parse(m.data).length;
  await new Promise((r) => ws.onopen = r);
  return {
    round: (trades) => {
      const from = count;
      return deliver(trades, (b) => hub.write(b), () => count - from);
    },
    close: async () => {
      const closed = new Promise((r) => ws.onclose = r);
      ws.close();
      await closed;
      await server.shutdown();
      await hub.close();
    },
  };
}

async function wsPerEvent(): Promise<DeliveryRig> {
  const sockets = new Set<WebSocket>();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    return response;
  });
  const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
  let count = 0;
  ws.onmessage = (m) => {
    JSON.parse(m.data);
    count++;
  };
  await new Promise((r) => ws.onopen = r);
  while (sockets.size === 0) await new Promise((r) => setTimeout(r, 1));
  const publish = (batch: Trade[]) => {
    for (const socket of sockets) for (const t of batch) socket.send(JSON.stringify(t));
  };
  return {
    round: (trades) => {
      const from = count;
      return deliver(trades, publish, () => count - from);
    },
    close: async () => {
      const closed = new Promise((r) => ws.onclose = r);
      ws.close();
      await closed;
      await server.shutdown();
    },
  };
}

/**
 * `server.ws_delivery`: ours and the peer, each with its server and client set up once, in
 * {@linkcode WS_ROUNDS} rounds of alternating order (ours first, then the peer first, ...)
 * so that a change of the machine's load weighs on both; the medians, their ratio, and each
 * round's values.
 */
async function wsDelivery(trades: Trade[]): Promise<void> {
  const ours = await wsOurs();
  const peer = await wsPerEvent();
  const oursRounds: number[] = [];
  const peerRounds: number[] = [];
  try {
    // One unrecorded round each first: the first delivery of either pays for compiling it.
    await ours.round(trades.slice(0, WARM_UP));
    await peer.round(trades.slice(0, WARM_UP));
    for (let i = 0; i < WS_ROUNDS; i++) {
      if (i % 2 === 0) oursRounds.push(await ours.round(trades));
      peerRounds.push(await peer.round(trades));
      if (i % 2 === 1) oursRounds.push(await ours.round(trades));
    }
  } finally {
    await ours.close();
    await peer.close();
  }
  const oursMedian = median(oursRounds);
  const peerMedian = median(peerRounds);
  emit({
    name: "server.ws_delivery",
    unit: "events/s",
    value: Math.round(oursMedian),
    peer: "ws-per-event",
    peer_value: Math.round(peerMedian),
    ratio: Number((oursMedian / peerMedian).toFixed(2)),
    rounds: WS_ROUNDS,
    round_values: oursRounds.map(Math.round),
    round_peer_values: peerRounds.map(Math.round),
    round_ratios: oursRounds.map((v, i) => Number((v / peerRounds[i]).toFixed(2))),
  });
}

async function sseOurs(trades: Trade[]): Promise<number> {
  const hub = new StreamHub();
  const server = await startServer({ repository: emptyRepository(), hub, port: 0 });
  const res = await fetch(`${server.url}sse?kinds=trade`);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  await reader.read(); // ": connected"
  let count = 0;
  let text = "";
  const reading = (async () => {
    while (count < trades.length) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      let end;
      while ((end = text.indexOf("\n\n")) >= 0) {
        const frame = text.slice(0, end);
        text = text.slice(end + 2);
        if (frame.startsWith("data: ")) count += JSON.parse(frame.slice(6)).length;
      }
    }
  })();
  const rate = await deliver(trades, (b) => hub.write(b), () => count);
  await reading;
  await reader.cancel();
  await server.shutdown();
  return rate;
}

async function apiBars(): Promise<number> {
  const bars: Bar[] = Array.from({ length: 100_000 }, (_, i) => ({
    kind: "bar",
    exchange: "binance",
    symbol: "BTC-USDT",
    ts: T0 + i * 60_000_000,
    recvTs: T0 + i * 60_000_000,
    interval: 60_000_000,
    open: 56_000,
    high: 56_010.5,
    low: 55_990.25,
    close: 56_001.75,
    volume: 12.345,
    vwap: 56_000.5,
    trades: 321,
  }));
  const app = createApp({ repository: emptyRepository(bars), hub: new StreamHub() });
  const rounds = 5;
  const start = performance.now();
  for (let i = 0; i < rounds; i++) {
    const res = await app(new Request("http://x/api/bars?exchange=binance&symbol=BTC-USDT"));
    if ((await res.json()).length !== bars.length) throw new Error("bars lost");
  }
  return (rounds * bars.length) / ((performance.now() - start) / 1000);
}

/** Runs the server benchmarks, printing one JSON line per figure. */
export async function run(): Promise<void> {
  const trades = makeTrades(EVENTS);
  emit({
    name: "server.hub_fanout_8_subscribers",
    unit: "events/s",
    value: Math.round(await hubFanout(trades)),
  });
  await wsDelivery(trades);
  emit({
    name: "server.sse_delivery",
    unit: "events/s",
    value: Math.round(await sseOurs(trades)),
  });
  emit({ name: "server.api_bars_json", unit: "bars/s", value: Math.round(await apiBars()) });
  await fanoutFigures();
}

/**
 * `BENCH_FANOUT_CLIENTS`: `c` or `deno` (which clients), or a number (the client count, as
 * it was before the C client came).
 */
function clientsSetting(text: string | undefined): { kind: "c" | "deno"; count?: number } {
  if (text === undefined || text === "c" || text === "deno") return { kind: text ?? "c" };
  const count = Number(text);
  if (!(count > 0)) {
    throw new RangeError(`BENCH_FANOUT_CLIENTS must be "c", "deno" or a count, got "${text}"`);
  }
  return { kind: "c", count };
}

async function fanoutFigures(): Promise<void> {
  const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  const loadBefore = load();
  // BENCH_FANOUT_COUNT / BENCH_FANOUT_RATE scale the run down (the figure names stay; the
  // `client_count` and `rate` fields say what ran); BENCH_FANOUT_PAIRS sets the A/B pairs.
  // BENCH_FANOUT_CLIENTS=deno|c picks the clients (a number there is still read as the count).
  const { kind, count } = clientsSetting(Deno.env.get("BENCH_FANOUT_CLIENTS"));
  const clientCount = Number(Deno.env.get("BENCH_FANOUT_COUNT") ?? count ?? 1_000);
  const rate = Number(Deno.env.get("BENCH_FANOUT_RATE") ?? 10_000);
  const pairs = Number(Deno.env.get("BENCH_FANOUT_PAIRS") ?? 5);
  // BENCH_FANOUT_GUARD=1 runs it with the connection guard in front (as on a network bind).
  const guard = Deno.env.get("BENCH_FANOUT_GUARD") === "1";
  const phaseMs = 10_000;
  const r = await fanout({ clientCount, clients: kind, rate, pairs, phaseMs, guard });
  const common = {
    clients: r.clients,
    ...(r.clientsFallback === undefined ? {} : { clients_fallback: r.clientsFallback }),
    client_count: clientCount,
    rate,
    guard,
    loadavg_before: loadBefore,
    loadavg_after: load(),
  };
  const of = (kind: string) => r.windows.filter((w) => w.kind === kind);
  emit({
    name: "server_fanout_1000_p99",
    unit: "ms",
    value: r.baseline.medianP99,
    target: "< 20",
    p50_ms: r.baseline.p50,
    pooled_p99_ms: r.baseline.p99,
    window_p99_ms: of("baseline").map((w) => w.p99),
    server_cores: r.baseline.serverCores,
    server_cpu_us_per_message: r.baseline.cpuMicrosPerMessage,
    client_cores: r.baseline.clientCores,
    messages: r.baseline.messages,
    events: r.baseline.events,
    expected_events: r.baseline.expected,
    order_breaks: r.baseline.breaks,
    clients_dropped: r.baseline.closed,
    ...common,
  });
  emit({
    name: "server_fanout_stalled_p99_increase",
    unit: "percent",
    value: r.stalled.increase,
    target: "< 20",
    pairs,
    window_ms: phaseMs,
    pair_increases: r.stalled.pairIncreases,
    aa_increases: r.stalled.aaIncreases,
    baseline_spread_percent: r.stalled.baselineSpread,
    warmup_p99_ms: r.warmup?.p99 ?? null,
    warmup_drop_ms: r.warmup?.dropMs ?? null,
    pooled_increase: r.stalled.pooledIncrease,
    p99_ms: r.stalled.p99,
    server_cores: r.stalled.serverCores,
    client_cores: r.stalled.clientCores,
    baseline_p99_ms: r.baseline.p99,
    window_order: r.windows.map((w) => w.kind[0]).join(""),
    window_p99_ms: r.windows.map((w) => w.p99),
    window_foreign_cores: r.windows.map((w) => w.foreignCores),
    stalled_client_dropped: r.stalled.stalledDropped,
    stalled_drop_ms: of("stalled").map((w) => w.dropMs ?? null),
    baseline_slow_disconnects: of("baseline").reduce((n, w) => n + w.slowDisconnects, 0),
    order_breaks: r.stalled.breaks,
    clients_dropped: r.stalled.closed,
    ...common,
  });
  emit({
    name: "server_cap_flood_p99_increase",
    unit: "percent",
    value: increasePercent(r.capFlood.p99, r.baseline.medianP99),
    p99_ms: r.capFlood.p99,
    baseline_p99_ms: r.baseline.medianP99,
    attempts: r.capFlood.attempts,
    refused: r.capFlood.refused,
    server_cores: r.capFlood.serverCores,
    client_cores: r.capFlood.clientCores,
    order_breaks: r.capFlood.breaks,
    clients_dropped: r.capFlood.closed,
    ...common,
  });
}

if (import.meta.main) await run();
