/**
 * The collector's runtime parts on their own (resyncs and backoff: `backoff_resync_test.ts`):
 * trade-id continuity, the bounded sink queue (early flushes, counted drops, backpressure),
 * the pipeline's clean output, and a live collector whose sink is too slow (memory stays
 * bounded, drops counted).
 */
import assert from "node:assert/strict";
import { TradeLedger } from "../collectors/runtime/trade_ledger.ts";
import { SinkQueue } from "../collectors/runtime/sink_queue.ts";
import { FeedPipeline } from "../collectors/runtime/pipeline.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { Collector } from "../collectors/runtime/collector.ts";
import { CoinbaseExchangeAdapter } from "../collectors/venues/coinbase_exchange.ts";
import { BookKeeper } from "../lib/book/book_keeper.ts";
import type { EventSink, MarketEvent, Trade } from "../lib/market/mod.ts";
import { startFaultServer } from "./fakes/fault_server.ts";
import { coinbaseProtocol, loadCoinbaseSession } from "./fakes/coinbase_exchange_fake.ts";
import { settled } from "./support/checking_sink.ts";
import { readCaptureFrames } from "./support/recorded.ts";

function trade(id: number, symbol = "BTC-USD"): Trade {
  return {
    kind: "trade",
    exchange: "coinbase",
    symbol,
    id: String(id),
    price: 100,
    size: 1,
    side: "buy",
    ts: 1_618_677_817_000_000,
    recvTs: 1_618_677_817_000_100,
  };
}

Deno.test("trade ledger: repeats dropped, skipped ids counted per symbol, non-integer ids pass", () => {
  const ledger = new TradeLedger();
  assert.equal(ledger.check(trade(10)), "new");
  assert.equal(ledger.check(trade(11)), "new");
  assert.equal(ledger.check(trade(11)), "duplicate");
  assert.equal(ledger.check(trade(9)), "duplicate");
  assert.equal(ledger.check(trade(15)), "gap");
  assert.equal(ledger.lastGap, 3);
  assert.equal(ledger.check(trade(1, "ETH-USD")), "new", "symbols are separate chains");
  assert.equal(ledger.check({ ...trade(0), id: "1618678142.557535-0" }), "new");
  assert.deepEqual([ledger.lost, ledger.duplicates, ledger.last("BTC-USD")], [3, 2, 15]);
  // A venue trade snapshot brings a skipped trade after all: no longer lost; once only.
  assert.equal(ledger.check(trade(13)), "recovered");
  assert.equal(ledger.check(trade(13)), "duplicate");
  assert.deepEqual([ledger.lost, ledger.recovered], [2, 1]);
  assert.equal(ledger.check(trade(12)), "recovered");
  assert.equal(ledger.check(trade(14)), "recovered");
  assert.equal(ledger.check(trade(11)), "duplicate", "never missing");
  assert.deepEqual([ledger.lost, ledger.recovered], [0, 3]);
});

