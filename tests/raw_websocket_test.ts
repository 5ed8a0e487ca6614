/**
 * The raw websocket client against a hand-written server on a TCP socket: every frame kind
 * a feed may send (fragments, binary, ping, masked, larger than the read buffer), the close
 * handshake both ways, and refused handshakes; the same over TLS (`wss://`, a certificate
 * made by the test with `openssl`) with frames and headers cut across TLS records, an
 * untrusted certificate, and `FeedConnection` reconnecting to a `Deno.serve` TLS server.
 * (Against `Deno.serve` websockets it runs in every collector test.)
 */
import assert from "node:assert/strict";
import { RawWebSocket } from "../collectors/runtime/raw_websocket.ts";
import { FeedConnection } from "../collectors/runtime/connection.ts";
import { hasOpenssl, makeTestCertificate, type TestCertificate } from "../bench/_tls_cert.ts";

const encoder = new TextEncoder();
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A server frame (unmasked unless `mask` is given). */
function serverFrame(opcode: number, payload: Uint8Array, fin = true, mask?: number[]) {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = new Uint8Array(head + (mask ? 4 : 0) + n);
  out[0] = (fin ? 0x80 : 0) | opcode;
  if (n < 126) out[1] = n;
  else if (n < 65_536) {
    out[1] = 126;
    out[2] = n >> 8;
    out[3] = n & 255;
  } else {
    out[1] = 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n));
  }
  let at = head;
  if (mask) {
    out[1] |= 0x80;
    out.set(mask, at);
    at += 4;
  }
  for (let i = 0; i < n; i++) out[at + i] = mask ? payload[i] ^ mask[i & 3] : payload[i];
  return out;
}

/** Reads one client frame (always masked); returns opcode and unmasked payload. */
async function readClientFrame(conn: Deno.Conn, pending: { buf: Uint8Array }) {
  const need = async (n: number) => {
    while (pending.buf.length < n) {
      const chunk = new Uint8Array(65_536);
      const r = await conn.read(chunk);
      if (r === null) throw new Error("client went away");
      const next = new Uint8Array(pending.buf.length + r);
      next.set(pending.buf);
      next.set(chunk.subarray(0, r), pending.buf.length);
      pending.buf = next;
    }
  };
  await need(2);
  const b = pending.buf;
  assert.ok(b[1] & 0x80, "client frames are masked");
  let size = b[1] & 127;
  let head = 2;
  if (size === 126) {
    await need(4);
    size = (pending.buf[2] << 8) | pending.buf[3];
    head = 4;
  } else if (size === 127) {
    await need(10);
    size = Number(new DataView(pending.buf.buffer, pending.buf.byteOffset).getBigUint64(2));
    head = 10;
  }
  await need(head + 4 + size);
  const mask = pending.buf.subarray(head, head + 4);
  const payload = pending.buf.slice(head + 4, head + 4 + size).map((x, i) => x ^ mask[i & 3]);
  const opcode = pending.buf[0] & 15;
  pending.buf = pending.buf.slice(head + 4 + size);
  return { opcode, payload };
}

/**
 * A one-connection server running `script` after the handshake (or answering `refuse`);
 * `wss://` with `tls`.
 */
function server(
  script: (conn: Deno.Conn, pending: { buf: Uint8Array }) => Promise<void>,
  refuse?: string,
  tls?: TestCertificate,
) {
  const listener = tls === undefined
    ? Deno.listen({ hostname: "127.0.0.1", port: 0 })
    : Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key });
  const done = (async () => {
    const conn = await listener.accept();
    try {
      const buf = new Uint8Array(4096);
      let request = "";
      while (!request.includes("\r\n\r\n")) {
        request += new TextDecoder().decode(buf.subarray(0, (await conn.read(buf))!));
      }
      assert.match(request, /^GET \/feed\?x=1 HTTP\/1\.1\r\n/);
      if (refuse !== undefined) {
        await conn.write(encoder.encode(refuse));
        return;
      }
      const key = /sec-websocket-key: (\S+)/i.exec(request)![1];
      const accept = btoa(String.fromCharCode(
        ...new Uint8Array(await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID))),
      ));
      await conn.write(encoder.encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      ));
      await script(conn, { buf: new Uint8Array(0) });
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
      listener.close();
    }
  })();
  const scheme = tls === undefined ? "ws" : "wss";
  return { url: `${scheme}://127.0.0.1:${listener.addr.port}/feed?x=1`, done };
}

