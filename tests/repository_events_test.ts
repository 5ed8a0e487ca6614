/**
 * Quotes and book snapshots through every repository: the same events read back identically
 * from memory, the lake, the PostgreSQL buffer and the unified view across a seam (days 0-2
 * exported to the lake, days 2-3 in the buffer, day 2 in both, one day-2 event only in the
 * buffer), as rows, Polars and Arrow; range filters, partition pruning, depth, empty
 * results and bad queries; `instruments()` of each table (trades, quotes, snapshots).
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import postgres from "postgres";
import type { Table } from "apache-arrow";
import { startPostgres } from "./support/postgres.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import { ParquetLake } from "../lib/lake/mod.ts";
import { bookText, digestOf, quoteText } from "../lib/market/event_digest.ts";
import type { BookSnapshot, MarketEvent, PriceLevel, Quote, Trade } from "../lib/market/types.ts";
import {
  BOOK_SNAPSHOT_COLUMNS,
  INSTRUMENT_TABLES,
  type InstrumentTable,
  type InstrumentTableSummary,
  LakeRepository,
  type MarketDataRepository,
  MemoryRepository,
  type PagedResult,
  PostgresRepository,
  QUOTE_COLUMNS,
  UnifiedRepository,
} from "../lib/repositories/mod.ts";

const DAY = 86_400_000_000;
const MINUTE = 60_000_000;
/** 2024-03-08 00:00:00 UTC, day 0 of the fixture. */
const DAY0 = Date.UTC(2024, 2, 8) * 1000;
const BTC = { exchange: "coinbase", symbol: "BTC-USD" } as const;
const ETH = { exchange: "coinbase", symbol: "ETH-USD" } as const;
/** Trades only. */
const SOL = { exchange: "kraken", symbol: "SOL-USD" } as const;
/** Quotes of day 0 only: an instrument of the lake alone. */
const LTC = { exchange: "coinbase", symbol: "LTC-USD" } as const;
/** A late quote only: an instrument of the buffer alone. */
const DOGE = { exchange: "alpaca", symbol: "DOGE-USD" } as const;

function quote(day: number, offset: number, bid: number, extra: Partial<Quote> = {}): Quote {
  const ts = DAY0 + day * DAY + offset;
  return {
    kind: "quote",
    ...BTC,
    ts,
    recvTs: ts + 250,
    bidPrice: bid,
    bidSize: 1 + (bid % 3),
    askPrice: bid + 0.5,
    askSize: 0.25 * (1 + (bid % 5)),
    ...extra,
  };
}

function snapshot(day: number, offset: number, seed: number, extra: Partial<BookSnapshot> = {}) {
  const ts = DAY0 + day * DAY + offset;
  // Levels in no particular order, prices around 100 + seed.
  const bids: PriceLevel[] = [3, 1, 4, 2].map((k) => [100 + seed - k, k + seed / 10]);
  const asks: PriceLevel[] = [2, 4, 1, 3].map((k) => [100 + seed + k, k * 2]);
  return {
    kind: "book_snapshot",
    ...BTC,
    ts,
    recvTs: ts + 900,
    bids,
    asks,
    ...extra,
  } as BookSnapshot;
}

function trade(day: number, offset: number, id: string, extra: Partial<Trade> = {}): Trade {
  const ts = DAY0 + day * DAY + offset;
  return {
    kind: "trade",
    ...BTC,
    id,
    price: 100 + day,
    size: 0.5,
    side: "buy",
    ts,
    recvTs: ts + 100,
    ...extra,
  };
}

