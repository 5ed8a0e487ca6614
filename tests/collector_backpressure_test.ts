/**
 * Backpressure of a live collector: a local websocket server floods Coinbase book changes
 * (the benchmark's generated stream, `bench/_collect_feed.ts`, with pings between them)
 * faster than a deliberately slow buffering sink stores them. With the raw transport the
 * collector stops reading while the sink queue is full: every event is stored exactly once
 * (counts and sums computed from the server's own messages), nothing is dropped, the queue
 * never holds more than its capacity, the watchdog does not mistake the pauses for a silent
 * venue, and the server's pings are all answered. With the runtime's `WebSocket`, which
 * cannot stop reading, and with pauses longer than allowed, the queue drops what does not
 * fit (counted, `gap` statuses), as before.
 * @module
 */
import assert from "node:assert/strict";
import { encodeFrames, generateCoinbaseStream } from "../bench/_collect_feed.ts";
import { Collector } from "../collectors/runtime/collector.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { BookKeeper } from "../lib/book/book_keeper.ts";
import type { EventSink, MarketEvent } from "../lib/market/mod.ts";
import { until } from "./support/checking_sink.ts";

const CAPACITY = 300;
const FLUSH_AT = 75;

/** A buffering sink whose flushes take `delayMs`; `pending` counts events in flight too. */
class SlowStore implements EventSink {
  readonly stored: MarketEvent[] = [];
  #held: MarketEvent[] = [];
  #inFlight = 0;
  maxPending = 0;
  constructor(readonly delayMs: number) {}
  get pending(): number {
    return this.#held.length + this.#inFlight;
  }
  write(events: readonly MarketEvent[]): void {
    for (const e of events) this.#held.push(e);
    if (this.pending > this.maxPending) this.maxPending = this.pending;
  }
  async flush(): Promise<number> {
    const batch = this.#held;
    this.#held = [];
    this.#inFlight += batch.length;
    await new Promise((r) => setTimeout(r, this.delayMs));
    for (const e of batch) this.stored.push(e);
    this.#inFlight -= batch.length;
    return batch.length;
  }
  close(): Promise<void> {
    return this.flush().then(() => {});
  }
}

/** What the server sent, from its own JSON. */
interface Sent {
  changes: number;
  trades: number;
  levels: number;
  prices: number;
  sizes: number;
  tradeSizes: number;
}

function sentTotals(frames: readonly string[]): Sent {
  const t: Sent = { changes: 0, trades: 0, levels: 0, prices: 0, sizes: 0, tradeSizes: 0 };
  for (const frame of frames) {
    const msg = JSON.parse(frame);
    if (msg.type === "match") {
      t.trades++;
      t.tradeSizes += Number(msg.size);
    } else if (msg.type === "l2update") {
      t.changes++;
      for (const [, price, size] of msg.changes as string[][]) {
        t.levels++;
        t.prices += Number(price);
        t.sizes += Number(size);
      }
    }
  }
  return t;
}

/** The same figures from what the sink stored. */
function storedTotals(events: readonly MarketEvent[]): Sent {
  const t: Sent = { changes: 0, trades: 0, levels: 0, prices: 0, sizes: 0, tradeSizes: 0 };
  for (const e of events) {
    if (e.kind === "trade") {
      t.trades++;
      t.tradeSizes += e.size;
    } else if (e.kind === "book_change") {
      t.changes++;
      for (const [price, size] of [...e.bids, ...e.asks]) {
        t.levels++;
        t.prices += price;
        t.sizes += size;
      }
    }
  }
  return t;
}

function assertTotals(got: Sent, want: Sent): void {
  assert.equal(got.changes, want.changes, "book changes");
  assert.equal(got.trades, want.trades, "trades");
  assert.equal(got.levels, want.levels, "levels");
  for (const k of ["prices", "sizes", "tradeSizes"] as const) {
    assert.ok(
      Math.abs(got[k] - want[k]) <= 1e-9 * Math.abs(want[k]),
      `${k}: ${got[k]} != ${want[k]}`,
    );
  }
}

/** A ping frame from the server (unmasked) with a 4-byte counter as payload. */
function ping(n: number): Uint8Array {
  return new Uint8Array([0x89, 4, n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255]);
}

interface FloodServer {
  readonly url: string;
  /** Pings sent and the pongs with a matching payload received. */
  readonly pings: number;
  readonly pongs: number;
  /** Resolves when the whole stream was written to the socket. */
  readonly written: Promise<void>;
  close(): Promise<void>;
}

/**
 * A raw TCP websocket server: after the client's first message it writes `frames` as fast
 * as TCP takes them, a ping every `pingEvery` frames, then a `subscriptions` frame every
 * 20 ms (a live, idle venue) until the client closes.
 */
