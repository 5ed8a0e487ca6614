/**
 * The collectors' Must-hold, per venue, against fake exchange servers that replay the real
 * recorded sessions from `../shared/data/` and inject faults (disconnect, silence, gaps,
 * corrupted book messages, malformed and truncated frames, a slow server): every trade of
 * the session reaches the sink exactly once or is counted as lost; every book equals an
 * independent reference after its resyncs; no consumer saw a crossed or invalid book as
 * valid; metrics and logs report each fault; the collector never crashed.
 */
import assert from "node:assert/strict";
import { Collector } from "../collectors/runtime/collector.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { CollectorMetrics } from "../collectors/runtime/metrics.ts";
import type { BookKeeper } from "../lib/book/book_keeper.ts";
import { venueBookKeeper } from "../collectors/venues/mod.ts";
import type { OrderBook } from "../lib/book/order_book.ts";
import {
  type FaultServer,
  type ScheduledFault,
  startFaultServer,
  type VenueProtocol,
} from "./fakes/fault_server.ts";
import {
  type CoinbaseItem,
  coinbaseProtocol,
  type CoinbaseSession,
  loadCoinbaseSession,
} from "./fakes/coinbase_exchange_fake.ts";
import { binanceProtocol, loadBinanceSession } from "./fakes/binance_fake.ts";
import { krakenProtocol, krakenV2Symbol, loadKrakenSession } from "./fakes/kraken_fake.ts";
import { CheckingSink, parseExposition, settled, until } from "./support/checking_sink.ts";
import { ReferenceBook } from "./support/reference_book.ts";
import { readCaptureFrames, readHftbacktestFrames } from "./support/recorded.ts";

/** Collector tuning for tests: fast watchdog, backoff and resyncs. */
const FAST = {
  flushEveryMs: 50,
  resync: { minIntervalMs: 20, maxIntervalMs: 200 },
  queue: { capacity: 100_000, flushAt: 2_000 },
} as const;

interface Harness {
  readonly collector: Collector;
  readonly sink: CheckingSink;
  readonly books: BookKeeper;
  readonly metrics: CollectorMetrics;
  readonly logs: string[];
}

function harness(
  exchange: string,
  server: FaultServer,
  symbols: string[],
  extra: Partial<ConstructorParameters<typeof Collector>[0]> = {},
): Harness {
  const logs: string[] = [];
  const log = (r: Record<string, unknown>) => logs.push(JSON.stringify(r));
  const diagnostics = new FeedDiagnostics({ log: (l) => logs.push(l), context: { exchange } });
  const sink = new CheckingSink();
  const books = venueBookKeeper(exchange);
  const metrics = new CollectorMetrics();
  const collector = new Collector({
    exchange,
    url: server.url,
    symbols,
    sinks: [sink],
    books,
    metrics,
    diagnostics,
    connection: { log, watchdogMs: 150, backoff: { initialMs: 5, maxMs: 40 } },
    ...FAST,
    ...extra,
  });
  return { collector, sink, books, metrics, logs };
}

/** What grows while session frames are still being processed (idle frames add nothing). */
function drained(h: Harness): () => number {
  return () => {
    const s = h.collector.summary();
    return s.trades + s.book_updates + s.snapshots;
  };
}

/** Metric value by name and exchange label (0 when absent). */
function metric(metrics: CollectorMetrics, name: string, exchange: string, extra = ""): number {
  const key = `alphapulse_collector_${name}{exchange="${exchange}"${extra}}`;
  return parseExposition(metrics.render()).get(key) ?? 0;
}

