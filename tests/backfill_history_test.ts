/**
 * The venue trade histories page through long gaps exactly as each venue pages (answered by
 * the fake servers' REST functions over synthetic histories), the `(ts, price, size, side)`
 * de-duplication rule, the ledger's missing ranges, and the backfiller: each run of missing
 * ids fetched once, only the missing ids passed on, a failed fetch logged and left lost.
 */
import assert from "node:assert/strict";
import { RestClient } from "../collectors/backfill/rest_client.ts";
import { coinbaseExchangeHistory } from "../collectors/backfill/coinbase_exchange_history.ts";
import { binanceHistory } from "../collectors/backfill/binance_history.ts";
import { krakenHistory, krakenRestPair } from "../collectors/backfill/kraken_history.ts";
import { coinbaseAdvancedHistory } from "../collectors/backfill/coinbase_advanced_history.ts";
import { dedupeByKey } from "../collectors/backfill/dedupe_by_key.ts";
import { Backfiller } from "../collectors/backfill/backfiller.ts";
import type { TradeHistory } from "../collectors/backfill/history.ts";
import { TradeLedger } from "../collectors/runtime/trade_ledger.ts";
import type { MarketEvent, Trade } from "../lib/market/types.ts";
import { coinbaseTradesAnswer } from "./fakes/coinbase_exchange_fake.ts";
import { historicalTradesAnswer } from "./fakes/binance_fake.ts";
import { type KrakenTrade, krakenTradesAnswer } from "./fakes/kraken_fake.ts";
import { marketTradesAnswer } from "./fakes/coinbase_advanced_fake.ts";
import { ReferenceBook } from "./support/reference_book.ts";

/** 2021-04-17T16:00:00Z plus `i` tenths of a second, with microseconds `i % 1e6`. */
function isoAt(i: number): string {
  const ms = Date.UTC(2021, 3, 17, 16) + i * 100;
  return new Date(ms).toISOString().slice(0, 19) + "." +
    String((ms % 1000) * 1000 + (i % 1000)).padStart(6, "0") + "Z";
}

/** A client on a venue answered by `answer`, without waits; records the URLs asked. */
function clientOf(answer: (url: URL) => Response | undefined) {
  const urls: string[] = [];
  const client = new RestClient({
    baseUrl: "http://venue.test",
    capacity: 1e6,
    refillPerSecond: 1e6,
    clock: { now: () => 0, sleep: () => Promise.resolve() },
    fetch: (url) => {
      const u = new URL(url);
      urls.push(u.pathname + u.search);
      return Promise.resolve(answer(u) ?? new Response("no", { status: 404 }));
    },
  });
  return { client, urls };
}

const OPTIONS = { recvTs: () => 1, maxPages: 20 };

function ids(trades: readonly Trade[]): number[] {
  return trades.map((t) => Number(t.id)).sort((a, b) => a - b);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, k) => from + k);
}

Deno.test("coinbase exchange history: a 2,501-id gap in three pages of `after` cursors", async () => {
  const history = new Map([[
    "BTC-USD",
    range(1, 3000).map((id) => ({
      trade_id: id,
      price: `${(10000 + id) / 100}`,
      size: "0.5",
      side: id % 2 ? "buy" : "sell",
      time: isoAt(id),
    })),
  ]]);
  const { client, urls } = clientOf((url) => coinbaseTradesAnswer(url, history));
  const got = await coinbaseExchangeHistory.fetch(
    client,
    { symbol: "BTC-USD", from: 100, to: 2600 },
    OPTIONS,
  );
  assert.deepEqual(urls, [
    "/products/BTC-USD/trades?after=2601&limit=1000",
    "/products/BTC-USD/trades?after=1601&limit=1000",
    "/products/BTC-USD/trades?after=601&limit=501",
  ]);
  assert.deepEqual(ids(got), range(100, 2600));
  const t = got.find((x) => x.id === "101")!;
  // Maker buy: the taker sold. 16:00:10.1 plus 101 µs.
  assert.deepEqual([t.price, t.size, t.side, t.ts], [
    101.01,
    0.5,
    "sell",
    Date.UTC(2021, 3, 17, 16, 0, 10, 100) * 1000 + 101,
  ]);
});

