import assert from "node:assert/strict";
import postgres from "postgres";
import { startPostgres } from "./support/postgres.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import type { MarketEvent, Trade } from "../lib/market/types.ts";

const T0 = Date.UTC(2024, 7, 8, 23, 59, 50) * 1000; // crosses midnight: two partitions

function trades(n: number, from = 0, symbol = "BTC-USD"): Trade[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      kind: "trade",
      exchange: "coinbase",
      symbol,
      id: String(9_007_199_254_740_993n + BigInt(i)), // beyond 2^53: ids stay text
      price: 60_000 + (i % 97) * 0.01,
      size: 0.00001305 * (1 + (i % 7)),
      side: i % 3 === 0 ? "buy" : i % 3 === 1 ? "sell" : "unknown",
      ts: T0 + i * 7_919, // ~8 ms apart, odd microseconds
      recvTs: T0 + i * 7_919 + 1_234,
    };
  });
}

interface StoredTrade {
  id: string;
  price: number;
  size: number;
  side: string;
  ts: number;
  recv_ts: number;
}

async function storedTrades(sql: postgres.Sql): Promise<StoredTrade[]> {
  return await sql<StoredTrade[]>`select id, price, size, side,
    (extract(epoch from ts) * 1000000)::float8 as ts,
    (extract(epoch from recv_ts) * 1000000)::float8 as recv_ts
    from trades order by ts, id`;
}

function same(stored: StoredTrade[], expected: readonly Trade[]): void {
  assert.equal(stored.length, expected.length);
  const byKey = new Map(expected.map((t) => [`${t.id}@${t.ts}`, t]));
  for (const s of stored) {
    const t = byKey.get(`${s.id}@${s.ts}`);
    assert.ok(t, `unexpected row ${s.id}@${s.ts}`);
    assert.deepEqual(
      [s.price, s.size, s.side, s.recv_ts],
      [t.price, t.size, t.side, t.recvTs],
    );
  }
}

async function setup() {
  const pg = await startPostgres();
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  await migrate(sql);
  const spillDir = await Deno.makeTempDir({ prefix: "alphapulse-spill-" });
  return {
    pg,
    sql,
    spillDir,
    async [Symbol.asyncDispose]() {
      await sql.end();
      await pg.stop();
      await Deno.remove(spillDir, { recursive: true });
    },
  };
}