/** Events per day 0..3 with ties, a midnight edge, a deep book and optional fields. */
function eventsOfDay(day: number): MarketEvent[] {
  const quotes = [
    quote(day, 5 * MINUTE, 100 + day),
    quote(day, 9 * MINUTE, 101 + day),
    // Same ts: ordered by recv_ts, then by digest.
    quote(day, 12 * MINUTE, 102 + day, { recvTs: DAY0 + day * DAY + 12 * MINUTE + 10 }),
    quote(day, 12 * MINUTE, 103 + day, { recvTs: DAY0 + day * DAY + 12 * MINUTE + 5 }),
    quote(day, 12 * MINUTE, 104 + day, { recvTs: DAY0 + day * DAY + 12 * MINUTE + 5 }),
    quote(day, 12 * MINUTE, 105 + day, { recvTs: DAY0 + day * DAY + 12 * MINUTE + 5 }),
    quote(day, 0, 110 + day), // exactly midnight
    quote(day, DAY - 1, 111 + day), // the last microsecond of the day
    { ...quote(day, 30 * MINUTE, 120 + day), ...ETH },
  ];
  const deep: PriceLevel[] = Array.from({ length: 60 }, (_, i) => [90 + ((i * 37) % 60) / 8, i]);
  const snapshots = [
    snapshot(day, 7 * MINUTE, day),
    snapshot(day, 20 * MINUTE, day + 1, { sequence: 1_000_000 + day, checksum: 4_000_000_000 }),
    snapshot(day, 20 * MINUTE, day + 2, { asks: [], sequence: 9_007_199_254_740_000 }),
    snapshot(day, 40 * MINUTE, day + 3, { bids: deep, depth: 25, priceDecimals: 2 }),
    snapshot(day, 0, day + 4),
    { ...snapshot(day, 50 * MINUTE, day + 5), ...ETH },
  ];
  // BTC trades (ETH has none: an instrument of quotes and snapshots only), SOL trades only.
  const trades = [
    trade(day, 0, `${day}-a`),
    trade(day, 3 * MINUTE, `${day}-b`),
    trade(day, 3 * MINUTE, `${day}-c`), // the same time: ordered by id
    trade(day, DAY - 1, `${day}-z`),
    trade(day, 15 * MINUTE, `sol-${day}`, SOL),
  ];
  const lakeOnly = day === 0 ? [{ ...quote(day, 45 * MINUTE, 60), ...LTC }] : [];
  return [...quotes, ...snapshots, ...trades, ...lakeOnly];
}

/** Only in the buffer (arrived after the export of day 2). */
const LATE: MarketEvent[] = [
  quote(2, 13 * MINUTE, 777),
  snapshot(2, 13 * MINUTE, 77),
  trade(2, 13 * MINUTE, "2-late"),
  { ...quote(2, 14 * MINUTE, 7), ...DOGE },
];

const LAKE_DAYS = [0, 1, 2];
const BUFFER_DAYS = [2, 3];

function allEvents(): MarketEvent[] {
  return [...[0, 1, 2, 3].flatMap(eventsOfDay), ...LATE];
}

// --- expected values, computed plainly from the events -------------------------------------

function quoteDigest(q: Quote): number {
  return digestOf(quoteText(q.bidPrice, q.bidSize, q.askPrice, q.askSize));
}

function storedSnapshot(s: BookSnapshot): BookSnapshot {
  const bids = [...s.bids].sort((a, b) => b[0] - a[0]).slice(0, 50);
  const asks = [...s.asks].sort((a, b) => a[0] - b[0]).slice(0, 50);
  return {
    kind: "book_snapshot",
    exchange: s.exchange,
    symbol: s.symbol,
    ts: s.ts,
    recvTs: s.recvTs,
    bids,
    asks,
    ...(s.sequence === undefined ? {} : { sequence: s.sequence }),
    ...(s.checksum === undefined ? {} : { checksum: s.checksum }),
  };
}

function snapshotDigest(s: BookSnapshot): number {
  const lists = {
    bidPrices: s.bids.map((l) => l[0]),
    bidSizes: s.bids.map((l) => l[1]),
    askPrices: s.asks.map((l) => l[0]),
    askSizes: s.asks.map((l) => l[1]),
  };
  return digestOf(bookText(lists, [s.sequence, s.checksum]));
}

interface Range {
  readonly start?: number;
  readonly end?: number;
}

const inRange = (r: Range) => (e: { ts: number }) =>
  (r.start === undefined || e.ts >= r.start) && (r.end === undefined || e.ts < r.end);

/** Events held by one store. */
type Held = readonly MarketEvent[];

function expectedQuotes(symbol: string, r: Range = {}, held: Held = allEvents()): Quote[] {
  return held
    .filter((e): e is Quote => e.kind === "quote" && e.symbol === symbol)
    .filter(inRange(r))
    .sort((a, b) => a.ts - b.ts || a.recvTs - b.recvTs || quoteDigest(a) - quoteDigest(b));
}

function expectedSnapshots(
  symbol: string,
  r: Range = {},
  depth?: number,
  held: Held = allEvents(),
): BookSnapshot[] {
  return held
    .filter((e): e is BookSnapshot => e.kind === "book_snapshot" && e.symbol === symbol)
    .filter(inRange(r))
    .map(storedSnapshot)
    .sort((a, b) => a.ts - b.ts || a.recvTs - b.recvTs || snapshotDigest(a) - snapshotDigest(b))
    .map((s) =>
      depth === undefined ? s : { ...s, bids: s.bids.slice(0, depth), asks: s.asks.slice(0, depth) }
    );
}

// --- the stores -------------------------------------------------------------------------------

interface Stores {
  readonly memory: MemoryRepository;
  readonly lake: LakeRepository;
  readonly postgres: PostgresRepository;
  readonly unified: UnifiedRepository;
  readonly root: string;
}