/** Asserts each injected fault shows in metrics and logs. */
function assertFaultsReported(
  h: Harness,
  server: FaultServer,
  exchange: string,
  book: { corrupt: string; gap: string; sessionTrades: number },
): void {
  const kinds = new Set(server.injected.map((f) => f.kind));
  const m = (name: string, extra = "") => metric(h.metrics, name, exchange, extra);
  const logged = (re: RegExp) => h.logs.some((l) => re.test(l));
  const disconnects = server.injected.filter((f) => f.kind === "disconnect").length;
  const silences = server.injected.filter((f) => f.kind === "silence").length;
  if (kinds.has("disconnect")) {
    assert.ok(m("reconnects_total") >= disconnects + silences, "reconnects counted");
    assert.ok(logged(/disconnected, retrying/), "disconnect logged");
    // Every reconnect (a disconnect or a watchdog restart) tells consumers, once each: the
    // metric counts exactly the statuses the sink received.
    const told = h.sink.statuses.filter((s) => s.status === "disconnected").length;
    assert.ok(told >= disconnects + silences, `disconnected statuses: ${told}`);
    assert.equal(m("status_events_total", ',status="disconnected"'), told);
  }
  if (kinds.has("silence")) {
    assert.ok(m("watchdog_restarts_total") >= silences, "watchdog restarts counted");
    assert.ok(logged(/watchdog: no frame/), "watchdog logged");
  }
  if (kinds.has("malformed") || kinds.has("truncated")) {
    assert.ok(m("bad_input_total") >= 2, "bad frames counted");
    assert.ok(logged(/"msg":"bad input".*"reason":"malformed JSON"/), "bad frame logged");
  }
  if (kinds.has("corrupt")) {
    assert.ok(m(book.corrupt) >= 1, `${book.corrupt} counted`);
    assert.ok(logged(/"msg":"book reset"/), "book reset logged");
    assert.ok(m("resyncs_total") >= 1, "resync counted");
    assert.ok(logged(/"msg":"resync book"/), "resync logged");
  }
  const gaps = server.injected.filter((f) => f.kind === "gap");
  if (gaps.some((g) => g.detail?.startsWith("trade"))) {
    // A dropped trade is either counted as lost (with a gap status and a log line), or came
    // back with the venue's trade snapshot after a reconnect (Kraken), possibly before any
    // later trade showed the gap: then nothing was lost and there is nothing to report.
    const allReceived = h.sink.trades.length === book.sessionTrades;
    if (!allReceived || m("trades_recovered_total") > 0) {
      assert.ok(m("trades_lost_total") + m("trades_recovered_total") >= 1, "lost trade counted");
      assert.ok(m("status_events_total", ',status="gap"') >= 1, "gap status counted");
      assert.ok(logged(/"msg":"trade gap"/), "trade gap logged");
    }
  }
  if (gaps.some((g) => g.detail?.startsWith("book"))) {
    assert.ok(m(book.gap) >= 1, `${book.gap} counted`);
    assert.ok(logged(/"msg":"book reset"/), "book reset logged");
  }
}