Deno.test("PostgresWriter: exact round trip, idempotent re-sends, every event kind", async (t) => {
  await using env = await setup();
  const { sql, pg, spillDir } = env;
  const data = trades(3_000);

  await t.step("trades arrive exactly, across a day boundary", async () => {
    const logs: string[] = [];
    const writer = new PostgresWriter({
      url: pg.url,
      spillDir,
      batchRows: 700,
      log: (m) => logs.push(m),
    });
    for (let i = 0; i < data.length; i += 250) writer.write(data.slice(i, i + 250));
    assert.equal(await writer.flush(), data.length);
    // A collector re-sending its last trades after a reconnect: dropped by the window.
    writer.write(data.slice(2_900));
    assert.equal(await writer.flush(), 0);
    await writer.close();
    const stats = writer.stats();
    assert.equal(stats.persisted, 3_000);
    assert.equal(stats.duplicates, 100);
    assert.equal(stats.conflictBatches, 0);
    assert.deepEqual(logs, []);
    same(await storedTrades(sql), data);
    const parts = await sql`select count(distinct tableoid)::int as n from trades`;
    assert.equal(parts[0].n, 2);
  });

  await t.step(
    "a new writer re-sending overlapping batches takes the slow path once each",
    async () => {
      const writer = new PostgresWriter({ url: pg.url, spillDir, batchRows: 1_000 });
      writer.write(trades(1_500, 2_000)); // 1,000 already stored + 500 new
      assert.equal(await writer.flush(), 500);
      await writer.close();
      const stats = writer.stats();
      assert.equal(stats.persisted, 500);
      assert.equal(stats.duplicates, 1_000);
      assert.ok(stats.conflictBatches >= 1);
      same(await storedTrades(sql), trades(3_500));
    },
  );

  await t.step("quotes, book changes and snapshots (top N), bars and statuses", async () => {
    const h = { exchange: "kraken", symbol: "BTC-USD", ts: T0, recvTs: T0 + 5 };
    const events: MarketEvent[] = [
      { ...h, kind: "quote", bidPrice: 1, bidSize: 2, askPrice: 1.5, askSize: 3 },
      { ...h, kind: "quote", bidPrice: 1, bidSize: 2, askPrice: 1.25, askSize: 3 }, // same header
      // Sizes not given by the venue (NaN) are kept; an infinite size is rejected.
      { ...h, kind: "quote", bidPrice: 1, bidSize: NaN, askPrice: 1.75, askSize: NaN },
      { ...h, kind: "quote", bidPrice: 1, bidSize: Infinity, askPrice: 2, askSize: 1 },
      {
        ...h,
        kind: "book_snapshot",
        bids: [[1, 1], [3, 1], [2, 1]],
        asks: [[6, 1], [4, 1], [5, 1]],
        sequence: 7,
      },
      { ...h, kind: "book_change", bids: [[3, 0]], asks: [], checksum: 4_294_967_295 },
      {
        ...h,
        kind: "bar",
        interval: 60_000_000,
        open: 1,
        high: 2,
        low: 0.5,
        close: 1.5,
        volume: 0,
        vwap: NaN,
        trades: 0,
      },
      { ...h, kind: "status", status: "gap", reason: "trade_id gap\t1 -> 5" },
    ];
    const writer = new PostgresWriter({ url: pg.url, spillDir, bookDepth: 2 });
    writer.write(events);
    assert.equal(await writer.flush(), 7);
    assert.deepEqual(writer.stats().rejected, { "quote size negative or infinite": 1 });
    writer.write(events); // a re-sent batch: nothing new
    assert.equal(await writer.flush(), 0);
    await writer.close();
    const quotes = await sql`select ask_price, bid_size from quotes order by ask_price`;
    assert.deepEqual(quotes.map((q) => [q.ask_price, q.bid_size]), [[1.25, 2], [1.5, 2], [
      1.75,
      NaN,
    ]]);
    const [snap] = await sql`select bid_prices, ask_prices, sequence from book_snapshots`;
    assert.deepEqual([snap.bid_prices, snap.ask_prices, snap.sequence], [[3, 2], [4, 5], "7"]);
    const [change] = await sql`select bid_prices, bid_sizes, checksum from book_changes`;
    assert.deepEqual([change.bid_prices, change.bid_sizes, change.checksum], [
      [3],
      [0],
      "4294967295",
    ]);
    const [bar] = await sql`select interval_us, vwap, trades from bars`;
    assert.deepEqual([bar.interval_us, bar.vwap, bar.trades], ["60000000", null, "0"]);
    const [log] = await sql`select status, reason from event_log`;
    assert.deepEqual([log.status, log.reason], ["gap", "trade_id gap\t1 -> 5"]);
  });
});

Deno.test("PostgresWriter: bad rows are rejected, counted and logged once per reason", async () => {
  await using env = await setup();
  const logs: string[] = [];
  const writer = new PostgresWriter({
    url: env.pg.url,
    spillDir: env.spillDir,
    log: (m) => logs.push(m),
  });
  const [good] = trades(1);
  writer.write([
    good,
    { ...good, id: "a", price: NaN },
    { ...good, id: "b", price: NaN },
    { ...good, id: "c", size: -1 },
    { ...good, id: "d", ts: Date.parse("0001-01-01T00:00:00Z") * 1000 }, // year 1
    { ...good, id: "e", recvTs: Date.parse("0001-01-01T00:00:00Z") * 1000 },
    { ...good, id: "f", size: Infinity },
    { ...good, id: "", price: 1 },
  ]);
  assert.equal(await writer.flush(), 1);
  await writer.close();
  assert.deepEqual(writer.stats().rejected, {
    "price NaN": 2,
    "size negative": 1,
    "time before 2000-01-01 (placeholder such as year 1)": 1,
    "receive time before 2000-01-01 (placeholder such as year 1)": 1,
    "size not positive": 1,
    "trade id empty": 1,
  });
  assert.equal(logs.length, 6);
  assert.match(logs[0], /rejected trade \(price NaN\): coinbase BTC-USD id=a/);
  const [{ n }] = await env.sql`select count(*)::int as n from trades`;
  assert.equal(n, 1);
});

