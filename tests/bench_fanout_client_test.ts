/**
 * The fan-out benchmark's load-generating clients (`bench/fanout_client.c`, and the Deno
 * clients of `bench/_fanout_clients.ts` where the same check applies): against a real server
 * every client counts exactly the trades the test published for its symbol, and the order
 * breaks the test counted in them; against a tiny server of the test's own, frames cut at
 * every byte boundary, several frames in one write, 16- and 64-bit lengths, a ping, a close
 * frame and a server that closes the socket are each handled as RFC 6455 says; a message
 * whose events cannot all be read ends the client with an error; the C client's clock is the
 * one the server stamps with.
 */
import assert from "node:assert/strict";
import type { Trade } from "../lib/market/types.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { startServer, StreamHub } from "../server/mod.ts";
import { upgradeRequest } from "../bench/_fanout.ts";
import { buildFanoutClient } from "../bench/_fanout_c.ts";

type Kind = "c" | "deno";
const BUCKETS = 50_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function binary(): Promise<string> {
  const build = await buildFanoutClient();
  if (!build.ok) throw new Error(`the C client does not build: ${build.reason}`);
  return build.path;
}

/** A client process of `kind` with its stdout read line by line. */
async function spawnClients(kind: Kind, args: string[]) {
  const [command, prefix] = kind === "c" ? [await binary(), []] : [Deno.execPath(), [
    "run",
    "-A",
    new URL("../bench/_fanout_clients.ts", import.meta.url)
      .pathname,
  ]];
  const child = new Deno.Command(command, {
    args: [...prefix, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stdin = child.stdin.getWriter();
  const stderr = new Response(child.stderr).text();
  let pending = "";
  const line = async (): Promise<string> => {
    while (!pending.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the client process ended: ${await stderr}`);
      pending += value;
    }
    const [first] = pending.split("\n", 1);
    pending = pending.slice(first.length + 1);
    return first;
  };
  const send = (command: string) => stdin.write(new TextEncoder().encode(command + "\n"));
  return {
    child,
    line,
    send,
    /** `stop`'s report. */
    report: async (): Promise<Report> => {
      await send("stop");
      return JSON.parse(await line());
    },
    /** Sends `exit` and waits for the process; its stderr. */
    end: async (): Promise<string> => {
      await send("exit").catch(() => {});
      await stdin.close().catch(() => {});
      await reader.cancel().catch(() => {});
      await child.status;
      return await stderr;
    },
  };
}

interface Report {
  events: number;
  messages: number;
  breaks: number;
  closed: number;
  histogram: [number, number][];
}

/** Polls `stop` until `done` holds (at most ~10 s); the last report. */
async function reportWhen(
  clients: { report(): Promise<Report> },
  done: (r: Report) => boolean,
): Promise<Report> {
  let r = await clients.report();
  for (let i = 0; i < 1_000 && !done(r); i++) {
    await sleep(10);
    r = await clients.report();
  }
  return r;
}

const nowMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

function trade(symbol: string, id: number, recvTs: number): Trade {
  return {
    kind: "trade",
    exchange: "load",
    symbol,
    ts: recvTs,
    recvTs,
    id: String(id),
    price: 100 + id / 100,
    size: 0.01,
    side: id % 2 ? "buy" : "sell",
  };
}

for (const kind of ["c", "deno"] as const) {
  Deno.test(`${kind} fan-out clients count exactly the trades of their symbol and their order breaks`, async () => {
    const hub = new StreamHub();
    const server = await startServer({ repository: new MemoryRepository([]), hub, port: 0 });
    const count = 6;
    const offset = 1;
    const clients = await spawnClients(kind, [
      ...["--url", server.url.replace("http", "ws"), "--count", String(count)],
      ...["--offset", String(offset), "--symbols", "3"],
    ]);
    try {
      assert.equal(await clients.line(), "ready");
      // A client's socket is open before the server has subscribed it (the server's open
      // event comes after): a write before then would not reach it.
      for (let i = 0; i < 1_000 && hub.stats().clients < count; i++) await sleep(10);
      assert.equal(hub.stats().clients, count, "every client subscribed");
      await clients.send("start");
      // The clients read their commands in order, so once `stop` is answered `start` has been
      // done: events that arrived before it would otherwise be forgotten (direct writes from
      // the server can beat the command to the clients).
      assert.equal((await clients.report()).events, 0);
      // 12 writes of 1-8 trades over SYM0-SYM3 (SYM3 has no subscriber); SYM1 skips an id in
      // write 4, SYM2 repeats one in write 7. Write 9 carries a SYM0 trade stamped at epoch 0
      // (latency past the histogram: its last bucket) and a SYM2 trade stamped 1,000 s ahead
      // (negative latency: bucket 0).
      const sequence = [0, 0, 0, 0];
      const published: Trade[][] = [];
      let seed = 7;
      const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
      for (let w = 0; w < 12; w++) {
        if (w === 4) sequence[1]++;
        if (w === 7) sequence[2]--;
        // Writes 0, 4 and 7 start with a trade of every symbol (so the skip and the repeat
        // are each seen by their symbol's clients, after a trade before them).
        const batch: Trade[] = [0, 4, 7].includes(w)
          ? [0, 1, 2, 3].map((s) => trade(`SYM${s}-USD`, sequence[s]++, nowMicros()))
          : [];
        const n = 1 + Math.floor(random() * 8);
        for (let k = 0; k < n; k++) {
          const s = Math.floor(random() * 4);
          batch.push(trade(`SYM${s}-USD`, sequence[s]++, nowMicros()));
        }
        if (w === 9) {
          batch.push(trade("SYM0-USD", sequence[0]++, 0));
          batch.push(trade("SYM2-USD", sequence[2]++, nowMicros() + 1e9));
        }
        published.push(batch);
      }
      // The test's own count: client i follows SYM<(offset + i) % 3>-USD.
      const symbolOf = (i: number) => `SYM${(offset + i) % 3}-USD`;
      let events = 0;
      let messages = 0;
      let breaks = 0;
      const last = new Map<number, number>();
      for (const batch of published) {
        for (let i = 0; i < count; i++) {
          const mine = batch.filter((t) => t.symbol === symbolOf(i));
          if (mine.length > 0) messages++;
          for (const t of mine) {
            const id = Number(t.id);
            if (last.has(i) && id !== last.get(i)! + 1) breaks++;
            last.set(i, id);
            events++;
          }
        }
      }
      assert.equal(breaks, 2 + 2, "SYM1's skip and SYM2's repeat, at 2 clients each");
      // One write at a time, each received in full before the next: one message per client
      // that had trades in it.
      let received = 0;
      for (const batch of published) {
        for (let i = 0; i < count; i++) {
          received += batch.filter((t) => t.symbol === symbolOf(i)).length;
        }
        hub.write(batch);
        const r = await reportWhen(clients, (r) => r.events >= received);
        assert.equal(r.events, received);
      }
      const r = await clients.report();
      assert.equal(r.events, events);
      assert.equal(r.messages, messages);
      assert.equal(r.breaks, breaks);
      assert.equal(r.closed, 0);
      assert.equal(r.histogram.reduce((sum, [, n]) => sum + n, 0), events);
      const bucket = (b: number) => r.histogram.find(([at]) => at === b)?.[1] ?? 0;
      assert.ok(bucket(BUCKETS - 1) >= 2, "the epoch-0 stamp, at both SYM0 clients");
      assert.ok(bucket(0) >= 2, "the future stamp, at both SYM2 clients");
      // `start` forgets the counts, not the closed sockets; the server going closes them all.
      await clients.send("start");
      await server.shutdown();
      const after = await reportWhen(clients, (r) => r.closed === count);
      assert.deepEqual(after, { events: 0, messages: 0, breaks: 0, closed: count, histogram: [] });
    } finally {
      await clients.end();
      await server.shutdown().catch(() => {});
      await hub.close();
    }
  });
}

/**
 * A WebSocket frame from the server (unmasked), its length in `lengthBytes` extra bytes (the
 * fewest that hold it by default).
 */
function frame(opcode: number, payload: Uint8Array, lengthBytes?: 0 | 2 | 8): Uint8Array {
  lengthBytes ??= payload.length < 126 ? 0 : payload.length < 65_536 ? 2 : 8;
  const head = lengthBytes === 0
    ? [0x80 | opcode, payload.length]
    : lengthBytes === 2
    ? [0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff]
    : [0x80 | opcode, 127, 0, 0, 0, 0, ...[24, 16, 8, 0].map((s) => (payload.length >> s) & 0xff)];
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

/** A message of one event with only the fields the clients read, under 126 bytes. */
function small(id: number, recvTs: number): Uint8Array {
  return new TextEncoder().encode(`[{"recvTs":${recvTs},"id":"${id}"}]`);
}

function text(trades: Trade[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(trades));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const SWITCHING = new TextEncoder().encode(
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
);

/** Accepts `count` upgrades; each connection with the symbol index its request asked for. */
async function acceptUpgrades(listener: Deno.Listener, count: number) {
  const port = (listener.addr as Deno.NetAddr).port;
  const conns = new Map<number, Deno.Conn>();
  for (let k = 0; k < count; k++) {
    const conn = await listener.accept();
    let request = "";
    const buf = new Uint8Array(4096);
    while (!request.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("closed before its request");
      request += new TextDecoder().decode(buf.subarray(0, n));
    }
    const symbol = Number(/symbol=SYM(\d+)-USD/.exec(request)![1]);
    const expected = upgradeRequest(port, `/ws?kinds=trade&symbol=SYM${symbol}-USD`);
    assert.equal(request, new TextDecoder().decode(expected), "the upgrade of _fanout.ts");
    conns.set(symbol, conn);
  }
  return conns;
}

/** Writes `bytes` in pieces of the sizes in `sizes` (cycling), pausing between them. */
async function writeCut(conn: Deno.Conn, bytes: Uint8Array, sizes: number[]): Promise<number> {
  let writes = 0;
  for (let at = 0; at < bytes.length; writes++) {
    const end = Math.min(bytes.length, at + sizes[writes % sizes.length]);
    await conn.write(bytes.subarray(at, end));
    at = end;
    await sleep(2);
  }
  return writes;
}

/** Everything `conn` sends until it closes. */
async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return concat(parts);
    parts.push(buf.slice(0, n));
  }
}

/** The client's frames: each must be masked (RFC 6455 5.3); opcode and unmasked payload. */
function clientFrames(bytes: Uint8Array): { opcode: number; payload: number[] }[] {
  const frames = [];
  for (let at = 0; at < bytes.length;) {
    assert.equal(bytes[at + 1] & 0x80, 0x80, "a client frame is masked");
    const size = bytes[at + 1] & 0x7f;
    assert.ok(size < 126, "control frames only");
    const key = bytes.subarray(at + 2, at + 6);
    const payload = Array.from(bytes.subarray(at + 6, at + 6 + size), (b, i) => b ^ key[i & 3]);
    frames.push({ opcode: bytes[at] & 0x0f, payload });
    at += 6 + size;
  }
  return frames;
}

Deno.test("the C client reads frames cut anywhere, 16/64-bit lengths, pings, close frames and closed sockets", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const clients = await spawnClients("c", [
    ...["--url", `ws://127.0.0.1:${port}/`, "--count", "3", "--symbols", "3"],
  ]);
  let conns = new Map<number, Deno.Conn>();
  try {
    conns = await acceptUpgrades(listener, 3);
    const now = nowMicros();
    const run = (symbol: number, from: number, n: number) =>
      Array.from({ length: n }, (_, k) => trade(`SYM${symbol}-USD`, from + k, now));
    // SYM0: ids 0-705 in three messages (7-bit, 16-bit and 64-bit lengths: the last 70 kB,
    // past the client's first buffer), a ping between them, then 707-708 (a break: 706 is
    // skipped) under a 64-bit length of a small payload, one stamped at epoch 0, a close.
    const stream0 = concat([
      frame(1, small(0, now), 0),
      frame(1, text(run(0, 1, 5)), 2),
      frame(9, new TextEncoder().encode("hello")),
      frame(1, text(run(0, 6, 700)), 8),
      frame(1, text(run(0, 707, 2)), 8),
      frame(1, small(709, 0), 0),
      frame(8, new Uint8Array([0x03, 0xe8])),
    ]);
    assert.ok(stream0.length > 65_536 + 10);
    // The first message and 3 bytes of the next go out with the upgrade response; the rest
    // cut at every size from 1 byte (inside a header, inside a 2- or 8-byte length) to
    // several frames at once.
    const first = frame(1, small(0, now), 0).length + 3;
    await conns.get(0)!.write(concat([SWITCHING, stream0.subarray(0, first)]));
    for (const symbol of [1, 2]) await conns.get(symbol)!.write(SWITCHING);
    assert.equal(await clients.line(), "ready");
    // `start` after ready: the first message arrived before it and is forgotten.
    await clients.send("start");
    const sent0 = readAll(conns.get(0)!);
    const sizes = [1, 1, 2, 3, 1, 9, 64, 700, 1, 3_000, 5, 7_000, 2, 13, 20_000];
    const writes = await writeCut(conns.get(0)!, stream0.subarray(first), sizes);
    assert.ok(writes > 30);
    // SYM1: two messages in one write, then the server closes the socket.
    await conns.get(1)!.write(concat([frame(1, text(run(1, 0, 2))), frame(1, text(run(1, 2, 1)))]));
    conns.get(1)!.close();
    // SYM2: a message stamped 1,000 s ahead (bucket 0); the socket stays open.
    await conns.get(2)!.write(frame(1, small(0, now + 1e9), 0));
    const r = await reportWhen(clients, (r) => r.closed === 2 && r.events === 708 + 3 + 1);
    // By hand: SYM0 5 + 700 + 2 + 1 events in 4 messages (the first was before start), one
    // break; SYM1 3 in 2; SYM2 1 in 1.
    assert.equal(r.events, 708 + 3 + 1);
    assert.equal(r.messages, 4 + 2 + 1);
    assert.equal(r.breaks, 1);
    assert.equal(r.closed, 2);
    assert.equal(r.histogram.reduce((sum, [, n]) => sum + n, 0), 712);
    assert.deepEqual(r.histogram.at(-1), [BUCKETS - 1, 1], "the epoch-0 stamp");
    assert.ok(r.histogram[0][0] === 0 && r.histogram[0][1] >= 1, "the future stamp");
    // What the client sent on SYM0: a masked pong echoing the ping, a masked close echoing 1000.
    const replies = clientFrames(await sent0);
    assert.deepEqual(replies, [
      { opcode: 0xa, payload: Array.from(new TextEncoder().encode("hello")) },
      { opcode: 0x8, payload: [0x03, 0xe8] },
    ]);
  } finally {
    await clients.end();
    for (const conn of conns.values()) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }
});

for (const kind of ["c", "deno"] as const) {
  Deno.test(`a message whose events cannot all be read ends the ${kind} client with an error`, async () => {
    // A `{` without its recvTs/id, and a "v" that is not recvTs's.
    const bad = [[{ kind: "trade", id: "1" }], [{ venue: 1, recvTs: 5, id: "1" }]];
    for (const message of bad) {
      using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (listener.addr as Deno.NetAddr).port;
      const clients = await spawnClients(kind, [
        "--url",
        `ws://127.0.0.1:${port}/`,
        "--count",
        "1",
      ]);
      const conn = (await acceptUpgrades(listener, 1)).get(0)!;
      await conn.write(SWITCHING);
      assert.equal(await clients.line(), "ready");
      await conn.write(frame(1, new TextEncoder().encode(JSON.stringify(message))));
      // Until the process ends, `stop` must never report the message as read.
      for (;;) {
        const report = await clients.report().catch(() => undefined);
        if (report === undefined) break;
        assert.equal(report.messages, 0, `the client read ${JSON.stringify(message)}`);
        await sleep(10);
      }
      const status = await clients.child.status;
      assert.equal(status.code, 1, JSON.stringify(message));
      await clients.end();
      conn.close();
    }
  });
}

Deno.test("the C client's clock is the one the server stamps recvTs with (within 1 ms)", async () => {
  const child = new Deno.Command(await binary(), {
    args: ["--clock"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (let i = 0; i < 20; i++) {
      const before = (performance.timeOrigin + performance.now()) * 1000;
      await writer.write(new TextEncoder().encode("now\n"));
      const { value } = await reader.read();
      const after = (performance.timeOrigin + performance.now()) * 1000;
      const reading = Number(value!.trim());
      // Read between the two of ours, however long that took, give or take 1 ms.
      assert.ok(
        reading >= before - 1_000 && reading <= after + 1_000,
        `${before} ${reading} ${after}`,
      );
    }
  } finally {
    await writer.close();
    await reader.cancel();
    await child.status;
  }
});
