/**
 * The Alpaca paper broker against a fake Alpaca (REST + `trade_updates`): the order
 * lifecycle, HTTP errors, keys kept out of logs, and no order sent twice after a restart.
 */
import assert from "node:assert/strict";
import type { OrderReport, OrderRequest, Strategy } from "../lib/backtest/mod.ts";
import type { MarketEvent } from "../lib/market/types.ts";
import { AlpacaPaperBroker, LiveRunner, Scheduler } from "../lib/trading/mod.ts";
import type { BrokerOrderRequest } from "../lib/trading/mod.ts";
import { startAlpacaPaperFake } from "./fakes/alpaca_paper_fake.ts";

const KEY = "PKTESTKEY0123456789";
const SECRET = "s3cr3t-never-logged-0123456789";
const INST = { exchange: "alpaca", symbol: "AAPL" };

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

async function setup(retries = 3) {
  const fake = startAlpacaPaperFake({ key: KEY, secret: SECRET, cash: 100_000 });
  const broker = new AlpacaPaperBroker({
    key: KEY,
    secret: SECRET,
    baseUrl: fake.baseUrl,
    streamUrl: fake.streamUrl,
    retries,
    backoffMs: 1,
  });
  await broker.connect();
  const reports: OrderReport[] = [];
  const venue: [string, Record<string, unknown>][] = [];
  broker.subscribe({
    report: (r) => reports.push(r),
    venue: (a, _ts, d) => venue.push([a, { ...d }]),
  });
  const done = async () => {
    await broker.close();
    await fake.shutdown();
  };
  return { fake, broker, reports, venue, done };
}

const order = (id: number, extra: Partial<OrderRequest> = {}): BrokerOrderRequest => ({
  ...INST,
  id,
  clientOrderId: `run-${id}`,
  side: "buy",
  type: "limit",
  price: 100,
  size: 1,
  ...extra,
});

Deno.test("alpaca paper: accepted, partial fill, fill, canceled, rejected, expired, amended", async () => {
  const { fake, broker, reports, done } = await setup();
  try {
    const kinds = (id: number) => reports.filter((r) => r.orderId === id).map((r) => r.kind);
    broker.submit(order(1));
    await until(() => kinds(1).includes("accepted"), "accepted");
    fake.fill("run-1", 0.4, 100);
    fake.fill("run-1", 0.6, 99.5);
    await until(() => kinds(1).length === 3, "two fills");
    const fills = reports.filter((r) => r.kind === "fill").map((r) => r.kind === "fill" && r.fill);
    assert.deepEqual(fills.map((f) => f && [f.orderId, f.price, f.size, f.side]), [
      [1, 100, 0.4, "buy"],
      [1, 99.5, 0.6, "buy"],
    ]);
    broker.submit(order(2));
    await until(() => kinds(2).includes("accepted"), "accepted 2");
    broker.amend(2, { price: 98 });
    await until(() => kinds(2).includes("amended"), "amended");
    const amended = reports.find((r) => r.kind === "amended");
    assert.equal(amended?.kind === "amended" && amended.price, 98);
    broker.cancel(2);
    await until(() => kinds(2).includes("cancelled"), "cancelled");
    broker.submit(order(3));
    broker.submit(order(4));
    await until(() => kinds(4).includes("accepted") && kinds(3).includes("accepted"), "3, 4");
    fake.reject("run-3");
    fake.expire("run-4");
    await until(() => kinds(3).length === 2 && kinds(4).length === 2, "closed");
    assert.deepEqual(kinds(3), ["accepted", "rejected"]);
    const expired = reports.find((r) => r.orderId === 4 && r.kind === "cancelled");
    assert.equal(expired?.kind === "cancelled" && expired.reason, "expired");
    // Position: bought 0.4 @ 100 and 0.6 @ 99.5 -> 1 @ (40 + 59.7) / 1 = 99.7.
    const [pos] = await broker.positions();
    assert.equal(pos.position, 1);
    assert.ok(Math.abs(pos.avgPrice - 99.7) < 1e-9);
    const account = await broker.account();
    assert.ok(Math.abs(account.cash - (100_000 - 99.7)) < 1e-6);
    assert.deepEqual(await broker.openOrders(), []);
  } finally {
    await done();
  }
});