Deno.test("coinbase exchange: recorded session through faults, nothing lost uncounted, books exact", async () => {
  const session = await loadCoinbaseSession();
  const protocol = coinbaseProtocol(session);
  const n = session.items.length;
  const faults: ScheduledFault[] = [
    { at: Math.floor(n * 0.1), kind: "disconnect", missed: 40 },
    { at: Math.floor(n * 0.2), kind: "silence", ms: 400 },
    { at: Math.floor(n * 0.3), kind: "gap", what: "trade" },
    { at: Math.floor(n * 0.4), kind: "corrupt" },
    { at: Math.floor(n * 0.5), kind: "malformed" },
    { at: Math.floor(n * 0.55), kind: "truncated" },
    { at: Math.floor(n * 0.6), kind: "slow", ms: 5, frames: 20 },
    { at: Math.floor(n * 0.7), kind: "disconnect" },
    { at: Math.floor(n * 0.8), kind: "corrupt" },
  ];
  const server = startFaultServer({ protocol, faults });
  const products = [...session.snapshots.keys()];
  const h = harness("coinbase", server, products);
  try {
    h.collector.start();
    await server.finished;
    await until(() => products.every((p) => h.books.isValid(p)), "every book valid again");
    await settled(drained(h));
    const summary = await h.collector.stop();

    // Every fault happened.
    assert.deepEqual(
      [...new Set(server.injected.map((f) => f.kind))].sort(),
      ["corrupt", "disconnect", "gap", "malformed", "silence", "slow", "truncated"],
    );
    // Trades: exactly once each, and what is missing is counted as lost.
    const ids = h.sink.trades.map((t) => `${t.symbol}/${t.id}`);
    assert.equal(new Set(ids).size, ids.length, "no duplicates");
    const sessionTrades = new Set(session.trades);
    for (const id of ids) assert.ok(sessionTrades.has(id), `unknown trade ${id}`);
    // The dropped trade is counted lost, or, when it was still the product's last trade at a
    // later reconnect, came back as the `last_match` and was taken back (passed on once).
    const dropped = droppedTrade(server, session);
    if (ids.includes(dropped)) assert.ok(summary.trades_recovered! >= 1, "taken back");
    else assert.ok(summary.trades_lost! >= 1, "the dropped trade is counted");
    assert.equal(ids.length + summary.trades_lost!, session.trades.length, "received + lost");
    assert.equal(summary.trades, ids.length);

    // Books: equal to an independent reference built from the recorded file.
    const reference = await coinbaseReference();
    for (const product of products) {
      assert.deepEqual(bookPairs(h.books.book(product)!), reference.get(product)!.pairs(), product);
    }
    assert.deepEqual(h.sink.violations, [], "no consumer saw a crossed or invalid book");
    assert.ok(h.sink.statuses.some((s) => s.status === "reset"), "consumers were told");
    assertFaultsReported(h, server, "coinbase", {
      corrupt: "crossed_books_total",
      gap: "crossed_books_total",
      sessionTrades: session.trades.length,
    });
    // Resyncs resubscribe the one product's book channel instead of reconnecting.
    assert.ok(
      server.received.some((m) => /"type":"unsubscribe".*"channels":\["level2_batch"\]/.test(m)),
    );
    assert.equal(h.collector.flushErrors, 0);
    assert.equal(summary.events_dropped, 0);
  } finally {
    await h.collector.stop();
    await server.shutdown();
  }
});

/** `product/trade_id` of the trade a `gap` fault dropped. */
function droppedTrade(server: FaultServer, session: CoinbaseSession): string {
  const fault = server.injected.find((f) => f.kind === "gap" && f.detail?.startsWith("trade"));
  assert.ok(fault !== undefined, "a trade was dropped");
  const item = session.items[Number(fault.detail!.split(" ")[2])];
  return `${item.product}/${item.msg.trade_id}`;
}

