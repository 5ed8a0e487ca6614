/**
 * The live runner's risk gate and kill switch, on hand-made books whose expected outcomes
 * are worked out by hand in the comments.
 */
import assert from "node:assert/strict";
import type { OrderRequest, Strategy } from "../lib/backtest/mod.ts";
import type { MarketEvent } from "../lib/market/types.ts";
import { LiveFeed, LiveRunner, type RiskLimits, Scheduler, SimBroker } from "../lib/trading/mod.ts";

const A = { exchange: "sim", symbol: "A" };
const B = { exchange: "sim", symbol: "B" };
const at = (ts: number) => ({ ...A, ts, recvTs: ts });
/** Mid 100: bid 99 x 5, ask 101 x 5. */
const BOOK: MarketEvent = { ...at(1), kind: "book_snapshot", bids: [[99, 5]], asks: [[101, 5]] };
const BOOK_B: MarketEvent = { ...BOOK, ...B };

const buy = (price: number, size: number, inst = A): OrderRequest => ({
  ...inst,
  side: "buy",
  type: "limit",
  price,
  size,
});
const sell = (price: number, size: number): OrderRequest => ({ ...buy(price, size), side: "sell" });

/** Submits `requests` on the first book of A; returns the risk rejections by order id. */
async function gate(
  limits: RiskLimits,
  requests: OrderRequest[],
  feed: MarketEvent[] = [BOOK],
): Promise<{ rejected: Map<number, string>; sent: number[] }> {
  let done = false;
  const strategy: Strategy = {
    name: "gate",
    onBook(e, ctx) {
      if (done || e.symbol !== "A") return;
      done = true;
      for (const r of requests) ctx.submit(r);
    },
  };
  const scheduler = new Scheduler();
  const instruments = [A, B];
  const broker = new SimBroker({ instruments, scheduler });
  const sentIds: number[] = [];
  const submit = broker.submit.bind(broker);
  broker.submit = (r) => {
    sentIds.push(r.id);
    submit(r);
  };
  const runner = new LiveRunner({ strategy, broker, instruments, scheduler, risk: limits });
  const rec = await runner.run(feed);
  const rejected = new Map<number, string>();
  for (const e of rec.log.entries()) {
    if (e.action === "risk_reject") rejected.set(e.data.id as number, e.data.reason as string);
  }
  return { rejected, sent: sentIds };
}

Deno.test("risk: per-instrument position limit counts open orders on the same side", async () => {
  // maxPosition 2: buy 1.5 -> worst long 1.5 ok; buy 1 -> 2.5 > 2 rejected;
  // sell 3 -> worst short 3 > 2 rejected; sell 2 -> max(1.5, 2) = 2 ok.
  const { rejected, sent } = await gate({ maxPosition: 2 }, [
    buy(99, 1.5),
    buy(99, 1),
    sell(101, 3),
    sell(101, 2),
  ]);
  assert.deepEqual(sent, [1, 4]);
  assert.deepEqual([...rejected.keys()], [2, 3]);
  assert.match(rejected.get(2)!, /position limit: 2.5 > 2/);
});

Deno.test("risk: price band against the book's mid", async () => {
  // mid 100, band 50 bps: 99 is 100 bps away (rejected), 99.5 is 50 bps (ok), 100.6 is 60 bps.
  const { rejected, sent } = await gate({ priceBandBps: 50 }, [
    buy(99, 1),
    buy(99.5, 1),
    sell(100.6, 1),
  ]);
  assert.deepEqual(sent, [2]);
  assert.deepEqual([...rejected.keys()], [1, 3]);
  assert.match(rejected.get(1)!, /price band/);
});

Deno.test("risk: order rate limit within one second", async () => {
  const { rejected, sent } = await gate({ maxOrdersPerSecond: 2 }, [
    buy(98, 1),
    buy(97, 1),
    buy(96, 1),
  ]);
  assert.deepEqual(sent, [1, 2]);
  assert.match(rejected.get(3)!, /order rate limit/);
});

Deno.test("risk: notional and total position limits", async () => {
  // maxNotional 250: 2 x 99 = 198 ok; then 3 x 99 = 297 rejected.
  const n = await gate({ maxNotional: 250 }, [buy(99, 2), buy(99, 1)]);
  assert.deepEqual(n.sent, [1]);
  assert.match(n.rejected.get(2)!, /notional limit: 297 > 250/);
  // maxTotalPosition 2: 1.5 of A open, then 1 of B -> 2.5 in all, rejected; 0.5 of B -> 2 ok.
  const t = await gate(
    { maxTotalPosition: 2 },
    [buy(99, 1.5), buy(99, 1, B), buy(99, 0.5, B)],
    [BOOK_B, BOOK],
  );
  assert.deepEqual(t.sent, [1, 3]);
  assert.match(t.rejected.get(2)!, /total position limit: 2.5 > 2/);
});