/** A sink that buffers until flushed, with a flush that takes `delayMs`. */
class SlowSink implements EventSink {
  readonly events: MarketEvent[] = [];
  #held: MarketEvent[] = [];
  maxHeld = 0;
  constructor(readonly delayMs = 0) {}
  get pending(): number {
    return this.#held.length;
  }
  write(events: readonly MarketEvent[]): void {
    for (const e of events) this.#held.push(e);
    if (this.#held.length > this.maxHeld) this.maxHeld = this.#held.length;
  }
  async flush(): Promise<number> {
    const batch = this.#held;
    this.#held = [];
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    for (const e of batch) this.events.push(e);
    return batch.length;
  }
  async close(): Promise<void> {
    await this.flush();
  }
}

Deno.test("sink queue: early flush past flushAt, counted drops when full, room() waits", async () => {
  const sink = new SlowSink();
  const live: MarketEvent[] = [];
  const hub: EventSink = {
    write: (events) => void live.push(...events),
    flush: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  };
  const logs: string[] = [];
  let asked = 0;
  const queue = new SinkQueue({
    sinks: [sink, hub],
    capacity: 4,
    flushAt: 2,
    tradeReserve: 0,
    onFlushNeeded: () => asked++,
    log: (r) => logs.push(JSON.stringify(r)),
  });
  queue.write([trade(1)]);
  assert.equal(asked, 0);
  queue.write([trade(2)]);
  assert.equal(asked, 1, "flushAt reached: one early flush asked for");
  queue.write([trade(3), trade(4)]);
  assert.equal(asked, 1, "asked once per flush");
  queue.write([
    trade(5),
    { ...trade(0), kind: "status", status: "gap", reason: "x" } as MarketEvent,
  ]);
  assert.equal(queue.depth, 4);
  assert.deepEqual([queue.stats.droppedEvents, queue.stats.droppedTrades], [2, 1]);
  assert.equal(live.length, 6, "a sink that does not buffer gets everything");
  assert.ok(logs.some((l) => l.includes("sink queue full")));
  let roomy = false;
  const room = queue.room().then(() => (roomy = true));
  await Promise.resolve();
  assert.equal(roomy, false, "producers that can wait, wait");
  assert.equal(await queue.flush(), 4);
  await room;
  assert.equal(roomy, true);
  queue.write([trade(6)]);
  assert.ok(logs.some((l) => l.includes("room again") && l.includes('"droppedEvents":2')));
  // The sink is told where its stream has a hole: one gap per instrument, then the news.
  assert.equal(await queue.flush(), 2);
  const [gap, next] = sink.events.slice(-2);
  assert.equal(next.ts, trade(6).ts);
  assert.ok(gap.kind === "status" && gap.status === "gap", JSON.stringify(gap));
  assert.equal(gap.ts, trade(5).ts, "at the last lost event");
  assert.match(gap.reason, /sink queue full: this store missed 1 trade, 1 status/);
  assert.equal(live.filter((e) => e.kind === "status").length, 1, "the hub lost nothing");
  assert.throws(() => new SinkQueue({ sinks: [], capacity: 0 }), RangeError);
  assert.throws(() => new SinkQueue({ sinks: [], capacity: 2, flushAt: 3 }), RangeError);
});

Deno.test("sink queue: a full sink drops book and status events first and keeps trades within the reserve", async () => {
  const sink = new SlowSink();
  const queue = new SinkQueue({ sinks: [sink], capacity: 4, flushAt: 4, log: () => {} });
  const status = (i: number) =>
    ({ ...trade(i), kind: "status", status: "gap", reason: "x" }) as MarketEvent;
  queue.write([status(1), status(2), status(3), status(4)]);
  assert.equal(queue.depth, 4, "full");
  queue.write([status(5), trade(6), status(7)]);
  assert.deepEqual([queue.stats.droppedEvents, queue.stats.droppedTrades], [2, 0]);
  assert.equal(queue.depth, 5, "the trade went in, into the reserve (capacity / 4 = 1)");
  queue.write([trade(8), status(9)]);
  assert.deepEqual(
    [queue.stats.droppedEvents, queue.stats.droppedTrades],
    [4, 1],
    "reserve used up: trades are dropped too, and counted",
  );
  assert.equal(await queue.flush(), 5);
  assert.deepEqual(sink.events.filter((e) => e.kind === "trade").map((e) => e.ts), [trade(6).ts]);
  // Closed while still dropping: the sink gets its gap event first.
  await queue.close();
  const gap = sink.events.at(-1)!;
  assert.ok(gap.kind === "status" && gap.status === "gap");
  assert.match(gap.reason, /missed 3 status, 1 trade/);
  assert.throws(() => new SinkQueue({ sinks: [], capacity: 4, tradeReserve: -1 }), RangeError);
});

Deno.test("pipeline: consumers get a reset instead of a breaking change, nothing for an invalid book", () => {
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  const out: MarketEvent[] = [];
  const pipeline = new FeedPipeline({
    adapter: new CoinbaseExchangeAdapter({ diagnostics }),
    diagnostics,
    books: new BookKeeper({ exchange: "coinbase", integrity: null }),
    sinks: [{
      write: (events) => void out.push(...events),
      flush: () => Promise.resolve(0),
      close: () => Promise.resolve(),
    }],
    tradeIds: "sequential",
    resetBooksOnUnreadableFrame: true,
  });
  const time = "2021-04-17T16:43:37.089723Z";
  pipeline.handleFrame(
    JSON.stringify({
      type: "snapshot",
      product_id: "BTC-USD",
      bids: [["100", "1"]],
      asks: [["101", "1"]],
    }),
    1,
  );
  const change = (side: string, price: string) =>
    JSON.stringify({
      type: "l2update",
      product_id: "BTC-USD",
      changes: [[side, price, "2"]],
      time,
    });
  assert.deepEqual(pipeline.handleFrame(change("buy", "100.5"), 2).map((e) => e.kind), [
    "book_change",
  ]);
  const crossing = pipeline.handleFrame(change("buy", "101"), 3);
  assert.deepEqual(crossing.map((e) => e.kind === "status" ? e.status : e.kind), ["reset"]);
  assert.deepEqual(pipeline.handleFrame(change("sell", "102"), 4), [], "book invalid: dropped");
  // An unreadable frame may have been a book change: every book resets.
  pipeline.handleFrame(
    JSON.stringify({ type: "snapshot", product_id: "BTC-USD", bids: [], asks: [] }),
    5,
  );
  const unreadable = pipeline.handleFrame('{"type":"l2update","product_id":"BTC-', 6);
  assert.deepEqual(unreadable.map((e) => e.kind === "status" && [e.status, e.symbol]), [[
    "reset",
    "*",
  ]]);
  // Trades: a repeat is dropped, a skipped id gets a gap status before the trade.
  const match = (id: number) =>
    JSON.stringify({
      type: "match",
      trade_id: id,
      side: "sell",
      size: "1",
      price: "100",
      product_id: "BTC-USD",
      time,
    });
  pipeline.handleFrame(match(7), 7);
  const repeated = pipeline.handleFrame(
    JSON.stringify({ ...JSON.parse(match(7)), type: "last_match" }),
    8,
  );
  assert.deepEqual(repeated, []);
  const summary = pipeline.summary();
  assert.equal(summary.trades, 1);
  assert.deepEqual(out.filter((e) => e.kind === "book_change").length, 1);
});

Deno.test("collector with a sink that cannot keep up: memory bounded, every dropped event counted", async () => {
  const session = await loadCoinbaseSession();
  const server = startFaultServer({ protocol: coinbaseProtocol(session), burst: 400 });
  const slow = new SlowSink(150);
  const everything: MarketEvent[] = [];
  const counter: EventSink = {
    write: (events) => void everything.push(...events),
    flush: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  };
  const logs: string[] = [];
  const collector = new Collector({
    exchange: "coinbase",
    url: server.url,
    symbols: [...session.snapshots.keys()],
    sinks: [slow, counter],
    books: new BookKeeper({ exchange: "coinbase", integrity: null }),
    queue: { capacity: 300, flushAt: 100 },
    // No read pauses: the drop path (backpressure: collector_backpressure_test.ts).
    maxReadPauseMs: 0,
    flushEveryMs: 1_000,
    connection: { log: (r) => logs.push(JSON.stringify(r)) },
    diagnostics: new FeedDiagnostics({ log: () => {} }),
  });
  try {
    collector.start();
    await server.finished;
    await settled(() => {
      const s = collector.summary(); // idle heartbeats after the session add nothing here
      return s.trades + s.book_updates + s.snapshots;
    });
    const summary = await collector.stop();
    const dropped = collector.queue.stats.droppedEvents;
    assert.ok(dropped > 0, "the slow sink fell behind");
    assert.equal(summary.events_dropped, dropped);
    // The slow sink also got one gap status per instrument and drop episode it was in.
    const gaps = slow.events.filter((e) =>
      e.kind === "status" && e.reason.startsWith("sink queue full")
    );
    assert.ok(gaps.length > 0, "the holes are marked in what the slow sink stores");
    assert.equal(
      slow.events.length - gaps.length + dropped,
      everything.length,
      "delivered + dropped = all",
    );
    const trades = everything.filter((e) => e.kind === "trade").length;
    const slowTrades = slow.events.filter((e) => e.kind === "trade").length;
    assert.equal(slowTrades + summary.trades_dropped!, trades);
    // Bounded: at most the capacity plus one frame's events were ever held.
    assert.ok(slow.maxHeld <= 300 + 200, `held at most ${slow.maxHeld}`);
    assert.ok(collector.queue.stats.earlyFlushes > 0, "flushed before the timer");
    assert.ok(logs.some((l) => l.includes("sink queue full")));
  } finally {
    await collector.stop();
    await server.shutdown();
  }
});

Deno.test("coinbase adapter: the transport's bytes give the same events as the text", async () => {
  const frames = await readCaptureFrames("coinbase-exchange-ws-20210417.txt");
  const encoder = new TextEncoder();
  const fromText: MarketEvent[] = [];
  const fromBytes: MarketEvent[] = [];
  const a = new CoinbaseExchangeAdapter({ diagnostics: new FeedDiagnostics({ log: () => {} }) });
  const b = new CoinbaseExchangeAdapter({ diagnostics: new FeedDiagnostics({ log: () => {} }) });
  // A frame with non-ASCII text has more bytes than characters: the text path takes it.
  const odd = '{"type":"l2update","product_id":"BTC-USD","changes":[["buy","1","2"]],' +
    '"time":"2021-04-17T16:43:37.089723Z","note":"é"}';
  for (const text of [...frames.map((f) => f.text), odd]) {
    a.parse(text, 1, fromText);
    // A view into a bigger buffer, as the transport hands it: other bytes follow the frame.
    const utf8 = encoder.encode(text);
    const buffer = new Uint8Array(utf8.length + 8).fill(0x81);
    buffer.set(utf8);
    b.parse(text, 1, fromBytes, buffer.subarray(0, utf8.length));
  }
  assert.equal(fromBytes.length, fromText.length);
  assert.deepEqual(fromBytes, fromText);
});
