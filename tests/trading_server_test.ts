/**
 * The server's trading routes over a live runner on a hand-made book (tests/support/
 * trading_desk.ts has the orders and fills worked out by hand): positions, orders, fills and
 * PnL behind the `trade` scope, the live stream, and the kill switch.
 */
import assert from "node:assert/strict";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { Authenticator, createApp, StreamHub } from "../server/mod.ts";
import { book, startDesk, type TestDesk } from "./support/trading_desk.ts";
import type { Strategy } from "../lib/backtest/mod.ts";
import { parseLine, verifyActionLog } from "../lib/backtest/action_log.ts";
import { AlpacaPaperBroker, LiveRunner, Scheduler } from "../lib/trading/mod.ts";
import { startAlpacaPaperFake } from "./fakes/alpaca_paper_fake.ts";

const READ = "read-only-token-0123456789";
const TRADE = "trade-token-0123456789abcdef";

async function appFor(runner: LiveRunner) {
  const auth = await Authenticator.create({
    tokens: [
      { token: READ, scopes: ["read"], name: "reader" },
      { token: TRADE, scopes: ["read", "trade"], name: "trader" },
    ],
  });
  const app = createApp({
    repository: new MemoryRepository(),
    hub: new StreamHub(),
    auth,
    trading: runner,
  });
  const call = (path: string, token?: string, init: RequestInit = {}) =>
    app(
      new Request(`http://localhost${path}`, {
        ...init,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      }),
    );
  return { app, call };
}

/** Ends a desk a test left running. */
async function finish(desk: TestDesk): Promise<void> {
  if (!desk.runner.done) desk.runner.stop();
  await desk.run;
  await desk.feed.close();
}

Deno.test("trading routes: positions, orders, fills and PnL need the trade scope", async () => {
  const desk = await startDesk();
  try {
    const { call } = await appFor(desk.runner);
    for (const path of ["positions", "orders", "fills", "pnl", "stream"]) {
      assert.equal((await call(`/api/trading/${path}`)).status, 401, path);
      const refused = await call(`/api/trading/${path}`, READ);
      assert.equal(refused.status, 403, path);
      assert.match(refused.headers.get("www-authenticate")!, /scope="trade"/);
      await refused.body?.cancel();
    }
    // Position: +0.5 from the taker fill, marked at the book's mid (99 + 101) / 2 = 100.
    assert.deepEqual(await (await call("/api/trading/positions", TRADE)).json(), [
      { exchange: "sim", symbol: "A", position: 0.5, mark: 100 },
    ]);
    const open = await (await call("/api/trading/orders", TRADE)).json();
    assert.deepEqual(
      open.map((o: Record<string, unknown>) => [o.id, o.side, o.price, o.size, o.status]),
      [[4, "sell", 102, 1, "open"], [3, "buy", 98, 2, "open"], [2, "buy", 99, 1, "open"]],
    );
    const all = await (await call("/api/trading/orders?status=all&limit=10", TRADE)).json();
    assert.deepEqual(
      all.map((o: Record<string, unknown>) => [o.id, o.status, o.filled]),
      [[4, "open", 0], [3, "open", 0], [2, "open", 0], [1, "filled", 0.5]],
    );
    assert.equal((await call("/api/trading/orders?status=x", TRADE)).status, 400);
    const fills = await (await call("/api/trading/fills", TRADE)).json();
    assert.equal(fills.length, 1);
    assert.equal(fills[0].orderId, 1);
    assert.equal(fills[0].price, 101);
    assert.equal(fills[0].size, 0.5);
    assert.equal(fills[0].liquidity, "taker");
    assert.ok(Math.abs(fills[0].fee - 0.0505) < 1e-12, "0.1 % of 101 x 0.5");
    const pnl = await (await call("/api/trading/pnl", TRADE)).json();
    // cash -101 x 0.5 - 0.0505 = -50.5505; position 0.5 x mark 100 = 50; PnL -0.5505.
    assert.ok(Math.abs(pnl.cash - (1_000_000 - 50.5505)) < 1e-6, `${pnl.cash}`);
    assert.ok(Math.abs(pnl.pnl - -0.5505) < 1e-9, `${pnl.pnl}`);
    assert.deepEqual(
      [pnl.orders, pnl.openOrders, pnl.fills, pnl.running],
      [4, 3, 1, true],
    );
  } finally {
    await finish(desk);
  }
});

