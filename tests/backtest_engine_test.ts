/**
 * The event-driven backtester on hand-built books: every expected fill is computed here, by
 * hand or by a small independent model written in this file, never by the engine.
 */
import assert from "node:assert/strict";
import {
  backtest,
  type BacktestConfig,
  type Strategy,
  type TradingContext,
} from "../lib/backtest/mod.ts";
import type {
  Bar,
  BookChange,
  BookSnapshot,
  MarketEvent,
  PriceLevel,
  Trade,
} from "../lib/market/types.ts";

const EX = "sim";
const SYM = "BTC-USD";
const INSTRUMENTS = [{ exchange: EX, symbol: SYM, tickSize: 0.5 }];

function snap(ts: number, bids: PriceLevel[], asks: PriceLevel[]): BookSnapshot {
  return { kind: "book_snapshot", exchange: EX, symbol: SYM, ts, recvTs: ts, bids, asks };
}
function change(ts: number, bids: PriceLevel[], asks: PriceLevel[]): BookChange {
  return { kind: "book_change", exchange: EX, symbol: SYM, ts, recvTs: ts, bids, asks };
}
function trade(ts: number, price: number, size: number, side: "buy" | "sell"): Trade {
  return {
    kind: "trade",
    exchange: EX,
    symbol: SYM,
    ts,
    recvTs: ts,
    id: `${ts}`,
    price,
    size,
    side,
  };
}

type Action = (ctx: TradingContext) => void;

/** A strategy that runs scripted actions when the event with a given `ts` reaches it. */
function scripted(script: Record<number, Action>, extra: Partial<Strategy> = {}): Strategy {
  const run = (e: MarketEvent, ctx: TradingContext) => script[e.ts]?.(ctx);
  return { name: "scripted", onBook: run, onTrade: run, onBar: run, ...extra };
}

async function run(
  feed: MarketEvent[],
  script: Record<number, Action>,
  config: Partial<BacktestConfig> = {},
  extra: Partial<Strategy> = {},
) {
  return await backtest({
    instruments: INSTRUMENTS,
    ...config,
    strategy: scripted(script, extra),
    feed,
  });
}

const buy = (size: number, more: Record<string, unknown> = {}) => (ctx: TradingContext) => {
  ctx.submit({ exchange: EX, symbol: SYM, side: "buy", type: "market", size, ...more });
};

/** Independent model: walks `levels` (best first) for `size`, consuming them in place. */
function walk(levels: [number, number][], size: number, limit = Infinity): [number, number][] {
  const out: [number, number][] = [];
  let left = size;
  for (const level of levels) {
    if (left <= 0 || level[0] > limit) break;
    const take = Math.min(left, level[1]);
    if (take > 0) out.push([level[0], take]);
    level[1] -= take;
    left -= take;
  }
  return out;
}

const ASKS: PriceLevel[] = [[101, 1], [101.5, 2], [103, 5]];
const BIDS: PriceLevel[] = [[100, 3], [99.5, 4]];

Deno.test("a market order walks the book; a second order cannot take the same size", async () => {
  const result = await run([snap(1, BIDS, ASKS), trade(2, 100, 0.1, "sell")], {
    1: (ctx) => {
      buy(2.5)(ctx);
      buy(2)(ctx);
    },
  });
  const model = ASKS.map(([p, s]) => [p, s] as [number, number]);
  const expected = [...walk(model, 2.5), ...walk(model, 2)];
  assert.deepEqual(expected, [[101, 1], [101.5, 1.5], [101.5, 0.5], [103, 1.5]]);
  assert.deepEqual(result.fills.map((f) => [f.price, f.size]), expected);
  assert.ok(result.fills.every((f) => f.liquidity === "taker"));
  assert.equal(result.orders.every((o) => o.status === "filled"), true);
});