Deno.test("binance history: fromId pages of 1,000, weight 25 each, only up to the gap's end", async () => {
  const history = range(1, 3000).map((t) => ({
    t,
    p: "60000.01",
    q: "0.001",
    T: 1_700_000_000_000 + t,
    m: t % 3 === 0,
  }));
  const { client, urls } = clientOf((url) => historicalTradesAnswer(url, "BTCUSDT", history));
  const got = await binanceHistory.fetch(
    client,
    { symbol: "BTC-USDT", from: 10, to: 2100 },
    OPTIONS,
  );
  assert.deepEqual(urls, [
    "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=10&limit=1000",
    "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=1010&limit=1000",
    "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=2010&limit=91",
  ]);
  assert.deepEqual(ids(got), range(10, 2100));
  const t = got.find((x) => x.id === "12")!;
  assert.deepEqual([t.price, t.size, t.side, t.ts], [
    60000.01,
    0.001,
    "sell",
    (1_700_000_000_000 + 12) * 1000,
  ]);

  // Each request costs 25 of the weight budget: with 50 a burst and 25 a second, the third
  // page waits one second (on a fake clock).
  let now = 0;
  const sleeps: number[] = [];
  const weighted = new RestClient({
    baseUrl: "http://venue.test",
    capacity: 50,
    refillPerSecond: 25,
    clock: { now: () => now, sleep: (ms) => (sleeps.push(ms), now += ms, Promise.resolve()) },
    fetch: (url) => Promise.resolve(historicalTradesAnswer(new URL(url), "BTCUSDT", history)),
  });
  await binanceHistory.fetch(weighted, { symbol: "BTC-USDT", from: 10, to: 2100 }, OPTIONS);
  assert.deepEqual(sleeps, [1000]);
});

function krakenTrades(n: number): KrakenTrade[] {
  return range(1, n).map((k) => ({
    symbol: "BTC/USD",
    side: k % 2 ? "buy" : "sell",
    priceText: "30000.10000",
    qtyText: `0.${String(k).padStart(8, "0")}`,
    ordType: "limit",
    tradeId: 5000 + k,
    timestamp: isoAt(k),
  }));
}

Deno.test("kraken history: a time window paged by `last`, from the trade before the gap", async () => {
  const history = new Map([["BTC/USD", krakenTrades(2600)]]);
  const { client, urls } = clientOf((url) => krakenTradesAnswer(url, history, true));
  assert.equal(krakenRestPair("BTC-USD"), "XBTUSD");
  // Trades 5100..7400 missing; the last received before is trade 5099 (k = 99).
  const afterTs = Date.UTC(2021, 3, 17, 16, 0, 9, 900) * 1000 + 99;
  const beforeTs = Date.UTC(2021, 3, 17, 16, 4, 0, 100) * 1000 + 401;
  const got = await krakenHistory.fetch(client, {
    symbol: "BTC-USD",
    from: 5100,
    to: 7400,
    afterTs,
    beforeTs,
  }, OPTIONS);
  assert.equal(urls.length, 3);
  assert.equal(
    urls[0],
    `/0/public/Trades?pair=XBTUSD&count=1000&since=${BigInt(afterTs - 1) * 1000n}`,
  );
  const wanted = got.filter((t) => Number(t.id) >= 5100 && Number(t.id) <= 7400);
  assert.deepEqual(ids(wanted), range(5100, 7400));
  const t = got.find((x) => x.id === "5100")!;
  assert.deepEqual([t.price, t.size, t.side, t.ts], [30000.1, 0.000001, "sell", afterTs + 100_001]);
});

