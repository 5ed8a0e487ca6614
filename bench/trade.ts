/**
 * `deno task bench trade`: live runner figures, each printed as one JSON line.
 *
 * - `trade_sim_p99_us`: a seeded synthetic L2 stream paced at 10k events/s (10 events per
 *   millisecond) through the live runner on the wall clock, the example market maker quoting
 *   through the simulated broker; for every event that made the strategy act, the time from
 *   the event leaving the feed to the order (or amend, cancel) reaching the broker; p99 in
 *   microseconds (with p50, max and the count). Target < 1000.
 * - `trade_alpaca_fake_p99_ms`: the same stream and pace, a strategy sending one limit order
 *   every 100th event through the Alpaca paper broker to a minimal Alpaca server over
 *   loopback (`_alpaca_loopback.ts`); from the event leaving the feed to the fake receiving
 *   the `POST /v2/orders`; p99 in ms.
 *   Target < 5. The fake runs in its own process (so its request handling does not share
 *   the runner's thread); `to_broker_p99_ms` is the runner's own share (event to the broker's
 *   `submit`). `trade_alpaca_fake_inproc_p99_ms`: the same with the fake in this process.
 * - `trade_alpaca_loopback_rtt_p99_ms`: the floor under it: plain `POST /v2/orders` round
 *   trips to the subprocess fake, 10 ms apart, no runner.
 * - `trade_kill_ms`: a runner on the wall clock with 500 orders resting at the simulated
 *   broker and the feed still running, served by the HTTP server (`--serve`'s setup); from
 *   sending `POST /api/trading/kill` with a `trade` token (on a connection already open) to
 *   its answer, which comes once every order is cancelled and the run has ended (checked).
 *   Worst of 5 runs. Target < 1000.
 *
 * Wall-clock latencies on a shared machine: the figures carry the count they come from.
 * Times across processes are epoch milliseconds (`performance.timeOrigin + performance.now()`).
 * @module
 */
import { marketMaker, type Strategy, syntheticL2Feed } from "../lib/backtest/mod.ts";
import type { MarketEvent } from "../lib/market/types.ts";
import {
  AlpacaPaperBroker,
  type Broker,
  LiveRunner,
  Scheduler,
  SimBroker,
} from "../lib/trading/mod.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { Authenticator, startServer, StreamHub } from "../server/mod.ts";
import { epochMs, spawnAlpacaLoopback, startAlpacaLoopback } from "./_alpaca_loopback.ts";
import { emit } from "./_figure.ts";

const INSTRUMENTS = [{ exchange: "sim", symbol: "BTC-USD", tickSize: 0.5 }];

