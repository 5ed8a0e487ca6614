/**
 * The connection guard (`server/conn_guard.ts`): connections that never finish their request
 * head are closed after the header timeout while a normal client keeps getting answers;
 * half-open connections count against the per-address cap; an idle keep-alive connection is
 * closed after the idle timeout while a WebSocket stream and a streaming response are not; a
 * client that stops reading is closed after the write timeout while a reading one gets the whole
 * body; a request on the loopback hop that did not pass the guard is refused.
 */
import assert from "node:assert/strict";
import type { Trade } from "../lib/market/types.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { serveGuarded } from "../server/conn_guard.ts";
import { startServer, StreamHub } from "../server/mod.ts";
import { parseExposition, until } from "./support/checking_sink.ts";
import { readUntilClosed } from "./support/sockets.ts";

const encoder = new TextEncoder();
const PARTIAL = encoder.encode("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n");

/** The text `conn` got before the server ended it (rejects if still open after 20 s). */
async function closedByServer(conn: Deno.Conn): Promise<string> {
  return (await readUntilClosed(conn, { text: true })).text;
}

async function partial(port: number): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(PARTIAL);
  return conn;
}

Deno.test("guard: half-sent request heads are closed after the header timeout", async () => {
  const hub = new StreamHub();
  const server = await startServer({
    repository: new MemoryRepository([]),
    hub,
    port: 0,
    connectionGuard: true,
    headerTimeoutMs: 500,
    limits: { maxConnections: 1_000, maxConnectionsPerAddress: 500 },
  });
  try {
    const stalled = await Promise.all(Array.from({ length: 200 }, () => partial(server.port)));
    const closing = stalled.map((conn) => closedByServer(conn));
    // A normal client is answered meanwhile, each on a fresh connection and on a kept one.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${server.url}health`);
      assert.equal(res.status, 200);
      assert.equal((await res.json()).status, "ok");
    }
    // Every stalled connection is closed without an answer (no request ever reached the app).
    for (const text of await Promise.all(closing)) assert.equal(text, "");
  } finally {
    await server.shutdown();
    await hub.close();
  }
});

Deno.test("guard: half-open connections count against the per-address cap", async () => {
  const server = serveGuarded({
    hostname: "127.0.0.1",
    port: 0,
    headerTimeoutMs: 500,
    limits: { maxConnections: 100, maxConnectionsPerAddress: 5 },
    handler: () => new Response("ok"),
  });
  const url = `http://127.0.0.1:${server.addr.port}/`;
  try {
    const stalled = await Promise.all(Array.from({ length: 5 }, () => partial(server.addr.port)));
    await until(() => server.stats().open === 5, "five connections admitted");
    const refused = await fetch(url);
    assert.equal(refused.status, 429);
    assert.match((await refused.json()).error, /maximum of connections/);
    assert.equal(server.stats().refused, 1);
    await Promise.all(stalled.map((conn) => closedByServer(conn)));
    assert.equal(server.stats().headerTimeouts, 5);
    await until(() => server.stats().open === 0, "slots given back");
    const res = await fetch(url);
    assert.equal(await res.text(), "ok");
  } finally {
    await server.shutdown();
  }
});

const T0 = Date.UTC(2021, 3, 17, 16, 0) * 1000;
const trade = (i: number): Trade => ({
  kind: "trade",
  exchange: "coinbase",
  symbol: "BTC-USD",
  ts: T0 + i,
  recvTs: T0 + i,
  id: `t${i}`,
  price: 60_000 + i,
  size: 0.5,
  side: "buy",
});

