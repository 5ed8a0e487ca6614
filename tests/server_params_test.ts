/**
 * Every bound of the server's query parameters, on every route that takes it: the last
 * value accepted and the first refused on each side, bad formats, and a 400 naming the
 * parameter. Accepted values are checked in the query the repository received (a real
 * MemoryRepository that records its queries); refused ones never reach it.
 */
import assert from "node:assert/strict";
import type { Bar, BookSnapshot, Quote, Trade } from "../lib/market/types.ts";
import type {
  ActivityBarQuery,
  BarQuery,
  BookSnapshotQuery,
  ListQuery,
  PagedResult,
  QueryResult,
  RangeQuery,
} from "../lib/repositories/repository.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { createApp, StreamHub } from "../server/mod.ts";

const T0 = Date.UTC(2021, 3, 17, 16, 0) * 1000;
/** 2000-01-01T00:00:00Z in microseconds, by hand: 946,684,800 s. */
const Y2000 = 946_684_800_000_000;
/** 2^53 - 1, the last exact integer of a double. */
const MAX = 9_007_199_254_740_991;

class RecordingRepository extends MemoryRepository {
  queries: (RangeQuery | BarQuery | ActivityBarQuery | BookSnapshotQuery)[] = [];
  override trades(query: ListQuery): PagedResult<Trade> {
    this.queries.push(query);
    return super.trades(query);
  }
  override bars(query: BarQuery): QueryResult<Bar> {
    this.queries.push(query);
    return super.bars(query);
  }
  override activityBars(query: ActivityBarQuery): QueryResult<Bar> {
    this.queries.push(query);
    return super.activityBars(query);
  }
  override quotes(query: ListQuery): PagedResult<Quote> {
    this.queries.push(query);
    return super.quotes(query);
  }
  override bookSnapshots(query: BookSnapshotQuery): PagedResult<BookSnapshot> {
    this.queries.push(query);
    return super.bookSnapshots(query);
  }
}

function fixture() {
  const trades: Trade[] = Array.from({ length: 5 }, (_, i) => ({
    kind: "trade",
    exchange: "coinbase",
    symbol: "BTC-USD",
    id: String(i + 1),
    price: 100 + i,
    size: 1,
    side: "buy",
    ts: T0 + i * 1_000_000,
    recvTs: T0 + i * 1_000_000 + 5,
  }));
  const repository = new RecordingRepository(trades);
  const app = createApp({ repository, hub: new StreamHub({ maxQueue: 10 }) });
  const get = (path: string) => app(new Request(`http://localhost${path}`));
  return { repository, get };
}

const BASE = "exchange=coinbase&symbol=BTC-USD";
const RANGE_ROUTES = ["/api/bars", "/api/trades", "/api/quotes", "/api/book_snapshots"];

type Fixture = ReturnType<typeof fixture>;

/** Asserts a 400 naming `param`, with a message matching `message`, and no repository call. */
async function refused(f: Fixture, path: string, param: string, message?: RegExp) {
  const before = f.repository.queries.length;
  const res = await f.get(path);
  const body = await res.json();
  assert.equal(res.status, 400, `${path}: ${JSON.stringify(body)}`);
  assert.equal(body.param, param, path);
  assert.ok(body.error.startsWith(`${param}: `), `${path}: ${body.error}`);
  if (message) assert.match(body.error, message, path);
  assert.equal(f.repository.queries.length, before, `${path}: the repository was asked`);
}

/** Asserts a 200 and returns the query the repository received. */
async function accepted(f: Fixture, path: string): Promise<Record<string, unknown>> {
  const before = f.repository.queries.length;
  const res = await f.get(path);
  const text = await res.text();
  assert.equal(res.status, 200, `${path}: ${text}`);
  assert.equal(f.repository.queries.length, before + 1, path);
  return f.repository.queries.at(-1) as unknown as Record<string, unknown>;
}

Deno.test("start and end: epoch-microsecond bounds on every range route", async () => {
  const f = fixture();
  for (const route of RANGE_ROUTES) {
    for (const param of ["start", "end"]) {
      const at = (value: string) => `${route}?${BASE}&${param}=${value}`;
      // 2000-01-01 is the first time accepted, one microsecond before it is refused.
      assert.equal((await accepted(f, at(String(Y2000))))[param], Y2000);
      await refused(f, at(String(Y2000 - 1)), param, /not epoch microseconds/);
      // 2^53 - 1 is the last; 2^53 and 2^53 + 1 (which a double reads as 2^53) are refused.
      assert.equal((await accepted(f, at(String(MAX))))[param], MAX);
      await refused(f, at("9007199254740992"), param, /not epoch microseconds/);
      await refused(f, at("9007199254740993"), param, /not epoch microseconds/);
      await refused(f, at("99999999999999999999"), param, /not epoch microseconds/);
      // Hints for seconds and milliseconds, at their edges.
      await refused(f, at("99999999999"), param, /looks like seconds/);
      await refused(f, at("100000000000"), param, /looks like milliseconds/);
      await refused(f, at("99999999999999"), param, /looks like milliseconds/);
      await refused(f, at("100000000000000"), param, /not epoch microseconds(?!.*looks)/);
      await refused(f, at("0"), param, /looks like seconds/);
      // Not numbers nor times.
      for (const bad of ["yesterday", "-1618675200000000", "1.6e15", "0x5", "%20", "2021-13-01"]) {
        await refused(f, at(bad), param);
      }
    }
  }
});

