/**
 * `DurableDelivery` (lib/delivery) against an in-memory store that can be taken down:
 * batches spill while it is down and replay in order, once, when it is back; a refused
 * batch is dropped and counted; segments left by an earlier process replay at start. And
 * the typed sink capabilities (`lib/market/sink.ts`) as the `SinkQueue` uses them.
 */
import assert from "node:assert/strict";
import { DurableDelivery, type SpillableBatch } from "../lib/delivery/mod.ts";
import {
  type BackpressureReporting,
  type EventSink,
  isBuffering,
  isDurable,
  type MarketEvent,
  reportsBackpressure,
} from "../lib/market/mod.ts";
import { SinkQueue } from "../collectors/runtime/sink_queue.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";

class Down extends Error {}
class Refused extends Error {}

/** A store of text lines, idempotent per line, that can be down or refuse a table. */
class FakeStore {
  up = true;
  refuse = "";
  readonly lines: string[] = [];
  readonly #seen = new Set<string>();
  deliver(batch: SpillableBatch): Promise<number> {
    if (!this.up) return Promise.reject(new Down("connection refused"));
    if (batch.table === this.refuse) return Promise.reject(new Refused("bad table"));
    const text = new TextDecoder().decode(concat(batch.chunks));
    let inserted = 0;
    for (const line of text.split("\n").filter(Boolean)) {
      if (this.#seen.has(line)) continue;
      this.#seen.add(line);
      this.lines.push(line);
      inserted++;
    }
    return Promise.resolve(inserted);
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** A batch of `rows` lines `table:first..first+rows-1`, split over two chunks. */
function batch(table: string, first: number, rows: number): SpillableBatch {
  const lines = Array.from({ length: rows }, (_, i) => `${table}:${first + i}\n`);
  const half = Math.floor(rows / 2);
  const enc = new TextEncoder();
  return {
    table,
    rows,
    minTs: first,
    maxTs: first + rows - 1,
    chunks: [enc.encode(lines.slice(0, half).join("")), enc.encode(lines.slice(half).join(""))],
  };
}

function delivery(store: FakeStore, spillDir: string, logs: string[]) {
  return new DurableDelivery({
    deliver: (b) => store.deliver(b),
    probe: () => store.up ? Promise.resolve() : Promise.reject(new Down("still down")),
    isUnavailable: (e) => e instanceof Down,
    spillDir,
    retries: 1,
    backoffMs: 5,
    maxBackoffMs: 20,
    log: (m) => logs.push(m),
  });
}

const segments = (dir: string) =>
  [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".copy")).length;

Deno.test("DurableDelivery: down, spill, up, replay: every row once, in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-delivery-" });
  const logs: string[] = [];
  try {
    const store = new FakeStore();
    const d = delivery(store, dir, logs);
    // Three batches while the store is up, two delivered at a time: each row counted once.
    d.enqueue(batch("trades", 0, 4));
    d.enqueue(batch("trades", 4, 3));
    d.enqueue(batch("trades", 7, 3));
    await d.idle();
    assert.equal(store.lines.length, 10);
    assert.equal(d.stats().persisted, 4 + 3 + 3);
    store.up = false;
    d.enqueue(batch("trades", 10, 7));
    d.enqueue(batch("quotes", 0, 5));
    d.enqueue(batch("trades", 15, 6)); // overlaps 15, 16 with the previous trades batch
    await d.idle();
    const down = d.stats();
    assert.equal(down.available, false);
    assert.equal(down.spilledBatches, 3);
    assert.equal(down.spilledRows, 7 + 5 + 6);
    assert.equal(down.droppedRows, 0);
    assert.equal(segments(dir), 3);
    assert.ok(logs.some((m) => /store unavailable .*spilling to/.test(m)), logs.join("\n"));

    store.up = true;
    assert.equal(await d.replay(), true);
    await d.close();
    const expected = [
      ...Array.from({ length: 21 }, (_, i) => `trades:${i}`),
      ...Array.from({ length: 5 }, (_, i) => `quotes:${i}`),
    ].sort();
    assert.deepEqual([...store.lines].sort(), expected);
    assert.equal(segments(dir), 0);
    const after = d.stats();
    assert.equal(after.available, true);
    // 7 + 5 + 4 new rows came back from the spill (two trades of the third batch were there).
    assert.equal(after.replayedRows, 16);
    assert.equal(after.persisted, 10 + 16);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DurableDelivery: a refused batch is dropped and counted; leftovers replay at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-delivery-" });
  const logs: string[] = [];
  try {
    const store = new FakeStore();
    store.refuse = "quotes";
    const first = delivery(store, dir, logs);
    first.enqueue(batch("quotes", 0, 4));
    await first.idle();
    assert.equal(first.stats().droppedRows, 4);
    assert.ok(logs.some((m) => /refused a batch of 4 quotes rows/.test(m)), logs.join("\n"));
    store.up = false;
    first.enqueue(batch("trades", 0, 3));
    first.enqueue(batch("trades", 3, 3));
    await first.close(); // the process ends with two segments on disk
    assert.equal(segments(dir), 2);
    assert.equal(store.lines.length, 0);

    store.up = true;
    const second = delivery(store, dir, logs);
    assert.equal(await second.replay(), true);
    await second.close();
    assert.deepEqual(store.lines, Array.from({ length: 6 }, (_, i) => `trades:${i}`));
    assert.ok(logs.some((m) => /2 spill segments found, replaying/.test(m)), logs.join("\n"));
    assert.throws(() => second.enqueue(batch("trades", 9, 1)), TypeError, "closed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sink capabilities: typed guards, and SinkQueue.room waits for backpressure", async () => {
  const writer = new PostgresWriter({
    url: "postgres://127.0.0.1:1/none",
    spillDir: "/nonexistent",
  });
  assert.ok(reportsBackpressure(writer) && isDurable(writer));
  assert.ok(!isBuffering(writer), "the writer spills rather than holds");
  const plain: EventSink = {
    write: () => {},
    flush: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  };
  assert.ok(!isBuffering(plain) && !reportsBackpressure(plain) && !isDurable(plain));

  let release!: () => void;
  let readyCalls = 0;
  const slow: EventSink & BackpressureReporting = {
    ...plain,
    ready: () => {
      readyCalls++;
      return new Promise<void>((r) => (release = r));
    },
  };
  const events: MarketEvent[] = [];
  const queue = new SinkQueue({
    sinks: [slow, { ...plain, write: (e) => void events.push(...e) }],
    log: () => {},
  });
  let roomy = false;
  const room = queue.room().then(() => (roomy = true));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(readyCalls, 1);
  assert.equal(roomy, false, "waits while the sink is not ready");
  release();
  await room;
  assert.equal(roomy, true);
  await writer.close();
});