Deno.test("kraken history without ids: the window de-duplicated by (ts, price, size, side)", async () => {
  const all = krakenTrades(30);
  const history = new Map([["BTC/USD", all]]);
  const { client } = clientOf((url) => krakenTradesAnswer(url, history, false));
  const asTrade = (k: KrakenTrade): Trade => ({
    kind: "trade",
    exchange: "kraken",
    symbol: "BTC-USD",
    id: String(k.tradeId),
    price: 30000.1,
    size: Number(k.qtyText),
    side: k.side,
    ts: Date.parse(k.timestamp.slice(0, 23) + "Z") * 1000 + Number(k.timestamp.slice(23, 26)),
    recvTs: 0,
  });
  // Received 5001..5010 and 5014..5030: 5011..5013 missing.
  const received = all.filter((k) => k.tradeId <= 5010 || k.tradeId >= 5014).map(asTrade);
  const got = await krakenHistory.fetch(client, {
    symbol: "BTC-USD",
    from: 5011,
    to: 5013,
    afterTs: received[9].ts,
    beforeTs: received[10].ts,
    received,
  }, OPTIONS);
  // Exactly three rows were not received: they take the missing ids, in time order.
  assert.deepEqual(got.map((t) => [t.id, t.size]), [["5011", 0.00000011], ["5012", 0.00000012], [
    "5013",
    0.00000013,
  ]]);
});

Deno.test("dedupe by key: copies counted, the window bounds included, outside dropped", () => {
  const t = (ts: number, price: number, side: "buy" | "sell" = "buy", size = 1): Trade => ({
    kind: "trade",
    exchange: "kraken",
    symbol: "X-Y",
    id: "",
    price,
    size,
    side,
    ts,
    recvTs: 0,
  });
  const fetched = [
    t(0, 9),
    t(1, 10),
    t(2, 11),
    t(2, 11),
    t(2, 11, "sell"),
    t(2, 11, "buy", 2),
    t(3, 12),
    t(4, 13),
  ];
  const received = [t(1, 10), t(2, 11), t(3, 12)];
  const kept = dedupeByKey(fetched, received, 1, 3);
  // Of the three ts-2 rows at 11 (buy, size 1) two were trades and one was received.
  assert.deepEqual(kept.map((x) => `${x.ts} ${x.price} ${x.side} ${x.size}`), [
    "2 11 buy 1",
    "2 11 sell 1",
    "2 11 buy 2",
  ]);
  assert.deepEqual(dedupeByKey([], received, 0, 10), []);
});

Deno.test("coinbase advanced history: the gap's time window, paged to older trades by `end`", async () => {
  const trades = range(1, 2500).map((id) => ({
    trade_id: id,
    product_id: "BTC-USD",
    price: "100.5",
    size: "2",
    side: "buy",
    time: isoAt(id),
  }));
  const books = new Map([["BTC-USD", new ReferenceBook()]]);
  const { client, urls } = clientOf((url) =>
    marketTradesAnswer(url, new Map([["BTC-USD", trades]]), books)
  );
  const afterTs = Date.parse(isoAt(99).slice(0, 19) + "Z") * 1000;
  const beforeTs = Date.parse(isoAt(2401).slice(0, 19) + "Z") * 1000;
  const got = await coinbaseAdvancedHistory.fetch(client, {
    symbol: "BTC-USD",
    from: 100,
    to: 2400,
    afterTs,
    beforeTs,
  }, OPTIONS);
  assert.ok(urls.length >= 3, urls.join("\n"));
  assert.match(urls[0], /ticker\?limit=1000&start=\d+&end=\d+$/);
  const wanted = new Set(got.map((t) => Number(t.id)));
  for (const id of range(100, 2400)) assert.ok(wanted.has(id), `id ${id}`);
  // Exchange maker side "buy" is, in Advanced's taker terms, SELL.
  assert.equal(got.find((t) => t.id === "100")!.side, "sell");
});

