/**
 * Results as frames and metrics, each checked against a computation written here (by hand,
 * or with Polars expressions on the engine's own output columns).
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import {
  backtest,
  marketMaker,
  type Strategy,
  syntheticL2Feed,
  type TradingContext,
} from "../lib/backtest/mod.ts";
import type { Bar, MarketEvent } from "../lib/market/types.ts";

const EX = "sim";
const SYM = "SPY";

function bar(i: number, open: number, close: number): Bar {
  return {
    kind: "bar",
    exchange: EX,
    symbol: SYM,
    ts: i * 60,
    recvTs: i * 60,
    interval: 60,
    open,
    high: Math.max(open, close) + 1,
    low: Math.min(open, close) - 1,
    close,
    volume: 100,
    vwap: close,
    trades: 10,
  };
}

const BARS = [
  bar(0, 100, 100),
  bar(1, 101, 104), // bought at 101 (the order from bar 0)
  bar(2, 103, 98),
  bar(3, 99, 97), // sold at 99 (the order from bar 2)
  bar(4, 96, 110),
  bar(5, 111, 120), // bought at 111 (the order from bar 4)
  bar(6, 119, 118),
];

function scripted(script: Record<number, (ctx: TradingContext) => void>): Strategy {
  return { name: "scripted", onBar: (b, ctx) => script[b.ts / 60]?.(ctx) };
}
const order = (side: "buy" | "sell", size: number) => (ctx: TradingContext) =>
  ctx.submit({ exchange: EX, symbol: SYM, side, type: "market", size });

Deno.test("equity, positions and fills of a bar run match a hand computation", async () => {
  const result = await backtest({
    instruments: [{ exchange: EX, symbol: SYM }],
    initialCash: 1000,
    equityEvery: 60,
    fees: { default: { maker: 0, taker: 0.001 } },
    strategy: scripted({ 0: order("buy", 2), 2: order("sell", 2), 4: order("buy", 1) }),
    feed: BARS,
  });
  // Fills at the next bar's open; fee 0.1% of notional.
  assert.deepEqual(result.fills.map((f) => [f.ts, f.side, f.price, f.size]), [
    [60, "buy", 101, 2],
    [180, "sell", 99, 2],
    [300, "buy", 111, 1],
  ]);
  const fees = [0.202, 0.198, 0.111];
  result.fills.forEach((f, i) => assert.ok(Math.abs(f.fee - fees[i]) < 1e-12));
  // Equity is sampled when each bar closes (ts + 60), marked at that bar's close.
  const cash1 = 1000 - 202 - 0.202;
  const cash3 = cash1 + 198 - 0.198;
  const cash5 = cash3 - 111 - 0.111;
  const expected = [
    [60, 1000],
    [120, cash1 + 2 * 104],
    [180, cash1 + 2 * 98],
    [240, cash3],
    [300, cash3],
    [360, cash5 + 120],
    [420, cash5 + 118],
  ];
  const eq = result.equityFrame();
  assert.deepEqual(eq.columns, ["ts", "equity"]);
  assert.equal(eq.height, expected.length);
  const tsMicros = eq.select(pl.col("ts").cast(pl.Int64)).getColumn("ts").toArray().map(Number);
  assert.deepEqual(tsMicros, expected.map((e) => e[0]));
  (eq.getColumn("equity").toArray() as number[]).forEach((v, i) =>
    assert.ok(Math.abs(v - expected[i][1]) < 1e-9, `${i}: ${v}`)
  );
  const positions = result.positionsFrame();
  assert.deepEqual(positions.getColumn("position").toArray(), [2, 0, 1]);
  assert.deepEqual(positions.getColumn("realized").toArray(), [0, 2 * (99 - 101), 0]);
  const m = result.metrics({ periodsPerYear: 252 });
  assert.ok(Math.abs(m.pnl - (cash5 + 118 - 1000)) < 1e-9);
  assert.ok(Math.abs(m.fees - 0.511) < 1e-12);
  assert.ok(Math.abs(m.turnover - (202 + 198 + 111) / 1000) < 1e-12);
  assert.equal(m.hitRate, 0); // the one closing fill lost
  // The peak (cash1 + 208 = 1005.798 at 120) is never regained (1004.489 at best, at 360);
  // the lowest point after it is cash1 + 196 at 180.
  const peak = cash1 + 208;
  assert.ok(Math.abs(m.maxDrawdown - (1 - (cash1 + 196) / peak)) < 1e-12);
  assert.equal(m.maxDrawdownDuration, 420 - 120);
});

Deno.test("Sharpe, Sortino and drawdown agree with Polars on the equity frame", async () => {
  const feed = syntheticL2Feed({ events: 30_000, seed: 5 });
  const result = await backtest({
    instruments: [{ exchange: "sim", symbol: "BTC-USD", tickSize: 0.5 }],
    equityEvery: 50_000,
    strategy: marketMaker({ exchange: "sim", symbol: "BTC-USD", size: 0.5, maxPosition: 2 }),
    feed,
  });
  const m = result.metrics({ periodsPerYear: 1000 });
  const r = result.equityFrame().select(
    pl.col("equity").div(pl.col("equity").shift(1)).minus(1).alias("r"),
  ).dropNulls();
  assert.ok(r.height > 20);
  const stats = r.select(
    pl.col("r").mean().alias("mean"),
    pl.col("r").std().alias("std"), // ddof 1
    pl.when(pl.col("r").lt(0)).then(pl.col("r").pow(2)).otherwise(pl.lit(0)).mean().alias("down"),
  ).toRecords()[0] as Record<string, number>;
  const sharpe = stats.mean / stats.std * Math.sqrt(1000);
  const sortino = stats.mean / Math.sqrt(stats.down) * Math.sqrt(1000);
  assert.ok(Math.abs(m.sharpe - sharpe) < 1e-9 * Math.max(1, Math.abs(sharpe)), `${m.sharpe}`);
  assert.ok(Math.abs(m.sortino - sortino) < 1e-9 * Math.max(1, Math.abs(sortino)));
  const dd = result.equityFrame().select(
    pl.lit(1).minus(pl.col("equity").div(pl.col("equity").cumMax())).max().alias("dd"),
  ).toRecords()[0].dd as number;
  assert.ok(Math.abs(m.maxDrawdown - dd) < 1e-12);
  const fills = result.fillsFrame();
  assert.deepEqual(fills.columns, [
    "id",
    "order_id",
    "ts",
    "exchange",
    "symbol",
    "side",
    "price",
    "size",
    "fee",
    "liquidity",
    "markout",
  ]);
  assert.equal(fills.height, result.fills.length);
  assert.ok(Math.abs(fills.getColumn("fee").sum() - m.fees) < 1e-9);
  assert.equal(result.ordersFrame().height, result.orders.length);
});

Deno.test("markouts and hit rate agree with an independent book and accounting", async () => {
  const feed = syntheticL2Feed({ events: 20_000, seed: 8 });
  const horizon = 5_000;
  const result = await backtest({
    instruments: [{ exchange: "sim", symbol: "BTC-USD", tickSize: 0.5 }],
    markoutHorizon: horizon,
    strategy: marketMaker({ exchange: "sim", symbol: "BTC-USD", size: 0.5, maxPosition: 1.5 }),
    feed,
  });
  assert.ok(result.fills.length > 50);
  // Mid after each event, from a map-based book.
  const bids = new Map<number, number>();
  const asks = new Map<number, number>();
  const times: number[] = [];
  const mids: number[] = [];
  const apply = (m: Map<number, number>, levels: readonly (readonly [number, number])[]) => {
    for (const [p, s] of levels) s === 0 ? m.delete(p) : m.set(p, s);
  };
  for (const e of feed as MarketEvent[]) {
    if (e.kind === "book_snapshot") {
      bids.clear();
      asks.clear();
    }
    if (e.kind === "book_snapshot" || e.kind === "book_change") {
      apply(bids, e.bids);
      apply(asks, e.asks);
    }
    times.push(e.ts);
    mids.push((Math.max(...bids.keys()) + Math.min(...asks.keys())) / 2);
  }
  let sum = 0;
  let n = 0;
  result.fills.forEach((f, i) => {
    const j = times.findIndex((t) => t >= f.ts + horizon);
    const got = result.record.markouts[i];
    if (j < 0) return assert.ok(Number.isNaN(got));
    const expected = (f.side === "buy" ? 1 : -1) * (mids[j] - f.price);
    assert.ok(Math.abs(got - expected) < 1e-9, `fill ${i}: ${got} vs ${expected}`);
    sum += expected / f.price * 1e4;
    n++;
  });
  const m = result.metrics();
  assert.ok(Math.abs(m.avgMarkoutBps - sum / n) < 1e-9);
  // Average-cost realised profit per fill.
  let pos = 0;
  let avg = 0;
  let wins = 0;
  let closes = 0;
  for (const f of result.fills) {
    const q = f.side === "buy" ? f.size : -f.size;
    if (pos !== 0 && Math.sign(q) !== Math.sign(pos)) {
      const closed = Math.min(Math.abs(q), Math.abs(pos));
      const pnl = closed * (f.price - avg) * Math.sign(pos);
      if (pnl !== 0) {
        closes++;
        if (pnl > 0) wins++;
      }
      if (Math.abs(q) > Math.abs(pos)) avg = f.price;
      pos += q;
      if (Math.abs(pos) < 1e-12) pos = 0;
    } else {
      avg = (avg * Math.abs(pos) + f.price * Math.abs(q)) / Math.abs(pos + q);
      pos += q;
    }
  }
  assert.ok(closes > 0);
  assert.ok(Math.abs(m.hitRate - wins / closes) < 1e-12);
});

Deno.test("drawdown duration runs from a peak to the first sample back at it", async () => {
  const { drawdowns } = await import("../lib/backtest/metrics.ts");
  // Peak 12 at t=1, low 9 (25% down), back above at t=3; a shorter dip after.
  assert.deepEqual(drawdowns([0, 1, 2, 3, 4], [10, 12, 9, 12.5, 11]), {
    drawdown: 0.25,
    duration: 2,
  });
  assert.deepEqual(drawdowns([0, 5], [10, 10]), { drawdown: 0, duration: 0 });
  assert.deepEqual(drawdowns([], []), { drawdown: 0, duration: 0 });
});