/** Reads server-sent events from a response body. */
function eventReader(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    async next(): Promise<{ event: string; data: Record<string, unknown> }> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)![1];
          const data = JSON.parse(/^data: (.*)$/m.exec(block)![1]);
          return { event, data };
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended");
        buffer += value;
      }
    },
    cancel: () => reader.cancel(),
  };
}

Deno.test("trading stream: a snapshot, then the new order, its fill, positions and PnL", async () => {
  const desk = await startDesk();
  try {
    const { call } = await appFor(desk.runner);
    const res = await call("/api/trading/stream", TRADE);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /text\/event-stream/);
    const events = eventReader(res);
    const first = await events.next();
    assert.equal(first.event, "snapshot");
    const snap = first.data as Record<string, unknown[]> & { strategy: string; broker: string };
    assert.equal(snap.strategy, "panel-test");
    assert.equal(snap.broker, "sim");
    assert.deepEqual(snap.orders.map((o) => (o as { id: number }).id), [2, 3, 4]);
    assert.equal(snap.fills.length, 1);
    desk.feed.write([book(2_000_000)]); // the strategy buys 0.25 @ 101: taker fill
    const seen: { event: string; data: Record<string, unknown> }[] = [];
    while (!seen.some((e) => e.event === "positions")) seen.push(await events.next());
    const order5 = seen.filter((e) => e.event === "order" && e.data.id === 5);
    assert.equal(order5.length, 1, "order updates are coalesced");
    assert.equal(order5[0].data.status, "filled");
    const fill = seen.find((e) => e.event === "fill")!.data;
    assert.deepEqual([fill.orderId, fill.price, fill.size], [5, 101, 0.25]);
    const positions = seen.find((e) => e.event === "positions")!.data as unknown as unknown[];
    assert.deepEqual(positions, [{ exchange: "sim", symbol: "A", position: 0.75, mark: 100 }]);
    const pnl = await events.next();
    assert.equal(pnl.event, "pnl");
    // cash -75.75 - 0.0505 - 0.02525 = -75.82575; position 0.75 x 100 = 75; PnL -0.82575.
    assert.ok(Math.abs((pnl.data.pnl as number) - -0.82575) < 1e-9, `${pnl.data.pnl}`);
    desk.runner.stop();
    let last;
    do last = await events.next(); while (last.event !== "stopped");
    assert.equal(last.data.reason, "stopped");
    await events.cancel();
  } finally {
    await finish(desk);
  }
});

Deno.test("kill switch: 401 without a token, 403 read-only; trade cancels every order and stops", async () => {
  const desk = await startDesk();
  try {
    const { call } = await appFor(desk.runner);
    const before = await desk.broker.openOrders();
    assert.deepEqual(before.map((o) => o.id), [2, 3, 4]);
    const post = (token?: string, body?: string) =>
      call("/api/trading/kill", token, { method: "POST", body });
    assert.equal((await post()).status, 401);
    assert.equal((await post(READ)).status, 403);
    assert.equal((await post("not-a-token-0123456789")).status, 401);
    assert.equal((await post(TRADE, "{not json")).status, 400);
    assert.equal(desk.runner.done, false, "refused kills leave the runner running");
    assert.equal((await desk.broker.openOrders()).length, 3);

    const res = await post(TRADE, JSON.stringify({ reason: "operator" }));
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(body, {
      stopped: true,
      reason: "kill switch (server): operator",
      openOrders: 0,
    });
    assert.equal(desk.runner.done, true);
    assert.deepEqual(await desk.broker.openOrders(), [], "nothing open at the broker");
    const rec = await desk.run;
    assert.equal(rec.reason, "kill switch (server): operator");
    const entries = rec.log.entries();
    const cancelled = entries.filter((e) => e.action === "cancelled");
    assert.deepEqual(
      cancelled.map((e) => [e.data.id, e.data.reason]),
      [2, 3, 4].map((id) => [id, "kill switch (server): operator"]),
      "the venue cancelled each open order, for the kill switch (not the end-of-run cleanup)",
    );
    const kill = entries.findIndex((e) => e.action === "kill");
    assert.ok(kill >= 0 && entries.findIndex((e) => e.action === "cancelled") > kill);
    // The kill entry names the token that pulled the switch (its name), read back from the
    // log's JSONL text; the secret appears nowhere in the log.
    const jsonl = rec.log.toJsonl();
    assert.equal(verifyActionLog(jsonl.trimEnd().split("\n")).ok, true);
    const kills = jsonl.trimEnd().split("\n").map(parseLine).filter((e) => e.action === "kill");
    assert.deepEqual(kills.map((e) => e.data), [
      { reason: "kill switch (server): operator", by: "trader" },
    ]);
    assert.equal(jsonl.includes(TRADE), false, "the token's secret is not logged");
    assert.deepEqual(
      rec.orders.map((o) => [o.id, o.status]),
      [[1, "filled"], [2, "cancelled"], [3, "cancelled"], [4, "cancelled"]],
    );
    // A second kill on a stopped runner: nothing left to do, still 200.
    assert.equal((await post(TRADE)).status, 200);
  } finally {
    await finish(desk);
  }
});