Deno.test("guard: an idle keep-alive connection is closed; streams are not", async () => {
  const hub = new StreamHub();
  const server = await startServer({
    repository: new MemoryRepository([]),
    hub,
    port: 0,
    connectionGuard: true,
    headerTimeoutMs: 5_000,
    idleTimeoutMs: 400,
  });
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
  const received: string[] = [];
  let wsClosed = false;
  try {
    ws.onmessage = (m) => received.push(...JSON.parse(m.data).map((t: Trade) => t.id));
    ws.onclose = () => wsClosed = true;
    await new Promise((resolve) => ws.onopen = resolve);
    const sse = await fetch(`${server.url}sse`);
    const sseReader = sse.body!.getReader();
    await until(() => hub.stats().clients === 2, "two subscribers");

    // A keep-alive client answered once, then silent: the server closes it after the idle
    // timeout; the answer it got is complete.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(encoder.encode("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    const text = await closedByServer(conn);
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.match(text, /"status":"ok"/);

    // The streams opened before that connection outlived its idle period and still deliver.
    assert.equal(wsClosed, false);
    hub.write([trade(1), trade(2)]);
    await until(() => received.length === 2, "the WebSocket to receive both trades");
    assert.deepEqual(received, ["t1", "t2"]);
    let sseText = "";
    while (!sseText.includes('"id":"t2"')) {
      const { value, done } = await sseReader.read();
      assert.equal(done, false, "the SSE stream is still open");
      sseText += new TextDecoder().decode(value);
    }
    await sseReader.cancel();
  } finally {
    ws.close();
    await server.shutdown();
    await hub.close();
  }
});

Deno.test("guard: timeouts must be positive", () => {
  const handler = () => new Response("ok");
  assert.throws(
    () => serveGuarded({ hostname: "127.0.0.1", port: 0, headerTimeoutMs: 0, handler }),
    RangeError,
  );
  assert.throws(
    () => serveGuarded({ hostname: "127.0.0.1", port: 0, idleTimeoutMs: -1, handler }),
    RangeError,
  );
});

/** One sample of a parsed exposition by name and labels, whatever the label order. */
function sampleOf(samples: Map<string, number>, name: string, labels = ""): number | undefined {
  const want = labels.split(",").filter(Boolean).sort().join(",");
  for (const [key, value] of samples) {
    const brace = key.indexOf("{");
    const keyName = brace < 0 ? key : key.slice(0, brace);
    const keyLabels = brace < 0 ? "" : key.slice(brace + 1, -1).split(",").sort().join(",");
    if (keyName === name && keyLabels === want) return value;
  }
  return undefined;
}

