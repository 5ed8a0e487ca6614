/**
 * Backfill through each venue's REST trade history, against the fake servers replaying the
 * recorded sessions: trades the server held back (a disconnect's missed items, a dropped
 * trade) are fetched from its REST endpoint, and the stored stream equals the server's full
 * stream exactly (ids, prices, sizes, times, sides), with no duplicates; `trades_recovered`
 * counts them, `trades_lost` ends at 0, and a 429 from the fake is retried after its
 * `Retry-After`. The expected stream is computed here from the recorded frames, with
 * `Number` and `Date.parse`, not by the adapters or the backfill code.
 */
import assert from "node:assert/strict";
import { Collector } from "../collectors/runtime/collector.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { CollectorMetrics } from "../collectors/runtime/metrics.ts";
import type { Trade } from "../lib/market/types.ts";
import { type FaultServer, type ScheduledFault, startFaultServer } from "./fakes/fault_server.ts";
import { coinbaseProtocol, loadCoinbaseSession } from "./fakes/coinbase_exchange_fake.ts";
import { binanceProtocol, loadBinanceSession } from "./fakes/binance_fake.ts";
import { krakenProtocol, loadKrakenSession } from "./fakes/kraken_fake.ts";
import { coinbaseAdvancedProtocol } from "./fakes/coinbase_advanced_fake.ts";
import { CheckingSink, parseExposition, settled } from "./support/checking_sink.ts";

/** A trade as compared: `symbol/id price size ts side`. */
type Row = string;

/** `2021-04-17T16:43:37.089723Z` to microseconds, by `Date.parse` and the fraction digits. */
function isoMicros(text: string): number {
  const [whole, fraction = "0Z"] = text.split(".");
  const digits = fraction.replace("Z", "").padEnd(6, "0").slice(0, 6);
  return Date.parse(whole + "Z") * 1000 + Number(digits);
}

function row(
  symbol: string,
  id: string | number,
  price: number,
  size: number,
  ts: number,
  side: string,
): Row {
  return `${symbol}/${id} ${price} ${size} ${ts} ${side}`;
}

function stored(trades: readonly Trade[]): Row[] {
  return trades.map((t) => row(t.symbol, t.id, t.price, t.size, t.ts, t.side));
}

function byId(a: Row, b: Row): number {
  const [sa, ia] = a.split(" ")[0].split("/");
  const [sb, ib] = b.split(" ")[0].split("/");
  return sa < sb ? -1 : sa > sb ? 1 : Number(ia) - Number(ib);
}

interface Run {
  readonly collector: Collector;
  readonly sink: CheckingSink;
  readonly logs: string[];
  readonly metrics: CollectorMetrics;
}

function collect(
  exchange: string,
  server: FaultServer,
  symbols: string[],
  extra: Partial<ConstructorParameters<typeof Collector>[0]> = {},
): Run {
  const logs: string[] = [];
  const log = (r: Record<string, unknown>) => logs.push(JSON.stringify(r));
  const sink = new CheckingSink();
  const metrics = new CollectorMetrics();
  const collector = new Collector({
    exchange,
    url: server.url,
    symbols,
    sinks: [sink],
    metrics,
    diagnostics: new FeedDiagnostics({ log: (l) => logs.push(l), context: { exchange } }),
    connection: { log, watchdogMs: 10_000, backoff: { initialMs: 5, maxMs: 40 } },
    flushEveryMs: 50,
    queue: { capacity: 100_000, flushAt: 2_000 },
    backfill: { baseUrl: server.httpUrl, delayMs: 0 },
    ...extra,
  });
  return { collector, sink, logs, metrics };
}

/** Waits until the feed and the backfill are both done. */
async function drain(run: Run, server: FaultServer): Promise<void> {
  await server.finished;
  const progress = () => {
    const s = run.collector.summary();
    return s.trades + (s.trades_backfilled ?? 0) + s.book_updates + s.snapshots;
  };
  await settled(progress);
  await run.collector.backfiller!.idle();
  await settled(progress);
}

