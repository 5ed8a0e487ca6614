/**
 * Live fan-out: the hub's per-symbol index delivers exactly what each filter matches, in
 * order; batches encoded once per filter reach each client intact; and 5,000 stream
 * connection attempts past the cap are all refused while the clients already connected
 * receive every event in order.
 */
import assert from "node:assert/strict";
import type { MarketEvent, Trade } from "../lib/market/types.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { startServer, StreamHub } from "../server/mod.ts";
import { upgradeStatus } from "../bench/_fanout.ts";
import { deliver } from "../server/streams.ts";

function trade(exchange: string, symbol: string, id: number): Trade {
  return {
    kind: "trade",
    exchange,
    symbol,
    ts: 1_700_000_000_000_000 + id,
    recvTs: 1_700_000_000_000_000 + id,
    id: String(id),
    price: 100 + id / 100,
    size: 1,
    side: id % 2 ? "buy" : "sell",
  };
}

function quote(symbol: string, n: number): MarketEvent {
  return {
    kind: "quote",
    exchange: "coinbase",
    symbol,
    ts: n,
    recvTs: n,
    bidPrice: 99,
    bidSize: 1,
    askPrice: 101,
    askSize: 1,
  } as MarketEvent;
}

Deno.test("the hub's symbol index delivers exactly each filter's events, in order", async () => {
  const hub = new StreamHub({ maxQueue: 100_000 });
  const filters = [
    { symbols: new Set(["A"]) },
    { symbols: new Set(["A", "B"]) },
    { symbols: new Set(["C"]), kinds: new Set(["trade"] as const) },
    {},
    { kinds: new Set(["quote"] as const) },
    { exchanges: new Set(["kraken"]), symbols: new Set(["B"]) },
    { symbols: new Set<string>() },
  ];
  const subs = filters.map((f) => hub.subscribe(f));
  const leaver = hub.subscribe({ symbols: new Set(["A"]) });
  const events: MarketEvent[] = [];
  for (let i = 0; i < 600; i++) {
    const symbol = "ABCD"[i % 4];
    events.push(i % 5 === 0 ? quote(symbol, i) : trade(i % 3 ? "coinbase" : "kraken", symbol, i));
  }
  const received = subs.map(() => [] as MarketEvent[]);
  for (let i = 0; i < events.length; i += 50) {
    hub.write(events.slice(i, i + 50));
    if (i === 300) leaver.close();
    for (const [k, sub] of subs.entries()) {
      if (sub.queued) received[k].push(...(await sub.next())!.map((item) => item.event));
    }
  }
  // Expected by hand from the filter definitions, not through Subscription.matches.
  const byHand = [
    (e: MarketEvent) => e.symbol === "A",
    (e: MarketEvent) => e.symbol === "A" || e.symbol === "B",
    (e: MarketEvent) => e.symbol === "C" && e.kind === "trade",
    () => true,
    (e: MarketEvent) => e.kind === "quote",
    (e: MarketEvent) => e.exchange === "kraken" && e.symbol === "B",
    () => false,
  ];
  for (const [k, keep] of byHand.entries()) {
    assert.deepEqual(received[k], events.filter(keep), `filter ${k}`);
  }
  assert.equal(hub.stats().clients, subs.length);
  assert.equal(leaver.closeReason, "closed");
  await hub.close();
});

/** Opens a WebSocket and collects every event it receives. */
async function client(url: string) {
  const ws = new WebSocket(url);
  const events: MarketEvent[] = [];
  let closed = false;
  ws.onmessage = (m) => events.push(...JSON.parse(m.data));
  ws.onclose = () => closed = true;
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  return { ws, events, isClosed: () => closed };
}

async function until(done: () => boolean | Promise<boolean>, tries = 3_000): Promise<void> {
  for (let i = 0; i < tries && !(await done()); i++) await new Promise((r) => setTimeout(r, 10));
}

