/**
 * WebSocket frames written straight to the TCP socket (`server/_direct_send.ts`): read back by
 * Deno's own WebSocket client and by a frame parser of this file, never cut, and used by the
 * server's streams.
 */
import assert from "node:assert/strict";
import type { Trade } from "../lib/market/types.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { startServer, StreamHub } from "../server/mod.ts";
import { type DirectSocket, findDirectSocket, textFrame } from "../server/_direct_send.ts";
import { webSocketMessagesSent } from "../server/streams.ts";
import { upgradeRequest } from "../bench/_fanout.ts";
import { parseExposition, until } from "./support/checking_sink.ts";
import { trade } from "./support/lake_rows.ts";

/** A server of one WebSocket, with the socket found for direct writes once it is open. */
function serveOne() {
  const opened = Promise.withResolvers<{ socket: WebSocket; direct: DirectSocket }>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req, info) => {
    const peer = info.remoteAddr; // read before the upgrade: the request is closed after it
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = async () => {
      const direct = await findDirectSocket({ localPort: server.addr.port, peer });
      if (direct) opened.resolve({ socket, direct });
      else opened.reject(new Error("the WebSocket's TCP socket was not found"));
    };
    return response;
  });
  return { server, port: server.addr.port, opened: opened.promise };
}

/** Texts whose frames use each length form: 7 bits, 16 bits and 64 bits; multi-byte characters. */
const TEXTS = [
  "a",
  "é".repeat(62) + "x", // 125 bytes
  "é".repeat(63), // 126 bytes
  "[" + "1".repeat(65_533) + "]", // 65,535 bytes
  "€".repeat(21_845) + "x", // 65,536 bytes
  "z".repeat(300_000),
];

Deno.test("frames written straight to the socket reach Deno's WebSocket client whole and in order", async () => {
  const { server, port, opened } = serveOne();
  const client = new WebSocket(`ws://127.0.0.1:${port}/`);
  const received: string[] = [];
  const done = Promise.withResolvers<void>();
  client.onmessage = (message) => {
    received.push(String(message.data));
    if (message.data === "last") done.resolve();
  };
  client.onerror = () => done.reject(new Error("the client saw a broken stream"));
  try {
    const { socket, direct } = await opened;
    socket.send("first");
    let directly = 0;
    for (const text of TEXTS) {
      // As the server's streams do: nothing of WebSocket.send's may still be waiting.
      await until(() => socket.bufferedAmount === 0, "WebSocket.send's bytes to leave");
      const written = direct.write(textFrame(text));
      assert.notEqual(written, "failed");
      if (written === "sent") directly++;
      else socket.send(text);
    }
    await until(() => socket.bufferedAmount === 0, "WebSocket.send's bytes to leave");
    socket.send("last");
    await done.promise;
    assert.deepEqual(received, ["first", ...TEXTS, "last"]);
    assert.ok(directly >= 3, `${directly} of ${TEXTS.length} frames went directly`);
  } finally {
    client.close();
    await server.shutdown();
  }
});

/** The text frames in `bytes` (unmasked, final, as a server sends them), and bytes left over. */
function parseFrames(bytes: Uint8Array): { texts: string[]; rest: number } {
  const texts: string[] = [];
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let at = 0;
  while (at + 2 <= bytes.length) {
    assert.equal(bytes[at], 0x81, `a final text frame at byte ${at}`);
    let length = bytes[at + 1];
    let head = 2;
    if (length === 126) [length, head] = [(bytes[at + 2] << 8) | bytes[at + 3], 4];
    if (length === 127) {
      length = Number(new DataView(bytes.buffer, bytes.byteOffset + at + 2, 8).getBigUint64(0));
      head = 10;
    }
    if (at + head + length > bytes.length) break;
    texts.push(decoder.decode(bytes.subarray(at + head, at + head + length)));
    at += head + length;
  }
  return { texts, rest: bytes.length - at };
}