Deno.test("consumed size comes back only when the venue refreshes the level", async () => {
  const result = await run(
    [snap(1, BIDS, ASKS), change(2, [], [[103, 5]]), change(3, [], [[101, 1]])],
    { 1: buy(1), 2: buy(1), 3: buy(1) },
  );
  // ts 2: 101 still consumed (a change of another level does not refresh it) -> 101.5.
  // ts 3: the venue re-sent 101 with size 1 -> available again.
  assert.deepEqual(result.fills.map((f) => [f.ts, f.price, f.size]), [
    [1, 101, 1],
    [2, 101.5, 1],
    [3, 101, 1],
  ]);
});

Deno.test("limit orders: IOC takes up to its price, post-only never takes", async () => {
  const result = await run([snap(1, BIDS, ASKS), trade(2, 100, 0.1, "sell")], {
    1: (ctx) => {
      ctx.submit({
        exchange: EX,
        symbol: SYM,
        side: "buy",
        type: "limit",
        price: 101.5,
        size: 10,
        timeInForce: "ioc",
      });
      ctx.submit({
        exchange: EX,
        symbol: SYM,
        side: "sell",
        type: "limit",
        price: 100,
        size: 1,
        postOnly: true,
      });
    },
  });
  const model = ASKS.map(([p, s]) => [p, s] as [number, number]);
  assert.deepEqual(result.fills.map((f) => [f.price, f.size]), walk(model, 10, 101.5));
  const [ioc, post] = result.orders;
  assert.equal(ioc.status, "cancelled");
  assert.equal(ioc.filled, 3);
  assert.equal(post.status, "rejected");
  assert.match(post.reason, /post_only/);
});

Deno.test("a resting limit fills only after trades exceed the queue ahead (conservative)", async () => {
  // Our buy joins 100 behind 3. A cancel takes the level to 2 (ahead = min(3, 2) = 2);
  // a sell of 1.5 at 100 leaves 0.5 ahead; a sell of 1 fills us 0.5, then 0.25 more trades.
  const feed = [
    snap(1, BIDS, ASKS),
    change(2, [[100, 2]], []),
    trade(3, 100, 1.5, "sell"),
    change(4, [[100, 0.5]], []),
    trade(5, 100, 1, "sell"),
    trade(6, 100, 0.25, "sell"),
    trade(7, 100, 5, "buy"), // a buyer at 100 does not hit our bid
  ];
  const result = await run(feed, {
    1: (ctx) =>
      ctx.submit({ exchange: EX, symbol: SYM, side: "buy", type: "limit", price: 100, size: 1 }),
  });
  assert.deepEqual(result.fills.map((f) => [f.ts, f.price, f.size, f.liquidity]), [
    [5, 100, 0.5, "maker"],
    [6, 100, 0.25, "maker"],
  ]);
});

Deno.test("trades at our price advance the queue even before the book says so", async () => {
  // Join 100 behind 3; sells of 2 then 1.5 at 100 with no book change between: 1 is left
  // ahead after the first, so the second fills us 0.5.
  const result = await run(
    [snap(1, BIDS, ASKS), trade(2, 100, 2, "sell"), trade(3, 100, 1.5, "sell")],
    {
      1: (ctx) =>
        ctx.submit({ exchange: EX, symbol: SYM, side: "buy", type: "limit", price: 100, size: 1 }),
    },
  );
  assert.deepEqual(result.fills.map((f) => [f.ts, f.size]), [[3, 0.5]]);
});

Deno.test("probabilistic queue: a cancel is shared between ahead and behind", async () => {
  // Join 100 behind 3 (ahead 3). Level grows to 5 (2 behind us). A cancel of 2.5 (5 -> 2.5):
  // power 1 puts 3/5 of it ahead: ahead = 3 - 1.5 = 1.5. A sell of 2 fills us 0.5.
  const feed = [
    snap(1, BIDS, ASKS),
    change(2, [[100, 5]], []),
    change(3, [[100, 2.5]], []),
    trade(4, 100, 2, "sell"),
  ];
  const script = {
    1: (ctx: TradingContext) =>
      ctx.submit({ exchange: EX, symbol: SYM, side: "buy", type: "limit", price: 100, size: 1 }),
  };
  const prob = await run(feed, script, { queue: { kind: "probabilistic", power: 1 } });
  assert.deepEqual(prob.fills.map((f) => [f.ts, f.size]), [[4, 0.5]]);
  const conservative = await run(feed, script);
  assert.deepEqual(conservative.fills, []); // ahead stays min(3, 2.5) = 2.5 > 2
  const front = await run(feed, script, { queue: { kind: "front" } });
  assert.deepEqual(front.fills.map((f) => [f.ts, f.size]), [[4, 1]]);
});

