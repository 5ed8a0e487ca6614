/**
 * The collectors' Must-hold for Coinbase Advanced Trade, against the fake server replaying
 * the recorded Coinbase Exchange session converted to the Advanced Trade protocol, with
 * faults: disconnects (one losing more trades than the venue's trade snapshot gives back),
 * silence, dropped messages (`sequence_num` holes), a crossed book update, malformed and
 * truncated frames. Every trade reaches the sink once or is counted lost; books equal an
 * independent reference; no consumer saw a crossed or invalid book as valid; metrics and
 * logs report each fault; the collector never crashed.
 */
import assert from "node:assert/strict";
import { Collector } from "../collectors/runtime/collector.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { CollectorMetrics } from "../collectors/runtime/metrics.ts";
import { venueBookKeeper } from "../collectors/venues/mod.ts";
import { type ScheduledFault, startFaultServer } from "./fakes/fault_server.ts";
import { loadCoinbaseSession } from "./fakes/coinbase_exchange_fake.ts";
import { coinbaseAdvancedProtocol } from "./fakes/coinbase_advanced_fake.ts";
import { CheckingSink, parseExposition, settled, until } from "./support/checking_sink.ts";
import { ReferenceBook } from "./support/reference_book.ts";
import { readCaptureFrames } from "./support/recorded.ts";
import { decimalText, isoTextMicros } from "./support/raw_fields.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const EXCHANGE = "coinbase-advanced";