/** Paced feed: `perMs` events each millisecond; `sentAt[i]` is when event i left. */
async function* paced(
  events: readonly MarketEvent[],
  perMs: number,
  sentAt: number[],
): AsyncGenerator<MarketEvent> {
  const start = performance.now();
  for (let i = 0; i < events.length; i++) {
    if (i % perMs === 0) {
      const wait = start + i / perMs - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    sentAt.push(epochMs());
    yield events[i];
  }
}

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** Wraps a broker's order calls: the first call after each event is its "order out". */
function timed(broker: Broker, sentAt: number[], out: number[]): void {
  let seen = -1;
  for (const name of ["submit", "amend", "cancel"] as const) {
    const fn = (broker[name] as (...a: unknown[]) => void).bind(broker);
    (broker as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => {
      const i = sentAt.length - 1;
      if (i !== seen) {
        seen = i;
        out.push(epochMs() - sentAt[i]);
      }
      fn(...a);
    };
  }
}

async function sim(): Promise<void> {
  const events = syntheticL2Feed({ events: 50_000, seed: 5 });
  const scheduler = new Scheduler({ clock: "wall" });
  const broker = new SimBroker({ instruments: INSTRUMENTS, scheduler });
  const sentAt: number[] = [];
  const lat: number[] = [];
  timed(broker, sentAt, lat);
  const strategy = marketMaker({ exchange: "sim", symbol: "BTC-USD", size: 0.5, maxPosition: 2 });
  const runner = new LiveRunner({ strategy, broker, instruments: INSTRUMENTS, scheduler });
  await runner.run(paced(events, 10, sentAt));
  emit({
    name: "trade_sim_p99_us",
    unit: "us",
    value: Math.round(percentile(lat, 0.99) * 1000),
    p50_us: Math.round(percentile(lat, 0.5) * 1000),
    max_us: Math.round(Math.max(...lat) * 1000),
    orders_out: lat.length,
    events: events.length,
    rate: 10_000,
  });
}

async function alpaca(where: "subprocess" | "in-process"): Promise<void> {
  const fake = where === "subprocess" ? await spawnAlpacaLoopback() : startAlpacaLoopback();
  const inst = { exchange: "alpaca", symbol: "BTC/USD", tickSize: 0.5 };
  const events = syntheticL2Feed({
    events: 20_000,
    seed: 5,
    exchange: "alpaca",
    symbol: "BTC/USD",
  });
  const broker = new AlpacaPaperBroker({
    key: "BENCHKEY",
    secret: "bench-secret",
    baseUrl: fake.baseUrl,
    streamUrl: fake.streamUrl,
  });
  await broker.connect();
  const sentAt: number[] = [];
  const toBroker: number[] = [];
  timed(broker, sentAt, toBroker);
  const eventOf: number[] = []; // event index of each order, in submission order
  let n = 0;
  const strategy: Strategy = {
    name: "every-100th",
    onBook(_e, ctx) {
      if (++n % 100 !== 0) return;
      eventOf.push(sentAt.length - 1);
      const bid = ctx.book(inst.exchange, inst.symbol)!.bestBid;
      ctx.submit({ ...inst, side: "buy", type: "limit", price: bid - 50, size: 0.01 });
    },
  };
  const scheduler = new Scheduler({ clock: "wall" });
  const runner = new LiveRunner({ strategy, broker, instruments: [inst], scheduler });
  await runner.run(paced(events, 10, sentAt));
  await broker.close();
  await fake.shutdown();
  const posts = [...fake.postTimes];
  // The i-th POST to arrive is matched with the i-th order sent (orders 100 events apart).
  const lat = posts.sort((a, b) => a - b).map((t, i) => t - sentAt[eventOf[i]]);
  emit({
    name: where === "subprocess" ? "trade_alpaca_fake_p99_ms" : "trade_alpaca_fake_inproc_p99_ms",
    unit: "ms",
    value: Number(percentile(lat, 0.99).toFixed(3)),
    p50_ms: Number(percentile(lat, 0.5).toFixed(3)),
    max_ms: Number(Math.max(...lat).toFixed(3)),
    orders: lat.length,
    events: events.length,
    rate: 10_000,
    fake: where,
    // the runner's own share: the event leaving the feed to the broker's submit call
    to_broker_p99_ms: Number(percentile(toBroker, 0.99).toFixed(3)),
  });
}

/**
 * The floor under `trade_alpaca_fake_p99_ms`: plain `POST /v2/orders` round trips to the
 * subprocess fake, 10 ms apart, no runner (after one warm-up request).
 */
async function loopbackRtt(): Promise<void> {
  const fake = await spawnAlpacaLoopback();
  const post = async () => {
    const t0 = performance.now();
    const res = await fetch(`${fake.baseUrl}/v2/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ symbol: "BTC/USD", qty: "0.01", side: "buy", type: "limit" }),
    });
    await res.text();
    return performance.now() - t0;
  };
  await post();
  const rtt: number[] = [];
  for (let i = 0; i < 200; i++) {
    rtt.push(await post());
    await new Promise((r) => setTimeout(r, 10));
  }
  await fake.shutdown();
  emit({
    name: "trade_alpaca_loopback_rtt_p99_ms",
    unit: "ms",
    value: Number(percentile(rtt, 0.99).toFixed(3)),
    p50_ms: Number(percentile(rtt, 0.5).toFixed(3)),
    max_ms: Number(Math.max(...rtt).toFixed(3)),
    requests: rtt.length,
  });
}

/** One kill: ms from the POST to its answer (after every order is cancelled). */
async function killOnce(resting: number): Promise<number> {
  const token = "bench-trade-token-0123456789";
  const events = syntheticL2Feed({ events: 200_000, seed: 9 });
  const scheduler = new Scheduler({ clock: "wall" });
  const broker = new SimBroker({ instruments: INSTRUMENTS, scheduler });
  let n = 0;
  const strategy: Strategy = {
    name: "resting",
    onBook(_e, ctx) {
      if (n >= resting) return;
      const bid = ctx.book("sim", "BTC-USD")!.bestBid;
      ctx.submit({
        ...INSTRUMENTS[0],
        side: "buy",
        type: "limit",
        price: bid - 100 - n++,
        size: 1,
      });
    },
  };
  const runner = new LiveRunner({ strategy, broker, instruments: INSTRUMENTS, scheduler });
  const auth = await Authenticator.create({ tokens: [{ token, scopes: ["trade"] }] });
  const server = await startServer({
    repository: new MemoryRepository(),
    hub: new StreamHub(),
    port: 0,
    auth,
    trading: runner,
  });
  const done = runner.run(paced(events, 10, []));
  while ((await broker.openOrders()).length < resting) await new Promise((r) => setTimeout(r, 5));
  // An operator's page is already connected: the connection is open before the kill.
  const warm = await fetch(`${server.url}api/trading/pnl`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await warm.body?.cancel();
  const t0 = performance.now();
  const res = await fetch(`${server.url}api/trading/kill`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  await res.body?.cancel();
  const ms = performance.now() - t0;
  const rec = await done;
  await server.shutdown();
  const open = (await broker.openOrders()).length;
  if (res.status !== 200 || open !== 0 || !rec.reason.startsWith("kill switch")) {
    throw new Error(`kill failed: ${res.status}, ${open} open, ${rec.reason}`);
  }
  return ms;
}

async function kill(): Promise<void> {
  const resting = 500;
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) runs.push(await killOnce(resting));
  emit({
    name: "trade_kill_ms",
    unit: "ms",
    value: Number(Math.max(...runs).toFixed(3)),
    p50_ms: Number(percentile(runs, 0.5).toFixed(3)),
    runs: runs.length,
    resting_orders: resting,
  });
}

/** Runs the trade benchmarks. */
export async function run(): Promise<void> {
  await sim();
  await alpaca("subprocess");
  await alpaca("in-process");
  await loopbackRtt();
  await kill();
}