Deno.test("a trade through our price fills the whole order", async () => {
  const result = await run([snap(1, BIDS, ASKS), trade(2, 99.5, 0.1, "sell")], {
    1: (ctx) =>
      ctx.submit({ exchange: EX, symbol: SYM, side: "buy", type: "limit", price: 100, size: 2 }),
  });
  assert.deepEqual(result.fills.map((f) => [f.price, f.size]), [[100, 2]]);
});

Deno.test("latency: orders act on the book at arrival, reports and data come later", async () => {
  // The strategy sees the snapshot of ts 1 at 1 + 3 (market data) and sends a market buy
  // that reaches the exchange at 4 + 10 = 14. The change at 10 removed 101, so it fills at
  // 101.5; the fill report reaches the strategy at 14 + 7 = 21.
  const seen: [string, number][] = [];
  const result = await run(
    [snap(1, BIDS, ASKS), change(10, [], [[101, 0]]), trade(30, 100, 0.1, "sell")],
    { 1: buy(1) },
    { latency: { marketData: 3, orderEntry: 10, response: 7 } },
    {
      onOrder: (r, ctx) => seen.push([r.kind, ctx.now()]),
      onTrade: (t, ctx) => seen.push([`trade@${t.ts}`, ctx.now()]),
    },
  );
  assert.deepEqual(result.fills.map((f) => [f.ts, f.price, f.size]), [[14, 101.5, 1]]);
  assert.deepEqual(seen, [["accepted", 21], ["fill", 21], ["trade@30", 33]]);
  assert.equal(result.orders[0].submittedAt, 4);
});

Deno.test("drawn latencies are seeded: same seed, same fills; the channel keeps its order", async () => {
  const feed: MarketEvent[] = [snap(1, BIDS, ASKS)];
  for (let t = 2; t < 200; t++) feed.push(change(t, [], [[101, 1 + (t % 3)]]));
  const script: Record<number, Action> = {};
  for (let t = 2; t < 150; t += 7) script[t] = buy(0.5);
  const config = { latency: { orderEntry: { kind: "empirical" as const, samples: [1, 5, 40] } } };
  const a = await run(feed, script, { ...config, seed: 7 });
  const b = await run(feed, script, { ...config, seed: 7 });
  assert.deepEqual(a.fills, b.fills);
  assert.ok(a.fills.length > 0);
  for (let i = 1; i < a.fills.length; i++) {
    assert.ok(a.fills[i].ts >= a.fills[i - 1].ts);
    // One connection: orders reach the exchange in the order they were sent.
    assert.ok(a.fills[i].orderId >= a.fills[i - 1].orderId, "orders overtook each other");
  }
  assert.equal(a.log.head, b.log.head);
});

Deno.test("bad orders are rejected with a reason and never fill", async () => {
  const bad = [
    { side: "buy", type: "market", size: -1 },
    { side: "buy", type: "market", size: 1, symbol: "ETH-USD" },
    { side: "buy", type: "limit", size: 1, price: 100.2 },
    { side: "buy", type: "limit", size: 1 },
    { side: "hold", type: "market", size: 1 },
    { side: "buy", type: "stop", size: 1 },
  ];
  const result = await run([snap(1, BIDS, ASKS), trade(2, 100, 1, "sell")], {
    1: (ctx) => {
      // deno-lint-ignore no-explicit-any
      for (const b of bad) ctx.submit({ exchange: EX, symbol: SYM, ...b } as any);
    },
  });
  assert.equal(result.fills.length, 0);
  assert.deepEqual(result.orders.map((o) => o.status), bad.map(() => "rejected"));
  const reasons = result.orders.map((o) => o.reason);
  assert.match(reasons[0], /size/);
  assert.match(reasons[1], /unknown instrument/);
  assert.match(reasons[2], /tick/);
  assert.match(reasons[3], /price/);
  assert.match(reasons[4], /side/);
  assert.match(reasons[5], /stopPrice/);
  const rejects = result.log.entries().filter((e) => e.action === "risk_reject");
  assert.equal(rejects.length, bad.length);
});