Deno.test("direct writes to a client that does not read stop while frames still fit, none cut, WebSocket.send's counted", async () => {
  const { server, port, opened } = serveOne();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(upgradeRequest(port, "/"));
    let head = new Uint8Array(0);
    const buffer = new Uint8Array(1 << 16);
    while (!new TextDecoder().decode(head).includes("\r\n\r\n")) {
      const n = await conn.read(buffer);
      assert.ok(n !== null, "the upgrade response");
      head = new Uint8Array([...head, ...buffer.subarray(0, n)]);
    }
    const text = new TextDecoder().decode(head);
    assert.match(text, /^HTTP\/1\.1 101/);
    let bytes = head.subarray(text.indexOf("\r\n\r\n") + 4);
    const { socket, direct } = await opened;
    // The client reads nothing: write 8 KB frames until the socket says it is full.
    let sent = 0;
    for (let i = 0; i < 10_000; i++) {
      const written = direct.write(textFrame(`${String(i).padStart(6, "0")}${"x".repeat(8_186)}`));
      if (written === "full") break;
      assert.equal(written, "sent");
      sent++;
    }
    assert.ok(sent > 10 && sent < 10_000, `${sent} frames written before the socket was full`);
    assert.equal(direct.torn, false);
    assert.equal(direct.failed, false);
    // WebSocket.send's message joins the queue; once told, the next direct write reads the
    // queue again and finds no room even for a 3-byte frame.
    const denoText = "w".repeat(100_000);
    socket.send(denoText);
    await until(() => socket.bufferedAmount === 0, "WebSocket.send's bytes to reach the kernel");
    direct.invalidate();
    assert.equal(direct.write(textFrame("x")), "full");
    // Now read everything: every frame whole, in order, nothing after the last.
    const texts: string[] = [];
    while (texts.length < sent + 1) {
      const n = await conn.read(buffer);
      assert.ok(n !== null, `the stream ended after ${texts.length} of ${sent} frames`);
      const all = new Uint8Array(bytes.length + n);
      all.set(bytes);
      all.set(buffer.subarray(0, n), bytes.length);
      const parsed = parseFrames(all);
      texts.push(...parsed.texts);
      bytes = all.subarray(all.length - parsed.rest);
    }
    assert.equal(texts.length, sent + 1);
    assert.equal(bytes.length, 0);
    assert.equal(texts.pop(), denoText);
    texts.forEach((t, i) => assert.equal(t.slice(0, 6), String(i).padStart(6, "0")));
    assert.ok(texts.every((t) => t.length === 8_192));
  } finally {
    conn.close();
    await server.shutdown();
  }
});

Deno.test("the server's WebSocket streams write directly on a loopback bind, and /metrics counts it", async () => {
  const hub = new StreamHub();
  const server = await startServer({ repository: new MemoryRepository([]), hub, port: 0 });
  const client = new WebSocket(`${server.url.replace("http", "ws")}ws?symbol=BTC-USD`);
  const ids: string[] = [];
  client.onmessage = (m) => ids.push(...JSON.parse(String(m.data)).map((t: Trade) => t.id));
  try {
    await new Promise((resolve) => client.onopen = resolve);
    await until(() => hub.stats().clients === 1, "the subscription");
    const before = webSocketMessagesSent();
    const expected: string[] = [];
    for (let batch = 0; batch < 40; batch++) {
      const trades = Array.from(
        { length: 5 },
        (_, j) => trade(batch * 5 + j, 1_700_000_000_000_000),
      );
      expected.push(...trades.map((t) => t.id));
      hub.write(trades);
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => ids.length === expected.length, "every trade");
    assert.deepEqual(ids, expected);
    const after = webSocketMessagesSent();
    // The first batch may leave before the socket is found; the later ones go directly.
    assert.ok(after.direct - before.direct >= 30, JSON.stringify({ before, after }));
    const metrics = parseExposition(await (await fetch(`${server.url}metrics`)).text());
    assert.equal(metrics.get('alphapulse_ws_messages_sent_total{path="direct"}'), after.direct);
  } finally {
    client.close();
    await server.shutdown();
  }
});
