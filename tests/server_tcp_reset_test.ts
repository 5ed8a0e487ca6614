/**
 * A WebSocket client that never reads, on a loopback bind without the connection guard: the
 * server drops it from the stream, sends its close frame, and when the close handshake cannot
 * complete resets the TCP connection (`server/_tcp_reset.ts`). Whether the connection is open
 * is read from the kernel's table (`/proc/net/tcp`, `/proc/net/tcp6`), not from the server.
 */
import assert from "node:assert/strict";
import type { Trade } from "../lib/market/types.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { startServer, StreamHub } from "../server/mod.ts";
import { canResetTcp, resetTcpConnection } from "../server/_tcp_reset.ts";
import { until } from "./support/checking_sink.ts";
import { readUntilClosed } from "./support/sockets.ts";

/** Whether the kernel holds a TCP connection from local port `local` to peer port `peer`. */
function kernelHolds(local: number, peer: number): boolean {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of Deno.readTextFileSync(table).split("\n").slice(1)) {
      const [, localAddress, peerAddress, state] = line.trim().split(/\s+/);
      if (!localAddress || state === "0A") continue; // 0A: listening
      if (localAddress.endsWith(`:${hex(local)}`) && peerAddress.endsWith(`:${hex(peer)}`)) {
        return true;
      }
    }
  }
  return false;
}

Deno.test("resetTcpConnection resets exactly the connection with the given ends", async () => {
  assert.ok(canResetTcp(), "this machine (Linux, tests run with -A) can reset connections");
  for (const hostname of ["127.0.0.1", "::1"]) {
    const listener = Deno.listen({ hostname, port: 0 });
    const port = listener.addr.port;
    const [client, other] = await Promise.all([
      Deno.connect({ hostname, port }),
      Deno.connect({ hostname, port }),
    ]);
    const accepted = [await listener.accept(), await listener.accept()];
    const clientPort = (client.localAddr as Deno.NetAddr).port;
    const otherPort = (other.localAddr as Deno.NetAddr).port;
    try {
      assert.ok(kernelHolds(port, clientPort) && kernelHolds(port, otherPort));
      assert.equal(
        await resetTcpConnection({ localPort: port, peer: { hostname, port: 1 } }),
        false,
        "no connection has these ends",
      );
      assert.equal(
        await resetTcpConnection({ localPort: port, peer: { hostname, port: clientPort } }),
        true,
      );
      const byPeer = (p: number) =>
        accepted.find((c) => (c.remoteAddr as Deno.NetAddr).port === p)!;
      // Shut down: the owner's pending read ends, the peer sees the end of the stream ...
      assert.equal(await byPeer(clientPort).read(new Uint8Array(16)), null);
      assert.equal(await client.read(new Uint8Array(16)), null);
      // ... and once the owner closes it (as Deno does when its read and write end), the
      // kernel drops the connection at once (SO_LINGER 0: a reset, no FIN_WAIT).
      byPeer(clientPort).close();
      assert.equal(kernelHolds(port, clientPort), false, `${hostname}: gone`);
      assert.ok(kernelHolds(port, otherPort), `${hostname}: the other connection is untouched`);
      await other.write(new Uint8Array([7]));
      const got = new Uint8Array(1);
      assert.equal(await byPeer(otherPort).read(got), 1);
      assert.equal(got[0], 7);
    } finally {
      for (const conn of [client, other, ...accepted]) {
        try {
          conn.close();
        } catch { /* reset already */ }
      }
      listener.close();
    }
  }
});

/** Writes 500 trades to `hub` every 10 ms until the interval is cleared. */
function flood(hub: StreamHub): ReturnType<typeof setInterval> {
  let n = 0;
  return setInterval(() => {
    const ts = 1_618_675_200_000_000 + n;
    hub.write(Array.from({ length: 500 }, (): Trade => ({
      kind: "trade",
      exchange: "coinbase",
      symbol: "BTC-USD",
      ts,
      recvTs: ts,
      id: `trade-${n++}-${"x".repeat(100)}`,
      price: 60_000,
      size: 0.5,
      side: "buy",
    })));
  }, 10);
}

const HEADS = {
  ws: `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  sse: `GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
};

for (const [kind, head] of Object.entries(HEADS)) {
  Deno.test(`a ${kind} client that never reads loses its TCP connection within 10 s`, () =>
    neverReads(head));
}

/** What a test does with a client once the hub has dropped it as slow. */
type AfterDrop = (
  client: { conn: Deno.TcpConn; serverPort: number; clientPort: number },
) => Promise<void>;

/**
 * A server on loopback (no connection guard: the default of `deno task serve`) and a client
 * that sends `head` and then reads nothing while the hub is flooded, until the hub drops it as
 * slow; then `afterDrop`.
 */
async function slowClient(
  head: string,
  options: { readonly closeGraceMs?: number },
  afterDrop: AfterDrop,
): Promise<void> {
  const hub = new StreamHub({ maxStallMs: 1_000 });
  const server = await startServer({
    repository: new MemoryRepository([]),
    hub,
    port: 0,
    closeGraceMs: options.closeGraceMs,
  });
  const warn = console.warn;
  console.warn = () => {};
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    await conn.write(new TextEncoder().encode(head));
    await until(() => hub.stats().clients === 1, "the client to subscribe");
    timer = flood(hub);
    await until(() => hub.stats().slowDisconnects === 1, "the client to be dropped as slow");
    clearInterval(timer);
    const clientPort = (conn.localAddr as Deno.NetAddr).port;
    await afterDrop({ conn, serverPort: server.port, clientPort });
  } finally {
    clearInterval(timer);
    console.warn = warn;
    try {
      conn.close();
    } catch { /* closed by readUntilClosed */ }
    await server.shutdown();
    await hub.close();
  }
}

function neverReads(head: string): Promise<void> {
  return slowClient(head, {}, async ({ conn, serverPort, clientPort }) => {
    assert.ok(kernelHolds(serverPort, clientPort), "connected when dropped from the stream");
    // Neither a close frame nor the end of a response reaches a client that never reads;
    // after the close grace (3 s) the connection is reset.
    await until(() => !kernelHolds(serverPort, clientPort), "the connection to end", 10_000);
    const { bytes } = await readUntilClosed(conn, { limitMs: 5_000 });
    assert.ok(bytes > 0, "what the kernel had already delivered is still readable");
  });
}

Deno.test("an SSE client dropped as slow that reads on gets its error event, then is disconnected", () =>
  // A grace long enough that the client reads before the reset comes.
  slowClient(HEADS.sse, { closeGraceMs: 8_000 }, async ({ conn }) => {
    const { text } = await readUntilClosed(conn, { text: true, limitMs: 15_000 });
    assert.match(text, /event: error\ndata: \{"error":"slow consumer/);
    assert.ok(text.trimEnd().endsWith("0"), "the response ended (its last chunk) before the close");
  }));
