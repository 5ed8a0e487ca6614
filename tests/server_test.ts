import assert from "node:assert/strict";
import type { Table } from "apache-arrow";
import type pl from "nodejs-polars";
import type { Bar, BookSnapshot, MarketEvent, Quote, Trade } from "../lib/market/types.ts";
import type {
  BarQuery,
  BookSnapshotQuery,
  InstrumentsOptions,
  InstrumentSummary,
  InstrumentTableSummary,
  ListQuery,
  MarketDataRepository,
  PagedResult,
  QueryResult,
} from "../lib/repositories/repository.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import {
  createApp,
  parseStreamFilter,
  SLOW_CONSUMER_CLOSE_CODE,
  startServer,
  StreamHub,
} from "../server/mod.ts";
import { type BrowserPage, pageEventually, withChromium } from "./support/chromium.ts";
import { themeOf } from "../lib/charts/mod.ts";

const MINUTE = 60_000_000;
const T0 = Date.UTC(2021, 3, 17, 16, 0) * 1000;

function trade(i: number, over: Partial<Trade> = {}): Trade {
  return {
    kind: "trade",
    exchange: "coinbase",
    symbol: "BTC-USD",
    ts: T0 + i * 1_000_000,
    recvTs: T0 + i * 1_000_000 + 500,
    id: String(1000 + i),
    price: 60_000 + i,
    size: 0.5,
    side: i % 2 ? "buy" : "sell",
    ...over,
  };
}

function bar(i: number): Bar {
  return {
    kind: "bar",
    exchange: "coinbase",
    symbol: "BTC-USD",
    ts: T0 + i * MINUTE,
    recvTs: T0 + i * MINUTE,
    interval: MINUTE,
    open: 100 + i,
    high: 110 + i,
    low: 90 + i,
    close: 105 + i,
    volume: 2,
    vwap: Number.NaN,
    trades: 3,
  };
}

/** A QueryResult over fixed rows; the bulk accessors are not used by the server. */
function fixedResult<Row>(rows: Row[]): QueryResult<Row> {
  return {
    rows: () => Promise.resolve(rows.slice()),
    polars: () => Promise.reject(new Error("not used")) as Promise<pl.DataFrame>,
    arrow: () => Promise.reject(new Error("not used")) as Promise<Table>,
  };
}

/** Implements the repository interface over fixed rows and records the queries it got. */
class FakeRepository implements MarketDataRepository {
  barQueries: BarQuery[] = [];
  snapshotQueries: BookSnapshotQuery[] = [];
  tradeQueries: ListQuery[] = [];
  instrumentQueries: (InstrumentsOptions | undefined)[] = [];
  failWith: Error | undefined;
  constructor(
    readonly instrumentRows: InstrumentSummary[],
    readonly barRows: Bar[],
    readonly tradeRows: Trade[],
  ) {}
  instruments(options?: InstrumentsOptions): Promise<InstrumentSummary[]> {
    this.instrumentQueries.push(options);
    return this.failWith ? Promise.reject(this.failWith) : Promise.resolve(this.instrumentRows);
  }
  trades(query: ListQuery): PagedResult<Trade> {
    this.tradeQueries.push(query);
    return new MemoryRepository(this.tradeRows).trades(query);
  }
  bars(query: BarQuery): QueryResult<Bar> {
    this.barQueries.push(query);
    return fixedResult(this.barRows);
  }
  activityBars(): QueryResult<Bar> {
    return fixedResult(this.barRows);
  }
  quotes(query: ListQuery): PagedResult<Quote> {
    return new MemoryRepository().quotes(query);
  }
  bookSnapshots(query: BookSnapshotQuery): PagedResult<BookSnapshot> {
    this.snapshotQueries.push(query);
    return new MemoryRepository().bookSnapshots(query);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function fixture() {
  const repository = new FakeRepository(
    [{
      exchange: "coinbase",
      symbol: "BTC-USD",
      trades: 10,
      rows: 10,
      first: T0,
      last: T0 + 9_000_000,
    }],
    [bar(0), bar(1), bar(2)],
    Array.from({ length: 10 }, (_, i) => trade(i)),
  );
  const hub = new StreamHub({ maxQueue: 1000 });
  const app = createApp({ repository, hub });
  const get = (path: string) => app(new Request(`http://localhost${path}`));
  return { repository, hub, app, get };
}

Deno.test("GET /health reports status, uptime and hub counters", async () => {
  const { hub, get } = fixture();
  hub.subscribe();
  hub.write([trade(1), trade(2)]);
  const res = await get("/health");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  const body = await res.json();
  assert.equal(body.status, "ok");
  assert.equal(typeof body.uptimeSeconds, "number");
  assert.equal(body.streamClients, 1);
  assert.equal(body.eventsPublished, 2);
  assert.equal(body.eventsDelivered, 2);
  assert.equal(body.slowDisconnects, 0);
});

Deno.test("GET /api/instruments returns the repository's instruments", async () => {
  const { repository, get } = fixture();
  const res = await get("/api/instruments");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), repository.instrumentRows);
  assert.deepEqual(repository.instrumentQueries, [{}], "no table: the repository's default");
});