Deno.test("a strategy that throws is stopped, logged, and its orders cancelled", async () => {
  let calls = 0;
  const result = await run(
    [
      snap(1, BIDS, ASKS),
      change(2, [[99, 1]], []),
      change(3, [[98, 1]], []),
      trade(4, 90, 1, "sell"),
    ],
    {
      1: (ctx) =>
        ctx.submit({ exchange: EX, symbol: SYM, side: "buy", type: "limit", price: 99, size: 1 }),
      2: () => {
        throw new Error("boom");
      },
    },
    {},
    { onTrade: () => calls++ },
  );
  assert.equal(calls, 0); // stopped before the trade
  assert.match(result.error ?? "", /boom/);
  assert.equal(result.fills.length, 0); // the trade through 99 came after the cancel
  assert.equal(result.orders[0].status, "cancelled");
  assert.equal(result.orders[0].reason, "strategy_error");
  const actions = result.log.entries().map((e) => e.action);
  assert.ok(actions.includes("strategy_error"));
  assert.equal(actions.at(-1), "stop");
});

Deno.test("stops trigger on a trade and then walk the book; reduce-only cannot open", async () => {
  const result = await run(
    [snap(1, BIDS, ASKS), trade(2, 101, 0.1, "buy"), trade(3, 101.5, 0.1, "buy")],
    {
      1: (ctx) => {
        ctx.submit({
          exchange: EX,
          symbol: SYM,
          side: "buy",
          type: "stop",
          stopPrice: 101.5,
          size: 2,
        });
        ctx.submit({
          exchange: EX,
          symbol: SYM,
          side: "sell",
          type: "market",
          size: 1,
          reduceOnly: true,
        });
      },
      3: (ctx) =>
        ctx.submit({
          exchange: EX,
          symbol: SYM,
          side: "sell",
          type: "market",
          size: 5,
          reduceOnly: true,
        }),
    },
  );
  const model = ASKS.map(([p, s]) => [p, s] as [number, number]);
  const bids = BIDS.map(([p, s]) => [p, s] as [number, number]);
  assert.deepEqual(result.fills.map((f) => [f.ts, f.side, f.price, f.size]), [
    ...walk(model, 2).map(([p, s]) => [3, "buy", p, s]),
    ...walk(bids, 2).map(([p, s]) => [3, "sell", p, s]), // cut to the position of 2
  ]);
  assert.equal(result.orders[1].status, "rejected");
  assert.match(result.orders[1].reason, /reduce_only/);
});

Deno.test("fees: taker pays, maker rebate is negative", async () => {
  const result = await run(
    [snap(1, BIDS, ASKS), trade(2, 100, 10, "sell")],
    {
      1: (ctx) => {
        buy(1)(ctx);
        ctx.submit({ exchange: EX, symbol: SYM, side: "buy", type: "limit", price: 100, size: 2 });
      },
    },
    { fees: { venues: { sim: { maker: -0.0001, taker: 0.0005 } } }, initialCash: 1000 },
  );
  assert.deepEqual(result.fills.map((f) => [f.liquidity, f.fee]), [
    ["taker", 101 * 1 * 0.0005],
    ["maker", 100 * 2 * -0.0001],
  ]);
  const cash = 1000 - 101 - 101 * 0.0005 - 200 + 0.02;
  assert.ok(Math.abs(result.record.positions.at(-1)!.cash - cash) < 1e-9);
});