Deno.test("start and end: ISO 8601 forms, the year-2255 limit, and start before end", async () => {
  const f = fixture();
  const q = (extra: string) => `/api/trades?${BASE}&${extra}`;
  assert.equal((await accepted(f, q("start=2021-04-17"))).start, Date.UTC(2021, 3, 17) * 1000);
  assert.equal(
    (await accepted(f, q("start=2021-04-17T18:00:00%2B02:00"))).start,
    Date.UTC(2021, 3, 17, 16) * 1000,
  );
  assert.equal(
    (await accepted(f, q("start=2021-04-17T16:43:37.089723Z"))).start,
    1_618_677_817_089_723,
  );
  // 2^53 - 1 microseconds is 2255-06-05T23:47:34.740991Z (9,007,199,254 s after 1970).
  assert.equal(Date.UTC(2255, 5, 5, 23, 47, 34) * 1000 + 740_991, MAX);
  assert.equal((await accepted(f, q("end=2255-06-05T23:47:34.740991Z"))).end, MAX);
  await refused(f, q("end=2255-06-05T23:47:34.740992Z"), "end", /2255/);
  await refused(f, q("start=9999-12-31"), "start", /2255/);
  await refused(f, q("start=2021-04-17T25:00:00Z"), "start", /not a time/);
  // end must be after start: equal is refused, one microsecond more is accepted.
  await refused(f, q(`start=${T0}&end=${T0}`), "end", /after start/);
  await refused(f, q(`start=${T0}&end=${T0 - 1}`), "end", /after start/);
  const ok = await accepted(f, q(`start=${T0}&end=${T0 + 1}`));
  assert.deepEqual([ok.start, ok.end], [T0, T0 + 1]);
});

Deno.test("exchange and symbol: required, 64 characters at most, their alphabets", async () => {
  const f = fixture();
  for (const route of RANGE_ROUTES) {
    await refused(f, `${route}?symbol=BTC-USD`, "exchange", /required/);
    await refused(f, `${route}?exchange=%20&symbol=BTC-USD`, "exchange", /required/);
    await refused(f, `${route}?exchange=coinbase`, "symbol", /required/);
    const e64 = "e".repeat(64);
    assert.equal((await accepted(f, `${route}?exchange=${e64}&symbol=BTC-USD`)).exchange, e64);
    await refused(f, `${route}?exchange=${e64}e&symbol=BTC-USD`, "exchange", /venue name/);
    assert.equal(
      (await accepted(f, `${route}?exchange=CoinBase&symbol=BTC-USD`)).exchange,
      "coinbase",
    );
    for (const bad of ["-coinbase", "coin%20base", "coin%2Fbase", "co%5Cin"]) {
      await refused(f, `${route}?exchange=${bad}&symbol=BTC-USD`, "exchange", /venue name/);
    }
    const s64 = "S".repeat(64);
    assert.equal((await accepted(f, `${route}?exchange=kraken&symbol=${s64}`)).symbol, s64);
    await refused(f, `${route}?exchange=kraken&symbol=${s64}S`, "symbol", /not a symbol/);
    assert.equal((await accepted(f, `${route}?exchange=kraken&symbol=XBT/USD`)).symbol, "BTC-USD");
    for (const bad of ["BTC%3CUSD", "-BTC", "BTC%20USD", "BTC%09USD"]) {
      await refused(f, `${route}?exchange=kraken&symbol=${bad}`, "symbol", /not a symbol/);
    }
  }
});

Deno.test("interval: units, positive, a safe integer, at most a million bars", async () => {
  const f = fixture();
  const q = (extra: string) => `/api/bars?${BASE}&${extra}`;
  assert.equal((await accepted(f, q(""))).interval, 60_000_000);
  for (
    const [text, micros] of [
      ["1us", 1],
      ["1ms", 1_000],
      ["2s", 2_000_000],
      ["5m", 300_000_000],
      ["1h", 3_600_000_000],
      ["1d", 86_400_000_000],
      [`${MAX}us`, MAX],
    ] as const
  ) {
    assert.equal((await accepted(f, q(`interval=${text}`))).interval, micros, text);
  }
  for (const bad of ["0us", "0m", "1x", "-1m", "1.5m", "1M", "m", "1", "9007199254740992us"]) {
    await refused(f, q(`interval=${bad}`), "interval");
  }
  await refused(f, q("interval=104249991375d"), "interval", /too long/);
  // Exactly 1,000,000 bars is accepted; one microsecond more of range is refused.
  const edge = await accepted(f, q(`interval=1us&start=${T0}&end=${T0 + 1_000_000}`));
  assert.deepEqual([edge.start, edge.end, edge.interval], [T0, T0 + 1_000_000, 1]);
  await refused(f, q(`interval=1us&start=${T0}&end=${T0 + 1_000_001}`), "interval", /more than/);
  await refused(f, q(`interval=2us&start=${T0}&end=${T0 + 2_000_002}`), "interval", /more than/);
  assert.equal(
    (await accepted(f, q(`interval=2us&start=${T0}&end=${T0 + 2_000_000}`))).interval,
    2,
  );
});