async function withStores(fn: (stores: Stores) => Promise<void>): Promise<void> {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  const dir = await Deno.makeTempDir({ prefix: "repository_events_test_" });
  const root = `${dir}/lake`;
  const lake = await LakeRepository.open({ root });
  try {
    await migrate(sql);
    const writer = await ParquetLake.open({ root });
    // Two batches per day, so partitions hold several files.
    for (const day of LAKE_DAYS) {
      const events = eventsOfDay(day);
      await writer.writeEvents(events.filter((_, i) => i % 2 === 0));
      await writer.writeEvents(events.filter((_, i) => i % 2 === 1).reverse());
    }
    await writer.close();
    const buffer = new PostgresWriter({ sql, spillDir: `${dir}/spill`, log: () => {} });
    buffer.write([...BUFFER_DAYS.flatMap(eventsOfDay), ...LATE].reverse());
    await buffer.close();
    assert.equal(buffer.stats().persisted, BUFFER_EVENTS.length);

    const memory = new MemoryRepository(allEvents());
    const postgresRepo = new PostgresRepository({ sql });
    const unified = new UnifiedRepository({ lake, sql });
    await fn({ memory, lake, postgres: postgresRepo, unified, root });
    await unified.close();
    await postgresRepo.close();
  } finally {
    await lake.close();
    await sql.end();
    await Deno.remove(dir, { recursive: true });
  }
}

const LAKE_EVENTS: Held = LAKE_DAYS.flatMap(eventsOfDay);
const BUFFER_EVENTS: Held = [...BUFFER_DAYS.flatMap(eventsOfDay), ...LATE];

/** Every repository with the events it holds. */
function holders(stores: Stores): [string, MarketDataRepository, Held][] {
  return [
    ["memory", stores.memory, allEvents()],
    ["unified", stores.unified, allEvents()],
    ["lake", stores.lake, LAKE_EVENTS],
    ["postgres", stores.postgres, BUFFER_EVENTS],
  ];
}

const micros = (frame: pl.DataFrame, column: string) => [
  ...frame.getColumn(column).cast(pl.Int64).cast(pl.Float64).toTypedArray(),
];

/** Arrow JS reads microsecond timestamps as fractional milliseconds. */
const arrowMicros = (table: Table, column: string) =>
  Array.from(
    { length: table.numRows },
    (_, i) => Math.round(Number(table.getChild(column)!.get(i)) * 1000),
  );

function assertQuoteFrame(frame: pl.DataFrame, expected: Quote[], label: string): void {
  assert.deepEqual(frame.columns, [...QUOTE_COLUMNS], label);
  assert.equal(String(frame.getColumn("ts").dtype), String(pl.Datetime("us")), label);
  assert.equal(String(frame.getColumn("recv_ts").dtype), String(pl.Datetime("us")), label);
  assert.equal(String(frame.getColumn("digest").dtype), String(pl.Int32), label);
  assert.deepEqual(micros(frame, "ts"), expected.map((q) => q.ts), label);
  assert.deepEqual(micros(frame, "recv_ts"), expected.map((q) => q.recvTs), label);
  assert.deepEqual(frame.getColumn("digest").toArray(), expected.map(quoteDigest), label);
  for (const [column, key] of [["bid_price", "bidPrice"], ["ask_size", "askSize"]] as const) {
    assert.deepEqual(frame.getColumn(column).toArray(), expected.map((q) => q[key]), label);
  }
  assert.deepEqual(frame.getColumn("symbol").toArray(), expected.map((q) => q.symbol), label);
}

function assertSnapshotFrame(frame: pl.DataFrame, expected: BookSnapshot[], label: string) {
  assert.deepEqual(frame.columns, [...BOOK_SNAPSHOT_COLUMNS], label);
  assert.equal(String(frame.getColumn("bid_prices").dtype), String(pl.List(pl.Float64)), label);
  assert.equal(String(frame.getColumn("sequence").dtype), String(pl.Int64), label);
  assert.deepEqual(micros(frame, "ts"), expected.map((s) => s.ts), label);
  assert.deepEqual(
    frame.getColumn("bid_prices").toArray(),
    expected.map((s) => s.bids.map((l) => l[0])),
    label,
  );
  assert.deepEqual(
    frame.getColumn("ask_sizes").toArray(),
    expected.map((s) => s.asks.map((l) => l[1])),
    label,
  );
  assert.deepEqual(
    frame.getColumn("sequence").toArray(),
    expected.map((s) => s.sequence ?? null),
    label,
  );
  assert.deepEqual(
    frame.getColumn("checksum").toArray(),
    expected.map((s) => s.checksum ?? null),
    label,
  );
}