Deno.test("subscribers with equal filters share a group but keep their own queues and drops", async () => {
  const hub = new StreamHub({ maxQueue: 5 });
  // The same filter built three ways (set order differs): one group in the hub.
  const readers = [
    hub.subscribe({ symbols: new Set(["A", "B"]), kinds: new Set(["trade"] as const) }),
    hub.subscribe({ kinds: new Set(["trade"] as const), symbols: new Set(["B", "A"]) }),
  ];
  const idle = hub.subscribe({ symbols: new Set(["B", "A"]), kinds: new Set(["trade"] as const) });
  const warn = console.warn;
  console.warn = () => {};
  const received = readers.map(() => [] as string[]);
  try {
    // 4 writes of 3 events: idle holds 4 after three writes; of the fourth write's 2 A/B
    // trades only one fits (4 + 2 > 5), so it is dropped.
    for (let w = 0; w < 4; w++) {
      hub.write([
        trade("kraken", "A", 3 * w),
        quote("B", 3 * w + 1),
        trade("kraken", w % 2 ? "B" : "C", 3 * w + 2),
      ]);
      for (const [k, sub] of readers.entries()) {
        received[k].push(...sub.take()!.map((item) => (item.event as Trade).id));
      }
    }
  } finally {
    console.warn = warn;
  }
  // By hand: trades on A or B are ids 0, 3, 5, 6, 9, 11 (C trades at 2 and 8 are not).
  for (const got of received) assert.deepEqual(got, ["0", "3", "5", "6", "9", "11"]);
  assert.equal(idle.closeReason, "slow");
  assert.equal(idle.take(), null);
  const stats = hub.stats();
  assert.equal(stats.slowDisconnects, 1);
  // Queued: 6 to each reader, 4 + 1 (the fourth write's first event still fit) to the idle one;
  // dropped: the 5 it held plus the event that did not fit.
  assert.equal(stats.delivered, 6 + 6 + 5);
  assert.equal(stats.dropped, 6);
  assert.equal(stats.clients, 2);
  // The group outlives a leaver and is rebuilt after its last member goes.
  readers[0].close();
  hub.write([trade("kraken", "A", 12)]);
  assert.deepEqual(readers[1].take()!.map((item) => (item.event as Trade).id), ["12"]);
  readers[1].close();
  const late = hub.subscribe({ symbols: new Set(["A"]), kinds: new Set(["trade"] as const) });
  hub.write([trade("kraken", "A", 13), trade("kraken", "B", 14)]);
  assert.deepEqual(late.take()!.map((item) => (item.event as Trade).id), ["13"]);
  await hub.close();
});

Deno.test("a push reader is told once per batch, takes it whole, and is not dropped after an idle spell", async () => {
  const hub = new StreamHub({ maxStallMs: 30 });
  const sub = hub.subscribe({ symbols: new Set(["BTC-USD"]) });
  let told = 0;
  const taken: string[][] = [];
  sub.onQueued(() => {
    told++;
    queueMicrotask(() => taken.push(sub.take()!.map((item) => (item.event as Trade).id)));
  });
  hub.write([trade("kraken", "BTC-USD", 1), trade("kraken", "ETH-USD", 2)]);
  hub.write([trade("kraken", "BTC-USD", 3)]);
  await Promise.resolve();
  assert.deepEqual(taken, [["1", "3"]], "two writes before the reader ran: one batch");
  assert.equal(told, 1);
  // Idle for longer than maxStallMs with an empty queue: the next batch of two must not
  // count the idle spell as a stall (the second event would otherwise drop the reader).
  await new Promise((resolve) => setTimeout(resolve, 60));
  hub.write([trade("kraken", "BTC-USD", 4), trade("kraken", "BTC-USD", 5)]);
  await Promise.resolve();
  assert.deepEqual(taken, [["1", "3"], ["4", "5"]]);
  assert.equal(told, 2);
  assert.equal(sub.closeReason, undefined);
  assert.equal(hub.stats().slowDisconnects, 0);
  // A reader that stops taking is dropped as slow once its oldest event waited too long.
  sub.onQueued(undefined);
  hub.write([trade("kraken", "BTC-USD", 6)]);
  await new Promise((resolve) => setTimeout(resolve, 60));
  hub.write([trade("kraken", "BTC-USD", 7)]);
  assert.equal(sub.closeReason, "slow");
  assert.equal(sub.take(), null);
  await hub.close();
});