Deno.test("alpaca paper: 401, 403 and 422 reject the order; 429 is retried", async () => {
  const { fake, broker, reports, done } = await setup(2);
  try {
    const reason = (id: number) => {
      const r = reports.find((x) => x.orderId === id && x.kind === "rejected");
      return r?.kind === "rejected" ? r.reason : undefined;
    };
    fake.failNext(401, 1, "request is not authorized");
    broker.submit(order(1));
    fake.failNext(403, 1, "insufficient buying power");
    broker.submit(order(2));
    await until(() => reason(1) !== undefined && reason(2) !== undefined, "401/403");
    broker.submit(order(3, { size: 0 })); // the fake answers 422 itself
    await until(() => reason(3) !== undefined, "422");
    assert.equal(reason(1), "http 401: request is not authorized");
    assert.equal(reason(2), "http 403: insufficient buying power");
    assert.equal(reason(3), "http 422: qty must be > 0");
    // Two 429s, then accepted (retries: 2); three 429s with retries 2: rejected.
    fake.failNext(429, 2, "rate limit exceeded");
    broker.submit(order(4));
    await until(() => reports.some((r) => r.orderId === 4 && r.kind === "accepted"), "429 ok");
    assert.equal(fake.requests.filter((r) => r === "POST /v2/orders").length, 6);
    fake.failNext(429, 3, "rate limit exceeded");
    broker.submit(order(5));
    await until(() => reason(5) !== undefined, "429 rejected");
    assert.equal(reason(5), "http 429: rate limit exceeded");
    assert.equal(fake.orders.length, 1);
  } finally {
    await done();
  }
});

/** Buys 1 at 100 on the first book, then sells 1 at 101 on the second. */
function twoOrders(): Strategy {
  let n = 0;
  return {
    name: "two-orders",
    onBook(_e, ctx) {
      n++;
      if (n === 1) ctx.submit({ ...INST, side: "buy", type: "limit", price: 100, size: 1 });
      if (n === 2) ctx.submit({ ...INST, side: "sell", type: "limit", price: 101, size: 1 });
    },
  };
}

const BOOK = (ts: number): MarketEvent => ({
  ...INST,
  ts,
  recvTs: ts,
  kind: "book_snapshot",
  bids: [[99.9, 5]],
  asks: [[100.1, 5]],
});

