/**
 * `deno task bench backtest`: backtester figures, each printed as one JSON line.
 *
 * - `backtest_l2_noop`: a seeded synthetic L2 stream (1M events: 84% level changes, 12%
 *   trades each followed by the level's new size, 4% tick moves; `syntheticL2Feed`) through
 *   the event engine with a strategy that does nothing; events/s. Target 3M/s.
 * - `backtest_l2_market_maker`: the same stream, the example market maker joining the best
 *   bid and ask on every book change (post-only quotes, amended when the best moves), with
 *   the action log on; events/s, with its `orders`, `fills` and `log_entries`. Target 1M/s.
 * - `backtest_bars`: a moving-average cross over 1M and 10M bars streamed in batches (bar
 *   objects are made as they are read, and that is counted); bars/s with `bars`. Target 1M/s,
 *   linear to 10M.
 * - `backtest_vectorized_100k_x10`: moving-average cross signals for 10 parameter pairs and
 *   `fromSignals` over 100K bars (fees, slippage, stop-loss, every equity curve kept); ms,
 *   best of 7, with `first_ms` the first (cold) call. Target <= 40 ms.
 * - `backtest_vectorized_7m_x10_rss`: the same over 7M bars with every equity curve kept, in
 *   a fresh process; its peak resident memory (VmHWM) in MB. Target < 2048.
 *
 * Rates are per second of this process's CPU time (user + system), best of several rounds,
 * so they do not depend on how busy the shared machine is.
 * @module
 */
import process from "node:process";
import { backtest } from "../lib/backtest/backtest.ts";
import { marketMaker, movingAverageCross } from "../lib/backtest/strategies.ts";
import { syntheticL2Feed } from "../lib/backtest/synthetic.ts";
import { crossSignals, fromSignals } from "../lib/backtest/vectorized.ts";
import { SeededRandom } from "../lib/simulator/random.ts";
import type { Bar, MarketEvent } from "../lib/market/types.ts";
import { emit } from "./_figure.ts";

const INSTRUMENTS = [{ exchange: "sim", symbol: "BTC-USD", tickSize: 0.5 }];
const DAY = 86_400e6;

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function bestRate(
  rounds: number,
  units: number,
  fn: () => Promise<unknown>,
): Promise<{ rate: number; last: unknown }> {
  let best = 0;
  let last: unknown;
  for (let r = 0; r < rounds; r++) {
    const t0 = cpuMs();
    last = await fn();
    best = Math.max(best, units / ((cpuMs() - t0) / 1000));
  }
  return { rate: best, last };
}

async function l2(): Promise<void> {
  const feed: MarketEvent[] = syntheticL2Feed({ events: 1_000_000, seed: 11 });
  const noop = await bestRate(
    5,
    feed.length,
    () => backtest({ instruments: INSTRUMENTS, strategy: { name: "noop" }, feed }),
  );
  emit({ name: "backtest_l2_noop", unit: "events/s", value: Math.round(noop.rate), target: 3e6 });
  const mm = await bestRate(4, feed.length, () =>
    backtest({
      instruments: INSTRUMENTS,
      strategy: marketMaker({ exchange: "sim", symbol: "BTC-USD", size: 0.5, maxPosition: 2 }),
      fees: { default: { maker: -0.0001, taker: 0.0004 } },
      feed,
    }));
  const result = mm.last as Awaited<ReturnType<typeof backtest>>;
  emit({
    name: "backtest_l2_market_maker",
    unit: "events/s",
    value: Math.round(mm.rate),
    target: 1e6,
    events: feed.length,
    orders: result.orders.length,
    fills: result.fills.length,
    log_entries: result.log.length,
  });
}

/** Random-walk daily bars made batch by batch. */
async function* streamedBars(n: number): AsyncGenerator<Bar[]> {
  const rnd = new SeededRandom(5);
  let price = 100;
  for (let i = 0; i < n;) {
    const batch: Bar[] = [];
    for (const end = Math.min(n, i + 4096); i < end; i++) {
      const open = price;
      price = Math.max(1, price * (1 + 0.01 * (rnd.next() - 0.5)));
      batch.push({
        kind: "bar",
        exchange: "sim",
        symbol: "SPY",
        ts: i * DAY,
        recvTs: i * DAY,
        interval: DAY,
        open,
        high: Math.max(open, price),
        low: Math.min(open, price),
        close: price,
        volume: 1,
        vwap: price,
        trades: 1,
      });
    }
    yield batch;
  }
}

async function bars(): Promise<void> {
  for (const n of [1_000_000, 10_000_000]) {
    const run = await bestRate(n > 1e6 ? 2 : 3, n, () =>
      backtest({
        instruments: [{ exchange: "sim", symbol: "SPY" }],
        equityEvery: 30 * DAY,
        strategy: movingAverageCross({
          exchange: "sim",
          symbol: "SPY",
          fast: 10,
          slow: 30,
          size: 1,
        }),
        feed: streamedBars(n),
      }));
    emit({
      name: "backtest_bars",
      unit: "bars/s",
      value: Math.round(run.rate),
      bars: n,
      target: 1e6,
    });
  }
}

/** Seeded random-walk OHLC columns. */
export function ohlc(n: number): {
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
} {
  const rnd = new SeededRandom(9);
  const open = new Float64Array(n);
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const close = new Float64Array(n);
  let price = 100;
  for (let i = 0; i < n; i++) {
    open[i] = price;
    price = Math.max(1, price * (1 + 0.01 * (rnd.next() - 0.5)));
    close[i] = price;
    high[i] = Math.max(open[i], price) * 1.001;
    low[i] = Math.min(open[i], price) * 0.999;
  }
  return { open, high, low, close };
}

/** Ten parameter pairs: signals, then `fromSignals` over every column. */
export function vectorizedGrid(data: ReturnType<typeof ohlc>, keepEquity: boolean) {
  const pairs = [
    [5, 20],
    [5, 50],
    [10, 20],
    [10, 50],
    [10, 100],
    [20, 50],
    [20, 100],
    [
      20,
      200,
    ],
    [50, 100],
    [50, 200],
  ];
  const signals = pairs.map(([f, s]) => crossSignals(data.close, f, s));
  return fromSignals({
    ...data,
    entries: signals.map((s) => s.entries),
    exits: signals.map((s) => s.exits),
    fees: 0.0005,
    slippage: 0.0002,
    stopLoss: 0.05,
    initialCash: 10_000,
    keepEquity,
  });
}

async function vectorized(): Promise<void> {
  const data = ohlc(100_000);
  let best = Infinity;
  let first = NaN;
  for (let r = 0; r < 7; r++) {
    const t0 = cpuMs();
    vectorizedGrid(data, true);
    const ms = cpuMs() - t0;
    if (r === 0) first = ms;
    best = Math.min(best, ms);
  }
  emit({
    name: "backtest_vectorized_100k_x10",
    unit: "ms",
    value: Math.round(best * 100) / 100,
    bars: 100_000,
    columns: 10,
    first_ms: Math.round(first * 100) / 100,
    target: 40,
  });
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_backtest_rss.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const line = new TextDecoder().decode(child.stdout).trim().split("\n").at(-1) ?? "{}";
  const peak = JSON.parse(line) as { peakMb: number; ms: number };
  emit({
    name: "backtest_vectorized_7m_x10_rss",
    unit: "MB",
    value: peak.peakMb,
    bars: 7_000_000,
    columns: 10,
    ms: peak.ms,
    target: 2048,
  });
}

/** Runs the group. */
export async function run(): Promise<void> {
  await l2();
  await bars();
  await vectorized();
}

if (import.meta.main) await run();