Deno.test("trade ledger: missing ranges, split as trades come back", () => {
  const ledger = new TradeLedger();
  const trade = (id: number, symbol = "A-B"): Trade => ({
    kind: "trade",
    exchange: "x",
    symbol,
    id: String(id),
    price: 1,
    size: 1,
    side: "buy",
    ts: id,
    recvTs: id,
  });
  for (const id of [1, 2, 6, 7, 12]) ledger.check(trade(id));
  ledger.check(trade(40, "C-D"));
  ledger.check(trade(42, "C-D"));
  assert.deepEqual(ledger.missingRanges(), [
    { symbol: "A-B", from: 3, to: 5 },
    { symbol: "A-B", from: 8, to: 11 },
    { symbol: "C-D", from: 41, to: 41 },
  ]);
  assert.equal(ledger.check(trade(9)), "recovered");
  assert.deepEqual(ledger.missingRanges().filter((r) => r.symbol === "A-B"), [
    { symbol: "A-B", from: 3, to: 5 },
    { symbol: "A-B", from: 8, to: 8 },
    { symbol: "A-B", from: 10, to: 11 },
  ]);
});

Deno.test("backfiller: each run fetched once, only the missing ids passed on, failures logged and left lost", async () => {
  const ledger = new TradeLedger();
  const passed: Trade[] = [];
  const target = {
    ledger,
    handleBackfill(trades: readonly Trade[]): MarketEvent[] {
      const out: MarketEvent[] = [];
      for (const t of trades) {
        const marked = { ...t, backfilled: true };
        if (ledger.check(marked) === "recovered") out.push(marked), passed.push(marked);
      }
      return out;
    },
  };
  const trade = (id: number, symbol = "A-B"): Trade => ({
    kind: "trade",
    exchange: "x",
    symbol,
    id: String(id),
    price: id,
    size: 1,
    side: "buy",
    ts: id * 10,
    recvTs: 0,
  });
  const asked: string[] = [];
  let fail = false;
  const source: TradeHistory = {
    exchange: "x",
    baseUrl: "http://unused",
    limits: { capacity: 1, refillPerSecond: 1 },
    fetch(_client, request) {
      asked.push(
        `${request.symbol} ${request.from}-${request.to} ${request.afterTs}-${request.beforeTs}`,
      );
      if (fail) return Promise.reject(new Error("venue down"));
      // The venue's page also holds trades around the gap: they must not pass.
      return Promise.resolve(
        range(request.from - 1, request.to + 1).map((id) => trade(id, request.symbol)),
      );
    },
  };
  const logs: Record<string, unknown>[] = [];
  const events: MarketEvent[] = [];
  const backfiller = new Backfiller({
    source,
    target,
    delayMs: 0,
    log: (r) => logs.push(r),
    onEvents: (e) => events.push(...e),
  });
  /** Feeds live trades through the ledger and the backfiller as the pipeline does. */
  const live = (...list: Trade[]) => {
    const out: MarketEvent[] = [];
    for (const t of list) {
      const verdict = ledger.check(t);
      if (verdict === "gap") {
        out.push({
          kind: "status",
          exchange: "x",
          symbol: t.symbol,
          ts: 0,
          recvTs: 0,
          status: "gap",
          reason: "",
        });
      }
      if (verdict !== "duplicate") out.push(t);
    }
    backfiller.observe(out);
  };
  live(trade(1), trade(2), trade(6), trade(7));
  await backfiller.idle();
  assert.deepEqual(asked, ["A-B 3-5 20-60"]);
  assert.deepEqual(passed.map((t) => t.id), ["3", "4", "5"]);
  assert.equal(events.length, 3);
  assert.equal(ledger.lost, 0);
  assert.equal(ledger.recovered, 3);
  live(trade(8), trade(9));
  await backfiller.idle();
  assert.equal(asked.length, 1, "nothing new missing: nothing asked");

  fail = true;
  live(trade(12));
  await backfiller.idle();
  assert.deepEqual(asked.slice(1), ["A-B 10-11 90-120"]);
  assert.equal(ledger.lost, 2, "left lost");
  assert.equal(backfiller.stats.failed, 1);
  assert.ok(logs.some((r) => r.msg === "backfill failed" && r.from === 10));
  live(trade(13));
  await backfiller.idle();
  assert.equal(asked.length, 2, "a failed run is not asked again");
  assert.deepEqual(backfiller.stats, { runs: 2, failed: 1, passed: 3 });
  await backfiller.stop();
});