Deno.test("by and threshold: measures, positive finite, whole and safe for ticks", async () => {
  const f = fixture();
  const q = (extra: string) => `/api/bars?${BASE}&${extra}`;
  for (
    const [by, text, value] of [
      ["ticks", "1", 1],
      ["ticks", String(MAX), MAX],
      ["volume", "0.5", 0.5],
      ["volume", "1e-3", 0.001],
      ["dollars", "2.5E3", 2500],
    ] as const
  ) {
    const got = await accepted(f, q(`by=${by}&threshold=${text}`));
    assert.deepEqual([got.by, got.threshold], [by, value], `${by} ${text}`);
  }
  await refused(f, q("by=minutes&threshold=3"), "by", /unknown measure/);
  await refused(f, q("by=Ticks&threshold=3"), "by", /unknown measure/);
  await refused(f, q("by=ticks"), "threshold", /required/);
  await refused(f, q("by=ticks&threshold=5&interval=1m"), "interval", /not allowed/);
  await refused(f, q("threshold=5"), "threshold", /only with by/);
  for (const bad of ["0", "0.0", "-1", ".5", "abc", "1e400", "NaN", "Infinity", "0x10", "1,5"]) {
    await refused(f, q(`by=volume&threshold=${bad}`), "threshold", /not a positive number/);
  }
  await refused(f, q("by=ticks&threshold=2.5"), "threshold", /whole number/);
  await refused(f, q("by=ticks&threshold=9007199254740992"), "threshold", /whole number/);
});

Deno.test("depth, limit, order and table: each bound on both sides", async () => {
  const f = fixture();
  const snap = (extra: string) => `/api/book_snapshots?${BASE}&${extra}`;
  assert.equal((await accepted(f, snap("depth=1"))).depth, 1);
  assert.equal((await accepted(f, snap("depth=1000"))).depth, 1_000);
  assert.equal((await accepted(f, snap(""))).depth, undefined);
  for (const bad of ["0", "1001", "1.5", "-1", "abc", "1e3"]) {
    await refused(f, snap(`depth=${bad}`), "depth", /from 1 to 1000/);
  }

  for (const route of ["/api/trades", "/api/quotes", "/api/book_snapshots"]) {
    const at = (extra: string) => `${route}?${BASE}&${extra}`;
    for (const ok of ["limit=1", "limit=100000", "order=asc", "order=desc"]) {
      await accepted(f, at(ok));
    }
    for (const bad of ["0", "100001", "1.5", "-1", "abc", "1e3"]) {
      await refused(f, at(`limit=${bad}`), "limit", /from 1 to 100000/);
    }
    for (const bad of ["up", "ASC", "descending"]) {
      await refused(f, at(`order=${bad}`), "order", /"asc" or "desc"/);
    }
  }
  // The limits are applied: 5 trades, limit 1 gives the first, desc the last.
  let res = await f.get(`/api/trades?${BASE}&limit=1`);
  assert.deepEqual((await res.json()).map((t: Trade) => t.id), ["1"]);
  res = await f.get(`/api/trades?${BASE}&limit=1&order=desc`);
  assert.deepEqual((await res.json()).map((t: Trade) => t.id), ["5"]);

  for (const table of ["trades", "quotes", "book_snapshots"]) {
    const ok = await f.get(`/api/instruments?table=${table}`);
    assert.equal(ok.status, 200, table);
    await ok.body?.cancel();
  }
  for (const bad of ["bars", "TRADES", "book_changes"]) {
    await refused(f, `/api/instruments?table=${bad}`, "table", /unknown table/);
  }
});

Deno.test("stream filters: kinds, exchanges and symbols are checked before subscribing", async () => {
  const f = fixture();
  for (const route of ["/ws", "/sse"]) {
    await refused(f, `${route}?kinds=trade,bogus`, "kinds", /unknown kind "bogus"/);
    await refused(f, `${route}?kind=trades`, "kinds", /unknown kind "trades"/);
    await refused(f, `${route}?exchange=coinbase,-x`, "exchange", /venue name/);
    await refused(f, `${route}?symbol=BTC-USD&symbol=B%20C`, "symbol", /not a symbol/);
  }
});