Deno.test("GET /api/instruments?table= lists the instruments of that table", async (t) => {
  const quote = (symbol: string, i: number): Quote => ({
    kind: "quote",
    exchange: "alpaca",
    symbol,
    ts: T0 + i * 1_000_000,
    recvTs: T0 + i * 1_000_000 + 300,
    bidPrice: 100 + i,
    bidSize: 1,
    askPrice: 101 + i,
    askSize: 2,
  });
  const repository = new MemoryRepository([
    trade(0),
    trade(5),
    quote("AAPL", 1),
    quote("AAPL", 7),
    quote("AAPL", 3),
    { ...quote("MSFT", 2), exchange: "coinbase" },
  ]);
  const app = createApp({ repository, hub: new StreamHub() });
  const get = (path: string) => app(new Request(`http://localhost${path}`));
  await t.step(
    "quotes: a quotes-only instrument is listed, with rows and venue times",
    async () => {
      const res = await get("/api/instruments?table=quotes");
      assert.equal(res.status, 200);
      const body: InstrumentTableSummary[] = await res.json();
      assert.deepEqual(body, [
        {
          exchange: "alpaca",
          symbol: "AAPL",
          rows: 3,
          first: T0 + 1_000_000,
          last: T0 + 7_000_000,
        },
        {
          exchange: "coinbase",
          symbol: "MSFT",
          rows: 1,
          first: T0 + 2_000_000,
          last: T0 + 2_000_000,
        },
      ]);
    },
  );
  await t.step("trades (explicit or default): only instruments with trades", async () => {
    const expected = [{
      exchange: "coinbase",
      symbol: "BTC-USD",
      trades: 2,
      rows: 2,
      first: T0,
      last: T0 + 5_000_000,
    }];
    for (const path of ["/api/instruments", "/api/instruments?table=trades"]) {
      const res = await get(path);
      assert.equal(res.status, 200, path);
      assert.deepEqual(await res.json(), expected, path);
    }
  });
  await t.step("book_snapshots: none held", async () => {
    const res = await get("/api/instruments?table=book_snapshots");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), []);
  });
  await t.step("an unknown table is a 400 naming the parameter", async () => {
    for (const table of ["book_changes", "event_log", "Quotes", "x"]) {
      const res = await get(`/api/instruments?table=${table}`);
      assert.equal(res.status, 400, table);
      const body = await res.json();
      assert.equal(body.param, "table", table);
      assert.match(body.error, /unknown table/, table);
    }
  });
});

Deno.test("GET /api/bars passes a parsed query and returns the rows", async (t) => {
  const { repository, get } = fixture();
  await t.step("defaults: 1m, no range; exchange lower-cased, symbol normalised", async () => {
    const res = await get("/api/bars?exchange=Coinbase&symbol=btc-usd");
    assert.equal(res.status, 200);
    const rows = await res.json();
    assert.deepEqual(rows.map((r: Bar) => r.ts), [0, 1, 2].map((i) => T0 + i * MINUTE));
    assert.equal(rows[0].vwap, null, "NaN becomes null in JSON");
    assert.deepEqual(repository.barQueries.at(-1), {
      exchange: "coinbase",
      symbol: "BTC-USD",
      interval: MINUTE,
    });
  });
  await t.step("interval, ISO start and epoch-micros end", async () => {
    const res = await get(
      `/api/bars?exchange=coinbase&symbol=XBT/USD&interval=5m&start=2021-04-17T16:00:00Z&end=${
        T0 + 3_600_000_000
      }`,
    );
    assert.equal(res.status, 200);
    assert.deepEqual(repository.barQueries.at(-1), {
      exchange: "coinbase",
      symbol: "BTC-USD",
      interval: 5 * MINUTE,
      start: T0,
      end: T0 + 3_600_000_000,
    });
  });
  await t.step("date-only and offset times", async () => {
    await get(
      "/api/bars?exchange=coinbase&symbol=BTC-USD&start=2021-04-17&end=2021-04-17T18:00:00%2B02:00",
    );
    const q = repository.barQueries.at(-1)!;
    assert.equal(q.start, Date.UTC(2021, 3, 17) * 1000);
    assert.equal(q.end, T0);
  });
});