Deno.test("coinbase exchange backfill: held-back trades recovered through /products/{id}/trades; stored stream = the server's", async () => {
  const session = await loadCoinbaseSession();
  const n = session.items.length;
  // Disconnects while runs of matches pass (items 225-239, 7422-7516, 9353-9411 are
  // matches of the recorded session), and one dropped trade.
  const faults: ScheduledFault[] = [
    { at: 220, kind: "disconnect", missed: 25 },
    { at: Math.floor(n * 0.3), kind: "gap", what: "trade" },
    { at: 7420, kind: "disconnect", missed: 100 },
    { at: 9350, kind: "disconnect", missed: 70 },
  ];
  const missedMatches = session.items.filter((it, i) =>
    it.type === "match" &&
    ((i >= 220 && i < 245) || (i >= 7420 && i < 7520) || (i >= 9350 && i < 9420))
  ).length;
  const server = startFaultServer({ protocol: coinbaseProtocol(session), faults });
  // The first trade-history request is refused with 429, Retry-After 1 s.
  server.throttleRest({ count: 1, retryAfterSeconds: 1, path: /\/trades/ });
  const products = [...session.snapshots.keys()];
  const run = collect("coinbase", server, products);
  try {
    run.collector.start();
    await drain(run, server);
    const summary = await run.collector.stop();

    // The server's full stream, from the recorded frames.
    const expected: Row[] = [];
    for (
      const m of [
        ...session.lastMatches.values(),
        ...session.items.filter((i) => i.type === "match").map((i) => i.msg),
      ]
    ) {
      // Exchange `side` is the maker's: the taker took the other side.
      const side = m.side === "buy" ? "sell" : "buy";
      expected.push(
        row(m.product_id, m.trade_id, Number(m.price), Number(m.size), isoMicros(m.time), side),
      );
    }
    const got = stored(run.sink.trades);
    assert.equal(new Set(got).size, got.length, "no duplicates");
    assert.deepEqual([...got].sort(byId), expected.sort(byId), "stored stream = server stream");

    const backfilled = run.sink.trades.filter((t) => t.backfilled === true);
    // Every trade missed while disconnected came back: by REST, or (each product's newest)
    // as the `last_match` after the reconnect.
    assert.ok(missedMatches >= 20);
    assert.ok(
      backfilled.length >= missedMatches - 3 * products.length,
      `backfilled: ${backfilled.length}`,
    );
    assert.equal(summary.trades_backfilled, backfilled.length);
    assert.equal(summary.trades_lost, 0, "nothing left lost");
    assert.ok(summary.trades_recovered! >= backfilled.length, "recovered counts the backfilled");
    // The 429 was honoured: retried after its Retry-After, and then answered.
    const client = run.collector.backfiller!.client;
    assert.equal(server.restThrottled, 1);
    assert.equal(client.stats.rateLimited, 1);
    assert.equal(client.stats.retryAfterMs, 1000, "held back for the Retry-After");
    const first429 = server.restLog.findIndex((r) => r.status === 429);
    assert.ok(first429 >= 0);
    assert.equal(
      server.restLog[first429 + 1]?.url,
      server.restLog[first429].url,
      "the same request retried",
    );
    assert.equal(server.restLog[first429 + 1]?.status, 200);
    assert.ok(run.logs.some((l) => /"msg":"trades backfilled"/.test(l)), "backfill logged");
  } finally {
    await run.collector.stop();
    await server.shutdown();
  }
});