function assertQuoteTable(table: Table, expected: Quote[], label: string): void {
  assert.deepEqual(table.schema.fields.map((f) => f.name), [...QUOTE_COLUMNS], label);
  assert.equal(table.numRows, expected.length, label);
  assert.deepEqual(arrowMicros(table, "ts"), expected.map((q) => q.ts), label);
  assert.deepEqual(arrowMicros(table, "recv_ts"), expected.map((q) => q.recvTs), label);
  assert.deepEqual([...table.getChild("digest")!], expected.map(quoteDigest), label);
  assert.deepEqual([...table.getChild("bid_size")!], expected.map((q) => q.bidSize), label);
  assert.deepEqual([...table.getChild("symbol")!], expected.map((q) => q.symbol), label);
}

function assertSnapshotTable(table: Table, expected: BookSnapshot[], label: string): void {
  assert.deepEqual(table.schema.fields.map((f) => f.name), [...BOOK_SNAPSHOT_COLUMNS], label);
  assert.equal(String(table.schema.fields[5].type), "List<Float64>", label);
  assert.equal(table.numRows, expected.length, label);
  assert.deepEqual(arrowMicros(table, "ts"), expected.map((s) => s.ts), label);
  const lists = (column: string) =>
    [...table.getChild(column)!].map((v) => [...(v as Iterable<number>)]);
  assert.deepEqual(lists("bid_prices"), expected.map((s) => s.bids.map((l) => l[0])), label);
  assert.deepEqual(lists("bid_sizes"), expected.map((s) => s.bids.map((l) => l[1])), label);
  assert.deepEqual(lists("ask_prices"), expected.map((s) => s.asks.map((l) => l[0])), label);
  assert.deepEqual(
    [...table.getChild("sequence")!].map((v) => v === null ? null : Number(v)),
    expected.map((s) => s.sequence ?? null),
    label,
  );
}

Deno.test("quotes and book snapshots read identically from every repository", async (t) => {
  await withStores(async (stores) => {
    const ranges: [string, Range][] = [
      ["all", {}],
      ["lake days", { end: DAY0 + 2 * DAY }],
      ["buffer days", { start: DAY0 + 2 * DAY }],
      ["across the seam", { start: DAY0 + DAY + 10 * MINUTE, end: DAY0 + 3 * DAY + 10 * MINUTE }],
      ["inside the overlap day", { start: DAY0 + 2 * DAY + 12 * MINUTE, end: DAY0 + 3 * DAY }],
      ["midnight only", { start: DAY0 + 2 * DAY, end: DAY0 + 2 * DAY + 1 }],
      ["fractional bounds", { start: DAY0 + 2 * DAY - 1.5, end: DAY0 + 2 * DAY + 0.5 }],
      ["empty", { start: DAY0 + DAY, end: DAY0 + DAY }],
    ];
    for (const [name, range] of ranges) {
      await t.step(name, async () => {
        for (const instrument of [BTC, ETH]) {
          for (const [label, repo, held] of holders(stores)) {
            const quotes = expectedQuotes(instrument.symbol, range, held);
            const books = expectedSnapshots(instrument.symbol, range, undefined, held);
            const q = { ...instrument, ...range };
            const at = `${label} ${instrument.symbol} ${name}`;
            if (name === "all") assert.ok(quotes.length >= 2 && books.length >= 2, at);
            assert.deepEqual(await repo.quotes(q).rows(), quotes, at);
            assertQuoteFrame(await repo.quotes(q).polars(), quotes, at);
            assertQuoteTable(await repo.quotes(q).arrow(), quotes, at);
            assert.deepEqual(await repo.bookSnapshots(q).rows(), books, at);
            assertSnapshotFrame(await repo.bookSnapshots(q).polars(), books, at);
            assertSnapshotTable(await repo.bookSnapshots(q).arrow(), books, at);
          }
        }
      });
    }
    await t.step("the seam: each event once, the buffer-only ones included", async () => {
      const rows = await stores.unified.quotes(BTC).rows();
      const keys = rows.map((q) => `${q.ts}/${q.recvTs}/${quoteDigest(q)}`);
      assert.equal(new Set(keys).size, keys.length);
      assert.ok(rows.some((q) => q.bidPrice === 777));
      assert.ok(!(await stores.lake.quotes(BTC).rows()).some((q) => q.bidPrice === 777));
      // The overlap day is in both stores, and the frames of all four agree on it.
      const day2 = { ...BTC, start: DAY0 + 2 * DAY, end: DAY0 + 3 * DAY };
      const fromLake = await stores.lake.bookSnapshots(day2).polars();
      const fromBuffer = await stores.postgres.bookSnapshots(day2).polars();
      assert.equal(fromBuffer.height, fromLake.height + 1);
      const unified = await stores.unified.bookSnapshots(day2).polars();
      assert.ok(unified.frameEqual(fromBuffer));
      assert.ok(unified.frameEqual(await stores.memory.bookSnapshots(day2).polars()));
    });
    await t.step("pages walked both ways give the same rows, in every store", async () => {
      const walk = async <Row>(first: PagedResult<Row>) => {
        const rows: Row[] = [];
        for (let r: PagedResult<Row> | undefined = first; r; r = await r.next()) {
          rows.push(...(await r.page()).rows);
        }
        return rows;
      };
      const across = { start: DAY0 + DAY + 10 * MINUTE, end: DAY0 + 3 * DAY + 10 * MINUTE };
      for (const range of [{}, across]) {
        for (const [label, repo, held] of holders(stores)) {
          const q = { ...BTC, ...range };
          const quotes = expectedQuotes(BTC.symbol, range, held);
          const books = expectedSnapshots(BTC.symbol, range, undefined, held);
          const trades = await repo.trades(q).rows();
          assert.ok(quotes.length > 4 && books.length > 4 && trades.length > 4, label);
          for (const limit of [1, 4]) {
            const at = `${label} limit ${limit} ${JSON.stringify(range)}`;
            assert.deepEqual(await walk(repo.quotes({ ...q, limit })), quotes, at);
            assert.deepEqual(
              await walk(repo.quotes({ ...q, limit, order: "desc" })),
              [...quotes].reverse(),
              at,
            );
            assert.deepEqual(await walk(repo.bookSnapshots({ ...q, limit })), books, at);
            assert.deepEqual(
              await walk(repo.bookSnapshots({ ...q, limit, order: "desc" })),
              [...books].reverse(),
              at,
            );
            assert.deepEqual(await walk(repo.trades({ ...q, limit })), trades, at);
            assert.deepEqual(
              await walk(repo.trades({ ...q, limit, order: "desc" })),
              [...trades].reverse(),
              at,
            );
          }
        }
      }
    });
    await t.step("deep books are stored as the top 50 levels", async () => {
      for (const [label, repo] of holders(stores)) {
        const books = await repo.bookSnapshots(BTC).rows();
        const deepest = Math.max(...books.map((b) => b.bids.length));
        assert.equal(deepest, 50, label);
      }
    });
  });
});