Deno.test("alpaca paper: killed and restarted, the runner sends no order twice, positions match", async () => {
  const fake = startAlpacaPaperFake({ key: KEY, secret: SECRET });
  const logs: string[] = [];
  const records = [];
  try {
    // Run 1 sends order 1 (buy 1 @ 100), which fills at the venue; then it is killed.
    // Run 2 replays the same session: order 1 is found at the venue and adopted (with its
    // fill), order 2 (sell 1 @ 101) is new and cancelled by the clean stop.
    for (const run of [1, 2]) {
      const broker = new AlpacaPaperBroker({
        key: KEY,
        secret: SECRET,
        baseUrl: fake.baseUrl,
        streamUrl: fake.streamUrl,
      });
      await broker.connect();
      const scheduler = new Scheduler({ clock: "wall" });
      const runner = new LiveRunner({
        strategy: twoOrders(),
        broker,
        instruments: [INST],
        scheduler,
        runId: "session-7",
      });
      const feed = async function* () {
        yield BOOK(1);
        await broker.settle();
        if (run === 1) {
          await until(() => fake.orders[0]?.status === "new", "order 1 at the venue");
          fake.fill("session-7-1", 1, 100);
          await until(() => runner.fills.length === 1, "fill of order 1");
          runner.kill("crash");
          return;
        }
        await until(() => runner.fills.length === 1, "adopted fill");
        yield BOOK(2);
        await broker.settle();
        await until(() => runner.orders.get(2)?.status === "open", "order 2 open");
      };
      const rec = await runner.run(feed());
      await broker.settle();
      await broker.close();
      logs.push(rec.log.toJsonl());
      records.push(rec);
    }
    assert.deepEqual(fake.orders.map((o) => o.client_order_id), ["session-7-1", "session-7-2"]);
    assert.equal(fake.requests.filter((r) => r === "POST /v2/orders").length, 3);
    assert.match(logs[1], /"action":"adopted","data":\{"id":1,"clientOrderId":"session-7-1"/);
    // The runner's view after the restart: bought 1 @ 100, order 2 cancelled by the stop.
    const [, second] = records;
    assert.deepEqual(second.fills.map((f) => [f.orderId, f.side, f.price, f.size]), [
      [1, "buy", 100, 1],
    ]);
    assert.deepEqual(second.orders.map((o) => [o.id, o.status]), [[1, "filled"], [2, "cancelled"]]);
    assert.equal(fake.orders[1].status, "canceled");
    const res = await fetch(`${fake.baseUrl}/v2/positions`, {
      headers: { "APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET },
    });
    assert.deepEqual((await res.json()).map((p: { qty: string }) => Number(p.qty)), [1]);
    const all = logs.join("\n") + fake.requests.join("\n");
    assert.ok(!all.includes(KEY) && !all.includes(SECRET), "a key reached the log");
    assert.ok(fake.streamReceived.some((m) => m.includes(SECRET)), "the stream got the keys");
  } finally {
    await fake.shutdown();
  }
});

Deno.test("alpaca paper: a dropped stream reconnects and catches up on what it missed", async () => {
  const { fake, broker, reports, venue, done } = await setup();
  try {
    const kinds = (id: number) => reports.filter((r) => r.orderId === id).map((r) => r.kind);
    broker.submit(order(1, { size: 2 }));
    broker.submit(order(2));
    await until(() => kinds(1).includes("accepted") && kinds(2).includes("accepted"), "accepted");
    fake.fill("run-1", 0.5, 100);
    await until(() => kinds(1).length === 2, "first fill");
    fake.dropStream();
    // While the stream is down: 1 more of order 1 at 101, and order 2 expires.
    fake.fill("run-1", 1, 101);
    fake.expire("run-2");
    await until(() => kinds(2).includes("cancelled"), "caught up");
    await until(() => kinds(1).length === 3, "missed fill");
    const fills = reports.flatMap((r) => r.kind === "fill" ? [[r.fill.size, r.fill.price]] : []);
    // The missed fill is rebuilt from Alpaca's totals: 1.5 filled at an average of
    // (0.5 * 100 + 1 * 101) / 1.5, minus the 0.5 @ 100 already heard -> 1 @ 101.
    assert.equal(fills.length, 2);
    assert.deepEqual(fills[0], [0.5, 100]);
    assert.ok(Math.abs(fills[1][0] - 1) < 1e-9 && Math.abs(fills[1][1] - 101) < 1e-9);
    assert.ok(venue.some(([a]) => a === "stream_dropped"));
    assert.ok(venue.some(([a]) => a === "stream_reconnected"));
    // Live again: a fill sent now arrives over the new stream.
    fake.fill("run-1", 0.5, 102);
    await until(() => kinds(1).length === 4, "fill after reconnect");
    assert.equal(reports.filter((r) => r.orderId === 1).at(-1)?.kind, "fill");
  } finally {
    await done();
  }
});

Deno.test("alpaca paper: resumed after a crash, ids continue, positions match, leftovers cancelled", async () => {
  const fake = startAlpacaPaperFake({ key: KEY, secret: SECRET });
  const seen: number[] = [];
  const strategies = [
    // Run 1: buy 1 @ 100 and 2 @ 99.
    (): Strategy => ({
      name: "s",
      onBook(_e, ctx) {
        if (ctx.openOrders().length > 0 || ctx.order(1)) return;
        ctx.submit({ ...INST, side: "buy", type: "limit", price: 100, size: 1 });
        ctx.submit({ ...INST, side: "buy", type: "limit", price: 99, size: 2 });
      },
    }),
    // Run 2 (a fresh strategy): notes its position, buys 1 @ 98 once.
    (): Strategy => {
      let sent = false;
      return {
        name: "s",
        onBook(_e, ctx) {
          seen.push(ctx.position(INST.exchange, INST.symbol));
          if (!sent) ctx.submit({ ...INST, side: "buy", type: "limit", price: 98, size: 1 });
          sent = true;
        },
      };
    },
  ];
  let log1 = "";
  const logs: string[] = [];
  try {
    for (const run of [0, 1]) {
      const broker = new AlpacaPaperBroker({
        key: KEY,
        secret: SECRET,
        baseUrl: fake.baseUrl,
        streamUrl: fake.streamUrl,
        clientOrderPrefix: "s9-",
      });
      await broker.connect();
      if (run === 0) broker.cancelAll = () => {}; // a crash: nothing is cancelled
      const runner = new LiveRunner({
        strategy: strategies[run](),
        broker,
        instruments: [INST],
        scheduler: new Scheduler({ clock: "wall" }),
        runId: "s9",
        resume: run === 1 ? log1 : undefined,
      });
      const feed = async function* () {
        yield BOOK(1);
        await broker.settle();
        if (run === 0) {
          await until(() => fake.orders.length === 2 && fake.orders[1].status === "new", "sent");
          fake.fill("s9-1", 1, 100);
          fake.fill("s9-2", 0.5, 99);
          await until(() => runner.fills.length === 2, "fills heard");
        } else {
          await until(() => fake.orders[1].status === "canceled", "leftover cancelled");
        }
      };
      const rec = await runner.run(feed());
      await broker.settle();
      await broker.close();
      if (run === 0) log1 = rec.log.toJsonl();
      logs.push(rec.log.toJsonl());
    }
    // 1 + 0.5 bought before the crash: the resumed strategy starts from 1.5.
    assert.deepEqual(seen, [1.5]);
    assert.deepEqual(fake.orders.map((o) => o.client_order_id), ["s9-1", "s9-2", "s9-3"]);
    assert.equal(fake.requests.filter((r) => r === "POST /v2/orders").length, 3);
    assert.equal(fake.orders[1].status, "canceled");
    assert.match(
      logs[1],
      /"action":"resume","data":\{"entries":\d+,"head":"[0-9a-f]{16}","lastOrderId":2\}/,
    );
    assert.match(logs[1], /"action":"reconcile_cancel","data":\{"id":2,"clientOrderId":"s9-2"\}/);
  } finally {
    await fake.shutdown();
  }
});

Deno.test("alpaca paper: the kill switch cancels every open order at the venue", async () => {
  const fake = startAlpacaPaperFake({ key: KEY, secret: SECRET });
  const broker = new AlpacaPaperBroker({
    key: KEY,
    secret: SECRET,
    baseUrl: fake.baseUrl,
    streamUrl: fake.streamUrl,
  });
  try {
    await broker.connect();
    const strategy: Strategy = {
      name: "rester",
      onBook(_e, ctx) {
        for (const p of [97, 98, 99]) {
          ctx.submit({ ...INST, side: "buy", type: "limit", price: p, size: 1 });
        }
      },
    };
    const runner = new LiveRunner({
      strategy,
      broker,
      instruments: [INST],
      scheduler: new Scheduler({ clock: "wall" }),
    });
    let release!: () => void;
    const idle = new Promise<void>((r) => release = r);
    const feed = async function* () {
      yield BOOK(1);
      await idle;
    };
    const running = runner.run(feed());
    await until(() => runner.open.filter((o) => o.status === "open").length === 3, "3 open");
    runner.kill("operator");
    const rec = await running;
    release();
    assert.deepEqual(fake.orders.map((o) => o.status), ["canceled", "canceled", "canceled"]);
    assert.deepEqual(rec.orders.map((o) => o.status), ["cancelled", "cancelled", "cancelled"]);
    assert.equal(rec.reason, "operator");
  } finally {
    await broker.close();
    await fake.shutdown();
  }
});

Deno.test("alpaca paper: connect fails on refused keys, and says so without the secret", async () => {
  const fake = startAlpacaPaperFake({ key: KEY, secret: SECRET, cash: 100_000 });
  const wrong = "wrong-secret-0123456789-xyz";
  const broker = new AlpacaPaperBroker({
    key: KEY,
    secret: wrong,
    baseUrl: fake.baseUrl,
    streamUrl: fake.streamUrl,
  });
  try {
    const error = await broker.connect().then(() => undefined, (e: Error) => e);
    assert.ok(error, "connect rejected");
    assert.match(error.message, /401 request is not authorized/);
    assert.ok(!error.message.includes(wrong) && !error.message.includes(KEY));
    assert.ok(fake.requests.includes("GET /v2/account"));
  } finally {
    await broker.close();
    await fake.shutdown();
  }
});