Deno.test("binance backfill: held-back trades recovered through historicalTrades; stored stream = the server's", async () => {
  const session = await loadBinanceSession();
  const n = session.items.length;
  const faults: ScheduledFault[] = [
    { at: Math.floor(n * 0.1), kind: "disconnect", missed: 200 },
    { at: Math.floor(n * 0.4), kind: "gap", what: "trade" },
    { at: Math.floor(n * 0.7), kind: "disconnect", missed: 300 },
  ];
  const missedTrades = session.items.filter((it, i) =>
    it.data.e === "trade" &&
    ((i >= Math.floor(n * 0.1) && i < Math.floor(n * 0.1) + 200) ||
      (i >= Math.floor(n * 0.7) && i < Math.floor(n * 0.7) + 300))
  ).length;
  const server = startFaultServer({ protocol: binanceProtocol(session), faults, path: "/stream" });
  // The first trade-history request is refused with 429, Retry-After 1 s (not the depth ones).
  server.throttleRest({ count: 1, retryAfterSeconds: 1, path: /historicalTrades/ });
  const run = collect("binance", server, ["BTC-USDT"], { restUrl: server.httpUrl });
  try {
    run.collector.start();
    await drain(run, server);
    const summary = await run.collector.stop();

    const expected = session.items.filter((it) => it.data.e === "trade").map(({ data: t }) =>
      // m: the buyer was the maker, so the taker sold.
      row("BTC-USDT", t.t, Number(t.p), Number(t.q), t.T * 1000, t.m ? "sell" : "buy")
    );
    const got = stored(run.sink.trades);
    assert.equal(new Set(got).size, got.length, "no duplicates");
    assert.deepEqual([...got].sort(byId), expected.sort(byId), "stored stream = server stream");

    const backfilled = run.sink.trades.filter((t) => t.backfilled === true);
    assert.ok(missedTrades >= 20, `missed: ${missedTrades}`);
    // Binance re-sends nothing after a reconnect: every held-back trade came by REST.
    assert.equal(backfilled.length, missedTrades + 1, "the missed ones and the dropped one");
    assert.equal(summary.trades_backfilled, backfilled.length);
    assert.equal(summary.trades_recovered, backfilled.length);
    assert.equal(summary.trades_lost, 0);
    const exposition = parseExposition(run.metrics.render());
    const metric = (name: string) =>
      exposition.get(`alphapulse_collector_${name}{exchange="binance"}`);
    assert.equal(metric("trades_backfilled_total"), backfilled.length);
    assert.equal(metric("trades_recovered_total"), backfilled.length);
    assert.equal(metric("trades_lost_total"), 0);
    const client = run.collector.backfiller!.client;
    assert.equal(server.restThrottled, 1);
    assert.equal(client.stats.rateLimited, 1);
    assert.equal(client.stats.retryAfterMs, 1000);
    const i429 = server.restLog.findIndex((r) => r.status === 429);
    const retry = server.restLog.slice(i429 + 1).find((r) => /historicalTrades/.test(r.url));
    assert.equal(retry?.url, server.restLog[i429].url, "the same request retried");
    assert.equal(retry?.status, 200);
  } finally {
    await run.collector.stop();
    await server.shutdown();
  }
});

