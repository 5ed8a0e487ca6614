/**
 * The lake's event tables (quotes, book snapshots, book changes, feed statuses): layout,
 * round trip through DuckDB and Polars, idempotency, validation, truncation, atomicity,
 * compaction and the LakeSink.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import pl from "nodejs-polars";
import postgres from "postgres";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import {
  type BookChangeRow,
  type BookSnapshotRow,
  EVENT_KINDS,
  type EventKind,
  type EventRow,
  eventRow,
  kindRoot,
  LakeSink,
  listPartitions,
  ParquetLake,
  type QuoteRow,
  type StatusRow,
} from "../lib/lake/mod.ts";
import { bookText, digestOf, quoteText, statusText } from "../lib/market/event_digest.ts";
import type {
  BookChange,
  BookSnapshot,
  FeedStatus,
  MarketEvent,
  PriceLevel,
  Quote,
} from "../lib/market/types.ts";
import { startPostgres } from "./support/postgres.ts";
import { listTree, seededRandom, syntheticTrades } from "./support/lake_trades.ts";

/** 2024-03-09 00:00:00 UTC in microseconds. */
const MIDNIGHT = Date.UTC(2024, 2, 9) * 1000;
const DAY = 86_400_000_000;

async function withLake(
  fn: (lake: ParquetLake, root: string) => Promise<void>,
  options: { autoCompactFiles?: number; bookDepth?: number } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "lake_events_test_" });
  const lake = await ParquetLake.open({ root: `${dir}/lake`, ...options });
  try {
    await fn(lake, `${dir}/lake`);
  } finally {
    await lake.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs SQL on a throwaway DuckDB; rows as objects, bigints as numbers. */
async function duck(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    const reader = await con.runAndReadAll(sql);
    return reader.getRowObjectsJS().map((r) => plain(r) as Record<string, unknown>);
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** Bigints to numbers, lists element by element. */
function plain(value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

const PAYLOAD: Record<EventKind, string[]> = {
  quotes: ["bid_price", "bid_size", "ask_price", "ask_size"],
  book_snapshots: ["bid_prices", "bid_sizes", "ask_prices", "ask_sizes", "sequence", "checksum"],
  book_changes: [
    "bid_prices",
    "bid_sizes",
    "ask_prices",
    "ask_sizes",
    "first_sequence",
    "sequence",
    "checksum",
  ],
  event_log: ["status", "reason"],
};

/** A row as the record a reader returns (snake-case columns). */
function record(kind: EventKind, row: EventRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    exchange: row.exchange,
    symbol: row.symbol,
    ts: row.ts,
    recv_ts: row.recvTs,
    digest: row.digest,
  };
  const camel = (name: string) => name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
  for (const column of PAYLOAD[kind]) {
    out[column] = (row as unknown as Record<string, unknown>)[camel(column)];
  }
  return out;
}

function byKey(a: Record<string, unknown>, b: Record<string, unknown>): number {
  for (const k of ["exchange", "symbol", "ts", "recv_ts", "digest"]) {
    const x = a[k] as string | number, y = b[k] as string | number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Every row of a table read by DuckDB with hive partitioning, in key order. */
async function duckRows(root: string, kind: EventKind): Promise<Record<string, unknown>[]> {
  return await duck(
    `SELECT exchange, symbol, epoch_us(ts) AS ts, epoch_us(recv_ts) AS recv_ts, digest,
       ${PAYLOAD[kind].join(", ")}
     FROM read_parquet('${root}/${kind}/*/*/*/*.parquet', hive_partitioning = true)
     ORDER BY exchange, symbol, ts, recv_ts, digest`,
  );
}

/** Every row of a table read by Polars with hive partitioning, in key order. */
async function polarsRows(root: string, kind: EventKind): Promise<Record<string, unknown>[]> {
  const df = await pl.scanParquet(`${root}/${kind}/**/*.parquet`, { hivePartitioning: true })
    .withColumns(pl.col("ts").cast(pl.Int64), pl.col("recv_ts").cast(pl.Int64))
    .select("exchange", "symbol", "ts", "recv_ts", "digest", ...PAYLOAD[kind])
    .collect();
  return (df.toRecords() as Record<string, unknown>[]).map((r) =>
    plain(r) as Record<string, unknown>
  ).sort(byKey);
}

const level = (price: number, size: number): PriceLevel => [price, size];

/** Events of every stored kind for two instruments, across midnight, in no key order. */
function sampleEvents(): {
  quotes: Quote[];
  snapshots: BookSnapshot[];
  changes: BookChange[];
  statuses: FeedStatus[];
} {
  const random = seededRandom(7);
  const quotes: Quote[] = [];
  const snapshots: BookSnapshot[] = [];
  const changes: BookChange[] = [];
  const statuses: FeedStatus[] = [];
  for (const [exchange, symbol] of [["coinbase", "BTC-USD"], ["kraken", "ETH-USD"]]) {
    for (let i = 0; i < 40; i++) {
      // 20 before midnight, 20 after; odd microseconds.
      const ts = MIDNIGHT - 20_000_001 + i * 1_000_003;
      const recvTs = ts + 1 + Math.floor(random() * 900);
      const price = Math.round((100 + random() * 10) * 100) / 100;
      quotes.push({
        kind: "quote",
        exchange,
        symbol,
        ts,
        recvTs,
        bidPrice: price,
        bidSize: i === 3 ? 0 : Math.round(random() * 1e8) / 1e8,
        askPrice: price + 0.1 + 0.2, // a double with a long shortest text
        askSize: 1e-8 * (i + 1),
      });
      if (i % 8 === 0) {
        snapshots.push({
          kind: "book_snapshot",
          exchange,
          symbol,
          ts,
          recvTs,
          bids: [level(price - 0.02, 1), level(price, 2.5), level(price - 0.01, 0.125)],
          asks: i === 8 ? [] : [level(price + 0.03, 3), level(price + 0.01, 1e-8)],
          ...(i % 16 === 0 ? { sequence: 1_000_000_000_000 + i, checksum: 4_294_967_295 } : {}),
        });
      }
      changes.push({
        kind: "book_change",
        exchange,
        symbol,
        ts,
        recvTs: recvTs + 1,
        // As received: not sorted, deletes (size 0) included.
        bids: [level(price - 0.05, 0), level(price, 1.5), level(price - 0.1, 2)],
        asks: i % 5 === 0 ? [] : [level(price + 0.2, 0.3), level(price + 0.1, 0)],
        ...(i % 3 === 0 ? {} : { firstSequence: 500 + i * 2, sequence: 501 + i * 2 }),
        ...(i % 4 === 0 ? { checksum: 123_456_789 } : {}),
      });
    }
    const statusTs = MIDNIGHT - 5;
    statuses.push(
      {
        kind: "status",
        exchange,
        symbol,
        ts: statusTs,
        recvTs: statusTs,
        status: "connected",
        reason: "",
      },
      {
        kind: "status",
        exchange,
        symbol,
        ts: statusTs + DAY / 2,
        recvTs: statusTs + DAY / 2 + 9,
        status: "gap",
        reason: "trade_id gap 1568270 -> 1568275\ttab\nnewline \\ backslash ünïcødé",
      },
    );
  }
  // Out of key order on purpose.
  return {
    quotes: quotes.reverse(),
    snapshots,
    changes: [...changes.filter((_, i) => i % 2 === 1), ...changes.filter((_, i) => i % 2 === 0)],
    statuses: statuses.reverse(),
  };
}

const KIND_OF = {
  quote: "quotes",
  book_snapshot: "book_snapshots",
  book_change: "book_changes",
  status: "event_log",
} as const;

Deno.test("event tables round-trip through DuckDB and Polars with the documented layout", async (t) => {
  await withLake(async (lake, root) => {
    const { quotes, snapshots, changes, statuses } = sampleEvents();
    const events: MarketEvent[] = [...quotes, ...snapshots, ...changes, ...statuses];
    const written = await lake.writeEvents(events);
    assert.equal(written, events.length);
    assert.deepEqual(lake.lastWrite, {
      written: events.length,
      duplicates: 0,
      rejected: 0,
      rejectedBy: {},
    });
    const expected = (kind: EventKind) =>
      events.filter((e) => KIND_OF[e.kind as keyof typeof KIND_OF] === kind)
        .map((e) => record(kind, eventRow(e as Quote)))
        .sort(byKey);

    await t.step("hive layout: one table per kind, one date partition per UTC day", async () => {
      const files = await listTree(root);
      for (const f of files) {
        assert.match(
          f,
          /^(quotes|book_snapshots|book_changes|event_log)\/exchange=(coinbase|kraken)\/symbol=(BTC|ETH)-USD\/date=2024-03-0[89]\/part-[0-9a-z-]+\.parquet$/,
        );
      }
      // 4 tables x 2 instruments x 2 days, one file each.
      assert.equal(files.length, 16);
      assert.equal(kindRoot(root, "book_changes"), `${root}/book_changes`);
    });

    await t.step("column types", async () => {
      const types = async (kind: EventKind) =>
        (await duck(
          `DESCRIBE SELECT * EXCLUDE (date, exchange, symbol)
           FROM read_parquet('${root}/${kind}/*/*/*/*.parquet', hive_partitioning = true)`,
        )).map((r) => `${r.column_name} ${r.column_type}`);
      const head = ["ts TIMESTAMP", "recv_ts TIMESTAMP", "digest INTEGER"];
      const lists = ["bid_prices", "bid_sizes", "ask_prices", "ask_sizes"]
        .map((c) => `${c} DOUBLE[]`);
      assert.deepEqual(await types("quotes"), [
        ...head,
        ...["bid_price", "bid_size", "ask_price", "ask_size"].map((c) => `${c} DOUBLE`),
      ]);
      assert.deepEqual(await types("book_snapshots"), [
        ...head,
        ...lists,
        "sequence BIGINT",
        "checksum BIGINT",
      ]);
      assert.deepEqual(await types("book_changes"), [
        ...head,
        ...lists,
        "first_sequence BIGINT",
        "sequence BIGINT",
        "checksum BIGINT",
      ]);
      assert.deepEqual(await types("event_log"), [...head, "status VARCHAR", "reason VARCHAR"]);
    });

    for (const kind of EVENT_KINDS) {
      await t.step(
        `${kind}: DuckDB and Polars read back every value, null and list order`,
        async () => {
          const want = expected(kind);
          assert.ok(want.length > 0);
          assert.deepEqual(await duckRows(root, kind), want);
          assert.deepEqual(await polarsRows(root, kind), want);
        },
      );
    }

    await t.step("nulls where optionals are missing, values where present", async () => {
      const rows = await duckRows(root, "book_changes");
      assert.ok(rows.some((r) => r.first_sequence === null && r.sequence === null));
      assert.ok(rows.some((r) => r.first_sequence !== null && r.checksum === null));
      assert.ok(rows.some((r) => r.checksum === 123_456_789));
      const snaps = await duckRows(root, "book_snapshots");
      assert.ok(snaps.some((r) => r.sequence === null && r.checksum === null));
      assert.ok(snaps.some((r) => r.checksum === 4_294_967_295));
      assert.ok(snaps.some((r) => (r.ask_prices as number[]).length === 0));
    });

    await t.step("the date partition is the UTC day of ts", async () => {
      const rows = await duck(
        `SELECT count(*) AS bad FROM read_parquet('${root}/*/*/*/*/*.parquet',
           hive_partitioning = true, union_by_name = true)
         WHERE date <> ts::DATE`,
      );
      assert.deepEqual(rows, [{ bad: 0 }]);
    });

    await t.step("each file is sorted by (ts, recv_ts, digest)", async () => {
      for (const f of await listTree(root)) {
        const df = pl.readParquet(`${root}/${f}`, { hivePartitioning: false } as never);
        const sorted = df.sort(["ts", "recv_ts", "digest"]);
        assert.ok(
          df.select("ts", "recv_ts", "digest").frameEqual(
            sorted.select("ts", "recv_ts", "digest"),
          ),
          f,
        );
      }
    });
  });
});

Deno.test("event rows are idempotent on (exchange, symbol, ts, recv_ts, digest)", async (t) => {
  await withLake(async (lake, root) => {
    const { quotes, changes, snapshots, statuses } = sampleEvents();
    const all: MarketEvent[] = [...quotes, ...changes, ...snapshots, ...statuses];

    await t.step("the same events twice are stored once", async () => {
      assert.equal(await lake.writeEvents(all), all.length);
      assert.equal(await lake.writeEvents(all), 0);
      assert.equal(lake.lastWrite.duplicates, all.length);
      assert.equal((await duckRows(root, "quotes")).length, quotes.length);
    });

    await t.step("rows made by eventRow are the same rows as the events", async () => {
      const rows = changes.map((e) => eventRow(e));
      assert.equal(await lake.writeEventRows("book_changes", rows), 0);
      assert.equal(lake.lastWrite.duplicates, changes.length);
    });

    await t.step("repeats within a batch keep one row; new rows still land", async () => {
      const q = quotes[0];
      const next: Quote = { ...q, ts: q.ts + 1 };
      const other: Quote = { ...q, ts: q.ts + 1, bidSize: q.bidSize + 1 }; // other digest
      assert.equal(await lake.writeEvents([next, q, next, other, next]), 2);
      assert.deepEqual(lake.lastWrite, { written: 2, duplicates: 3, rejected: 0, rejectedBy: {} });
      assert.equal((await duckRows(root, "quotes")).length, quotes.length + 2);
    });

    await t.step("same payload and times under another instrument is another row", async () => {
      const q = quotes[0];
      assert.equal(await lake.writeEvents([{ ...q, symbol: "SOL-USD" }]), 1);
      assert.equal(await lake.writeEvents([{ ...q, recvTs: q.recvTs + 1 }]), 1);
    });

    await t.step("countsByKind and counts add up", () => {
      const byKind = lake.countsByKind;
      assert.equal(byKind.trades.written, 0);
      assert.equal(byKind.quotes.written, quotes.length + 4);
      assert.equal(byKind.book_changes.duplicates, 2 * changes.length);
      const sum = EVENT_KINDS.reduce((n, k) => n + byKind[k].written, 0);
      assert.equal(lake.counts.written, sum);
    });
  });
});

/** The digest as lib/buffer/writer.ts computes it, written out independently. */
function bufferDigest(e: Quote | BookSnapshot | BookChange | FeedStatus, depth = 50): number {
  const split = (
    levels: readonly PriceLevel[],
  ) => [levels.map((l) => l[0]), levels.map((l) => l[1])];
  switch (e.kind) {
    case "quote":
      return digestOf(quoteText(e.bidPrice, e.bidSize, e.askPrice, e.askSize));
    case "status":
      return digestOf(statusText(e.status, e.reason ?? ""));
    case "book_change": {
      const [bidPrices, bidSizes] = split(e.bids);
      const [askPrices, askSizes] = split(e.asks);
      return digestOf(
        bookText({ bidPrices, bidSizes, askPrices, askSizes }, [
          e.firstSequence,
          e.sequence,
          e.checksum,
        ]),
      );
    }
    case "book_snapshot": {
      const bids = [...e.bids].sort((a, b) => b[0] - a[0]).slice(0, depth);
      const asks = [...e.asks].sort((a, b) => a[0] - b[0]).slice(0, depth);
      const [bidPrices, bidSizes] = split(bids);
      const [askPrices, askSizes] = split(asks);
      return digestOf(
        bookText({ bidPrices, bidSizes, askPrices, askSizes }, [e.sequence, e.checksum]),
      );
    }
  }
}

Deno.test("eventRow's digest is the buffer writer's digest", async (t) => {
  const { quotes, snapshots, changes, statuses } = sampleEvents();
  const events = [...quotes, ...snapshots, ...changes, ...statuses];

  await t.step("computed the way lib/buffer/writer.ts does", () => {
    for (const e of events) assert.equal(eventRow(e).digest, bufferDigest(e), e.kind);
    const digests = new Set(quotes.map((q) => eventRow(q).digest));
    assert.ok(digests.size > quotes.length / 2, "digests depend on the payload");
  });

  await t.step("equal to what PostgresWriter stores in the buffer", async () => {
    await using pg = await startPostgres();
    const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
    const spillDir = await Deno.makeTempDir({ prefix: "lake_events_spill_" });
    try {
      await migrate(sql);
      const logs: string[] = [];
      const writer = new PostgresWriter({ url: pg.url, spillDir, log: (m) => logs.push(m) });
      writer.write(events);
      assert.equal(await writer.flush(), events.length);
      await writer.close();
      assert.deepEqual(logs, []);
      for (const kind of EVENT_KINDS) {
        const stored = await sql.unsafe(
          `SELECT exchange, symbol, (extract(epoch from ts) * 1000000)::float8 AS ts,
             (extract(epoch from recv_ts) * 1000000)::float8 AS recv_ts, digest FROM ${kind}`,
        );
        const key = (r: { exchange: string; symbol: string; ts: number; recv_ts: number }) =>
          `${r.exchange}/${r.symbol}/${r.ts}/${r.recv_ts}`;
        const buffer = stored.map((r) => `${key(r as never)}/${r.digest}`).sort();
        const lake = events.filter((e) => KIND_OF[e.kind] === kind)
          .map((e) => eventRow(e))
          .map((r) => `${r.exchange}/${r.symbol}/${r.ts}/${r.recvTs}/${r.digest}`)
          .sort();
        assert.deepEqual(buffer, lake, kind);
      }
    } finally {
      await sql.end();
      await Deno.remove(spillDir, { recursive: true });
    }
  });
});

Deno.test("invalid event rows are rejected, counted per reason and never written", async (t) => {
  await withLake(async (lake, root) => {
    const ts = MIDNIGHT + 1_000;
    const good = eventRow({
      kind: "quote",
      exchange: "coinbase",
      symbol: "BTC-USD",
      ts,
      recvTs: ts + 5,
      bidPrice: 10,
      bidSize: 1,
      askPrice: 11,
      askSize: 2,
    });

    await t.step("quotes", async () => {
      const bad: QuoteRow[] = [
        { ...good, exchange: "Coin Base" },
        { ...good, symbol: "BTC/USD" },
        { ...good, ts: Date.UTC(1999, 11, 31) * 1000 },
        { ...good, ts: ts + 0.5 },
        { ...good, recvTs: -1 },
        { ...good, recvTs: NaN },
        { ...good, digest: 2 ** 31 },
        { ...good, bidPrice: NaN },
        { ...good, askPrice: Infinity },
        { ...good, bidSize: -1 },
        { ...good, askSize: Infinity },
      ];
      assert.equal(await lake.writeEventRows("quotes", [...bad, good]), 1);
      assert.deepEqual(lake.lastWrite, {
        written: 1,
        duplicates: 0,
        rejected: 11,
        rejectedBy: {
          exchange: 1,
          symbol: 1,
          ts: 2,
          recv_ts: 2,
          digest: 1,
          price: 2,
          size: 2,
        },
      });
      assert.equal((await duckRows(root, "quotes")).length, 1);
    });

    await t.step("book rows", async () => {
      const book: BookChangeRow = eventRow({
        kind: "book_change",
        exchange: "coinbase",
        symbol: "BTC-USD",
        ts,
        recvTs: ts,
        bids: [level(10, 1)],
        asks: [level(11, 0)],
        sequence: 5,
      });
      const bad: BookChangeRow[] = [
        { ...book, bidPrices: [10, 9] }, // 2 prices, 1 size
        { ...book, askSizes: undefined as unknown as number[] },
        { ...book, bidPrices: [NaN] },
        { ...book, askSizes: [-0.5] },
        { ...book, sequence: 1.5 },
        { ...book, firstSequence: 2 ** 60 },
        { ...book, checksum: "7" as unknown as number },
      ];
      assert.equal(await lake.writeEventRows("book_changes", bad), 0);
      assert.deepEqual(lake.lastWrite.rejectedBy, { levels: 2, price: 1, size: 1, sequence: 3 });
      const snapshot: BookSnapshotRow = { ...book, firstSequence: undefined } as BookSnapshotRow;
      assert.equal(await lake.writeEventRows("book_snapshots", [{ ...snapshot, bidSizes: [] }]), 0);
      assert.deepEqual(lake.lastWrite.rejectedBy, { levels: 1 });
      assert.equal(await lake.writeEventRows("book_changes", [book]), 1);
      // Typed arrays are read like arrays.
      const typed = {
        ...book,
        ts: ts + 1,
        bidPrices: Float64Array.of(10, 9.5),
        bidSizes: Float64Array.of(1, 2),
      } as unknown as BookChangeRow;
      assert.equal(await lake.writeEventRows("book_changes", [typed]), 1);
      const stored = await duckRows(root, "book_changes");
      assert.deepEqual(stored.map((r) => r.bid_prices), [[10], [10, 9.5]]);
    });

    await t.step("statuses", async () => {
      const status: StatusRow = eventRow({
        kind: "status",
        exchange: "coinbase",
        symbol: "BTC-USD",
        ts,
        recvTs: ts,
        status: "reset",
        reason: "checksum",
      });
      const bad = [{ ...status, reason: null as unknown as string }, {
        ...status,
        status: 3 as unknown as string,
      }];
      assert.equal(await lake.writeEventRows("event_log", [...bad, status]), 1);
      assert.deepEqual(lake.lastWrite.rejectedBy, { status: 2 });
    });

    await t.step("malformed events in writeEvents are counted, bars stored", async () => {
      const broken = {
        kind: "book_snapshot",
        exchange: "coinbase",
        symbol: "BTC-USD",
        ts,
        recvTs: ts,
        bids: null,
        asks: [],
      } as unknown as MarketEvent;
      const bar: MarketEvent = {
        kind: "bar",
        exchange: "coinbase",
        symbol: "BTC-USD",
        ts,
        recvTs: ts + 5,
        interval: 60e6,
        open: 1,
        high: 2.5,
        low: 0.5,
        close: 1.25,
        volume: 3,
        vwap: NaN,
        trades: 4,
      };
      const badBar = { ...bar, interval: 0 } as MarketEvent;
      const before = lake.ignored;
      assert.equal(await lake.writeEvents([broken, bar, badBar]), 1);
      assert.deepEqual(lake.lastWrite, {
        written: 1,
        duplicates: 0,
        rejected: 2,
        rejectedBy: { levels: 1, interval: 1 },
      });
      assert.equal(lake.ignored, before, "bars have a table now");
      assert.equal(lake.counts.rejected, 11 + 7 + 1 + 2 + 2);
      assert.equal(await lake.writeEvents([bar]), 0, "the same bar again is a duplicate");
      assert.equal(lake.lastWrite.duplicates, 1);
      const rows = await duck(
        `SELECT exchange, symbol, CAST(year AS VARCHAR) AS year, interval_us, epoch_us(ts) AS ts,
           epoch_us(recv_ts) AS recv_ts, open, high, low, close, volume, vwap, trades
         FROM read_parquet('${root}/bars/*/*/*/*.parquet', hive_partitioning = true)`,
      );
      // One bars layout: `bars/exchange=/symbol=/year=` (bar_store.ts), by the UTC year of ts.
      const year = new Date(ts / 1000).toISOString().slice(0, 4);
      assert.deepEqual(rows, [{
        exchange: "coinbase",
        symbol: "BTC-USD",
        year,
        interval_us: 60e6,
        ts,
        recv_ts: ts + 5,
        open: 1,
        high: 2.5,
        low: 0.5,
        close: 1.25,
        volume: 3,
        vwap: null,
        trades: 4,
      }]);
    });

    await t.step("bad arguments reject", async () => {
      await assert.rejects(() => lake.writeEventRows("trades" as EventKind, []), TypeError);
      await assert.rejects(
        () => lake.writeEventRows("quotes", {} as unknown as QuoteRow[]),
        TypeError,
      );
      assert.throws(() => kindRoot(root, "candles" as EventKind), TypeError);
      await assert.rejects(() => lake.compact({ kinds: ["candles" as EventKind] }), TypeError);
      await assert.rejects(() => ParquetLake.open({ root, bookDepth: 0 }), RangeError);
      assert.throws(() => eventRow(quoteEvent(ts), { depth: 1.5 }), RangeError);
    });
  });
});

function quoteEvent(ts: number): Quote {
  return {
    kind: "quote",
    exchange: "coinbase",
    symbol: "BTC-USD",
    ts,
    recvTs: ts,
    bidPrice: 1,
    bidSize: 1,
    askPrice: 2,
    askSize: 1,
  };
}

Deno.test("a write spanning two UTC days lands in two partitions, pruned by listPartitions", async () => {
  await withLake(async (lake, root) => {
    const last = MIDNIGHT - 1; // 2024-03-08 23:59:59.999999
    const events = [quoteEvent(MIDNIGHT), quoteEvent(last), quoteEvent(MIDNIGHT + DAY - 1)];
    assert.equal(await lake.writeEvents(events), 3);
    const instrument = { exchange: "coinbase", symbol: "BTC-USD" };
    const all = await listPartitions(root, "quotes", instrument);
    assert.deepEqual(all.map((p) => p.day), [MIDNIGHT / DAY - 1, MIDNIGHT / DAY]);
    assert.deepEqual(all.map((p) => p.files.length), [1, 1]);
    assert.match(all[0].path, /\/quotes\/exchange=coinbase\/symbol=BTC-USD\/date=2024-03-08$/);
    const after = await listPartitions(root, "quotes", { ...instrument, start: MIDNIGHT });
    assert.deepEqual(after.map((p) => p.day), [MIDNIGHT / DAY]);
    const before = await listPartitions(root, "quotes", { ...instrument, end: MIDNIGHT });
    assert.deepEqual(before.map((p) => p.day), [MIDNIGHT / DAY - 1]);
    assert.deepEqual(await listPartitions(root, "book_changes", instrument), []);
    assert.deepEqual(await listPartitions(root, "trades", instrument), []);
    const rows = await duck(
      `SELECT date::VARCHAR AS date, epoch_us(ts) AS ts
       FROM read_parquet('${root}/quotes/*/*/*/*.parquet', hive_partitioning = true)
       ORDER BY ts`,
    );
    assert.deepEqual(rows, [
      { date: "2024-03-08", ts: last },
      { date: "2024-03-09", ts: MIDNIGHT },
      { date: "2024-03-09", ts: MIDNIGHT + DAY - 1 },
    ]);
  });
});

function wideSnapshot(ts: number, levels: number): BookSnapshot {
  const random = seededRandom(3);
  const shuffle = <T>(items: T[]) =>
    items.map((x) => [random(), x] as const).sort((a, b) => a[0] - b[0]).map((p) => p[1]);
  const bids = shuffle(Array.from({ length: levels }, (_, i) => level(1000 - i, i + 1)));
  const asks = shuffle(Array.from({ length: levels }, (_, i) => level(1001 + i, i + 0.5)));
  return {
    kind: "book_snapshot",
    exchange: "binance",
    symbol: "BTC-USDT",
    ts,
    recvTs: ts,
    bids,
    asks,
    sequence: 42,
  };
}

Deno.test("snapshots are stored sorted and cut to the lake's bookDepth; changes as received", async (t) => {
  const snapshot = wideSnapshot(MIDNIGHT, 60);
  const change: BookChange = {
    kind: "book_change",
    exchange: "binance",
    symbol: "BTC-USDT",
    ts: MIDNIGHT,
    recvTs: MIDNIGHT,
    bids: snapshot.bids,
    asks: snapshot.asks,
  };
  for (const depth of [undefined, 3]) {
    await t.step(`bookDepth ${depth ?? "default (50)"}`, async () => {
      await withLake(async (lake, root) => {
        assert.equal(await lake.writeEvents([snapshot, change]), 2);
        const n = depth ?? 50;
        const [stored] = await duckRows(root, "book_snapshots");
        assert.deepEqual(stored.bid_prices, Array.from({ length: n }, (_, i) => 1000 - i));
        assert.deepEqual(stored.bid_sizes, Array.from({ length: n }, (_, i) => i + 1));
        assert.deepEqual(stored.ask_prices, Array.from({ length: n }, (_, i) => 1001 + i));
        assert.deepEqual(stored.ask_sizes, Array.from({ length: n }, (_, i) => i + 0.5));
        assert.equal(stored.digest, eventRow(snapshot, { depth: n }).digest);
        assert.equal(stored.digest, bufferDigest(snapshot, n));
        const [asReceived] = await duckRows(root, "book_changes");
        assert.deepEqual(asReceived.bid_prices, change.bids.map((l) => l[0]));
        assert.deepEqual(asReceived.ask_sizes, change.asks.map((l) => l[1]));
      }, { bookDepth: depth });
    });
  }
});

Deno.test("event files appear atomically; crashes leave nothing readers see", async (t) => {
  await withLake(async (lake, root) => {
    const { changes } = sampleEvents();
    const btc = changes.filter((c) => c.symbol === "BTC-USD" && c.ts >= MIDNIGHT)
      .sort((a, b) => a.ts - b.ts);
    assert.equal(btc.length, 20);
    const dir = `${root}/book_changes/exchange=coinbase/symbol=BTC-USD/date=2024-03-09`;

    await t.step("only part-*.parquet files remain after writes", async () => {
      for (let i = 0; i < 4; i++) await lake.writeEvents(btc.slice(i * 5, i * 5 + 5));
      const files = await listTree(dir);
      assert.equal(files.length, 4);
      for (const f of files) assert.match(f, /^part-[0-9a-z-]+\.parquet$/);
    });

    await t.step("a crashed write's temporary file is never listed nor read", async () => {
      await Deno.writeTextFile(`${dir}/.part-crashed.parquet.tmp`, "PAR1 half a file");
      const [partition] = await listPartitions(root, "book_changes", {
        exchange: "coinbase",
        symbol: "BTC-USD",
        start: MIDNIGHT,
      });
      assert.equal(partition.files.length, 4);
      assert.ok(partition.files.every((f) => !f.includes(".tmp")));
      assert.equal((await duckRows(root, "book_changes")).length, 20);
      const df = await pl.scanParquet(`${root}/book_changes/**/*.parquet`).collect();
      assert.equal(df.height, 20);
      assert.equal(await lake.writeEvents(btc), 0);
      await Deno.remove(`${dir}/.part-crashed.parquet.tmp`);
    });

    await t.step("compact merges every table's partition into one sorted file", async () => {
      const report = await lake.compact({ kinds: ["book_changes"] });
      assert.deepEqual(report, { partitions: 1, filesMerged: 4, rows: 20 });
      const [merged] = await listTree(dir);
      const want = btc.map((e) => record("book_changes", eventRow(e))).sort(byKey);
      assert.deepEqual(await duckRows(root, "book_changes"), want);
      // File order is key order.
      const inFile = await duck(
        `SELECT epoch_us(ts) AS ts, epoch_us(recv_ts) AS recv_ts, digest FROM '${dir}/${merged}'`,
      );
      assert.deepEqual(
        inFile,
        want.map((r) => ({ ts: r.ts, recv_ts: r.recv_ts, digest: r.digest })),
      );
      assert.equal(await lake.writeEvents(btc), 0);
      assert.deepEqual(await lake.compact(), { partitions: 0, filesMerged: 0, rows: 0 });
    });

    await t.step(
      "a compaction interrupted after its rename is finished by the next write",
      async () => {
        const [merged] = await listTree(dir);
        await Deno.copyFile(`${dir}/${merged}`, `${dir}/part-0-old-input.parquet`);
        await Deno.writeTextFile(
          `${dir}/.compact-crash.json`,
          JSON.stringify({ output: merged, inputs: ["part-0-old-input.parquet"] }),
        );
        assert.equal((await duckRows(root, "book_changes")).length, 40); // until repaired
        const extra: BookChange = { ...btc[0], ts: btc[19].ts + 1 };
        assert.equal(await lake.writeEvents([extra]), 1);
        assert.equal((await duckRows(root, "book_changes")).length, 21);
        assert.ok(!(await listTree(dir)).some((f) => f.startsWith(".")));
      },
    );
  });
});

Deno.test("event partitions compact automatically past autoCompactFiles", async () => {
  await withLake(async (lake, root) => {
    const quotes = Array.from({ length: 30 }, (_, i) => quoteEvent(MIDNIGHT + i));
    for (let i = 0; i < 6; i++) await lake.writeEvents(quotes.slice(i * 5, i * 5 + 5));
    const files = await listTree(`${root}/quotes`);
    assert.ok(files.length <= 2, `expected at most 2 files, got ${files.length}`);
    assert.equal((await duckRows(root, "quotes")).length, 30);
  }, { autoCompactFiles: 2 });
});

Deno.test("LakeSink stores every kind; a failed flush keeps what it could not store", async () => {
  await withLake(async (lake, root) => {
    const sink = new LakeSink(lake);
    const trades = syntheticTrades({ start: MIDNIGHT, count: 4 });
    const { quotes, changes, statuses } = sampleEvents();
    const events: MarketEvent[] = [...trades, ...quotes, ...changes, ...statuses];
    // A file where the quotes table should be: the event write fails, trades succeed.
    await Deno.writeTextFile(`${root}/quotes`, "in the way");
    sink.write(events);
    assert.equal(sink.pending, events.length);
    await assert.rejects(() => sink.flush());
    assert.equal(sink.pending, events.length - trades.length, "trades stored, the rest kept");
    assert.deepEqual(sink.stored, { trades: 4, events: 0 });
    await Deno.remove(`${root}/quotes`);
    assert.equal(
      await sink.flush(),
      quotes.length + changes.length + statuses.length,
      "the events kept, no trade twice",
    );
    assert.equal(sink.pending, 0);
    assert.deepEqual(sink.stored, {
      trades: 4,
      events: quotes.length + changes.length + statuses.length,
    });
    assert.equal((await duckRows(root, "quotes")).length, quotes.length);
    assert.equal((await duckRows(root, "event_log")).length, statuses.length);

    const tradesOnly = new LakeSink(lake, { kinds: ["trade"] });
    tradesOnly.write(events);
    assert.equal(tradesOnly.pending, trades.length);
    assert.equal(tradesOnly.ignored, events.length - trades.length);
    assert.equal(await tradesOnly.flush(), 0);
    assert.throws(() => new LakeSink(lake, { kinds: ["candle" as "trade"] }), TypeError);
    await sink.close();
  });
});
