/**
 * The vectorized path: checked against the event-driven engine (a second, independent
 * simulation of the same strategy) and against hand computations for stops and slippage.
 */
import assert from "node:assert/strict";
import { backtest, crossSignals, fromSignals, movingAverageCross } from "../lib/backtest/mod.ts";
import { SeededRandom } from "../lib/simulator/random.ts";
import type { Bar } from "../lib/market/types.ts";

function randomBars(n: number, seed: number) {
  const rnd = new SeededRandom(seed);
  const open = new Float64Array(n);
  const high = new Float64Array(n);
  const low = new Float64Array(n);
  const close = new Float64Array(n);
  let price = 100;
  for (let i = 0; i < n; i++) {
    open[i] = price;
    price = Math.max(1, price * (1 + 0.01 * rnd.normal()));
    close[i] = price;
    high[i] = Math.max(open[i], close[i]) * (1 + 0.005 * rnd.next());
    low[i] = Math.min(open[i], close[i]) * (1 - 0.005 * rnd.next());
  }
  return { open, high, low, close };
}

Deno.test("fromSignals equals the event-driven engine on a moving-average cross", async () => {
  const n = 600;
  const { open, high, low, close } = randomBars(n, 3);
  const bars: Bar[] = Array.from({ length: n }, (_, i) => ({
    kind: "bar",
    exchange: "sim",
    symbol: "SPY",
    ts: i * 86_400e6,
    recvTs: i * 86_400e6,
    interval: 86_400e6,
    open: open[i],
    high: high[i],
    low: low[i],
    close: close[i],
    volume: 1,
    vwap: close[i],
    trades: 1,
  }));
  const pairs = [[5, 20], [10, 50], [3, 8]];
  const signals = pairs.map(([f, s]) => crossSignals(close, f, s));
  const vec = fromSignals({
    close,
    open,
    entries: signals.map((s) => s.entries),
    exits: signals.map((s) => s.exits),
    sizes: 10,
    sizeType: "units",
    fees: 0.001,
    initialCash: 10_000,
  });
  for (let c = 0; c < pairs.length; c++) {
    const [fast, slow] = pairs[c];
    const result = await backtest({
      instruments: [{ exchange: "sim", symbol: "SPY" }],
      initialCash: 10_000,
      equityEvery: 86_400e6,
      fees: { default: { maker: 0.001, taker: 0.001 } },
      strategy: movingAverageCross({ exchange: "sim", symbol: "SPY", fast, slow, size: 10 }),
      feed: bars,
    });
    assert.ok(result.fills.length > 4, `pair ${fast}/${slow}`);
    assert.equal(vec.fills[c], result.fills.length);
    assert.deepEqual(Array.from(vec.equity![c]), result.record.equity);
    assert.ok(Math.abs(vec.fees[c] - result.metrics().fees) < 1e-9);
    assert.ok(Math.abs(vec.maxDrawdown[c] - result.metrics().maxDrawdown) < 1e-12);
  }
});

Deno.test("stops, slippage and fees by hand", () => {
  const open = Float64Array.from([100, 100, 102, 97, 90, 95]);
  const high = Float64Array.from([101, 103, 104, 98, 96, 99]);
  const low = Float64Array.from([99, 99, 95, 89, 88, 94]);
  const close = Float64Array.from([100, 102, 96, 91, 95, 98]);
  const entries = [Uint8Array.from([1, 0, 0, 1, 0, 0])];
  const exits = [Uint8Array.from([0, 0, 0, 0, 0, 0])];
  const r = fromSignals({
    close,
    open,
    high,
    low,
    entries,
    exits,
    fees: 0.01,
    slippage: 0.001,
    stopLoss: 0.05,
    initialCash: 1000,
  });
  // Bar 1: buy at 100 * 1.001 = 100.1 with all cash, fee 1%: q = 1000 / (100.1 * 1.01).
  const p1 = 100.1;
  const q = 1000 / (p1 * 1.01);
  // Bar 2: low 95 <= stop 100.1 * 0.95 = 95.095, open 102 above it: exit at the stop level.
  const stop = p1 * 0.95;
  const sellAt = stop * 0.999;
  const cash2 = q * sellAt - q * sellAt * 0.01;
  // Bar 4: the entry of bar 3 fills at 90 * 1.001; bar 4's low 88 is above 90.09 * 0.95.
  const p4 = 90 * 1.001;
  const q4 = cash2 / (p4 * 1.01);
  const eq = r.equity![0];
  assert.ok(Math.abs(eq[1] - (q * 102)) < 1e-9);
  assert.ok(Math.abs(eq[2] - cash2) < 1e-9);
  assert.ok(Math.abs(eq[4] - q4 * 95) < 1e-9);
  assert.ok(Math.abs(r.finalEquity[0] - q4 * 98) < 1e-9);
  assert.equal(r.fills[0], 3);
  // A gap through the stop exits at the open.
  const gap = fromSignals({
    close: Float64Array.from([100, 100, 80]),
    open: Float64Array.from([100, 100, 85]),
    low: Float64Array.from([100, 100, 79]),
    entries: [[1, 0, 0]],
    exits: [[0, 0, 0]],
    stopLoss: 0.1,
    initialCash: 100,
  });
  assert.equal(gap.finalEquity[0], 85);
});

Deno.test("close execution warns of look-ahead; bad shapes are refused", () => {
  const close = Float64Array.from([1, 2, 3]);
  const r = fromSignals({ close, entries: [[1, 0, 0]], exits: [[0, 1, 0]], execution: "close" });
  assert.equal(r.finalEquity[0], 2);
  assert.match(r.warnings[0], /look-ahead/);
  assert.throws(() => fromSignals({ close, entries: [[1]], exits: [[0, 0, 0]] }), TypeError);
  assert.throws(
    () => fromSignals({ close, open: close, entries: [[1]], exits: [[0, 0, 0]] }),
    RangeError,
  );
  assert.throws(() => crossSignals(close, 5, 3), RangeError);
});