Deno.test("PostgresWriter: PostgreSQL stopped under load: nothing acknowledged is lost", async () => {
  await using env = await setup();
  const { pg, sql, spillDir } = env;
  const logs: string[] = [];
  const writer = new PostgresWriter({
    url: pg.url,
    spillDir,
    batchRows: 500,
    retries: 1,
    backoffMs: 20,
    maxBackoffMs: 200,
    log: (m) => logs.push(m),
  });
  const data = trades(6_000);
  // Load while the server goes away: flushes that resolve are acknowledged.
  writer.write(data.slice(0, 2_000));
  const inFlight = writer.flush();
  await pg.kill();
  await inFlight;
  writer.write(data.slice(2_000, 4_000));
  await writer.flush();
  assert.equal(writer.stats().available, false);
  assert.ok(writer.stats().spilledRows > 0, "batches went to spill segments");
  const segments = [...Deno.readDirSync(spillDir)].filter((e) => e.name.endsWith(".copy"));
  assert.ok(segments.length > 0);

  await pg.restart();
  writer.write(data.slice(4_000));
  await writer.flush();
  assert.ok(await writer.replay(), "spill replayed");
  await writer.close();
  assert.equal(writer.stats().droppedRows, 0, logs.join("\n"));
  assert.deepEqual([...Deno.readDirSync(spillDir)].filter((e) => e.name.endsWith(".copy")), []);
  same(await storedTrades(sql), data);
  assert.ok(logs.some((m) => /database unavailable/.test(m)), logs.join("\n"));
  assert.ok(logs.some((m) => /available again/.test(m)), logs.join("\n"));
});

Deno.test("PostgresWriter: spill bound drops and counts; leftover segments replay at start", async () => {
  await using env = await setup();
  const { pg, sql, spillDir } = env;
  await pg.shutdown();
  const logs: string[] = [];
  const writer = new PostgresWriter({
    url: pg.url,
    spillDir,
    batchRows: 100,
    retries: 0,
    backoffMs: 20,
    maxSpillBytes: 30_000, // room for about 2 batches of 100 trades
    log: (m) => logs.push(m),
  });
  const data = trades(500);
  writer.write(data);
  const durable = await writer.flush();
  await writer.close();
  const stats = writer.stats();
  assert.equal(stats.spilledRows, durable);
  assert.ok(durable >= 100 && durable < 500, `spilled ${durable}`);
  assert.equal(stats.droppedRows, 500 - durable);
  assert.ok(logs.some((m) => /dropped \d+ trades rows: spill directory full/.test(m)));

  // A later process finds the segments and replays them once the server is up.
  await pg.restart();
  const next = new PostgresWriter({ url: pg.url, spillDir, backoffMs: 20, log: () => {} });
  assert.ok(await next.replay());
  await next.close();
  assert.equal(next.stats().replayedRows, durable);
  const [{ n }] = await sql`select count(*)::int as n from trades`;
  assert.equal(n, durable);
});

Deno.test("PostgresWriter: backpressure holds producers; an ignored bound spills, then replays", async () => {
  await using env = await setup();
  const { pg, sql, spillDir } = env;
  const writer = new PostgresWriter({
    url: pg.url,
    spillDir,
    batchRows: 50,
    connections: 1,
    maxQueuedBatches: 2,
    backoffMs: 10,
    log: () => {},
  });
  const data = trades(1_000);
  writer.write(data.slice(0, 200)); // 4 batches: one in flight, three queued
  let ready = false;
  const waiting = writer.ready().then(() => (ready = true));
  await Promise.resolve();
  assert.equal(ready, false, "ready() waits while the queue is at its bound");
  await waiting;
  assert.ok(writer.stats().queuedBatches <= 3);
  // A producer that ignores ready(): batches past twice the bound go to spill segments.
  writer.write(data.slice(200));
  await writer.flush();
  assert.ok(writer.stats().spilledBatches > 0, "overflow spilled");
  assert.ok(await writer.replay());
  await writer.close();
  assert.equal(writer.stats().droppedRows, 0);
  same(await storedTrades(sql), data);
});