Deno.test("book snapshot depth limits levels per side", async () => {
  await withStores(async (stores) => {
    for (const depth of [1, 3, 10, 200]) {
      const expected = expectedSnapshots(BTC.symbol, {}, depth);
      assert.ok(expected.some((s) => s.bids.length === Math.min(depth, 50)));
      const day2 = { start: DAY0 + 2 * DAY, end: DAY0 + 3 * DAY };
      for (const [label, repo, held] of holders(stores)) {
        const q = { ...BTC, ...day2, depth };
        const books = expectedSnapshots(BTC.symbol, day2, depth, held);
        assert.deepEqual(await repo.bookSnapshots(q).rows(), books, `${label} ${depth}`);
        assertSnapshotFrame(await repo.bookSnapshots(q).polars(), books, `${label} ${depth}`);
        assertSnapshotTable(await repo.bookSnapshots(q).arrow(), books, `${label} ${depth}`);
      }
      for (const repo of [stores.memory, stores.unified]) {
        assert.deepEqual(await repo.bookSnapshots({ ...BTC, depth }).rows(), expected);
      }
    }
    const [first] = await stores.lake.bookSnapshots({ ...BTC, depth: 1 }).rows();
    const [full] = await stores.lake.bookSnapshots(BTC).rows();
    assert.deepEqual(first.bids, [full.bids[0]]);
    assert.ok(full.bids[0][0] > full.bids[1][0], "bids best (highest) first");
    assert.ok(full.asks[0][0] < full.asks[1][0], "asks best (lowest) first");
  });
});

Deno.test("a query for one day opens only that day's files", async () => {
  await withStores(async ({ lake, root }) => {
    for (const kind of ["quotes", "book_snapshots"]) {
      const dir = `${root}/${kind}/exchange=coinbase/symbol=BTC-USD/date=2024-03-09`;
      await Deno.writeTextFile(`${dir}/part-broken.parquet`, "not parquet");
    }
    const day0 = { ...BTC, start: DAY0, end: DAY0 + DAY };
    const day2 = { ...BTC, start: DAY0 + 2 * DAY };
    for (const range of [day0, day2]) {
      const quotes = expectedQuotes(BTC.symbol, range, LAKE_EVENTS);
      assert.ok(quotes.length > 0);
      assert.deepEqual(await lake.quotes(range).rows(), quotes);
      assertQuoteTable(await lake.quotes(range).arrow(), quotes, "");
      assert.deepEqual(
        await lake.bookSnapshots(range).rows(),
        expectedSnapshots(BTC.symbol, range, undefined, LAKE_EVENTS),
      );
    }
    // A range that touches the broken day fails: the check above is not vacuous.
    await assert.rejects(() => lake.quotes({ ...BTC, end: DAY0 + DAY + 1 }).rows());
    await assert.rejects(() => lake.bookSnapshots({ ...BTC, start: DAY0 + DAY }).polars());
  });
});