function bar(ts: number, open: number, high: number, low: number, close: number): Bar {
  return {
    kind: "bar",
    exchange: EX,
    symbol: SYM,
    ts,
    recvTs: ts,
    interval: 60,
    open,
    high,
    low,
    close,
    volume: 1,
    vwap: close,
    trades: 1,
  };
}

Deno.test("bar strategies fill at the next bar's open; same-bar close warns", async () => {
  const bars = [bar(0, 10, 12, 9, 11), bar(60, 11.5, 13, 11, 12.5), bar(120, 12, 12.5, 10, 10.5)];
  const next = await run(bars, { 0: buy(1) });
  assert.deepEqual(next.fills.map((f) => [f.ts, f.price]), [[60, 11.5]]);
  assert.deepEqual(next.warnings, []);
  const same = await run(bars, { 0: buy(1) }, { sameBarClose: true });
  assert.deepEqual(same.fills.map((f) => [f.ts, f.price]), [[60, 11]]);
  assert.match(same.warnings[0], /look-ahead/);
  // A limit buy at 10.5 placed on bar 0: bar 1 never trades that low, bar 2 does (low 10).
  const limit = await run(bars, {
    0: (ctx) =>
      ctx.submit({ exchange: EX, symbol: SYM, side: "buy", type: "limit", price: 10.5, size: 1 }),
  });
  assert.deepEqual(limit.fills.map((f) => [f.ts, f.price]), [[120, 10.5]]);
});

Deno.test("property: taker fills use only sizes present in the book at that time", async () => {
  // Random books and orders; an independent model replays the same events and checks every
  // taker fill against the levels then in the book minus what earlier fills took.
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const feed: MarketEvent[] = [];
  const script: Record<number, Action> = {};
  for (let t = 1; t <= 400; t++) {
    if (t % 50 === 1) {
      const mid = 100 + Math.floor(rnd() * 20) * 0.5;
      const lv = (s: number): PriceLevel[] =>
        Array.from({ length: 5 }, (_, i) => [mid + s * (i + 1) * 0.5, 1 + Math.floor(rnd() * 4)]);
      feed.push(snap(t, lv(-1), lv(1)));
    } else {
      const side = rnd() < 0.5 ? "bids" : "asks";
      const last = feed.filter((e) => e.kind === "book_snapshot").at(-1) as BookSnapshot;
      const levels = side === "bids" ? last.bids : last.asks;
      const p = levels[Math.floor(rnd() * levels.length)][0];
      const size = Math.floor(rnd() * 4);
      feed.push(change(t, side === "bids" ? [[p, size]] : [], side === "asks" ? [[p, size]] : []));
    }
    if (rnd() < 0.3) {
      const side = rnd() < 0.5 ? "buy" : "sell";
      const size = 0.5 + Math.floor(rnd() * 6);
      script[t] = (ctx) => ctx.submit({ exchange: EX, symbol: SYM, side, type: "market", size });
    }
  }
  const result = await run(feed, script);
  // Independent model of the book and the consumed sizes.
  const bids = new Map<number, number>();
  const asks = new Map<number, number>();
  const used = new Map<string, number>();
  let f = 0;
  for (const e of feed) {
    if (e.kind === "book_snapshot") {
      bids.clear();
      asks.clear();
      used.clear();
      for (const [p, s] of e.bids) bids.set(p, s);
      for (const [p, s] of e.asks) asks.set(p, s);
    } else if (e.kind === "book_change") {
      for (const [p, s] of e.bids) {
        s === 0 ? bids.delete(p) : bids.set(p, s);
        used.delete(`bid${p}`);
      }
      for (const [p, s] of e.asks) {
        s === 0 ? asks.delete(p) : asks.set(p, s);
        used.delete(`ask${p}`);
      }
    }
    for (; f < result.fills.length && result.fills[f].ts === e.ts; f++) {
      const fill = result.fills[f];
      const side = fill.side === "buy" ? "ask" : "bid";
      const book = side === "ask" ? asks : bids;
      const have = book.get(fill.price);
      assert.ok(have !== undefined, `fill at ${fill.price} not in the book at ${e.ts}`);
      const key = `${side}${fill.price}`;
      const taken = (used.get(key) ?? 0) + fill.size;
      assert.ok(taken <= have + 1e-12, `liquidity used twice at ${fill.price}`);
      used.set(key, taken);
    }
  }
  assert.equal(f, result.fills.length);
  assert.ok(result.fills.length > 20);
});