Deno.test("GET /api/bars and /api/trades over a real MemoryRepository", async () => {
  const repository = new MemoryRepository([
    trade(0, { price: 100, size: 1 }),
    trade(30, { price: 110, size: 2 }),
    trade(59, { price: 90, size: 1 }),
    trade(61, { price: 95, size: 4 }),
    trade(62, { price: 96, size: 1, symbol: "ETH-USD" }),
  ]);
  const app = createApp({ repository, hub: new StreamHub() });
  const res = await app(
    new Request("http://localhost/api/bars?exchange=coinbase&symbol=BTC-USD&interval=1m"),
  );
  assert.equal(res.status, 200);
  const bars: Bar[] = await res.json();
  assert.deepEqual(
    bars.map((b) => [b.ts, b.open, b.high, b.low, b.close, b.volume, b.trades]),
    [[T0, 100, 110, 90, 90, 4, 3], [T0 + MINUTE, 95, 95, 95, 95, 4, 1]],
  );
  const instruments = await (await app(new Request("http://localhost/api/instruments"))).json();
  assert.deepEqual(instruments.map((i: InstrumentSummary) => [i.symbol, i.trades]), [
    ["BTC-USD", 4],
    ["ETH-USD", 1],
  ]);
  const trades = await (await app(
    new Request(
      `http://localhost/api/trades?exchange=coinbase&symbol=BTC-USD&start=${
        T0 + 30_000_000
      }&limit=2`,
    ),
  )).json();
  assert.deepEqual(trades.map((t: Trade) => t.price), [110, 90]);
  const tickBars: Bar[] = await (await app(
    new Request("http://localhost/api/bars?exchange=coinbase&symbol=BTC-USD&by=ticks&threshold=3"),
  )).json();
  assert.deepEqual(
    tickBars.map((b) => [b.ts, b.open, b.high, b.low, b.close, b.volume, b.trades, b.interval]),
    [[T0, 100, 110, 90, 90, 4, 3, 0], [T0 + 61_000_000, 95, 95, 95, 95, 4, 1, 0]],
  );
  const volumeBars: Bar[] = await (await app(
    new Request("http://localhost/api/bars?exchange=coinbase&symbol=BTC-USD&by=volume&threshold=3"),
  )).json();
  assert.deepEqual(volumeBars.map((b) => [b.volume, b.trades]), [[3, 2], [5, 2]]);
});

Deno.test("GET /api/quotes and /api/book_snapshots over a real MemoryRepository", async () => {
  const at = (i: number) => ({
    exchange: "kraken",
    symbol: "BTC-USD",
    ts: T0 + i * 1_000_000,
    recvTs: T0 + i * 1_000_000 + 7,
  });
  const repository = new MemoryRepository([
    ...[0, 1, 2].map((i): Quote => ({
      kind: "quote",
      ...at(i),
      bidPrice: 100 + i,
      bidSize: 1,
      askPrice: 101 + i,
      askSize: NaN,
    })),
    {
      kind: "book_snapshot",
      ...at(5),
      bids: [[98, 1], [99, 2], [97, 3]],
      asks: [[102, 1], [101, 4]],
      sequence: 42,
    },
  ]);
  const app = createApp({ repository, hub: new StreamHub() });
  const get = (path: string) => app(new Request(`http://localhost${path}`));
  let res = await get("/api/quotes?exchange=kraken&symbol=XBT/USD&order=desc&limit=2");
  assert.equal(res.status, 200);
  assert.ok(res.headers.get("x-next-cursor"), "a full page has a next cursor");
  const quotes: Quote[] = await res.json();
  assert.deepEqual(quotes.map((q) => [q.ts, q.bidPrice, q.askSize]), [
    [T0 + 2_000_000, 102, null], // NaN (size not given) is null in JSON
    [T0 + 1_000_000, 101, null],
  ]);
  res = await get("/api/book_snapshots?exchange=kraken&symbol=BTC-USD&depth=2");
  assert.equal(res.status, 200);
  const [book]: BookSnapshot[] = await res.json();
  assert.deepEqual([book.ts, book.bids, book.asks, book.sequence], [
    T0 + 5_000_000,
    [[99, 2], [98, 1]],
    [[101, 4], [102, 1]],
    42,
  ]);
  for (const depth of ["0", "x", "1001", "2.5"]) {
    res = await get(`/api/book_snapshots?exchange=kraken&symbol=BTC-USD&depth=${depth}`);
    assert.equal(res.status, 400, depth);
    assert.equal((await res.json()).param, "depth");
  }
  res = await get("/api/quotes?exchange=kraken&symbol=BTC-USD&limit=0");
  assert.equal(res.status, 400);
});