Deno.test("coinbase exchange: a trade re-sent after a reconnect is passed on once and taken back; a real gap counts once; repeats are dropped", async () => {
  const session = await loadCoinbaseSession();
  const base = coinbaseProtocol(session);
  const items = session.items;
  const n = items.length;
  /** Index of the next match of the same product after item `i`. */
  const nextMatch = (i: number) =>
    items.findIndex((item, k) =>
      k > i && item.type === "match" && item.product === items[i].product
    );
  // A trade held back while its product's next trade goes out, then sent again right after
  // the client's next subscribe (a frame re-sent after a reconnect): it arrives late.
  const late = items.findIndex((_, i) =>
    i >= n * 0.3 && session.followedMatches.has(i) && nextMatch(i) - i <= 20
  );
  assert.ok(late > 0);
  const lateTrade = `${items[late].product}/${items[late].msg.trade_id}`;
  let held: string | undefined;
  let resent = 0;
  const protocol: VenueProtocol<CoinbaseItem> = {
    ...base,
    frame(item, client) {
      const frame = base.frame(item, client);
      if (item !== items[late] || frame === undefined) return frame;
      held = frame;
      return undefined;
    },
    message(client, text) {
      base.message(client, text);
      if (held !== undefined && /"subscribe".*"matches"/.test(text)) {
        client.send(held);
        held = undefined;
        resent++;
      }
    },
  };
  const faults: ScheduledFault[] = [
    // Right after the product's next trade: nothing passes while disconnected (missed 0).
    { at: nextMatch(late) + 1, kind: "disconnect" },
    // A trade the venue never sends again: lost for good.
    { at: Math.floor(n * 0.5), kind: "gap", what: "trade" },
  ];
  const server = startFaultServer({ protocol, faults });
  const products = [...session.snapshots.keys()];
  const h = harness("coinbase", server, products, {
    // No watchdog restart on a busy machine: the one reconnect is the scheduled one.
    connection: { watchdogMs: 10_000, backoff: { initialMs: 5, maxMs: 40 }, log: () => {} },
  });
  try {
    h.collector.start();
    await server.finished;
    await settled(drained(h));
    const summary = await h.collector.stop();

    assert.equal(server.connections, 2, "one reconnect");
    assert.equal(resent, 1, "the held trade was sent after the reconnect");
    const dropped = droppedTrade(server, session);
    const ids = h.sink.trades.map((t) => `${t.symbol}/${t.id}`);
    // Every trade once, the late one included; only the dropped one missing.
    assert.equal(ids.filter((id) => id === lateTrade).length, 1, "the late trade, once");
    assert.deepEqual(
      [...ids].sort(),
      session.trades.filter((id) => id !== dropped).sort(),
      "every trade exactly once but the dropped one",
    );
    assert.equal(summary.trades, ids.length);
    // Counted lost: only the dropped trade; the late one was taken back.
    assert.equal(summary.trades_lost, 1, "the real gap, once");
    assert.equal(summary.trades_recovered, 1, "the late trade");
    // The reconnect's last_match per product repeats a trade we have: dropped, counted.
    assert.equal(summary.trades_duplicate, products.length, "one last_match per product");
    // One gap status per gap (the late trade's product and the dropped trade's), no more.
    const gaps = h.sink.statuses.filter((s) => s.status === "gap");
    assert.deepEqual(
      gaps.map((s) => s.symbol).sort(),
      [items[late].product, dropped.split("/")[0]].sort(),
    );
    assert.equal(summary.gaps, 2);
    assert.equal(metric(h.metrics, "trades_lost_total", "coinbase"), 1);
    assert.equal(metric(h.metrics, "trades_recovered_total", "coinbase"), 1);
    assert.equal(metric(h.metrics, "trades_duplicate_total", "coinbase"), products.length);
  } finally {
    await h.collector.stop();
    await server.shutdown();
  }
});

/** The best `n` levels per side of one of our books, as `[price, size]` pairs. */
function bookPairs(book: OrderBook, n = Infinity) {
  const side = (s: "bid" | "ask") => {
    const out: [number, number][] = [];
    const depth = Math.min(n, s === "bid" ? book.bidDepth : book.askDepth);
    for (let i = 0; i < depth; i++) out.push([book.priceAt(s, i), book.sizeAt(s, i)]);
    return out;
  };
  return { bids: side("bid"), asks: side("ask") };
}

/** Snapshot + every l2update of the recorded session, per product, in a naive book. */
async function coinbaseReference(): Promise<Map<string, ReferenceBook>> {
  const books = new Map<string, ReferenceBook>();
  for (const { text } of await readCaptureFrames("coinbase-exchange-ws-20210417.txt")) {
    const msg = JSON.parse(text);
    if (msg.type === "snapshot") {
      const book = new ReferenceBook();
      book.replace(msg.bids, msg.asks);
      books.set(msg.product_id, book);
    } else if (msg.type === "l2update") {
      const book = books.get(msg.product_id)!;
      for (const [side, p, s] of msg.changes) book.set(side === "buy" ? "bid" : "ask", p, s);
    }
  }
  return books;
}

