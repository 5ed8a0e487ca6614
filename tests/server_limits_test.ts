/**
 * Connection hygiene: stream caps (total and per address) refuse newcomers while existing
 * clients keep receiving; clients that never read are sent their close and disconnected.
 */
import assert from "node:assert/strict";
import type { Trade } from "../lib/market/types.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import {
  ConnectionLimiter,
  startServer,
  StreamHub,
  TooManySubscribersError,
} from "../server/mod.ts";
import { until } from "./support/checking_sink.ts";
import { readUntilClosed } from "./support/sockets.ts";

const T0 = Date.UTC(2021, 3, 17, 16, 0) * 1000;

function trade(i: number): Trade {
  return {
    kind: "trade",
    exchange: "coinbase",
    symbol: "BTC-USD",
    ts: T0 + i,
    recvTs: T0 + i,
    id: `trade-${i}-${"x".repeat(100)}`,
    price: 60_000 + i,
    size: 0.5,
    side: "buy",
  };
}

const UPGRADE = `Upgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\nSec-WebSocket-Version: 13\r\n`;

/** Sends a request head and returns the connection and the first response line. */
async function rawRequest(port: number, head: string): Promise<[Deno.TcpConn, string]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(head));
  const buf = new Uint8Array(1024);
  const n = await conn.read(buf);
  return [conn, new TextDecoder().decode(buf.subarray(0, n ?? 0)).split("\r\n")[0]];
}

Deno.test("ConnectionLimiter: total and per-address caps, idempotent release", () => {
  const limiter = new ConnectionLimiter({ maxConnections: 3, maxConnectionsPerAddress: 2 });
  const a1 = limiter.acquire("a");
  const a2 = limiter.acquire("a");
  assert.equal(limiter.acquire("a"), "address");
  const b1 = limiter.acquire("b");
  assert.equal(limiter.acquire("c"), "total");
  assert.equal(limiter.open, 3);
  assert.equal(limiter.refused, 2);
  assert.ok(typeof a1 === "function" && typeof a2 === "function" && typeof b1 === "function");
  a1();
  a1();
  assert.equal(limiter.open, 2);
  assert.equal(typeof limiter.acquire("a"), "function");
  assert.throws(() => new ConnectionLimiter({ maxConnections: 0 }), RangeError);
});

