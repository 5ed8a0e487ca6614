/**
 * The schema's one rule set (`lib/schema/`): the lake and the PostgreSQL buffer refuse the
 * same rows for the same reason, and connection-wide statuses (symbol `*`) travel
 * collector -> PostgreSQL -> export -> lake and read back as `*`.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { DuckDBInstance } from "@duckdb/node-api";
import { startPostgres } from "./support/postgres.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import { Exporter } from "../lib/buffer/exporter.ts";
import { listInstrumentDirs, listPartitions, ParquetLake } from "../lib/lake/mod.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import type { MarketEvent } from "../lib/market/types.ts";
import {
  CONNECTION_WIDE,
  eventRejection,
  latestValidMicros,
  type Rejection,
  TABLE_NAMES,
  TABLES,
} from "../lib/schema/mod.ts";
import { CoinbaseExchangeAdapter } from "../collectors/venues/coinbase_exchange.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { FeedPipeline } from "../collectors/runtime/pipeline.ts";

const DAY = 86_400_000_000;
const T0 = Date.UTC(2024, 2, 9, 12) * 1000;
const H = { exchange: "coinbase", symbol: "BTC-USD", ts: T0, recvTs: T0 + 5 } as const;

const TRADE = { ...H, kind: "trade", id: "1", price: 100, size: 1, side: "buy" } as const;
const QUOTE = { ...H, kind: "quote", bidPrice: 99, bidSize: 1, askPrice: 101, askSize: 2 } as const;
const BOOK = { ...H, kind: "book_change", bids: [[99, 1]], asks: [[101, 0]], sequence: 5 } as const;
const STATUS = { ...H, kind: "status", status: "gap", reason: "sequence gap" } as const;
const FUTURE = Date.now() * 1000 + 2 * DAY;

/**
 * Rows with one defect each and the reason a person expects from the rules written in
 * `lib/schema/rules.ts` (not computed by the code under test). Before the schema, the
 * buffer accepted the first five (it only wanted non-empty names, no sequence check, no
 * future bound on the lake, receive times from 1970).
 */
const BAD: readonly [string, MarketEvent, Rejection][] = [
  ["trade symbol with a slash", { ...TRADE, symbol: "BTC/USD" }, "symbol"],
  ["quote exchange with a space", { ...QUOTE, exchange: "Coin Base" }, "exchange"],
  ["book sequence not an integer", { ...BOOK, sequence: 1.5 }, "sequence"],
  ["trade two days ahead", { ...TRADE, ts: FUTURE }, "ts"],
  ["status received in 1970", { ...STATUS, recvTs: 1_000 }, "recv_ts"],
  ["trade connection-wide", { ...TRADE, symbol: CONNECTION_WIDE }, "symbol"],
  ["quote connection-wide", { ...QUOTE, symbol: CONNECTION_WIDE }, "symbol"],
  ["trade price NaN", { ...TRADE, price: NaN }, "price"],
  ["trade size 0", { ...TRADE, size: 0 }, "size"],
  ["trade side", { ...TRADE, side: "sideways" as "buy" }, "side"],
  ["trade id empty", { ...TRADE, id: "" }, "id"],
  ["trade year 1", { ...TRADE, ts: Date.UTC(1, 0, 1) * 1000 }, "ts"],
  ["quote price infinite", { ...QUOTE, askPrice: Infinity }, "price"],
  ["quote size negative", { ...QUOTE, bidSize: -1 }, "size"],
  ["book level price NaN", { ...BOOK, bids: [[NaN, 1]] }, "price"],
  ["book level size negative", { ...BOOK, asks: [[101, -2]] }, "size"],
  ["book levels not a list", { ...BOOK, bids: null as unknown as [] }, "levels"],
  ["status reason not text", { ...STATUS, reason: 3 as unknown as string }, "status"],
  ["exchange empty", { ...STATUS, exchange: "" }, "exchange"],
];

/** Good rows both stores keep: one per lake table, and a connection-wide status. */
const GOOD: readonly MarketEvent[] = [
  TRADE,
  QUOTE,
  BOOK,
  STATUS,
  { ...STATUS, symbol: CONNECTION_WIDE, status: "disconnected", reason: "socket closed" },
];

async function withBuffer<T>(body: (sql: postgres.Sql, url: string) => Promise<T>): Promise<T> {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 3, onnotice: () => {} });
  try {
    await migrate(sql);
    return await body(sql, pg.url);
  } finally {
    await sql.end();
  }
}

Deno.test("the schema describes every table once, with the buffer's COPY columns", () => {
  assert.deepEqual([...TABLE_NAMES].sort(), [
    "actions",
    "bars",
    "book_changes",
    "book_snapshots",
    "event_log",
    "quotes",
    "trades",
  ]);
  // The COPY column lists the buffer wrote before the schema existed (lib/buffer/writer.ts);
  // trades' `backfilled` came with migration 4 (lib/buffer/migrations.ts).
  assert.equal(
    TABLES.trades.copyColumns,
    "exchange, symbol, id, price, size, side, ts, recv_ts, backfilled",
  );
  assert.equal(
    TABLES.book_changes.copyColumns,
    "exchange, symbol, ts, recv_ts, digest, bid_prices, bid_sizes, ask_prices, ask_sizes, " +
      "first_sequence, sequence, checksum",
  );
  assert.equal(
    TABLES.bars.copyColumns,
    "exchange, symbol, interval_us, ts, recv_ts, open, high, low, close, volume, vwap, trades",
  );
  assert.deepEqual(TABLES.event_log.payload, ["status", "reason"]);
  assert.equal(
    TABLES.actions.copyColumns,
    "exchange, symbol, seq, ts, action, payload, prev, hash",
  );
  assert.equal(TABLES.actions.event, undefined, "actions are not market events");
  // Only the event log takes connection-wide rows.
  assert.deepEqual(TABLE_NAMES.filter((t) => TABLES[t].connectionWide), ["event_log"]);
});