Deno.test("kraken v2: recorded v1 session converted to v2 through faults, checksummed books exact", async () => {
  const session = await loadKrakenSession();
  const protocol = krakenProtocol(session);
  const n = session.items.length;
  const faults: ScheduledFault[] = [
    { at: Math.floor(n * 0.1), kind: "disconnect", missed: 40 },
    { at: Math.floor(n * 0.2), kind: "silence", ms: 400 },
    { at: Math.floor(n * 0.3), kind: "gap", what: "book" },
    { at: Math.floor(n * 0.4), kind: "corrupt" },
    { at: Math.floor(n * 0.5), kind: "malformed" },
    { at: Math.floor(n * 0.55), kind: "truncated" },
    { at: Math.floor(n * 0.6), kind: "slow", ms: 5, frames: 20 },
    { at: Math.floor(n * 0.7), kind: "gap", what: "trade" },
    { at: Math.floor(n * 0.8), kind: "disconnect" },
  ];
  const server = startFaultServer({ protocol, faults, path: "/v2" });
  const symbols = [...session.snapshots.keys()].map((s) => s.replace("/", "-"));
  const h = harness("kraken", server, symbols, { channels: ["book-1000", "trade"] });
  try {
    h.collector.start();
    await server.finished;
    await until(() => symbols.every((s) => h.books.isValid(s)), "every book valid again");
    await settled(drained(h));
    const summary = await h.collector.stop();

    assert.deepEqual(
      [...new Set(server.injected.map((f) => f.kind))].sort(),
      ["corrupt", "disconnect", "gap", "malformed", "silence", "slow", "truncated"],
    );
    const ids = h.sink.trades.map((t) => `${t.symbol.replace("-", "/")}/${t.id}`);
    assert.equal(new Set(ids).size, ids.length, "no duplicates");
    const sessionTrades = new Set(session.trades);
    for (const id of ids) assert.ok(sessionTrades.has(id), `unknown trade ${id}`);
    assert.equal(ids.length + (summary.trades_lost ?? 0), session.trades.length, "received + lost");

    const reference = await krakenReference();
    for (const symbol of symbols) {
      const ours = bookPairs(h.books.book(symbol)!);
      assert.deepEqual(ours, reference.get(symbol.replace("-", "/"))!.pairs(), symbol);
    }
    assert.ok(summary.checksum_ok > 1000, "checksums verified all along");
    assert.deepEqual(h.sink.violations, [], "no consumer saw a crossed or invalid book");
    assertFaultsReported(h, server, "kraken", {
      corrupt: "checksum_failures_total",
      gap: "checksum_failures_total",
      sessionTrades: session.trades.length,
    });
    assert.ok(summary.trades_duplicate! > 0, "trade snapshots after reconnects were deduplicated");
    assert.ok(server.received.some((m) => /"method":"unsubscribe".*"channel":"book"/.test(m)));
    assert.equal(h.collector.flushErrors, 0);
  } finally {
    await h.collector.stop();
    await server.shutdown();
  }
});

/** Snapshots + every update of the recorded v1 book session, truncated to its depth. */
async function krakenReference(): Promise<Map<string, ReferenceBook>> {
  const books = new Map<string, ReferenceBook>();
  for (const { text } of await readCaptureFrames("kraken-v1-book-ws-20210417.txt")) {
    const msg = JSON.parse(text);
    if (!Array.isArray(msg)) continue;
    const symbol = krakenV2Symbol(msg[msg.length - 1]);
    if (msg[1].as !== undefined) books.set(symbol, new ReferenceBook());
    const book = books.get(symbol)!;
    for (let k = 1; k < msg.length - 2; k++) {
      for (const [p, s] of msg[k].as ?? msg[k].a ?? []) book.set("ask", p, s);
      for (const [p, s] of msg[k].bs ?? msg[k].b ?? []) book.set("bid", p, s);
    }
    book.truncate(1000);
  }
  return books;
}