Deno.test("coinbase advanced: recorded session converted to Advanced Trade through faults", async () => {
  const session = await loadCoinbaseSession();
  // A small trade snapshot, so the second disconnect loses trades the venue cannot give back.
  const protocol = coinbaseAdvancedProtocol(session, { recentTrades: 2 });
  const n = session.items.length;
  const faults: ScheduledFault[] = [
    { at: Math.floor(n * 0.1), kind: "disconnect", missed: 40 },
    { at: Math.floor(n * 0.2), kind: "silence", ms: 400 },
    { at: Math.floor(n * 0.3), kind: "gap", what: "trade" },
    { at: Math.floor(n * 0.4), kind: "gap", what: "book" },
    { at: Math.floor(n * 0.45), kind: "corrupt" },
    { at: Math.floor(n * 0.5), kind: "malformed" },
    { at: Math.floor(n * 0.55), kind: "truncated" },
    { at: Math.floor(n * 0.6), kind: "slow", ms: 5, frames: 20 },
    // In the densest trading of the session: more trades of a product pass than come back.
    { at: Math.floor(n * 0.74), kind: "disconnect", missed: 60 },
  ];
  const server = startFaultServer({ protocol, faults });
  const products = [...session.snapshots.keys()];

  const logs: string[] = [];
  const sink = new CheckingSink();
  const books = venueBookKeeper(EXCHANGE);
  const metrics = new CollectorMetrics();
  const collector = new Collector({
    exchange: EXCHANGE,
    url: server.url,
    symbols: products,
    // Trades first: the pump starts with the first subscription, so the first trade snapshot
    // is taken before any session item passes and holds each product's recorded last_match.
    channels: ["market_trades", "level2", "heartbeats"],
    sinks: [sink],
    books,
    metrics,
    diagnostics: new FeedDiagnostics({ log: (l) => logs.push(l), context: { exchange: EXCHANGE } }),
    connection: {
      log: (r) => logs.push(JSON.stringify(r)),
      watchdogMs: 150,
      backoff: { initialMs: 5, maxMs: 40 },
    },
    flushEveryMs: 50,
    resync: { minIntervalMs: 20, maxIntervalMs: 200 },
    queue: { capacity: 100_000, flushAt: 2_000 },
  });
  const m = (name: string, extra = "") =>
    parseExposition(metrics.render()).get(
      `alphapulse_collector_${name}{exchange="${EXCHANGE}"${extra}}`,
    ) ?? 0;
  const logged = (re: RegExp) => logs.some((l) => re.test(l));
  try {
    collector.start();
    await server.finished;
    await until(() => products.every((p) => books.isValid(p)), "every book valid again");
    await settled(() => {
      const s = collector.summary();
      return s.trades + s.book_updates + s.snapshots;
    });
    const summary = await collector.stop();

    assert.deepEqual(
      [...new Set(server.injected.map((f) => f.kind))].sort(),
      ["corrupt", "disconnect", "gap", "malformed", "silence", "slow", "truncated"],
    );

    // Trades: exactly once each, with the recorded values and the taker side; what is
    // missing is counted as lost. The recorded matches are read from the capture itself.
    const recorded = new Map<string, Json>();
    for (const { text } of await readCaptureFrames("coinbase-exchange-ws-20210417.txt")) {
      const msg = JSON.parse(text);
      if (msg.type === "match" || msg.type === "last_match") {
        recorded.set(`${msg.product_id}/${msg.trade_id}`, msg);
      }
    }
    const ids = sink.trades.map((t) => `${t.symbol}/${t.id}`);
    assert.equal(new Set(ids).size, ids.length, "no duplicates");
    for (const t of sink.trades) {
      const raw = recorded.get(`${t.symbol}/${t.id}`);
      assert.ok(raw !== undefined, `unknown trade ${t.symbol}/${t.id}`);
      // Exchange names the maker's side; the taker took the other one.
      assert.deepEqual(
        [t.price, t.size, t.side, t.ts],
        [
          decimalText(raw.price),
          decimalText(raw.size),
          raw.side === "buy" ? "sell" : "buy",
          isoTextMicros(raw.time),
        ],
        `trade ${t.symbol}/${t.id}`,
      );
      assert.ok(t.recvTs >= t.ts, `received after it happened: ${t.id}`);
    }
    assert.ok((summary.trades_lost ?? 0) >= 1, "trades passed while disconnected are lost");
    assert.equal(ids.length + summary.trades_lost!, recorded.size, "received + lost");
    assert.equal(summary.trades, ids.length);
    assert.ok(m("trades_lost_total") >= 1, "lost trades in the metrics");
    assert.ok(logged(/"msg":"trade gap".*trade_id gap/), "trade gap logged");
    // The dropped trade came back with the trade snapshot of the reconnect its hole caused.
    const dropped = server.injected.find((f) => f.detail?.startsWith("trade"))!;
    const droppedItem = session.items[Number(dropped.detail!.split(" ")[2])];
    assert.ok(ids.includes(`${droppedItem.product}/${droppedItem.msg.trade_id}`), "recovered");

    // Books: equal to the recorded snapshots plus every recorded l2update.
    const reference = new Map<string, ReferenceBook>();
    for (const [product, snapshot] of session.snapshots) {
      const book = new ReferenceBook();
      book.replace(snapshot.bids, snapshot.asks);
      reference.set(product, book);
    }
    for (const item of session.items) {
      if (item.type !== "l2update") continue;
      for (const [side, p, s] of item.msg.changes) {
        reference.get(item.product)!.set(side === "buy" ? "bid" : "ask", p, s);
      }
    }
    for (const product of products) {
      const ours = books.book(product)!.top(Infinity);
      assert.deepEqual(
        { bids: ours.bids.map(([p, s]) => [p, s]), asks: ours.asks.map(([p, s]) => [p, s]) },
        reference.get(product)!.pairs(),
        product,
      );
    }
    assert.deepEqual(sink.violations, [], "no consumer saw a crossed or invalid book");

    // Each fault in the metrics and logs.
    const disconnects = server.injected.filter((f) => f.kind === "disconnect").length;
    assert.ok(protocol.sequenceHoles >= 2, "both dropped messages left holes");
    assert.ok(m("gaps_total") >= 2, "sequence_num holes counted");
    assert.ok(logged(/"msg":"trade gap".*sequence_num gap/), "sequence_num hole logged");
    assert.ok(logged(/"msg":"venue adapter asked to reconnect"/), "hole answered by reconnect");
    assert.ok(m("crossed_books_total") >= 1, "crossed update counted");
    assert.ok(logged(/"msg":"book reset".*crossed/), "crossed book reset logged");
    assert.ok(logged(/"msg":"resync book"/), "resync logged");
    assert.ok(m("bad_input_total") >= 2, "malformed and truncated frames counted");
    assert.ok(logged(/"msg":"bad input".*"reason":"malformed JSON"/), "bad frame logged");
    assert.ok(m("watchdog_restarts_total") >= 1, "watchdog restart counted");
    assert.ok(logged(/watchdog: no frame/), "watchdog logged");
    assert.ok(logged(/disconnected, retrying/), "disconnect logged");
    // 2 disconnects, the watchdog, 2 holes and the crossed book each reconnect.
    assert.ok(m("reconnects_total") >= disconnects + 4, "reconnects counted");
    assert.ok(sink.statuses.some((s) => s.status === "reset"), "consumers were told");
    assert.ok(server.received.every((t) => JSON.parse(t).channel !== undefined), "per channel");
    assert.equal(collector.flushErrors, 0);
    assert.equal(summary.events_dropped, 0);
  } finally {
    await collector.stop();
    await server.shutdown();
  }
});
