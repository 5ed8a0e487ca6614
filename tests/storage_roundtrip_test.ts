/**
 * Must-hold of the storage issue: every trade of the recorded sessions goes
 * collector (replay) -> PostgreSQL -> export -> lake, and reads back identical (ids, prices,
 * sizes, sides, times) through every repository; the unified one returns each trade exactly
 * once across the seam between lake and buffer.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { startPostgres } from "./support/postgres.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import { Exporter } from "../lib/buffer/exporter.ts";
import { ParquetLake } from "../lib/lake/mod.ts";
import {
  LakeRepository,
  type MarketDataRepository,
  PostgresRepository,
  UnifiedRepository,
} from "../lib/repositories/mod.ts";
import type { Bar, BookSnapshot, EventSink, MarketEvent, Quote, Trade } from "../lib/market/mod.ts";
import { eventRow } from "../lib/lake/mod.ts";
import { lakeRowCounts } from "./support/lake_trades.ts";
import { replayFiles } from "../collectors/replay/replay.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";

const SESSIONS = [
  "../shared/data/coinbase-exchange-ws-20210417.txt",
  "../shared/data/kraken-v1-trade-ws-20210417.txt",
  "../shared/data/binance-spot-btcusdt-20240808.gz",
];

/**
 * Replays every recorded session through the collector code into the buffer (a writer per
 * session: the replay closes its sinks at the end of each) and returns what the collector
 * emitted (the expected values) and the rows any writer had to drop or reject.
 */
async function replaySessionsIntoBuffer(sql: postgres.Sql, spillDir: string) {
  const capture = new EventCapture();
  let dropped = 0;
  const rejected: Record<string, number> = {};
  for (const file of SESSIONS) {
    const writer = new PostgresWriter({ sql, spillDir, log: () => {} });
    await replayFiles({
      files: [file],
      sinks: [writer, capture],
      diagnostics: new FeedDiagnostics({ context: { task: "test" }, log: () => {} }),
    });
    await writer.close();
    dropped += writer.stats().droppedRows;
    for (const [reason, n] of Object.entries(writer.stats().rejected)) {
      rejected[reason] = (rejected[reason] ?? 0) + n;
    }
  }
  return { events: capture.events, dropped, rejected };
}

const key = (t: Trade) => `${t.exchange}|${t.symbol}|${t.id}|${t.ts}`;
const shape = (t: Trade) => [t.exchange, t.symbol, t.id, t.price, t.size, t.side, t.ts, t.recvTs];

async function readAll(repo: MarketDataRepository): Promise<Trade[]> {
  const out: Trade[] = [];
  for (const i of await repo.instruments()) {
    out.push(...await repo.trades({ exchange: i.exchange, symbol: i.symbol }).rows());
  }
  return out;
}

function assertSameTrades(actual: Trade[], expected: Map<string, Trade>, label: string): void {
  const seen = new Set<string>();
  for (const t of actual) {
    const k = key(t);
    assert.ok(!seen.has(k), `${label}: ${k} returned twice`);
    seen.add(k);
    const e = expected.get(k);
    assert.ok(e, `${label}: unexpected trade ${k}`);
    assert.deepEqual(shape(t), shape(e), `${label}: ${k}`);
  }
  assert.equal(seen.size, expected.size, `${label}: every trade once`);
}