Deno.test("GET /api/bars rejects bad parameters with 400 JSON errors", async () => {
  const { repository, get } = fixture();
  const cases: [string, string, RegExp][] = [
    ["symbol=BTC-USD", "exchange", /required/],
    ["exchange=coinbase", "symbol", /required/],
    ["exchange=coinbase&symbol=BTC-USD&interval=1x", "interval", /invalid duration/],
    ["exchange=coinbase&symbol=BTC-USD&interval=0m", "interval", /invalid duration/],
    ["exchange=coinbase&symbol=BTC-USD&start=yesterday", "start", /not a time/],
    ["exchange=coinbase&symbol=BTC-USD&start=1618675200", "start", /looks like seconds/],
    ["exchange=coinbase&symbol=BTC-USD&end=1618675200000", "end", /looks like milliseconds/],
    [`exchange=coinbase&symbol=BTC-USD&start=${T0}&end=${T0}`, "end", /after start/],
    [
      "exchange=coinbase&symbol=BTC-USD&interval=1us&start=2021-01-01&end=2021-02-01",
      "interval",
      /more than/,
    ],
    ["exchange=coin%20base&symbol=BTC-USD", "exchange", /venue name/],
    ["exchange=coinbase&symbol=BTC%3CUSD", "symbol", /not a symbol/],
    ["exchange=coinbase&symbol=BTC-USD&by=minutes&threshold=3", "by", /unknown measure/],
    ["exchange=coinbase&symbol=BTC-USD&by=ticks", "threshold", /required/],
    ["exchange=coinbase&symbol=BTC-USD&by=ticks&threshold=2.5", "threshold", /whole number/],
    ["exchange=coinbase&symbol=BTC-USD&by=volume&threshold=-1", "threshold", /positive/],
    ["exchange=coinbase&symbol=BTC-USD&by=dollars&threshold=1e400", "threshold", /positive/],
    [
      "exchange=coinbase&symbol=BTC-USD&by=ticks&threshold=5&interval=1m",
      "interval",
      /not allowed/,
    ],
    ["exchange=coinbase&symbol=BTC-USD&threshold=5", "threshold", /only with by/],
  ];
  for (const [query, param, message] of cases) {
    const res = await get(`/api/bars?${query}`);
    assert.equal(res.status, 400, query);
    const body = await res.json();
    assert.equal(body.param, param, query);
    assert.match(body.error, message, query);
    assert.ok(body.error.startsWith(`${param}: `), query);
  }
  assert.equal(repository.barQueries.length, 0, "the repository is never asked");
});

Deno.test("GET /api/trades applies limit and order", async () => {
  const { repository, get } = fixture();
  let res = await get("/api/trades?exchange=coinbase&symbol=BTC-USD&limit=3");
  assert.equal(res.status, 200);
  assert.ok(res.headers.get("x-next-cursor"));
  assert.deepEqual((await res.json()).map((t: Trade) => t.id), ["1000", "1001", "1002"]);
  res = await get("/api/trades?exchange=coinbase&symbol=BTC-USD&limit=2&order=desc&start=" + T0);
  assert.deepEqual((await res.json()).map((t: Trade) => t.id), ["1009", "1008"]);
  assert.equal(repository.tradeQueries.at(-1)!.start, T0);
  res = await get("/api/trades?exchange=coinbase&symbol=BTC-USD");
  assert.equal((await res.json()).length, 10);
  for (const bad of ["limit=0", "limit=100001", "limit=abc", "order=up"]) {
    res = await get(`/api/trades?exchange=coinbase&symbol=BTC-USD&${bad}`);
    assert.equal(res.status, 400, bad);
    assert.equal((await res.json()).param, bad.split("=")[0]);
  }
});