Deno.test("risk: loss limit refuses orders once the loss is reached", async () => {
  // Buy 1 at market: takes the ask at 101, mid 100 -> PnL -1 (no fees). With maxLoss 0.5 the
  // next order, sent on the next book, is rejected.
  let n = 0;
  const ids: number[] = [];
  const strategy: Strategy = {
    name: "loser",
    onBook(_e, ctx) {
      n++;
      if (n === 1) ids.push(ctx.submit({ ...A, side: "buy", type: "market", size: 1 }));
      if (n === 2) ids.push(ctx.submit(buy(98, 1)));
    },
  };
  const scheduler = new Scheduler();
  const broker = new SimBroker({ instruments: [A], scheduler });
  const runner = new LiveRunner({
    strategy,
    broker,
    instruments: [A],
    scheduler,
    risk: { maxLoss: 0.5 },
  });
  const rec = await runner.run([BOOK, { ...BOOK, ts: 2, recvTs: 2 }]);
  assert.deepEqual(rec.fills.map((f) => [f.price, f.size]), [[101, 1]]);
  assert.equal(rec.orders[1].status, "rejected");
  assert.match(rec.orders[1].reason, /loss limit: pnl -1/);
  assert.ok(!rec.log.entries().some((e) => e.action === "accepted" && e.data.id === 2));
});

Deno.test("kill switch cancels every open order at the broker and ends an idle live feed", async () => {
  const scheduler = new Scheduler({ clock: "wall" });
  const broker = new SimBroker({ instruments: [A], scheduler });
  const strategy: Strategy = {
    name: "rester",
    onBook(_e, ctx) {
      if (ctx.openOrders().length > 0) return;
      for (let i = 0; i < 3; i++) ctx.submit(buy(95 + i, 1));
      ctx.submit(sell(105, 1));
    },
    onStop() {
      throw new Error("onStop must not run on a kill");
    },
  };
  const runner = new LiveRunner({ strategy, broker, instruments: [A], scheduler });
  let release!: () => void;
  const idle = new Promise<void>((r) => release = r);
  async function* feed(): AsyncGenerator<MarketEvent> {
    yield BOOK;
    await idle; // a live feed with nothing more to say
  }
  const running = runner.run(feed());
  await new Promise((r) => setTimeout(r, 20));
  assert.equal((await broker.openOrders()).length, 4);
  runner.kill("test kill");
  const rec = await running;
  release();
  assert.equal(rec.reason, "test kill");
  assert.equal((await broker.openOrders()).length, 0);
  const log = rec.log.entries();
  const kill = log.findIndex((e) => e.action === "kill");
  const cancelled = log.slice(kill).filter((e) => e.action === "cancelled");
  assert.deepEqual(cancelled.map((e) => e.data.id), [1, 2, 3, 4]);
  assert.ok(cancelled.every((e) => e.data.reason === "test kill"));
  assert.ok(!log.some((e) => e.action === "strategy_error"));
});

Deno.test("clean stop runs onStop then cancels what is still open", async () => {
  const strategy: Strategy = {
    name: "rester",
    onBook(_e, ctx) {
      if (ctx.openOrders().length === 0) ctx.submit(buy(95, 1));
    },
  };
  const broker = new SimBroker({ instruments: [A] });
  const runner = new LiveRunner({
    strategy,
    broker,
    instruments: [A],
    scheduler: broker.scheduler,
  });
  const rec = await runner.run([BOOK]);
  assert.equal(rec.reason, "end of data");
  assert.deepEqual(rec.orders.map((o) => [o.status, o.reason]), [["cancelled", "end of run"]]);
});

Deno.test("LiveFeed: a collector sink read as a stream, in order, waiting for writes", async () => {
  const feed = new LiveFeed();
  const got: number[] = [];
  const reading = (async () => {
    for await (const e of feed) got.push(e.ts);
  })();
  feed.write([{ ...BOOK, ts: 1 }, { ...BOOK, ts: 2 }]);
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(got, [1, 2]); // read while the feed stays open
  feed.write([{ ...BOOK, ts: 3 }]);
  feed.write([{ ...BOOK, ts: 4 }]);
  await feed.close();
  feed.write([{ ...BOOK, ts: 5 }]); // after close: ignored
  await reading;
  assert.deepEqual(got, [1, 2, 3, 4]);
  assert.equal(feed.written, 4);
});