Deno.test("raw websocket: fragments, binary, ping, masked and huge frames; server closes", async () => {
  const big = "x".repeat(300_000); // more than the 256 KiB read buffer
  const pongs: string[] = [];
  const fake = server(async (conn, pending) => {
    const hello = await readClientFrame(conn, pending);
    assert.equal(hello.opcode, 1);
    assert.equal(new TextDecoder().decode(hello.payload), '{"op":"subscribe"}');
    const parts = ['{"a":', '"frag', 'mented"}'].map((p) => encoder.encode(p));
    const frames = [
      serverFrame(1, parts[0], false),
      serverFrame(9, encoder.encode("are you there")), // a ping between fragments
      serverFrame(0, parts[1], false),
      serverFrame(0, parts[2], true),
      serverFrame(2, encoder.encode("binary text")),
      serverFrame(1, encoder.encode("masked"), true, [1, 2, 3, 4]),
      serverFrame(1, encoder.encode(big)),
      serverFrame(1, encoder.encode("héllo ✓")),
    ];
    // All in one write, the big frame split across reads.
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) {
      all.set(f, at);
      at += f.length;
    }
    await conn.write(all.subarray(0, 1000));
    await conn.write(all.subarray(1000));
    const pong = await readClientFrame(conn, pending);
    assert.equal(pong.opcode, 10);
    pongs.push(new TextDecoder().decode(pong.payload));
    await conn.write(serverFrame(8, new Uint8Array([0x0f, 0xa1, ...encoder.encode("bye")])));
    const close = await readClientFrame(conn, pending);
    assert.equal(close.opcode, 8);
  });
  const socket = new RawWebSocket(fake.url);
  const messages: string[] = [];
  const closed = Promise.withResolvers<{ code: number; reason: string; wasClean: boolean }>();
  let opened = false;
  socket.onopen = () => {
    opened = true;
    assert.equal(socket.readyState, RawWebSocket.OPEN);
    socket.send('{"op":"subscribe"}');
  };
  socket.onmessage = (event) => messages.push(event.data);
  socket.onclose = (event) => closed.resolve(event);
  const event = await closed.promise;
  await fake.done;
  assert.ok(opened);
  assert.deepEqual(messages, [
    '{"a":"fragmented"}',
    "binary text",
    "masked",
    big,
    "héllo ✓",
  ]);
  assert.deepEqual(pongs, ["are you there"]);
  assert.deepEqual(event, { code: 4001, reason: "bye", wasClean: true });
  assert.equal(socket.readyState, RawWebSocket.CLOSED);
  socket.send("ignored after close");
});

Deno.test("raw websocket: the client's close handshake; a lost connection is 1006", async () => {
  const fake = server(async (conn, pending) => {
    const close = await readClientFrame(conn, pending);
    assert.equal(close.opcode, 8);
    assert.equal((close.payload[0] << 8) | close.payload[1], 4000);
    assert.equal(new TextDecoder().decode(close.payload.subarray(2)), "watchdog");
    await conn.write(serverFrame(8, close.payload));
  });
  const socket = new RawWebSocket(fake.url);
  const closed = Promise.withResolvers<{ code: number; wasClean: boolean }>();
  socket.onopen = () => socket.close(4000, "watchdog");
  socket.onclose = (e) => closed.resolve(e);
  assert.deepEqual(await closed.promise, { code: 4000, reason: "watchdog", wasClean: true });
  await fake.done;

  const dropping = server(async () => {}); // accepts, then hangs up without a close frame
  const lost = new RawWebSocket(dropping.url);
  const gone = Promise.withResolvers<{ code: number; wasClean: boolean }>();
  lost.onclose = (e) => gone.resolve(e);
  const event = await gone.promise;
  await dropping.done;
  assert.equal(event.code, 1006);
  assert.equal(event.wasClean, false);
});