Deno.test("routing: 404, 405, HEAD, 426 for /ws without upgrade, 500 on repository failure", async () => {
  const { repository, hub, app, get } = fixture();
  let res = await get("/nope");
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error, "not found");
  res = await app(new Request("http://localhost/health", { method: "POST", body: "x" }));
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "GET");
  await res.body?.cancel();
  res = await app(new Request("http://localhost/health", { method: "HEAD" }));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "");
  res = await get("/ws?kinds=trade");
  assert.equal(res.status, 426);
  assert.match((await res.json()).error, /WebSocket upgrade/);
  res = await get("/ws?kinds=trades");
  assert.equal(res.status, 400);
  assert.match((await res.json()).error, /unknown kind "trades"/);
  assert.equal(hub.stats().clients, 0, "rejected stream requests leave no subscriber");

  repository.failWith = new Error("disk on fire");
  const logged: unknown[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    res = await get("/api/instruments");
  } finally {
    console.error = error;
  }
  assert.equal(res.status, 500);
  assert.deepEqual(await res.json(), { error: "internal server error" });
  assert.equal(logged.length, 1);
});

Deno.test("GET / serves the live page with the library inlined", async () => {
  const { get } = fixture();
  const res = await get("/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /text\/html/);
  const page = await res.text();
  assert.ok(page.includes("window.LightweightCharts"));
  assert.ok(page.includes("TradingView Lightweight Charts"));
  assert.doesNotMatch(page, /<script[^>]+src=/i);
  assert.ok(page.includes("/api/bars?") && page.includes("/ws?"));
});

Deno.test("StreamHub: filters, bounded queues, slow subscribers are dropped and counted", async () => {
  const hub = new StreamHub({ maxQueue: 3 });
  const btcTrades = hub.subscribe(
    parseStreamFilter(new URLSearchParams("symbol=btc-usd&kinds=trade")),
  );
  const krakenAny = hub.subscribe({ exchanges: new Set(["kraken"]) });
  const quote: Quote = {
    kind: "quote",
    exchange: "coinbase",
    symbol: "BTC-USD",
    ts: T0,
    recvTs: T0,
    bidPrice: 1,
    bidSize: 1,
    askPrice: 2,
    askSize: 1,
  };
  hub.write([trade(1), quote, trade(2, { symbol: "ETH-USD" }), trade(3, { exchange: "kraken" })]);
  const got = await btcTrades.next();
  assert.deepEqual(got!.map((i) => i.event), [trade(1), trade(3, { exchange: "kraken" })]);
  assert.deepEqual(JSON.parse(got![0].json), trade(1));
  assert.deepEqual((await krakenAny.next())!.map((i) => i.event.exchange), ["kraken"]);

  // krakenAny reads nothing more: its queue of 3 fills, the 4th matching event drops it.
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (msg: string) => warnings.push(msg);
  try {
    hub.write([1, 2, 3, 4].map((i) => trade(i, { exchange: "kraken", symbol: "ETH-USD" })));
  } finally {
    console.warn = warn;
  }
  assert.equal(krakenAny.closeReason, "slow");
  assert.equal(await krakenAny.closed, "slow");
  assert.equal(krakenAny.queued, 0, "its queue is released");
  assert.equal(await krakenAny.next(), null);
  assert.equal(warnings.length, 1);
  const stats = hub.stats();
  assert.equal(stats.slowDisconnects, 1);
  assert.equal(stats.clients, 1);
  assert.equal(stats.published, 8);

  assert.deepEqual(await btcTrades.next(5), [], "timeout yields an empty batch");
  await hub.close();
  assert.equal(await btcTrades.next(), null);
  assert.equal(btcTrades.closeReason, "hub_closed");
  assert.equal(hub.subscribe().closeReason, "hub_closed");
  assert.throws(() => new StreamHub({ maxQueue: 0 }), RangeError);
});

/** Resolves when `check` holds, polling; rejects after `tries` polls. */
async function eventually(check: () => boolean, what: string, tries = 500): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("a WebSocket client receives the hub's matching trades; shutdown closes it", async () => {
  const { repository, hub } = fixture();
  const server = await startServer({ repository, hub, port: 0 });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const ws = new WebSocket(`${server.url.replace("http", "ws")}ws?symbol=BTC-USD&kinds=trade`);
    const received: MarketEvent[] = [];
    const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
    ws.onmessage = (m) => received.push(...JSON.parse(m.data));
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    assert.equal(hub.stats().clients, 1);
    hub.write([trade(1), trade(2, { symbol: "ETH-USD" })]);
    hub.write([trade(3)]);
    await eventually(() => received.length >= 2, "two trades");
    assert.deepEqual(received, [trade(1), trade(3)]);
    await server.shutdown();
    const event = await closed;
    assert.equal(event.code, 1000);
    assert.equal(event.reason, "server shutting down");
    assert.equal(hub.stats().clients, 0);
  } finally {
    await server.shutdown().catch(() => {});
  }
});