Deno.test("empty results and bad queries", async (t) => {
  await withStores(async (stores) => {
    const repos: [string, MarketDataRepository][] = [
      ["memory", stores.memory],
      ["lake", stores.lake],
      ["postgres", stores.postgres],
      ["unified", stores.unified],
      ["missing lake", new LakeRepository({ root: `${stores.root}/missing` })],
    ];
    for (const [label, repo] of repos) {
      await t.step(`${label}: empty results`, async () => {
        for (
          const q of [
            { exchange: "kraken", symbol: "BTC-USD" },
            { exchange: "nowhere", symbol: "NO/SUCH" },
            { ...BTC, start: DAY0 + 10 * DAY },
            { ...BTC, start: DAY0 + 2 * DAY, end: DAY0 },
          ]
        ) {
          assert.deepEqual(await repo.quotes(q).rows(), []);
          assert.deepEqual(await repo.bookSnapshots({ ...q, depth: 2 }).rows(), []);
          const quotes = await repo.quotes(q).polars();
          assert.deepEqual([quotes.height, quotes.columns], [0, [...QUOTE_COLUMNS]]);
          assertQuoteFrame(quotes, [], label);
          const books = await repo.bookSnapshots(q).polars();
          assertSnapshotFrame(books, [], label);
          assertQuoteTable(await repo.quotes(q).arrow(), [], label);
          assertSnapshotTable(await repo.bookSnapshots(q).arrow(), [], label);
        }
      });
      await t.step(`${label}: bad queries throw`, () => {
        assert.throws(() => repo.quotes({ exchange: 1, symbol: "X" } as never), TypeError);
        assert.throws(() => repo.quotes({ ...BTC, start: NaN }), RangeError);
        assert.throws(() => repo.quotes({ ...BTC, end: "1" } as never), TypeError);
        assert.throws(() => repo.bookSnapshots({ symbol: "X" } as never), TypeError);
        assert.throws(() => repo.bookSnapshots({ ...BTC, end: Infinity }), RangeError);
        for (const depth of [0, -1, 1.5, NaN, Infinity]) {
          assert.throws(() => repo.bookSnapshots({ ...BTC, depth }), RangeError, `${depth}`);
        }
        assert.throws(() => repo.bookSnapshots({ ...BTC, depth: "2" } as never), TypeError);
      });
    }
  });
});

Deno.test("MemoryRepository validates and de-duplicates quotes and snapshots like the lake", () => {
  const [q] = eventsOfDay(0) as Quote[];
  const s = eventsOfDay(0).find((e) => e.kind === "book_snapshot") as BookSnapshot;
  const repo = new MemoryRepository([], { bookDepth: 2 });
  const counts = repo.add([
    q,
    { ...q }, // the same quote again
    { ...q, recvTs: q.recvTs + 1 }, // another receive time: another event
    { ...q, bidSize: -1 },
    { ...q, askPrice: NaN },
    s,
    { ...s, bids: [...s.bids].reverse() }, // the same book, levels in another order
    { ...s, bids: [[1, -2]] },
    { ...s, symbol: "BAD/SYMBOL" },
    { kind: "status", ...BTC, ts: q.ts, recvTs: q.recvTs, status: "gap", reason: "test" },
  ]);
  assert.deepEqual(counts, {
    added: 3,
    duplicates: 2,
    rejected: 4,
    rejectedBy: { size: 2, price: 1, symbol: 1 },
    ignored: 1,
  });
  assert.throws(() => new MemoryRepository([], { bookDepth: 0 }), RangeError);
});

Deno.test("MemoryRepository keeps bookDepth levels per side", async () => {
  const s = eventsOfDay(0).find((e) => e.kind === "book_snapshot") as BookSnapshot;
  const repo = new MemoryRepository([s], { bookDepth: 2 });
  const [book] = await repo.bookSnapshots(BTC).rows();
  assert.deepEqual(book.bids, storedSnapshot(s).bids.slice(0, 2));
  assert.deepEqual(book.asks, storedSnapshot(s).asks.slice(0, 2));
});