Deno.test("binance: recorded session through faults, REST snapshot resyncs, books exact", async () => {
  const session = await loadBinanceSession();
  const protocol = binanceProtocol(session);
  const n = session.items.length;
  const faults: ScheduledFault[] = [
    { at: Math.floor(n * 0.1), kind: "disconnect", missed: 200 },
    { at: Math.floor(n * 0.2), kind: "silence", ms: 400 },
    { at: Math.floor(n * 0.3), kind: "gap", what: "book" },
    { at: Math.floor(n * 0.4), kind: "corrupt" },
    { at: Math.floor(n * 0.5), kind: "malformed" },
    { at: Math.floor(n * 0.55), kind: "truncated" },
    { at: Math.floor(n * 0.6), kind: "slow", ms: 5, frames: 20 },
    { at: Math.floor(n * 0.7), kind: "gap", what: "trade" },
    { at: Math.floor(n * 0.8), kind: "disconnect" },
  ];
  const server = startFaultServer({ protocol, faults, path: "/stream" });
  const h = harness("binance", server, ["BTC-USDT"], { restUrl: server.httpUrl });
  try {
    h.collector.start();
    await server.finished;
    await until(() => h.books.isValid("BTC-USDT"), "the book valid again");
    await settled(drained(h));
    const summary = await h.collector.stop();

    assert.deepEqual(
      [...new Set(server.injected.map((f) => f.kind))].sort(),
      ["corrupt", "disconnect", "gap", "malformed", "silence", "slow", "truncated"],
    );
    // Trades: once each; the ones Binance's stream never delivered are counted as lost.
    const ids = h.sink.trades.map((t) => Number(t.id));
    assert.equal(new Set(ids).size, ids.length, "no duplicates");
    const sessionIds = new Set(session.trades);
    for (const id of ids) assert.ok(sessionIds.has(id), `unknown trade ${id}`);
    assert.ok(summary.trades_lost! >= 2, "missed while disconnected and the dropped one");
    assert.equal(ids.length + summary.trades_lost!, session.trades.length, "received + lost");

    // The book: equal to the recorded snapshot plus every later diff, in the best 100
    // levels (a REST snapshot has 1,000 levels a side, so deeper levels may differ).
    const reference = await binanceReference();
    assert.deepEqual(bookPairs(h.books.book("BTC-USDT")!, 100), reference.pairs(100));
    assert.ok(protocol.snapshotsServed >= 4, "a REST snapshot per connection and resync");
    assert.deepEqual(h.sink.violations, [], "no consumer saw a crossed or invalid book");
    assertFaultsReported(h, server, "binance", {
      corrupt: "crossed_books_total",
      gap: "gaps_total",
      sessionTrades: session.trades.length,
    });
    assert.equal(h.collector.flushErrors, 0);
    assert.equal(h.collector.fetchErrors, 0);
  } finally {
    await h.collector.stop();
    await server.shutdown();
  }
});

/** The recorded REST snapshot plus every diff after it, in a naive book. */
async function binanceReference(): Promise<ReferenceBook> {
  const book = new ReferenceBook();
  let lastUpdateId = -1;
  const diffs: { u: number; b: [string, string][]; a: [string, string][] }[] = [];
  for (const { text } of await readHftbacktestFrames("binance-spot-btcusdt-20240808.gz")) {
    const msg = JSON.parse(text);
    if (msg.lastUpdateId !== undefined) {
      book.replace(msg.bids, msg.asks);
      lastUpdateId = msg.lastUpdateId;
    } else if (msg.data.e === "depthUpdate") {
      diffs.push(msg.data);
    }
  }
  for (const d of diffs) {
    if (d.u <= lastUpdateId) continue;
    for (const [p, q] of d.b) book.set("bid", p, q);
    for (const [p, q] of d.a) book.set("ask", p, q);
  }
  return book;
}