function startFloodServer(frames: readonly string[], pingEvery: number): FloodServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const encoder = new TextEncoder();
  const written = Promise.withResolvers<void>();
  const state = { pings: 0, pongs: 0 };
  const conns: Deno.Conn[] = [];
  const serving: Promise<void>[] = [];
  const serve = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(1 << 16);
    let request = "";
    while (!request.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) return;
      request += new TextDecoder().decode(buf.subarray(0, n));
    }
    const key = /sec-websocket-key: *(\S+)/i.exec(request)![1];
    const digest = await crypto.subtle.digest(
      "SHA-1",
      encoder.encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    );
    await conn.write(encoder.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${btoa(String.fromCharCode(...new Uint8Array(digest)))}\r\n\r\n`,
    ));
    let closed = false;
    const subscribed = Promise.withResolvers<void>();
    // Client frames (masked): the subscribe, pongs, the close.
    const reading = (async () => {
      let pending = new Uint8Array(0);
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        const joined = new Uint8Array(pending.length + n);
        joined.set(pending);
        joined.set(buf.subarray(0, n), pending.length);
        let off = 0;
        while (joined.length - off >= 6) {
          const opcode = joined[off] & 15;
          let size = joined[off + 1] & 127;
          let head = 2;
          if (size === 126) {
            size = (joined[off + 2] << 8) | joined[off + 3];
            head = 4;
          }
          if (joined.length - off < head + 4 + size) break;
          const mask = joined.subarray(off + head, off + head + 4);
          const payload = joined.slice(off + head + 4, off + head + 4 + size);
          for (let i = 0; i < size; i++) payload[i] ^= mask[i & 3];
          off += head + 4 + size;
          if (opcode === 1) subscribed.resolve();
          if (opcode === 10 && size === 4) {
            const k = (payload[0] << 24) | (payload[1] << 16) | (payload[2] << 8) | payload[3];
            if (k === state.pongs + 1) state.pongs++;
          }
          if (opcode === 8) {
            closed = true;
            await conn.write(new Uint8Array([0x88, 0])).catch(() => {});
            conn.close();
            return;
          }
        }
        pending = joined.slice(off);
      }
      closed = true;
    })();
    await subscribed.promise;
    try {
      for (let i = 0; i < frames.length; i += pingEvery) {
        let chunk = encodeFrames(frames.slice(i, i + pingEvery));
        while (chunk.length > 0) chunk = chunk.subarray(await conn.write(chunk));
        if (i + pingEvery < frames.length) await conn.write(ping(++state.pings));
      }
      written.resolve();
      const idle = encodeFrames(['{"type":"subscriptions","channels":[]}']);
      while (!closed) {
        await conn.write(idle);
        await new Promise((r) => setTimeout(r, 20));
      }
    } catch {
      // the client went away
    }
    await reading;
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      serving.push(serve(conn));
    }
  })();
  return {
    url: `ws://127.0.0.1:${listener.addr.port}`,
    get pings() {
      return state.pings;
    },
    get pongs() {
      return state.pongs;
    },
    written: written.promise,
    async close() {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await Promise.allSettled(serving);
    },
  };
}

const FRAMES = generateCoinbaseStream({ messages: 3_000, products: 3, depth: 20, seed: 5 });
const SENT = sentTotals(FRAMES);

function collectorOn(
  url: string,
  sink: EventSink,
  options: { transport: "raw" | "native"; maxReadPauseMs?: number; logs: string[] },
): Collector {
  return new Collector({
    exchange: "coinbase",
    url,
    symbols: ["P0-USD", "P1-USD", "P2-USD"],
    sinks: [sink],
    books: new BookKeeper({ exchange: "coinbase", integrity: null }),
    queue: { capacity: CAPACITY, flushAt: FLUSH_AT },
    flushEveryMs: 1_000,
    maxReadPauseMs: options.maxReadPauseMs,
    // Shorter than every pause (a flush takes 250 ms): a watchdog counting paused time as
    // silence would restart the connection.
    connection: {
      transport: options.transport,
      watchdogMs: 100,
      log: (r) => options.logs.push(JSON.stringify(r)),
    },
    diagnostics: new FeedDiagnostics({ log: () => {} }),
  });
}