Deno.test("an SSE client receives the hub's trades; disconnecting unsubscribes", async () => {
  const { repository, hub } = fixture();
  const server = await startServer({ repository, hub, port: 0 });
  try {
    const res = await fetch(`${server.url}sse?exchange=coinbase&kinds=trade`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n\n")) text += (await reader.read()).value;
    assert.match(text, /^: connected\n/);
    hub.write([trade(1), { ...trade(2), kind: "trade", exchange: "kraken" }, trade(3)]);
    const events: MarketEvent[] = [];
    while (events.length < 2) {
      const { value, done } = await reader.read();
      assert.ok(!done, "stream ended early");
      text += value;
      let end;
      while ((end = text.indexOf("\n\n")) >= 0) {
        const frame = text.slice(0, end);
        text = text.slice(end + 2);
        const data = frame.split("\n").filter((l) => l.startsWith("data: "));
        for (const line of data) events.push(...JSON.parse(line.slice(6)));
      }
    }
    assert.deepEqual(events, [trade(1), trade(3)]);
    assert.equal(hub.stats().clients, 1);
    await reader.cancel();
    await eventually(() => hub.stats().clients === 0, "the SSE subscriber to go away");
  } finally {
    await server.shutdown();
  }
});

Deno.test("a WebSocket client that cannot keep up is disconnected with 4008 and counted", async () => {
  const { repository } = fixture();
  const hub = new StreamHub({ maxQueue: 50 });
  // A tiny socket budget makes the server stop draining the hub queue at once.
  const server = await startServer({ repository, hub, port: 0, maxBufferedBytes: 1 });
  try {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}ws`);
    const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
    await new Promise((resolve) => ws.onopen = resolve);
    const warn = console.warn;
    console.warn = () => {};
    try {
      // While the server waits for its socket buffer, two batches of 40 overflow the queue of 50.
      for (let i = 0; i < 1000 && hub.stats().slowDisconnects === 0; i++) {
        hub.write(Array.from({ length: 40 }, (_, j) => trade(i * 40 + j)));
        await new Promise((r) => setTimeout(r, 0));
      }
    } finally {
      console.warn = warn;
    }
    assert.equal(hub.stats().slowDisconnects, 1, "the client was dropped as slow");
    const event = await closed;
    assert.equal(event.code, SLOW_CONSUMER_CLOSE_CODE);
    assert.equal(hub.stats().slowDisconnects, 1);
    assert.equal(hub.stats().clients, 0);
  } finally {
    await server.shutdown();
  }
});

/** The page's theme as drawn: CSS colours (`rgb(...)`) and the chart's options. */
interface DrawnTheme {
  readonly name: string;
  readonly body: string;
  readonly text: string;
  readonly chart: string;
  readonly grid: string;
  readonly stored: string | null;
}

const DRAWN_THEME = `({
  name: document.documentElement.dataset.theme,
  body: getComputedStyle(document.body).backgroundColor,
  text: getComputedStyle(document.body).color,
  chart: alphapulseLive.chart.options().layout.background.color,
  grid: alphapulseLive.chart.options().grid.horzLines.color,
  stored: localStorage.getItem("alphapulse-theme"),
})`;

/**
 * The live page follows `prefers-color-scheme` with the charts' themes (lib/charts
 * `themeOf`), and its toggle overrides it. The CSS colours are the theme's hex colours
 * converted by hand: light background #ffffff, text #222222; dark #131722, #d1d4dc.
 */
async function checkThemes(page: BrowserPage): Promise<void> {
  const light = themeOf("light");
  const dark = themeOf("dark");
  await page.colorScheme("light");
  const drawnLight = await pageEventually<DrawnTheme>(
    page,
    DRAWN_THEME,
    (t) => t.name === "light",
    "the light theme",
  );
  assert.deepEqual(drawnLight, {
    name: "light",
    body: "rgb(255, 255, 255)",
    text: "rgb(34, 34, 34)",
    chart: light.background,
    grid: light.grid,
    stored: null,
  });
  await page.colorScheme("dark");
  const drawnDark = await pageEventually<DrawnTheme>(
    page,
    DRAWN_THEME,
    (t) => t.name === "dark",
    "the dark theme under an emulated dark colour scheme",
  );
  assert.deepEqual(drawnDark, {
    name: "dark",
    body: "rgb(19, 23, 34)",
    text: "rgb(209, 212, 220)",
    chart: dark.background,
    grid: dark.grid,
    stored: null,
  });
  // The toggle picks light against the dark system preference (and keeps the choice)...
  await page.evaluate("document.getElementById('theme-toggle').click()");
  const toggled = await page.evaluate<DrawnTheme>(DRAWN_THEME);
  assert.deepEqual([toggled.name, toggled.body, toggled.chart, toggled.stored], [
    "light",
    "rgb(255, 255, 255)",
    light.background,
    "light",
  ]);
  // ...and toggling back to what the system prefers follows the system again.
  await page.evaluate("document.getElementById('theme-toggle').click()");
  const back = await page.evaluate<DrawnTheme>(DRAWN_THEME);
  assert.deepEqual([back.name, back.chart, back.stored], ["dark", dark.background, null]);
  await page.colorScheme("light");
  await pageEventually<DrawnTheme>(page, DRAWN_THEME, (t) => t.name === "light", "light again");
}

Deno.test("the live page loads history, then builds candles from WebSocket trades (chromium)", async () => {
  const { repository, hub } = fixture();
  const server = await startServer({ repository, hub, port: 0 });
  try {
    await withChromium(async (page) => {
      await page.navigate(`${server.url}?exchange=coinbase&symbol=BTC-USD`);
      const status = await pageEventually<string>(
        page,
        "document.getElementById('status')?.textContent ?? null",
        (s) => s === "live",
        "the page's WebSocket",
      );
      assert.equal(status, "live");
      const history = await page.evaluate<{ candles: number; rows: number; canvases: number }>(
        `({ candles: alphapulseLive.candles.data().length,
            rows: document.getElementById('trades').rows.length,
            canvases: document.querySelectorAll('#chart canvas').length })`,
      );
      assert.equal(history.candles, repository.barRows.length, "history bars drawn");
      assert.equal(history.rows, repository.tradeRows.length, "recent trades listed");
      assert.ok(history.canvases > 0, "the chart drew canvases");

      const liveStart = T0 + 3 * MINUTE;
      hub.write(
        [0, 1, 2].map((k) =>
          trade(100 + k, {
            ts: liveStart + k * 1_000_000,
            price: 61_000 + k * (k === 1 ? -1 : 1),
            size: 0.777,
          })
        ),
      );
      hub.write([trade(200, { ts: T0, price: 1 })]); // older than the last candle: ignored
      hub.write([trade(300, { symbol: "ETH-USD", ts: liveStart, price: 2 })]); // filtered out
      const live = await pageEventually<{ trades: number; stale: number }>(
        page,
        "({ trades: alphapulseLive.trades, stale: alphapulseLive.stale })",
        (s) => s.trades + s.stale >= 4,
        "live trades on the page",
      );
      assert.deepEqual(live, { trades: 4, stale: 1 });
      const last = await page.evaluate<{ bar: Record<string, number>; volume: number }>(
        "alphapulseLive.last",
      );
      assert.deepEqual(last.bar, {
        time: liveStart / 1e6,
        open: 61_000,
        high: 61_002,
        low: 60_999,
        close: 61_002,
      });
      assert.ok(Math.abs(last.volume - 3 * 0.777) < 1e-9, "volume sums the live trades");
      const firstRow = await page.evaluate<string[]>(
        "[...document.getElementById('trades').rows[0].cells].map((c) => c.textContent)",
      );
      assert.deepEqual(firstRow.slice(1), ["sell", "61002", "0.777"]);
      assert.equal(
        await page.evaluate<number>("alphapulseLive.candles.data().length"),
        repository.barRows.length + 1,
        "one new live candle",
      );
      await checkThemes(page);
    });
  } finally {
    await server.shutdown();
  }
});