Deno.test("clients with the same and different filters get their own batches intact", async () => {
  const hub = new StreamHub();
  const server = await startServer({ repository: new MemoryRepository([]), hub, port: 0 });
  const ws = server.url.replace("http", "ws");
  try {
    const same = [
      await client(`${ws}ws?kinds=trade&symbol=A`),
      await client(`${ws}ws?kinds=trade&symbol=A`),
    ];
    const anyKind = await client(`${ws}ws?symbol=A`);
    const both = await client(`${ws}ws?kinds=trade&symbol=A,B`);
    await until(() => hub.stats().clients === 4);
    const events: MarketEvent[] = [];
    for (let i = 0; i < 300; i++) {
      events.push(i % 4 === 0 ? quote("A", i) : trade("x", "AB"[i % 2], i));
    }
    for (let i = 0; i < events.length; i += 7) hub.write(events.slice(i, i + 7));
    const expectSame = events.filter((e) => e.symbol === "A" && e.kind === "trade");
    const expectAny = events.filter((e) => e.symbol === "A");
    const expectBoth = events.filter((e) => e.kind === "trade");
    await until(() =>
      same.every((c) => c.events.length === expectSame.length) &&
      anyKind.events.length === expectAny.length && both.events.length === expectBoth.length
    );
    for (const c of same) assert.deepEqual(c.events, expectSame);
    assert.deepEqual(anyKind.events, expectAny);
    assert.deepEqual(both.events, expectBoth);
    for (const c of [...same, anyKind, both]) c.ws.close();
  } finally {
    await server.shutdown();
    await hub.close();
  }
});

Deno.test("5,000 stream connections past the cap are refused; connected clients miss nothing", async () => {
  const hub = new StreamHub();
  const cap = 20;
  const server = await startServer({
    repository: new MemoryRepository([]),
    hub,
    port: 0,
    limits: { maxConnections: cap, maxConnectionsPerAddress: 10_000 },
  });
  const ws = server.url.replace("http", "ws");
  try {
    const clients: Awaited<ReturnType<typeof client>>[] = [];
    for (let i = 0; i < cap; i++) {
      clients.push(await client(`${ws}ws?kinds=trade&symbol=S${i % 2}`));
    }
    await until(() => hub.stats().clients === cap);
    const published: Trade[] = [];
    let attempts = 0;
    let refused = 0;
    const statuses = new Map<number, number>();
    const flood = Array.from({ length: 50 }, async () => {
      while (attempts < 5_000) {
        const n = ++attempts;
        const status = await upgradeStatus(server.port, "/ws?kinds=trade");
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 503) refused++;
        // Interleave publishing with the flood: one write of 4 trades every 25 attempts.
        if (n % 25 === 0) {
          const batch = [0, 1, 2, 3].map((k) => trade("x", `S${k % 2}`, published.length + k));
          published.push(...batch);
          hub.write(batch);
        }
      }
    });
    await Promise.all(flood);
    assert.equal(attempts, 5_000);
    assert.deepEqual([...statuses], [[503, 5_000]]);
    assert.equal(refused, 5_000);
    assert.equal(published.length, 800);
    const expected = [0, 1].map((s) => published.filter((t) => t.symbol === `S${s}`));
    await until(() => clients.every((c, i) => c.events.length >= expected[i % 2].length));
    for (const [i, c] of clients.entries()) {
      assert.equal(c.isClosed(), false, `client ${i} kept its connection`);
      assert.deepEqual(c.events.map((e) => (e as Trade).id), expected[i % 2].map((t) => t.id));
    }
    // The server's own count, read from its Prometheus exposition.
    const metrics = await (await fetch(`${server.url}metrics`)).text();
    assert.match(metrics, /^alphapulse_streams_refused_total 5000$/m);
    assert.match(metrics, /^alphapulse_open_streams 20$/m);
    for (const c of clients) c.ws.close();
  } finally {
    await server.shutdown();
    await hub.close();
  }
});