Deno.test("guard: /metrics and /health count open, refused and timed-out connections", async () => {
  const hub = new StreamHub();
  const server = await startServer({
    repository: new MemoryRepository([]),
    hub,
    port: 0,
    connectionGuard: true,
    headerTimeoutMs: 1_000,
    idleTimeoutMs: 1_000,
    limits: { maxConnections: 100, maxConnectionsPerAddress: 5 },
  });
  try {
    // Five half-sent heads take this address's five slots; the next two connections (accepted
    // after them, in order) are refused with 429 by the per-address cap.
    const stalled: Deno.Conn[] = [];
    for (let i = 0; i < 5; i++) stalled.push(await partial(server.port));
    for (let i = 0; i < 2; i++) {
      const extra = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      assert.match(await closedByServer(extra), /^HTTP\/1\.1 429 /);
    }
    // The five are closed, unanswered, once the header timeout passes.
    for (const text of await Promise.all(stalled.map((conn) => closedByServer(conn)))) {
      assert.equal(text, "");
    }
    // One keep-alive client answered once, then silent: closed after the idle timeout.
    const idle = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await idle.write(encoder.encode("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    assert.match(await closedByServer(idle), /^HTTP\/1\.1 200 /);

    // What the test did: 5 header timeouts, 2 refusals by address, none by total, 1 idle
    // timeout; the scrape's own connection is the one open.
    const client = Deno.createHttpClient({});
    try {
      const res = await fetch(`${server.url}metrics`, { client });
      assert.equal(res.status, 200);
      const samples = parseExposition(await res.text());
      const refused = "alphapulse_server_guard_connections_refused_total";
      assert.equal(sampleOf(samples, "alphapulse_server_guard_connections_open"), 1);
      assert.equal(sampleOf(samples, refused, 'reason="address"'), 2);
      assert.equal(sampleOf(samples, refused, 'reason="total"'), 0);
      assert.equal(sampleOf(samples, "alphapulse_server_guard_header_timeouts_total"), 5);
      assert.equal(sampleOf(samples, "alphapulse_server_guard_idle_timeouts_total"), 1);
      const health = await (await fetch(`${server.url}health`, { client })).json();
      assert.deepEqual(health.connections, {
        open: 1,
        refused: 2,
        refusedBy: { total: 0, address: 2 },
        headerTimeouts: 5,
        idleTimeouts: 1,
        writeTimeouts: 0,
        unguardedRefused: 0,
      });
    } finally {
      client.close();
    }
  } finally {
    await server.shutdown();
    await hub.close();
  }
});

Deno.test("guard: an unguarded server has no guard series and no connections in /health", async () => {
  const hub = new StreamHub();
  const server = await startServer({ repository: new MemoryRepository([]), hub, port: 0 });
  try {
    const text = await (await fetch(`${server.url}metrics`)).text();
    assert.ok(text.includes("alphapulse_open_streams"), "the server's own series are there");
    assert.equal(text.includes("alphapulse_server_guard_"), false);
    assert.equal("connections" in await (await fetch(`${server.url}health`)).json(), false);
  } finally {
    await server.shutdown();
    await hub.close();
  }
});

/** A body of `chunks` chunks of 64 KiB, byte `i` of the body being `i % 251`. */
function patterned(chunks: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent === chunks) return controller.close();
      const chunk = new Uint8Array(64 * 1024);
      const start = sent * chunk.length;
      for (let i = 0; i < chunk.length; i++) chunk[i] = (start + i) % 251;
      controller.enqueue(chunk);
      sent++;
    },
  });
}

Deno.test("guard: a client that stops reading is closed after the write timeout", async () => {
  const CHUNKS = 512; // 32 MiB: far more than the socket buffers between the guard and a client
  const server = serveGuarded({
    hostname: "127.0.0.1",
    port: 0,
    writeTimeoutMs: 500,
    handler: () => new Response(patterned(CHUNKS)),
  });
  try {
    const stalled = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await stalled.write(encoder.encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    // A client that reads gets the whole body, byte for byte, while the other one stalls.
    const client = Deno.createHttpClient({});
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`, { client });
    const body = new Uint8Array(await res.arrayBuffer());
    client.close();
    assert.equal(body.length, CHUNKS * 64 * 1024);
    let wrong = 0;
    for (let i = 0; i < body.length; i++) if (body[i] !== i % 251) wrong++;
    assert.equal(wrong, 0);
    await until(() => server.stats().writeTimeouts === 1, "the stalled reader closed");
    const { bytes } = await readUntilClosed(stalled);
    assert.ok(
      bytes < CHUNKS * 64 * 1024,
      `the stalled client got only part of the body (${bytes})`,
    );
    await until(
      () => server.stats().open === 0,
      "both connections closed (the reader's by its client)",
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("guard: a request on the loopback hop that skipped the guard is refused", async () => {
  const server = serveGuarded({
    hostname: "127.0.0.1",
    port: 0,
    handler: () => new Response("ok"),
  });
  try {
    assert.notEqual(server.hopAddr.port, server.addr.port);
    const direct = await fetch(`http://127.0.0.1:${server.hopAddr.port}/`);
    assert.equal(direct.status, 403);
    assert.match((await direct.json()).error, /public address/);
    assert.equal(server.stats().unguardedRefused, 1);
    const guarded = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(await guarded.text(), "ok");
    assert.equal(server.stats().unguardedRefused, 1);
  } finally {
    await server.shutdown();
  }
});