for (const restTradeIds of [true, false]) {
  Deno.test(`kraken backfill (REST rows ${restTradeIds ? "with" : "without"} trade ids): dropped trades recovered through /0/public/Trades; stored stream = the server's`, async () => {
    const session = await loadKrakenSession();
    // Item 1365 (XMR/USD trade 1001) and item 2747 (SC/EUR trades 1001 and 1002) are dropped;
    // the next trade of each pair (items 2048 and 2991) shows the gap.
    const faults: ScheduledFault[] = [
      { at: 1300, kind: "gap", what: "trade" },
      { at: 2700, kind: "gap", what: "trade" },
    ];
    const server = startFaultServer({
      protocol: krakenProtocol(session, { restTradeIds }),
      faults,
      path: "/v2",
    });
    server.throttleRest({ count: 1, retryAfterSeconds: 1, path: /Trades/ });
    const symbols = [...session.snapshots.keys()].map((s) => s.replace("/", "-"));
    const run = collect("kraken", server, symbols, { channels: ["book-1000", "trade"] });
    try {
      run.collector.start();
      await drain(run, server);
      const summary = await run.collector.stop();

      assert.deepEqual(
        server.injected.filter((f) => f.kind === "gap").map((f) => f.detail),
        ["trade item 1365 dropped", "trade item 2747 dropped"],
      );
      const expected: Row[] = [];
      for (const item of session.items) {
        if (item.kind !== "trade") continue;
        for (const t of item.trades) {
          expected.push(
            row(
              t.symbol.replace("/", "-"),
              t.tradeId,
              Number(t.priceText),
              Number(t.qtyText),
              isoMicros(t.timestamp),
              t.side,
            ),
          );
        }
      }
      const got = stored(run.sink.trades);
      assert.equal(new Set(got).size, got.length, "no duplicates");
      assert.deepEqual([...got].sort(byId), expected.sort(byId), "stored stream = server stream");
      const backfilled = run.sink.trades.filter((t) => t.backfilled === true);
      assert.deepEqual(
        backfilled.map((t) => `${t.symbol}/${t.id}`).sort(),
        ["SC-EUR/1001", "SC-EUR/1002", "XMR-USD/1001"],
      );
      assert.equal(summary.trades_backfilled, 3);
      assert.equal(summary.trades_recovered, 3);
      assert.equal(summary.trades_lost, 0);
      assert.equal(run.collector.backfiller!.client.stats.rateLimited, 1);
      assert.equal(run.collector.backfiller!.client.stats.retryAfterMs, 1000);
    } finally {
      await run.collector.stop();
      await server.shutdown();
    }
  });
}

Deno.test("coinbase advanced backfill: held-back trades recovered through the public market trades; stored stream = the server's", async () => {
  const session = await loadCoinbaseSession();
  const n = session.items.length;
  const faults: ScheduledFault[] = [
    // Nothing is sent until every channel's subscribe is in (one subscribe per channel).
    { at: 0, kind: "silence", ms: 300 },
    { at: 220, kind: "disconnect", missed: 25 },
    { at: Math.floor(n * 0.3), kind: "gap", what: "trade" },
    { at: 7420, kind: "disconnect", missed: 100 },
  ];
  // A trade snapshot of one trade per product after a reconnect: the rest needs REST.
  const protocol = coinbaseAdvancedProtocol(session, { recentTrades: 1 });
  const server = startFaultServer({ protocol, faults });
  server.throttleRest({ count: 1, retryAfterSeconds: 1, path: /ticker/ });
  const products = [...session.snapshots.keys()];
  const run = collect("coinbase-advanced", server, products);
  try {
    run.collector.start();
    await drain(run, server);
    const summary = await run.collector.stop();

    const expected: Row[] = [];
    for (
      const m of [
        ...session.lastMatches.values(),
        ...session.items.filter((i) => i.type === "match").map((i) => i.msg),
      ]
    ) {
      const side = m.side === "buy" ? "sell" : "buy"; // Exchange's maker side to the taker's
      expected.push(
        row(m.product_id, m.trade_id, Number(m.price), Number(m.size), isoMicros(m.time), side),
      );
    }
    const got = stored(run.sink.trades);
    assert.equal(new Set(got).size, got.length, "no duplicates");
    assert.deepEqual([...got].sort(byId), expected.sort(byId), "stored stream = server stream");
    const backfilled = run.sink.trades.filter((t) => t.backfilled === true);
    assert.ok(backfilled.length >= 10, `backfilled: ${backfilled.length}`);
    assert.equal(summary.trades_backfilled, backfilled.length);
    assert.equal(summary.trades_lost, 0);
    assert.ok(summary.trades_recovered! >= backfilled.length);
    assert.equal(run.collector.backfiller!.client.stats.rateLimited, 1);
    assert.equal(run.collector.backfiller!.client.stats.retryAfterMs, 1000);
  } finally {
    await run.collector.stop();
    await server.shutdown();
  }
});