Deno.test("the bench's byte-scanning clients count every event and every order break", async () => {
  const hub = new StreamHub();
  const server = await startServer({ repository: new MemoryRepository([]), hub, port: 0 });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", new URL("../bench/_fanout_clients.ts", import.meta.url).pathname],
      ...["--url", server.url.replace("http", "ws"), "--count", "4", "--symbols", "2"],
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  const line = async () => {
    while (!pending.includes("\n")) pending += (await lines.read()).value ?? "";
    const [first] = pending.split("\n", 1);
    pending = pending.slice(first.length + 1);
    return first;
  };
  const stdin = child.stdin.getWriter();
  const send = (command: string) => stdin.write(new TextEncoder().encode(command + "\n"));
  try {
    assert.equal(await line(), "ready");
    await send("start");
    const now = Math.round((performance.timeOrigin + performance.now()) * 1000);
    const t = (symbol: string, id: number) => ({ ...trade("load", symbol, id), recvTs: now });
    // Clients 0 and 2 follow SYM0-USD, 1 and 3 SYM1-USD. SYM1's ids skip 2: one break each.
    hub.write([t("SYM0-USD", 0), t("SYM1-USD", 0), t("SYM0-USD", 1), t("SYM1-USD", 1)]);
    // Sent well apart, the two writes reach each client as two messages.
    await until(() => hub.stats().delivered === 6);
    await new Promise((resolve) => setTimeout(resolve, 300));
    hub.write([t("SYM0-USD", 2), t("SYM1-USD", 3), t("SYM2-USD", 0)]);
    await until(() => hub.stats().delivered === 12);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await send("stop");
    const r = JSON.parse(await line());
    assert.equal(r.events, 2 * 3 + 2 * 3);
    assert.equal(r.messages, 4 * 2);
    assert.equal(r.breaks, 2);
    assert.equal(r.closed, 0);
    const counted = (r.histogram as [number, number][]).reduce((sum, [, n]) => sum + n, 0);
    assert.equal(counted, 12);
  } finally {
    await send("exit").catch(() => {});
    await stdin.close().catch(() => {});
    await child.status;
    await lines.cancel();
    await server.shutdown();
    await hub.close();
  }
});

Deno.test("a socket still holding a message gets the next events together, in order, once it drains", async () => {
  const hub = new StreamHub({ maxStallMs: 60_000 });
  const sub = hub.subscribe({ symbols: new Set(["A"]) });
  const sent: string[] = [];
  // What deliver() uses of a WebSocket: a stand-in whose buffered bytes the test controls.
  const socket = {
    readyState: WebSocket.OPEN,
    bufferedAmount: 0,
    send(text: string) {
      sent.push(text);
    },
  };
  deliver(socket as unknown as WebSocket, sub, 1 << 20, () => {});
  const ids = (text: string) => JSON.parse(text).map((e: Trade) => e.id);
  hub.write([trade("kraken", "A", 1), trade("kraken", "B", 2)]);
  await Promise.resolve();
  assert.deepEqual(sent.map(ids), [["1"]], "an idle socket is sent to at once");
  socket.bufferedAmount = 100; // that message has not left yet
  hub.write([trade("kraken", "A", 3)]);
  await new Promise((resolve) => setTimeout(resolve, 5));
  hub.write([trade("kraken", "A", 4), trade("kraken", "A", 5)]);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(sent.length, 1, "nothing more is sent while the socket holds a message");
  assert.equal(sub.queued, 3);
  socket.bufferedAmount = 0;
  await until(() => sent.length === 2);
  assert.deepEqual(sent.map(ids), [["1"], ["3", "4", "5"]]);
  assert.equal(sub.queued, 0);
  // The same events encoded through the hub's items, by hand: one JSON array per message.
  assert.equal(
    sent[1],
    JSON.stringify([trade("kraken", "A", 3), trade("kraken", "A", 4), trade("kraken", "A", 5)]),
  );
  await hub.close();
});