Deno.test("buffer reads of many rows leave the connection usable for the next query", async () => {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  // One connection for reading: every read reuses the connection of the read before it.
  const reader = postgres(pg.url, { max: 1, onnotice: () => {} });
  const dir = await Deno.makeTempDir({ prefix: "repository_events_buffer_test_" });
  try {
    await migrate(sql);
    // About 2.5 kB per snapshot: megabytes per read, more than a stream buffer holds.
    const deep = (side: number) =>
      Array.from({ length: 50 }, (_, k) => [100 + side * (k + 1) / 8, k + 1] as const);
    const books = Array.from(
      { length: 2_000 },
      (_, i) => snapshot(0, i * 1_000, 0, { bids: deep(-1), asks: deep(1), sequence: i }),
    );
    const quotes = Array.from({ length: 20_000 }, (_, i) => quote(0, i * 100, 100 + (i % 50)));
    const writer = new PostgresWriter({ sql, spillDir: `${dir}/spill`, log: () => {} });
    writer.write([...books, ...quotes]);
    await writer.close();
    assert.equal(writer.stats().persisted, books.length + quotes.length);
    const repo = new PostgresRepository({ sql: reader });
    const watchdog = <T>(p: Promise<T>) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("buffer read hung")), 60_000);
      });
      return Promise.race([p, hung]).finally(() => clearTimeout(timer));
    };
    for (let i = 0; i < 3; i++) {
      const frame = await watchdog(repo.bookSnapshots(BTC).polars());
      assert.equal(frame.height, books.length);
      assert.deepEqual(frame.getColumn("sequence").toArray(), books.map((_, k) => k));
      assert.equal((await watchdog(repo.quotes(BTC).rows())).length, quotes.length);
    }
    await repo.close();
  } finally {
    await reader.end({ timeout: 5 }); // forced: a hung read keeps its connection busy
    await sql.end();
    await Deno.remove(dir, { recursive: true });
  }
});

// --- instruments() per table ------------------------------------------------------------------

const KIND_OF_TABLE = {
  trades: "trade",
  quotes: "quote",
  book_snapshots: "book_snapshot",
} as const satisfies Record<InstrumentTable, MarketEvent["kind"]>;

/** The summaries `instruments({ table })` must give for the events a store holds. */
function expectedInstruments(table: InstrumentTable, held: Held): InstrumentTableSummary[] {
  const groups = new Map<string, { exchange: string; symbol: string; ts: number[] }>();
  for (const e of held) {
    if (e.kind !== KIND_OF_TABLE[table]) continue;
    const key = `${e.exchange} ${e.symbol}`;
    const group = groups.get(key) ?? { exchange: e.exchange, symbol: e.symbol, ts: [] };
    group.ts.push(e.ts);
    groups.set(key, group);
  }
  return [...groups.values()]
    .sort((a, b) =>
      a.exchange < b.exchange ? -1 : a.exchange > b.exchange ? 1 : a.symbol < b.symbol ? -1 : 1
    )
    .map(({ exchange, symbol, ts }) => ({
      exchange,
      symbol,
      ...(table === "trades" ? { trades: ts.length } : {}),
      rows: ts.length,
      first: Math.min(...ts),
      last: Math.max(...ts),
    }));
}

const symbolsOf = (summaries: readonly InstrumentTableSummary[]) =>
  summaries.map((s) => `${s.exchange}/${s.symbol}`);

