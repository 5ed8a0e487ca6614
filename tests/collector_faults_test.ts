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
import { BookKeeper } from "../lib/book/book_keeper.ts";
import type { OrderBook } from "../lib/book/order_book.ts";
import { type FaultServer, type ScheduledFault, startFaultServer } from "./fakes/fault_server.ts";
import { coinbaseProtocol, loadCoinbaseSession } from "./fakes/coinbase_exchange_fake.ts";
import { CheckingSink, parseExposition, settled, until } from "./support/checking_sink.ts";
import { ReferenceBook } from "./support/reference_book.ts";
import { readCaptureFrames } from "./support/recorded.ts";

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
  const books = new BookKeeper({ exchange });
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
  book: { corrupt: string; gap: string },
): void {
  const kinds = new Set(server.injected.map((f) => f.kind));
  const m = (name: string, extra = "") => metric(h.metrics, name, exchange, extra);
  const logged = (re: RegExp) => h.logs.some((l) => re.test(l));
  const disconnects = server.injected.filter((f) => f.kind === "disconnect").length;
  const silences = server.injected.filter((f) => f.kind === "silence").length;
  if (kinds.has("disconnect")) {
    assert.ok(m("reconnects_total") >= disconnects + silences, "reconnects counted");
    assert.ok(logged(/disconnected, retrying/), "disconnect logged");
    assert.ok(m("status_events_total", ',status="disconnected"') >= 0);
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
    assert.ok(m("trades_lost_total") >= 1, "lost trade counted");
    assert.ok(m("status_events_total", ',status="gap"') >= 1, "gap status counted");
    assert.ok(logged(/"msg":"trade gap"/), "trade gap logged");
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
    await settled(() => h.collector.summary().messages);
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
    assert.ok((summary.trades_lost ?? 0) >= 1, "the dropped trade is counted");
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
    });
    assert.equal(h.collector.flushErrors, 0);
    assert.equal(summary.events_dropped, 0);
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