Deno.test("kill switch: not held back by market-data queries at the server's cap", async () => {
  const desk = await startDesk();
  const repository = new MemoryRepository();
  const release = Promise.withResolvers<void>();
  repository.instruments = async () => (await release.promise, []);
  try {
    const app = createApp({
      repository,
      hub: new StreamHub(),
      maxConcurrentQueries: 1,
      trading: desk.runner,
    });
    const slow = app(new Request("http://localhost/api/instruments"));
    const busy = await app(new Request("http://localhost/api/instruments"));
    assert.equal(busy.status, 503, "the one query slot is taken");
    await busy.body?.cancel();
    const res = await app(new Request("http://localhost/api/trading/kill", { method: "POST" }));
    assert.equal(res.status, 200);
    assert.equal((await res.json()).stopped, true);
    assert.deepEqual(await desk.broker.openOrders(), []);
    release.resolve();
    await (await slow).body?.cancel();
  } finally {
    release.resolve();
    await finish(desk);
  }
});

Deno.test("trading stream: counted with the server's stream limits, its slot given back", async () => {
  const desk = await startDesk();
  try {
    const app = createApp({
      repository: new MemoryRepository(),
      hub: new StreamHub(),
      limits: { maxConnections: 10, maxConnectionsPerAddress: 1 },
      trading: desk.runner,
    });
    const open = () => app(new Request("http://localhost/api/trading/stream"));
    const first = await open();
    assert.equal(first.status, 200);
    const second = await open();
    assert.equal(second.status, 429, "one stream per address");
    await second.body?.cancel();
    await first.body!.cancel(); // the client goes away
    const third = await open();
    assert.equal(third.status, 200, "the slot came back");
    await third.body!.cancel();
  } finally {
    await finish(desk);
  }
});

Deno.test("kill switch over HTTP: the fake Alpaca's open orders are all cancelled", async () => {
  const key = "PKTESTKEY0123456789";
  const secret = "s3cr3t-never-logged-0123456789";
  const fake = startAlpacaPaperFake({ key, secret });
  const broker = new AlpacaPaperBroker({
    key,
    secret,
    baseUrl: fake.baseUrl,
    streamUrl: fake.streamUrl,
  });
  const inst = { exchange: "alpaca", symbol: "AAPL" };
  let release!: () => void;
  const idle = new Promise<void>((r) => release = r);
  try {
    await broker.connect();
    const strategy: Strategy = {
      name: "rester",
      onBook(_e, ctx) {
        for (const p of [97, 98, 99]) {
          ctx.submit({ ...inst, side: "buy", type: "limit", price: p, size: 1 });
        }
      },
    };
    const runner = new LiveRunner({
      strategy,
      broker,
      instruments: [inst],
      scheduler: new Scheduler({ clock: "wall" }),
    });
    const feed = async function* () {
      yield { ...book(1), ...inst };
      await idle;
    };
    const running = runner.run(feed());
    for (let i = 0; i < 400 && fake.orders.filter((o) => o.status === "new").length < 3; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(fake.orders.map((o) => o.status), ["new", "new", "new"]);
    const { call } = await appFor(runner);
    assert.equal((await call("/api/trading/kill", READ, { method: "POST" })).status, 403);
    const res = await call("/api/trading/kill", TRADE, { method: "POST" });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).stopped, true);
    assert.deepEqual(fake.orders.map((o) => o.status), ["canceled", "canceled", "canceled"]);
    assert.ok(fake.requests.includes("DELETE /v2/orders"), "one cancel-all request");
    const rec = await running;
    assert.equal(rec.reason, "kill switch (server)");
    assert.deepEqual(rec.orders.map((o) => o.status), ["cancelled", "cancelled", "cancelled"]);
  } finally {
    release();
    await broker.close();
    await fake.shutdown();
  }
});

Deno.test("trading routes: absent without a runner", async () => {
  const app = createApp({ repository: new MemoryRepository(), hub: new StreamHub() });
  const res = await app(new Request("http://localhost/api/trading/pnl"));
  assert.equal(res.status, 404);
  await res.body?.cancel();
});