Deno.test("the lake, the buffer and memory refuse the same rows for the same reason", async () => {
  const latest = latestValidMicros(Date.now() * 1000);
  for (const [label, event, reason] of BAD) {
    assert.equal(eventRejection(event, latest), reason, label);
  }
  for (const event of GOOD) assert.equal(eventRejection(event, latest), undefined);

  const dir = await Deno.makeTempDir({ prefix: "alphapulse-schema-" });
  const warn = console.warn;
  console.warn = () => {};
  try {
    await withBuffer(async (sql) => {
      const writer = new PostgresWriter({ sql, spillDir: `${dir}/spill`, log: () => {} });
      const lake = await ParquetLake.open({ root: `${dir}/lake` });
      const memory = new MemoryRepository();
      try {
        for (const [label, event, reason] of BAD) {
          const before = writer.stats().rejectedBy[reason] ?? 0;
          writer.write([event]);
          assert.equal(writer.stats().rejectedBy[reason], before + 1, `buffer: ${label}`);
          assert.equal(await lake.writeEvents([event]), 0, label);
          assert.deepEqual(lake.lastWrite.rejectedBy, { [reason]: 1 }, `lake: ${label}`);
          if (event.kind === "trade" || event.kind === "quote") {
            // Memory holds trades, quotes and snapshots: the same rules.
            const added = memory.add([event]);
            assert.deepEqual(added.rejectedBy, { [reason]: 1 }, `memory: ${label}`);
          }
        }
        // The same rows in one batch: the same counts per reason in every store.
        writer.write([...BAD.map(([, e]) => e), ...GOOD]);
        await lake.writeEvents([...BAD.map(([, e]) => e), ...GOOD]);
        const expected: Partial<Record<Rejection, number>> = {};
        for (const [, , reason] of BAD) expected[reason] = (expected[reason] ?? 0) + 1;
        assert.deepEqual(lake.lastWrite.rejectedBy, expected);
        const twice = Object.fromEntries(Object.entries(expected).map(([r, n]) => [r, 2 * n]));
        assert.deepEqual(writer.stats().rejectedBy, twice);
        // Every good row is kept by both: 5 rows in PostgreSQL, 5 in the lake.
        assert.equal(lake.lastWrite.written, GOOD.length);
        await writer.flush();
        const [{ n }] = await sql<{ n: number }[]>`
          select (select count(*) from trades) + (select count(*) from quotes) +
            (select count(*) from book_changes) + (select count(*) from event_log) as n`;
        assert.equal(Number(n), GOOD.length);
      } finally {
        await writer.close();
        await lake.close();
      }
    });
  } finally {
    console.warn = warn;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a connection-wide disconnect goes collector -> PostgreSQL -> export -> lake and reads back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-schema-" });
  try {
    await withBuffer(async (sql) => {
      // The collector's pipeline tells its sinks about a reconnect with a status for every
      // symbol of the connection (symbol `*`).
      const writer = new PostgresWriter({ sql, spillDir: `${dir}/spill`, log: () => {} });
      const diagnostics = new FeedDiagnostics({ log: () => {} });
      const adapter = new CoinbaseExchangeAdapter({ diagnostics });
      const pipeline = new FeedPipeline({ adapter, diagnostics, sinks: [writer] });
      pipeline.handleReconnect(T0, "socket closed by the venue");
      await writer.close();
      assert.deepEqual(writer.stats().rejectedBy, {});
      const buffered = await sql`select exchange, symbol, status, reason from event_log`;
      assert.deepEqual(buffered.map((r) => ({ ...r })), [{
        exchange: "coinbase",
        symbol: "*",
        status: "disconnected",
        reason: "socket closed by the venue",
      }]);

      const root = `${dir}/lake`;
      const lake = await ParquetLake.open({ root });
      const exporter = new Exporter({
        sql,
        lake,
        kinds: ["event_log"],
        now: () => T0 + 3 * DAY,
        progress: false,
        log: () => {},
      });
      try {
        const report = await exporter.run();
        const log = report.kinds.event_log!;
        // Read 1, wrote 1 (before the schema: read 1, wrote 0, and the watermark moved on).
        assert.equal(log.rowsRead, 1);
        assert.equal(log.rowsWritten, 1);
        assert.deepEqual(log.verifiedDays, ["2024-03-09"]);
        assert.deepEqual(log.unverifiedDays, []);
      } finally {
        await exporter.close();
        await lake.close();
      }

      // Our listings map the folder back to `*`...
      assert.deepEqual(
        (await listInstrumentDirs(root, "event_log")).map((d) => [d.exchange, d.symbol]),
        [["coinbase", "*"]],
      );
      const parts = await listPartitions(root, "event_log", { exchange: "coinbase", symbol: "*" });
      assert.equal(parts.length, 1);
      assert.match(parts[0].path, /\/event_log\/exchange=coinbase\/symbol=%2A\/date=2024-03-09$/);
      // ...and DuckDB reads the lake with hive partitioning as a researcher would: `*`.
      const instance = await DuckDBInstance.create(":memory:");
      const con = await instance.connect();
      try {
        const reader = await con.runAndReadAll(
          `select exchange, symbol, status, reason, epoch_us(ts)::double
           from read_parquet('${root}/event_log/**/*.parquet', hive_partitioning = true)`,
        );
        assert.deepEqual(reader.getRows(), [[
          "coinbase",
          "*",
          "disconnected",
          "socket closed by the venue",
          T0,
        ]]);
      } finally {
        con.closeSync();
        instance.closeSync();
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