Deno.test("recorded sessions: collector -> PostgreSQL -> export -> lake, identical everywhere", async () => {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-roundtrip-" });
  const lake = await ParquetLake.open({ root: `${dir}/lake` });
  const lakeRepo = new LakeRepository({ root: `${dir}/lake` });
  try {
    await migrate(sql);
    const { events, dropped } = await replaySessionsIntoBuffer(sql, `${dir}/spill`);
    const capture = { trades: events.filter((e): e is Trade => e.kind === "trade") };
    const expected = new Map(capture.trades.map((t) => [key(t), t]));
    // Three venues, about ten thousand trades; a venue re-sending a trade counts once.
    assert.ok(expected.size > 9_000, `trades: ${expected.size}`);
    assert.deepEqual(
      [...new Set(capture.trades.map((t) => t.exchange))].sort(),
      ["binance", "coinbase", "kraken"],
    );
    assert.equal(dropped, 0);

    const buffer = new PostgresRepository({ sql });
    assertSameTrades(await readAll(buffer), expected, "postgres");
    const btc = { exchange: "binance", symbol: "BTC-USDT" };
    const binanceTrades = capture.trades.filter((t) => t.exchange === "binance").length;
    assert.equal((await buffer.trades(btc).arrow()).numRows, binanceTrades);
    assert.equal((await buffer.trades(btc).polars()).height, binanceTrades);

    // Export everything closed as of "now" (the sessions are years old).
    const exporter = new Exporter({ sql, lake, progress: false, log: () => {} });
    const report = await exporter.run();
    await exporter.close();
    assert.equal(report.rowsRead, expected.size);
    assert.deepEqual(report.unverifiedDays, []);
    assertSameTrades(await readAll(lakeRepo), expected, "lake");
    // The same 1-minute bars from PostgreSQL and from the lake.
    const minute = { ...btc, interval: 60_000_000 };
    const ohlc = (b: Bar) => [b.ts, b.open, b.high, b.low, b.close, b.trades, b.recvTs];
    const pgBars = await buffer.bars(minute).rows();
    const lakeBars = await lakeRepo.bars(minute).rows();
    assert.ok(pgBars.length >= 5);
    assert.deepEqual(pgBars.map(ohlc), lakeBars.map(ohlc));
    pgBars.forEach((b, i) => {
      assert.ok(Math.abs(b.volume - lakeBars[i].volume) < 1e-9 * b.volume);
      assert.ok(Math.abs(b.vwap - lakeBars[i].vwap) < 1e-9 * b.vwap);
    });
    // Volume bars come from the same trades in the same order: identical.
    const volumeBars = { ...btc, by: "volume", threshold: 5 } as const;
    const pgVolume = await buffer.activityBars(volumeBars).rows();
    assert.ok(pgVolume.length >= 5);
    assert.deepEqual(pgVolume, await lakeRepo.activityBars(volumeBars).rows());

    // Both stores hold every trade now: the unified view returns each once.
    const unified = new UnifiedRepository({ lake: lakeRepo, sql });
    assertSameTrades(await readAll(unified), expected, "unified (overlap)");

    // Retention drops the verified 2021 day. The 2024 day is kept (its verification is
    // withdrawn) but loses its older half, as if partly expired: the buffer now holds only
    // the tail, the lake everything, and the seam falls inside the Binance session.
    await sql`update export_days set verified_at = null where day = '2024-08-08'`;
    const parts = (await sql`select buffer_drop_expired(interval '7 days') as p`).map((r) => r.p);
    assert.ok(parts.includes("trades_p20210417") && !parts.includes("trades_p20240808"));
    await sql`delete from trades where ts < '2024-08-08 23:57:00Z'`;
    const [{ n: tail }] = await sql`select count(*)::int as n from trades`;
    assert.ok(tail > 1_000 && tail < 9_000, `buffer tail: ${tail}`);
    // A late trade only the buffer has (not exported yet) belongs to the result too.
    const last = capture.trades.filter((t) => t.exchange === "binance").at(-1)!;
    const late: Trade = { ...last, id: "99999999999", ts: last.ts + 1, recvTs: last.recvTs + 1 };
    const lateWriter = new PostgresWriter({ sql, spillDir: `${dir}/spill`, log: () => {} });
    lateWriter.write([late]);
    await lateWriter.close();
    expected.set(key(late), late);
    assertSameTrades(await readAll(unified), expected, "unified (seam)");
    // Bars agree between the unified view and the lake for an instrument split by the seam.
    const q = { exchange: "binance", symbol: "BTC-USDT", interval: 60_000_000 };
    const fromLake = await lakeRepo.bars(q).rows();
    const fromUnified = await unified.bars(q).rows();
    const bar = (b: { ts: number; open: number; high: number; low: number; close: number }) => [
      b.ts,
      b.open,
      b.high,
      b.low,
      b.close,
    ];
    assert.equal(fromUnified.length, fromLake.length);
    // Identical except the last bar, which gained the late trade.
    assert.deepEqual(fromUnified.slice(0, -1).map(bar), fromLake.slice(0, -1).map(bar));
    assert.equal(fromUnified.at(-1)!.trades, fromLake.at(-1)!.trades + 1);
    // Tick bars across the seam: the lake's, plus the late trade at the end.
    const ticks = { exchange: "binance", symbol: "BTC-USDT", by: "ticks", threshold: 100 } as const;
    const lakeTicks = await lakeRepo.activityBars(ticks).rows();
    const unifiedTicks = await unified.activityBars(ticks).rows();
    assert.ok(lakeTicks.length >= 10);
    assert.deepEqual(unifiedTicks.slice(0, lakeTicks.length - 1), lakeTicks.slice(0, -1));
    const count = (bars: Bar[]) => bars.reduce((n, b) => n + b.trades, 0);
    assert.equal(count(unifiedTicks), count(lakeTicks) + 1);
    const binance = [...expected.values()].filter((t) => t.exchange === "binance").length;
    const polars = await unified.trades({ exchange: "binance", symbol: "BTC-USDT" }).polars();
    assert.equal(polars.height, binance);
    await unified.close();
    await buffer.close();
  } finally {
    await lakeRepo.close();
    await lake.close();
    await sql.end();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Keeps every event the collector emitted, for the quote and book-snapshot checks. */
class EventCapture implements EventSink {
  readonly events: MarketEvent[] = [];
  write(events: readonly MarketEvent[]): void {
    this.events.push(...events);
  }
  flush(): Promise<number> {
    return Promise.resolve(0);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The buffer writer's and the lake's default book depth (snapshots keep 50 levels a side). */
const BOOK_DEPTH = 50;

/** Expected quotes and snapshots per instrument, one per idempotency key, time-ordered. */
function expectedEvents(events: readonly MarketEvent[]) {
  const quotes = new Map<string, Map<string, Quote>>();
  const books = new Map<string, Map<string, BookSnapshot>>();
  for (const e of events) {
    if (e.kind !== "quote" && e.kind !== "book_snapshot") continue;
    const row = eventRow(e, { depth: BOOK_DEPTH });
    const k = `${row.ts}|${row.recvTs}|${row.digest}`;
    const instrument = `${e.exchange}|${e.symbol}`;
    if (e.kind === "quote") {
      const m = quotes.get(instrument) ?? new Map();
      m.set(k, e);
      quotes.set(instrument, m);
    } else {
      const byPrice = (desc: boolean) => (a: readonly number[], b: readonly number[]) =>
        desc ? b[0] - a[0] : a[0] - b[0];
      const m = books.get(instrument) ?? new Map();
      m.set(k, {
        ...e,
        bids: [...e.bids].sort(byPrice(true)).slice(0, BOOK_DEPTH),
        asks: [...e.asks].sort(byPrice(false)).slice(0, BOOK_DEPTH),
      });
      books.set(instrument, m);
    }
  }
  return { quotes, books };
}

const quoteShape = (q: Quote) => [
  q.exchange,
  q.symbol,
  q.ts,
  q.recvTs,
  q.bidPrice,
  q.bidSize,
  q.askPrice,
  q.askSize,
];
const bookShape = (b: BookSnapshot) => [
  b.exchange,
  b.symbol,
  b.ts,
  b.recvTs,
  b.bids,
  b.asks,
  b.sequence ?? null,
  b.checksum ?? null,
];
const order = (a: unknown[], b: unknown[]) =>
  (a[2] as number) - (b[2] as number) || (a[3] as number) - (b[3] as number) ||
  JSON.stringify(a).localeCompare(JSON.stringify(b));

async function assertSameEvents(
  repo: MarketDataRepository,
  expected: ReturnType<typeof expectedEvents>,
  label: string,
): Promise<void> {
  for (const [instrument, want] of expected.quotes) {
    const [exchange, symbol] = instrument.split("|");
    const got = await repo.quotes({ exchange, symbol }).rows();
    // Ordered by time from every store; equal-time order is by digest, so compare sorted.
    assert.deepEqual(
      got.map(quoteShape).sort(order),
      [...want.values()].map(quoteShape).sort(order),
      `${label}: quotes of ${instrument}`,
    );
    for (let i = 1; i < got.length; i++) assert.ok(got[i - 1].ts <= got[i].ts, label);
    assert.equal((await repo.quotes({ exchange, symbol }).polars()).height, want.size, label);
  }
  for (const [instrument, want] of expected.books) {
    const [exchange, symbol] = instrument.split("|");
    const got = await repo.bookSnapshots({ exchange, symbol }).rows();
    assert.deepEqual(
      got.map(bookShape).sort(order),
      [...want.values()].map(bookShape).sort(order),
      `${label}: book snapshots of ${instrument}`,
    );
    assert.equal((await repo.bookSnapshots({ exchange, symbol }).arrow()).numRows, want.size);
  }
}

Deno.test("recorded sessions: quotes, book snapshots, book changes and statuses through PostgreSQL and export, identical everywhere", async () => {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-roundtrip-events-" });
  const lake = await ParquetLake.open({ root: `${dir}/lake` });
  const lakeRepo = new LakeRepository({ root: `${dir}/lake` });
  try {
    await migrate(sql);
    const { events, dropped, rejected } = await replaySessionsIntoBuffer(sql, `${dir}/spill`);
    assert.equal(dropped, 0);
    assert.deepEqual(rejected, {});
    const expected = expectedEvents(events);
    const total = (m: Map<string, Map<string, unknown>>) =>
      [...m.values()].reduce((n, x) => n + x.size, 0);
    assert.ok(total(expected.quotes) >= 100, `quotes: ${total(expected.quotes)}`);
    assert.ok(total(expected.books) >= 10, `snapshots: ${total(expected.books)}`);

    const buffer = new PostgresRepository({ sql });
    await assertSameEvents(buffer, expected, "postgres");
    const inBuffer = async () => {
      const out: Record<string, number> = {};
      for (const table of ["trades", "quotes", "book_snapshots", "book_changes", "event_log"]) {
        const [{ n }] = await sql.unsafe(`select count(*)::int as n from ${table}`);
        if (n > 0) out[table] = n;
      }
      return out;
    };
    const buffered = await inBuffer();
    assert.ok(buffered.book_changes > 9_000, JSON.stringify(buffered));

    const exporter = new Exporter({ sql, lake, progress: false, log: () => {} });
    const report = await exporter.run();
    await exporter.close();
    for (const [kind, k] of Object.entries(report.kinds)) {
      assert.deepEqual(k.unverifiedDays, [], kind);
      assert.equal(k.rowsRead, buffered[kind] ?? 0, kind);
    }
    // Every row of every table is in the lake, once; and the 1-minute bars the exporter made
    // of the trades (the buffer's `bars`) are in the lake's `bars` too.
    const [{ n: bars }] = await sql`select count(*)::int as n from bars`;
    assert.ok(bars > 0, "bars of the exported trades");
    const stored = { ...buffered, bars };
    assert.deepEqual(await lakeRowCounts(`${dir}/lake`), stored);
    await assertSameEvents(lakeRepo, expected, "lake");
    const unified = new UnifiedRepository({ lake: lakeRepo, sql });
    await assertSameEvents(unified, expected, "unified (overlap)");

    // Retention drops the verified days of every table; the lake still has every event.
    const expired = (await sql`select buffer_drop_expired(interval '7 days') as p`).map((r) =>
      r.p as string
    );
    for (const table of ["quotes", "book_snapshots", "book_changes"]) {
      assert.ok(expired.some((p) => p.startsWith(`${table}_p`)), `${table}: ${expired}`);
    }
    assert.equal(total(expected.quotes) > 0, true);
    const [{ n: quotesLeft }] = await sql`select count(*)::int as n from quotes`;
    assert.equal(quotesLeft, 0, "every quote day was verified and expired");
    await assertSameEvents(unified, expected, "unified (lake only)");
    assert.deepEqual(await lakeRowCounts(`${dir}/lake`), stored, "the lake keeps everything");
    await unified.close();
    await buffer.close();
  } finally {
    await lakeRepo.close();
    await lake.close();
    await sql.end();
    await Deno.remove(dir, { recursive: true });
  }
});