Deno.test("streams past the cap are refused while connected clients keep receiving", async () => {
  const hub = new StreamHub();
  const server = await startServer({
    repository: new MemoryRepository([]),
    hub,
    port: 0,
    limits: { maxConnections: 4, maxConnectionsPerAddress: 3 },
  });
  const sockets: WebSocket[] = [];
  try {
    const received = [0, 0, 0];
    for (let i = 0; i < 3; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
      ws.onmessage = (m) => received[i] += JSON.parse(m.data).length;
      await new Promise((resolve) => ws.onopen = resolve);
      sockets.push(ws);
    }
    await until(() => hub.stats().clients === 3, "three subscribers");
    // 200 more attempts from the same address: refused with 429, as WS and as SSE.
    const statuses = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const res = await fetch(`${server.url}sse`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      await res.body?.cancel();
    }
    const [conn, status] = await rawRequest(
      server.port,
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}\r\n`,
    );
    conn.close();
    assert.deepEqual([...statuses], [[429, 200]]);
    assert.match(status, / 429 /);
    assert.equal(hub.stats().clients, 3, "refused attempts never subscribed");

    // The connected clients still get every event.
    hub.write([trade(1), trade(2)]);
    await until(() => received.every((n) => n === 2), "each client to receive both trades");
    const health = await (await fetch(`${server.url}health`)).json();
    assert.equal(health.openStreams, 3);
    assert.equal(health.refusedStreams, 201);

    // A closed client gives its slot back.
    sockets.pop()!.close();
    await until(() => hub.stats().clients === 2, "the slot to be released");
    const again = await fetch(`${server.url}sse`);
    assert.equal(again.status, 200);
    await again.body?.cancel();
  } finally {
    for (const ws of sockets) ws.close();
    await server.shutdown();
    await hub.close();
  }
});

Deno.test("a hub with its maximum of subscribers answers SSE 503 and closes WS 1013", async () => {
  const hub = new StreamHub({ maxSubscribers: 1 });
  hub.subscribe();
  assert.throws(() => hub.subscribe(), TooManySubscribersError);
  const server = await startServer({ repository: new MemoryRepository([]), hub, port: 0 });
  try {
    const sse = await fetch(`${server.url}sse`);
    assert.equal(sse.status, 503);
    assert.match((await sse.json()).error, /maximum of 1 subscribers/);
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
    const closed = await new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
    assert.equal(closed.code, 1013);
    let open = -1;
    for (let polls = 0; open !== 0 && polls < 100; polls++) {
      if (polls) await new Promise((r) => setTimeout(r, 20));
      open = (await (await fetch(`${server.url}health`)).json()).openStreams;
    }
    assert.equal(open, 0, "refused streams give their slot back");
  } finally {
    await server.shutdown();
    await hub.close();
  }
});

Deno.test("a total cap answers 503 with Retry-After", async () => {
  const hub = new StreamHub();
  const server = await startServer({
    repository: new MemoryRepository([]),
    hub,
    port: 0,
    limits: { maxConnections: 1 },
  });
  try {
    const first = await fetch(`${server.url}sse`);
    assert.equal(first.status, 200);
    const second = await fetch(`${server.url}sse`);
    assert.equal(second.status, 503);
    assert.equal(second.headers.get("retry-after"), "5");
    await second.body?.cancel();
    await first.body?.cancel();
  } finally {
    await server.shutdown();
    await hub.close();
  }
});

Deno.test("non-reading WebSocket and SSE clients: dropped when their queue overflows", async () => {
  const warnings = await nonReadingClients(new StreamHub());
  assert.ok(warnings.every((w) => /queue reached 10000 events/.test(w)), warnings.join("\n"));
});

Deno.test("non-reading clients: dropped once they take nothing for maxStallMs", async () => {
  // A queue too big to overflow: only the stall rule can catch them.
  const warnings = await nonReadingClients(
    new StreamHub({ maxQueue: 100_000_000, maxStallMs: 1_000 }),
  );
  assert.ok(warnings.every((w) => /no events taken for 1000 ms/.test(w)), warnings.join("\n"));
});

/** Two clients that never read, one that does; returns the hub's warnings. */
async function nonReadingClients(hub: StreamHub): Promise<string[]> {
  const server = await startServer({ repository: new MemoryRepository([]), hub, port: 0 });
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (message: string) => warnings.push(message);
  const raw: Deno.TcpConn[] = [];
  try {
    // A reading client, to show it is unaffected.
    let readerGot = 0;
    const reader = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
    reader.onmessage = (m) => readerGot += JSON.parse(m.data).length;
    await new Promise((resolve) => reader.onopen = resolve);
    // Two clients that complete their handshake and then never read.
    const [ws, wsStatus] = await rawRequest(
      server.port,
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE}\r\n`,
    );
    raw.push(ws);
    assert.match(wsStatus, / 101 /);
    const [sse, sseStatus] = await rawRequest(
      server.port,
      `GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
    );
    raw.push(sse);
    assert.match(sseStatus, / 200 /);
    await until(() => hub.stats().clients === 3, "three subscribers");

    let written = 0;
    for (let i = 0; hub.stats().slowDisconnects < 2; i++) {
      const batch = Array.from({ length: 500 }, (_, j) => trade(i * 500 + j));
      hub.write(batch);
      written += batch.length;
      await new Promise((r) => setTimeout(r, 10));
      if (i > 5_000) throw new Error("the non-reading clients were never dropped");
    }
    assert.equal(hub.stats().slowDisconnects, 2);
    assert.ok(hub.stats().dropped > 0);
    // Both connections end (the WebSocket after its close frame, or dropped when the
    // client never completes the close handshake); reading them now reaches EOF.
    const health = async () => (await (await fetch(`${server.url}health`)).json()).openStreams;
    let open = await health();
    for (let polls = 0; open > 1 && polls < 300; polls++) {
      await new Promise((r) => setTimeout(r, 100));
      open = await health();
    }
    assert.equal(open, 1, "only the reading client's stream is open");
    await readUntilClosed(ws);
    await readUntilClosed(sse);
    await until(() => readerGot === written, "the reading client to get every trade", 60_000);
    assert.equal(hub.stats().clients, 1);
    reader.close();
  } finally {
    console.warn = warn;
    for (const conn of raw) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    await server.shutdown();
    await hub.close();
  }
  assert.equal(warnings.length, 2);
  return warnings;
}

Deno.test("queries past maxConcurrentQueries answer 503 with Retry-After; later ones run", async () => {
  const gate = Promise.withResolvers<void>();
  class SlowRepository extends MemoryRepository {
    override trades(query: Parameters<MemoryRepository["trades"]>[0]) {
      const result = super.trades(query);
      return { ...result, rows: async () => (await gate.promise, await result.rows()) };
    }
  }
  const { createApp } = await import("../server/mod.ts");
  const app = createApp({
    repository: new SlowRepository([trade(1)]),
    hub: new StreamHub(),
    maxConcurrentQueries: 2,
  });
  const get = (path: string) => app(new Request(`http://localhost${path}`));
  const trades = "/api/trades?exchange=coinbase&symbol=BTC-USD";
  const running = [get(trades), get(trades)];
  const refused = await get(trades);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("retry-after"), "1");
  await refused.body?.cancel();
  const health = await get("/health");
  assert.equal(health.status, 200, "/health is not a query: it still answers");
  await health.body?.cancel();
  gate.resolve();
  for (const res of await Promise.all(running)) {
    assert.equal(res.status, 200);
    assert.equal((await res.json()).length, 1);
  }
  const after = await get(trades);
  assert.equal(after.status, 200);
  await after.body?.cancel();
});