Deno.test("instruments lists each table's instruments the same in every repository", async (t) => {
  await withStores(async (stores) => {
    for (const table of INSTRUMENT_TABLES) {
      await t.step(table, async () => {
        for (const [label, repo, held] of holders(stores)) {
          const expected = expectedInstruments(table, held);
          assert.ok(expected.length >= 2, `${label} ${table}: the fixture has instruments`);
          assert.deepEqual(await repo.instruments({ table }), expected, `${label} ${table}`);
        }
      });
    }
    await t.step("no options, or no table: trades, with `trades` equal to `rows`", async () => {
      for (const [label, repo, held] of holders(stores)) {
        const expected = expectedInstruments("trades", held);
        const instruments = await repo.instruments();
        assert.deepEqual(instruments, expected, label);
        assert.deepEqual(await repo.instruments({}), expected, label);
        for (const s of instruments) assert.equal(s.trades, s.rows, label);
      }
    });
    await t.step("an instrument of quotes and snapshots only is listed for those", async () => {
      for (const [label, repo] of holders(stores)) {
        const eth = `${ETH.exchange}/${ETH.symbol}`;
        const sol = `${SOL.exchange}/${SOL.symbol}`;
        const trades = symbolsOf(await repo.instruments({ table: "trades" }));
        const quotes = symbolsOf(await repo.instruments({ table: "quotes" }));
        const books = symbolsOf(await repo.instruments({ table: "book_snapshots" }));
        assert.ok(quotes.includes(eth) && books.includes(eth), label);
        assert.ok(!trades.includes(eth), label);
        assert.ok(trades.includes(sol) && !quotes.includes(sol) && !books.includes(sol), label);
      }
    });
    await t.step("unified: each row once across the seam, one-store instruments kept", async () => {
      for (const table of INSTRUMENT_TABLES) {
        const [lake, buffer, unified] = await Promise.all(
          [stores.lake, stores.postgres, stores.unified].map((r) => r.instruments({ table })),
        );
        const btc = (list: InstrumentTableSummary[]) =>
          list.find((s) => s.exchange === BTC.exchange && s.symbol === BTC.symbol)!;
        // Day 2 is in both stores: a sum of the stores would count it twice.
        const overlapDay = allEvents().filter((e) =>
          e.kind === KIND_OF_TABLE[table] && e.symbol === BTC.symbol &&
          e.ts >= DAY0 + 2 * DAY && e.ts < DAY0 + 3 * DAY && !LATE.includes(e)
        ).length;
        assert.ok(overlapDay > 0, table);
        assert.equal(btc(unified).rows, btc(lake).rows + btc(buffer).rows - overlapDay, table);
        // Each row in the reads too.
        const read = table === "trades"
          ? await stores.unified.trades(BTC).rows()
          : table === "quotes"
          ? await stores.unified.quotes(BTC).rows()
          : await stores.unified.bookSnapshots(BTC).rows();
        assert.deepEqual(
          [btc(unified).rows, btc(unified).first, btc(unified).last],
          [read.length, read[0].ts, read[read.length - 1].ts],
          table,
        );
      }
      const quotes = symbolsOf(await stores.unified.instruments({ table: "quotes" }));
      assert.ok(quotes.includes(`${LTC.exchange}/${LTC.symbol}`), "lake only");
      assert.ok(quotes.includes(`${DOGE.exchange}/${DOGE.symbol}`), "buffer only");
    });
    await t.step("Parquet files without statistics are scanned", async () => {
      // Rewrite every quotes file of BTC without column statistics: the footers then give
      // no time span, so the lake must scan (and still count each row once).
      const dir = `${stores.root}/quotes/exchange=${BTC.exchange}/symbol=${BTC.symbol}`;
      let rewritten = 0;
      for await (const day of Deno.readDir(dir)) {
        for await (const file of Deno.readDir(`${dir}/${day.name}`)) {
          if (!file.name.endsWith(".parquet")) continue;
          const path = `${dir}/${day.name}/${file.name}`;
          const frame = pl.readParquet(path);
          await Deno.remove(path);
          await frame.lazy().sinkParquet(path, { statistics: false }).collect();
          rewritten++;
        }
      }
      assert.ok(rewritten > 0);
      assert.deepEqual(
        await stores.lake.instruments({ table: "quotes" }),
        expectedInstruments("quotes", LAKE_EVENTS),
      );
      assert.deepEqual(
        await stores.unified.instruments({ table: "quotes" }),
        expectedInstruments("quotes", allEvents()),
      );
    });
  });
});

Deno.test("instruments: empty stores give [], an unknown table is rejected", async (t) => {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  const dir = await Deno.makeTempDir({ prefix: "repository_events_instruments_test_" });
  const lake = new LakeRepository({ root: `${dir}/lake` });
  try {
    await migrate(sql);
    // The lake has folders of every table but no files, an empty folder under quotes too.
    await Deno.mkdir(`${dir}/lake/quotes/exchange=coinbase/symbol=BTC-USD/date=2024-03-08`, {
      recursive: true,
    });
    const repos: [string, MarketDataRepository][] = [
      ["memory", new MemoryRepository()],
      ["lake", lake],
      ["missing lake", new LakeRepository({ root: `${dir}/missing` })],
      ["postgres", new PostgresRepository({ sql })],
      ["unified", new UnifiedRepository({ lake, sql })],
    ];
    for (const [label, repo] of repos) {
      await t.step(label, async () => {
        assert.deepEqual(await repo.instruments(), []);
        for (const table of INSTRUMENT_TABLES) {
          assert.deepEqual(await repo.instruments({ table }), [], table);
        }
        for (const table of ["book_changes", "event_log", "TRADES", "", "trades; drop"]) {
          await assert.rejects(
            () => repo.instruments({ table } as never),
            RangeError,
            `${label} ${table}`,
          );
        }
        await assert.rejects(() => repo.instruments({ table: 1 } as never), TypeError);
        await assert.rejects(() => repo.instruments("quotes" as never), TypeError);
      });
    }
  } finally {
    await lake.close();
    await sql.end();
    await Deno.remove(dir, { recursive: true });
  }
});