Deno.test("feeds from a repository merge instruments and venues in time order", async () => {
  const { MemoryRepository } = await import("../lib/repositories/memory_repository.ts");
  const { repositoryFeed } = await import("../lib/backtest/mod.ts");
  const t0 = 1_700_000_000_000_000;
  const ev = (exchange: string, symbol: string, ts: number, price: number): Trade => ({
    kind: "trade",
    exchange,
    symbol,
    ts,
    recvTs: ts + 5,
    id: `${exchange}${ts}`,
    price,
    size: 1,
    side: "buy",
  });
  const repo = new MemoryRepository([
    ev("kraken", "BTC-USD", t0 + 30, 3),
    ev("coinbase", "BTC-USD", t0 + 10, 1),
    ev("kraken", "BTC-USD", t0 + 20, 2),
    ev("coinbase", "BTC-USD", t0 + 40, 4),
    ev("coinbase", "BTC-USD", t0 + 99, 9), // outside the range
    {
      kind: "book_snapshot",
      exchange: "coinbase",
      symbol: "BTC-USD",
      ts: t0 + 25,
      recvTs: t0 + 26,
      bids: [[1, 1]],
      asks: [[2, 1]],
    },
  ]);
  const seen: string[] = [];
  const result = await backtest({
    instruments: [],
    strategy: {
      name: "watch",
      onTrade: (t) => seen.push(`${t.exchange}@${t.ts - t0}`),
      onBook: (b) => seen.push(`book@${b.ts - t0}`),
    },
    feed: repositoryFeed(repo, {
      instruments: [
        { exchange: "coinbase", symbol: "BTC-USD", start: t0, end: t0 + 50 },
        { exchange: "kraken", symbol: "BTC-USD", start: t0, end: t0 + 50 },
      ],
      window: 16,
    }),
  });
  assert.deepEqual(seen, ["coinbase@10", "kraken@20", "book@25", "kraken@30", "coinbase@40"]);
  assert.equal(result.events, 5);
});

Deno.test("amend: a smaller size keeps the queue place, a new price goes to the back", async () => {
  // Buy 2 at 100 behind 3. At ts 2 amend to size 1 (keeps ahead = 3); a sell of 3.5 fills 0.5.
  const keep = await run(
    [snap(1, BIDS, ASKS), change(2, [], [[103, 4]]), trade(3, 100, 3.5, "sell")],
    {
      1: (ctx) =>
        ctx.submit({ exchange: EX, symbol: SYM, side: "buy", type: "limit", price: 100, size: 2 }),
      2: (ctx) => ctx.amend(1, { size: 1 }),
    },
  );
  assert.deepEqual(keep.fills.map((f) => [f.price, f.size]), [[100, 0.5]]);
  assert.equal(keep.orders[0].size, 1);
  // Start at 99.5 (behind 4); at ts 2 move to 100: behind the 3 there now.
  const moved = await run(
    [snap(1, BIDS, ASKS), change(2, [], [[103, 4]]), trade(3, 100, 3.5, "sell")],
    {
      1: (ctx) =>
        ctx.submit({ exchange: EX, symbol: SYM, side: "buy", type: "limit", price: 99.5, size: 2 }),
      2: (ctx) => ctx.amend(1, { price: 100 }),
    },
  );
  assert.deepEqual(moved.fills.map((f) => [f.price, f.size]), [[100, 0.5]]);
  assert.equal(moved.orders[0].price, 100);
  const actions = moved.log.entries().map((e) => e.action);
  assert.ok(actions.includes("amend_request") && actions.includes("amended"));
});