Deno.test("raw websocket: refused handshakes fail without opening", async () => {
  for (
    const answer of [
      "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: wrong\r\n\r\n",
    ]
  ) {
    const fake = server(() => Promise.resolve(), answer);
    const socket = new RawWebSocket(fake.url);
    const errors: string[] = [];
    let opened = false;
    const closed = Promise.withResolvers<number>();
    socket.onopen = () => (opened = true);
    socket.onerror = (e) => errors.push(e.message);
    socket.onclose = (e) => closed.resolve(e.code);
    assert.equal(await closed.promise, 1006);
    await fake.done;
    assert.equal(opened, false);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /handshake/);
  }
  // Nothing listening.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const socket = new RawWebSocket(`ws://127.0.0.1:${port}/`);
  const closed = Promise.withResolvers<number>();
  socket.onclose = (e) => closed.resolve(e.code);
  assert.equal(await closed.promise, 1006);
  assert.throws(() => new RawWebSocket("http://127.0.0.1/"), TypeError);
});

const tlsReady = await hasOpenssl();

/** Concatenates frames. */
function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Writes `bytes` in pieces of the given sizes (cycled), each its own write and so its own TLS
 * record, with a pause after each of the first `paused` pieces so the client reads them apart.
 */
async function writeInPieces(conn: Deno.Conn, bytes: Uint8Array, sizes: number[], paused = 0) {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const piece = bytes.subarray(at, at + sizes[i % sizes.length]);
    let rest = piece;
    while (rest.length > 0) rest = rest.subarray(await conn.write(rest));
    at += piece.length;
    if (i < paused) await new Promise((r) => setTimeout(r, 2));
  }
}

Deno.test({
  name: "raw websocket over TLS: frames split across TLS records, both directions",
  ignore: !tlsReady,
  fn: async () => {
    const cert = await makeTestCertificate();
    const big = "y".repeat(70_000); // a 64-bit length header (127) from the server
    const upload = "z".repeat(100_000); // a 64-bit length header from the client
    const received: string[] = [];
    try {
      const fake = server(
        async (conn, pending) => {
          const hello = await readClientFrame(conn, pending);
          assert.equal(new TextDecoder().decode(hello.payload), '{"op":"subscribe"}');
          const parts = ['{"b":', '"split', ' records"}'].map((p) => encoder.encode(p));
          const stream = concat([
            serverFrame(1, parts[0], false),
            serverFrame(9, encoder.encode("ping over tls")),
            serverFrame(0, parts[1], false),
            serverFrame(0, parts[2], true),
            serverFrame(1, encoder.encode(big)),
            serverFrame(2, encoder.encode("binary ✓")),
            serverFrame(1, encoder.encode("masked by the server"), true, [9, 8, 7, 6]),
            serverFrame(1, encoder.encode("ask for the upload")),
          ]);
          // 1 byte (half a 2-byte header), 3, 5 (a 10-byte header cut after 5), then larger.
          await writeInPieces(conn, stream, [1, 3, 5, 2, 7, 1, 4_093, 16_001, 33], 12);
          const pong = await readClientFrame(conn, pending);
          assert.equal(pong.opcode, 10);
          received.push(`pong:${new TextDecoder().decode(pong.payload)}`);
          const up = await readClientFrame(conn, pending);
          assert.equal(up.opcode, 1);
          received.push(
            `upload:${up.payload.length}:${new TextDecoder().decode(up.payload) === upload}`,
          );
          // The close frame cut into three records.
          await writeInPieces(conn, serverFrame(8, new Uint8Array([0x03, 0xe8, 0x6f, 0x6b])), [
            1,
            2,
          ]);
          const close = await readClientFrame(conn, pending);
          assert.equal(close.opcode, 8);
          assert.equal((close.payload[0] << 8) | close.payload[1], 1000);
        },
        undefined,
        cert,
      );
      assert.match(fake.url, /^wss:\/\//);
      const socket = new RawWebSocket(fake.url, { caCerts: [cert.caCert] });
      const messages: string[] = [];
      const closed = Promise.withResolvers<{ code: number; reason: string; wasClean: boolean }>();
      socket.onopen = () => socket.send('{"op":"subscribe"}');
      socket.onmessage = (event) => {
        messages.push(event.data);
        if (event.data === "ask for the upload") socket.send(upload);
      };
      socket.onclose = (event) => closed.resolve(event);
      const event = await closed.promise;
      await fake.done;
      assert.deepEqual(messages, [
        '{"b":"split records"}',
        big,
        "binary ✓",
        "masked by the server",
        "ask for the upload",
      ]);
      assert.deepEqual(received, ["pong:ping over tls", "upload:100000:true"]);
      assert.deepEqual(event, { code: 1000, reason: "ok", wasClean: true });
    } finally {
      await cert.remove();
    }
  },
});

Deno.test({
  name: "raw websocket over TLS: an untrusted certificate fails without opening",
  ignore: !tlsReady,
  fn: async () => {
    const cert = await makeTestCertificate();
    try {
      const listener = Deno.listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert: cert.cert,
        key: cert.key,
      });
      const accepted = (async () => {
        const conn = await listener.accept();
        try {
          await conn.read(new Uint8Array(1024)); // the handshake fails on the client side
        } catch {
          /* expected: the client rejects the certificate */
        } finally {
          conn.close();
          listener.close();
        }
      })();
      const socket = new RawWebSocket(`wss://127.0.0.1:${listener.addr.port}/`); // no caCerts
      const errors: string[] = [];
      let opened = false;
      const closed = Promise.withResolvers<number>();
      socket.onopen = () => (opened = true);
      socket.onerror = (e) => errors.push(e.message);
      socket.onclose = (e) => closed.resolve(e.code);
      assert.equal(await closed.promise, 1006);
      await accepted;
      assert.equal(opened, false);
      assert.equal(errors.length, 1);
      assert.match(errors[0], /certificate|issuer/i);
    } finally {
      await cert.remove();
    }
  },
});