Deno.test("collector, raw transport: a flood into a slow sink pauses reading, every event stored once, none dropped", async () => {
  const server = startFloodServer(FRAMES, 250);
  const store = new SlowStore(250);
  const logs: string[] = [];
  const collector = collectorOn(server.url, store, { transport: "raw", logs });
  try {
    collector.start();
    await until(() => collector.summary().messages >= FRAMES.length, "every frame handled");
    // While every frame was handled: one connection, no watchdog restart.
    assert.equal(collector.connection.stats.watchdogRestarts, 0, logs.join("\n"));
    assert.equal(collector.connection.stats.reconnects, 0);
    const summary = await collector.stop();
    assert.ok(summary.read_pauses! > 0, "the flood outran the sink: reading paused");
    assert.equal(summary.read_pause_timeouts, 0);
    assert.equal(summary.events_dropped, 0);
    assert.equal(collector.queue.stats.droppedEvents, 0);
    assert.ok(store.maxPending <= CAPACITY, `held at most ${store.maxPending}`);
    assert.ok(collector.queue.stats.maxDepth <= CAPACITY);
    assert.ok(!store.stored.some((e) => e.kind === "status" && e.status === "gap"));
    assertTotals(storedTotals(store.stored), SENT);
    // Exactly once: every change has its own venue time in the generated stream.
    const times = store.stored.filter((e) => e.kind === "book_change").map((e) => e.ts);
    assert.equal(new Set(times).size, SENT.changes, "no book change stored twice");
    assert.ok(server.pings > 0);
    assert.equal(server.pongs, server.pings, "every ping answered, after the pauses");
  } finally {
    await collector.stop();
    await server.close();
  }
});

Deno.test("collector, native transport: cannot pause, the full queue drops (counted, gap statuses)", async () => {
  const server = startFloodServer(FRAMES, 250);
  const store = new SlowStore(250);
  const logs: string[] = [];
  const collector = collectorOn(server.url, store, { transport: "native", logs });
  try {
    collector.start();
    await until(() => collector.summary().messages >= FRAMES.length, "every frame handled");
    const summary = await collector.stop();
    assert.equal(summary.read_pauses, 0);
    const dropped = collector.queue.stats.droppedEvents;
    assert.ok(dropped > 0, "the slow sink fell behind");
    assert.equal(summary.events_dropped, dropped);
    const gaps = store.stored.filter((e) =>
      e.kind === "status" && e.status === "gap" && e.reason.startsWith("sink queue full")
    );
    assert.ok(gaps.length > 0, "the holes are marked in what the sink stores");
    const got = storedTotals(store.stored);
    // Stored + dropped = sent (the 3 snapshots are events too); trades within the reserve.
    assert.equal(got.changes + got.trades + 3 + dropped, SENT.changes + SENT.trades + 3);
    assert.equal(got.trades + summary.trades_dropped!, SENT.trades);
    assert.ok(logs.some((l) => l.includes("sink queue full")));
  } finally {
    await collector.stop();
    await server.close();
  }
});

Deno.test("collector, raw transport: a pause longer than maxReadPauseMs falls back to counted drops, logged once per episode", async () => {
  const server = startFloodServer(FRAMES, 250);
  const store = new SlowStore(250);
  const logs: string[] = [];
  const collector = collectorOn(server.url, store, { transport: "raw", maxReadPauseMs: 20, logs });
  try {
    collector.start();
    await until(() => collector.summary().messages >= FRAMES.length, "every frame handled");
    assert.equal(collector.connection.stats.watchdogRestarts, 0);
    const summary = await collector.stop();
    assert.ok(summary.read_pause_timeouts! > 0, "pauses outlasted 20 ms");
    const timeoutLogs = logs.filter((l) => l.includes("longest read pause"));
    assert.equal(timeoutLogs.length, summary.read_pause_timeouts);
    const dropped = collector.queue.stats.droppedEvents;
    assert.ok(dropped > 0);
    const got = storedTotals(store.stored);
    assert.equal(got.changes + got.trades + dropped, SENT.changes + SENT.trades);
    assert.ok(store.stored.some((e) => e.kind === "status" && e.status === "gap"));
  } finally {
    await collector.stop();
    await server.close();
  }
});

Deno.test("sink queue: onFull before the largest write seen no longer fits, whenRoom after a flush made room", async () => {
  const { SinkQueue } = await import("../collectors/runtime/sink_queue.ts");
  const store = new SlowStore(0);
  let full = 0;
  const queue = new SinkQueue({
    sinks: [store],
    capacity: 5,
    flushAt: 2,
    onFull: () => full++,
    log: () => {},
  });
  const change = (ts: number): MarketEvent => ({
    kind: "book_change",
    exchange: "x",
    symbol: "A-B",
    bids: [[1, 1]],
    asks: [],
    ts,
    recvTs: ts,
  });
  queue.write([change(1), change(2)]); // 2 held, 3 free >= 2: room for the largest write
  assert.equal(full, 0);
  queue.write([change(3)]); // 3 held, 2 free >= 2
  assert.equal(full, 0);
  queue.write([change(4)]); // 4 held, 1 free < 2: the next write of 2 would not fit
  assert.equal(full, 1);
  let roomy = false;
  const room = queue.whenRoom().then(() => roomy = true);
  await Promise.resolve();
  assert.equal(roomy, false, "held 4 >= flushAt 2: no room yet");
  await queue.flush();
  await room;
  assert.equal(roomy, true);
  assert.equal(queue.stats.droppedEvents, 0);
  assert.equal(store.stored.length, 4);
});