Deno.test("a cancel that arrives after the fill is refused; timers fire in time order", async () => {
  const fired: [unknown, number][] = [];
  const result = await run(
    [snap(1, BIDS, ASKS), trade(5, 99, 1, "sell"), change(20, [], [[103, 4]])],
    {
      1: (ctx) => {
        ctx.submit({ exchange: EX, symbol: SYM, side: "buy", type: "limit", price: 100, size: 1 });
        ctx.setTimer(4, "cancel");
        ctx.setTimer(12, "late");
        const t = ctx.setTimer(15, "never");
        ctx.cancelTimer(t);
      },
    },
    { latency: { orderEntry: 3 } },
    {
      onTimer: (t, ctx) => {
        fired.push([t.data, ctx.now()]);
        if (t.data === "cancel") ctx.cancel(1); // reaches the exchange at 7, after the fill at 5
      },
    },
  );
  assert.deepEqual(fired, [["cancel", 4], ["late", 12]]);
  assert.deepEqual(result.fills.map((f) => [f.ts, f.price, f.size]), [[5, 100, 1]]);
  assert.equal(result.orders[0].status, "filled");
  const refused = result.log.entries().find((e) => e.action === "cancel_rejected");
  assert.equal(refused?.ts, 7);
});

Deno.test("several instruments: each order matches its own book", async () => {
  const other = (e: MarketEvent): MarketEvent => ({ ...e, exchange: "kraken", symbol: "ETH-USD" });
  const result = await backtest({
    instruments: [...INSTRUMENTS, { exchange: "kraken", symbol: "ETH-USD", tickSize: 0.01 }],
    strategy: scripted({
      3: (ctx) => {
        ctx.submit({
          exchange: "kraken",
          symbol: "ETH-USD",
          side: "sell",
          type: "market",
          size: 3,
        });
        buy(1)(ctx);
      },
    }),
    feed: [
      [snap(1, BIDS, ASKS), trade(3, 100, 0.1, "sell")],
      [other(snap(2, [[2000, 1], [1999.99, 5]], [[2000.01, 1]]))],
    ],
  });
  assert.deepEqual(result.fills.map((f) => [f.exchange, f.side, f.price, f.size]), [
    ["kraken", "sell", 2000, 1],
    ["kraken", "sell", 1999.99, 2],
    ["sim", "buy", 101, 1],
  ]);
});

Deno.test("a feed reset clears the simulated book and is logged", async () => {
  const reset: MarketEvent = {
    kind: "status",
    exchange: EX,
    symbol: SYM,
    ts: 2,
    recvTs: 2,
    status: "reset",
    reason: "checksum mismatch",
  };
  const result = await run([snap(1, BIDS, ASKS), reset, trade(3, 100, 0.1, "sell")], {
    3: buy(1), // no book after the reset: nothing to take
  });
  assert.equal(result.fills.length, 0);
  assert.equal(result.orders[0].status, "cancelled");
  const logged = result.log.entries().find((e) => e.action === "feed_reset");
  assert.deepEqual(logged?.data, { exchange: EX, symbol: SYM, reason: "checksum mismatch" });
});

Deno.test("the seeded generator is uniform enough and repeats per seed", async () => {
  const { Random } = await import("../lib/backtest/_random.ts");
  const a = new Random(3);
  const b = new Random(3);
  const counts = new Array(10).fill(0);
  let sum = 0;
  for (let i = 0; i < 100_000; i++) {
    const x = a.next();
    assert.equal(x, b.next());
    assert.ok(x >= 0 && x < 1);
    sum += x;
    counts[Math.floor(x * 10)]++;
  }
  assert.ok(Math.abs(sum / 100_000 - 0.5) < 0.005);
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `bucket ${c}`);
  assert.notEqual(new Random(4).next(), new Random(3).next());
});