Deno.test({
  name: "FeedConnection over wss:// (Deno.serve, TLS), default transport: reconnects, resubscribes",
  ignore: !tlsReady,
  fn: async () => {
    const cert = await makeTestCertificate();
    const subscribes: string[] = [];
    let connections = 0;
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: cert.cert,
      key: cert.key,
      onListen: () => {},
    }, (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      const n = ++connections;
      socket.onmessage = (event) => {
        subscribes.push(`${n}:${event.data}`);
        for (let i = 0; i < 3; i++) socket.send(`{"connection":${n},"i":${i}}`);
        // The first connection is dropped by the server; the second stays.
        if (n === 1) socket.close(1011, "going away");
      };
      return response;
    });
    const frames: string[] = [];
    const opens: boolean[] = [];
    const sixth = Promise.withResolvers<void>();
    const conn = new FeedConnection({
      url: `wss://localhost:${server.addr.port}/feed`, // the default transport: ours
      caCerts: [cert.caCert],
      subscribeMessages: () => ['{"type":"subscribe"}'],
      onFrame: (frame) => {
        frames.push(frame);
        if (frames.length === 6) sixth.resolve();
      },
      onOpen: ({ reconnect }) => opens.push(reconnect),
      backoff: { initialMs: 10, maxMs: 20 },
      log: () => {},
    });
    try {
      conn.start();
      await sixth.promise;
      assert.deepEqual(frames, [
        '{"connection":1,"i":0}',
        '{"connection":1,"i":1}',
        '{"connection":1,"i":2}',
        '{"connection":2,"i":0}',
        '{"connection":2,"i":1}',
        '{"connection":2,"i":2}',
      ]);
      assert.deepEqual(subscribes, ['1:{"type":"subscribe"}', '2:{"type":"subscribe"}']);
      assert.deepEqual(opens, [false, true]);
      assert.equal(conn.stats.reconnects, 1);
    } finally {
      await conn.stop();
      await server.shutdown();
      await cert.remove();
    }
  },
});
