import assert from "node:assert/strict";
import postgres from "postgres";
import { DuckDBInstance } from "@duckdb/node-api";
import { startPostgres } from "./support/postgres.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import { EXPORT_KINDS, Exporter } from "../lib/buffer/exporter.ts";
import { readTrades } from "../lib/buffer/trade_reader.ts";
import {
  type BookChangeRow,
  EVENT_KINDS,
  type EventKind,
  type EventRow,
  eventRow,
  ParquetLake,
  type QuoteRow,
  type StatusRow,
} from "../lib/lake/mod.ts";
import type {
  BookChange,
  BookSnapshot,
  FeedStatus,
  MarketEvent,
  Quote,
  Trade,
} from "../lib/market/types.ts";

const DAY = 86_400_000_000;
const D0 = Date.UTC(2024, 7, 8) * 1000;
const LATER = D0 + 30 * DAY; // "now" for the exporter: both days are long closed

function trades(n: number, symbols: readonly string[], start = D0, step = 997_000): Trade[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: "trade" as const,
    exchange: "binance",
    symbol: symbols[i % symbols.length],
    id: String(500 + i),
    price: 60_000 + (i % 101) / 100,
    size: 0.001 * (1 + (i % 13)),
    side: i % 2 ? "buy" as const : "sell" as const,
    ts: start + i * step,
    recvTs: start + i * step + 777,
  }));
}

async function lakeRows(root: string): Promise<{ n: number; keys: number; sumPrice: number }> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    const reader = await con.runAndReadAll(
      `select count(*)::double, count(distinct (exchange, symbol, id))::double,
         coalesce(sum(price), 0)::double
       from read_parquet('${root}/trades/**/*.parquet', hive_partitioning = true)`,
    );
    const [n, keys, sumPrice] = reader.getRows()[0] as number[];
    return { n, keys, sumPrice };
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

async function setup(rows: readonly MarketEvent[]) {
  const pg = await startPostgres();
  const sql = postgres(pg.url, { max: 3, onnotice: () => {} });
  await migrate(sql);
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-export-" });
  const writer = new PostgresWriter({ sql, spillDir: `${dir}/spill`, log: () => {} });
  writer.write(rows);
  await writer.close();
  return {
    pg,
    sql,
    root: `${dir}/lake`,
    async [Symbol.asyncDispose]() {
      await sql.end();
      await pg.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("Exporter: closed days to the lake, idempotent, verified before retention", async () => {
  // ~1 s apart over two UTC days, three instruments.
  const data = trades(4_000, ["BTC-USDT", "ETH-USDT", "SOL-USDT"], D0 + DAY - 2_000_000_000);
  await using env = await setup(data);
  const { sql, root } = env;
  const lake = await ParquetLake.open({ root });
  const logs: string[] = [];
  try {
    const exporter = new Exporter({
      sql,
      lake,
      now: () => LATER,
      progress: false,
      sliceRows: 300, // instrument-days of about 660 rows go in time slices
      log: (m) => logs.push(m),
    });
    const first = await exporter.run();
    assert.equal(first.rowsRead, 4_000);
    assert.equal(first.rowsWritten, 4_000);
    assert.equal(
      first.watermark,
      Math.floor((LATER - 5 * 60_000_000) / 3_600_000_000) * 3_600_000_000,
    );
    assert.ok(
      first.verifiedDays.includes("2024-08-08") && first.verifiedDays.includes("2024-08-09"),
    );
    assert.deepEqual(first.unverifiedDays, []);
    const expectedSum = data.reduce((s, t) => s + t.price, 0);
    let inLake = await lakeRows(root);
    assert.equal(inLake.n, 4_000);
    assert.equal(inLake.keys, 4_000);
    assert.ok(Math.abs(inLake.sumPrice - expectedSum) < 1e-6);

    // Bars were maintained for the exported range.
    const [bars] = await sql`select sum(trades)::int as n, count(*)::int as bars from bars`;
    assert.equal(bars.n, 4_000);
    assert.ok(bars.bars > 60);
    assert.deepEqual(await storedBars(sql), await barsOfTrades(sql));
    // ... and the lake holds the same bars (its `bars` table): PostgreSQL's from the trades.
    assert.deepEqual(await lakeBars(root), await barsOfTrades(sql));

    // Running again: nothing new, nothing duplicated.
    const second = await exporter.run();
    assert.equal(second.rowsRead, 0);
    assert.deepEqual(second.verifiedDays, []);
    // Re-exporting the same range from scratch (lost watermark) writes nothing twice.
    await sql`delete from export_watermarks`;
    const again = await exporter.run();
    assert.equal(again.rowsRead, 4_000);
    assert.equal(again.rowsWritten, 0);
    inLake = await lakeRows(root);
    assert.equal(inLake.n, 4_000);

    // A late row (a replayed spill) lands in a verified day: retention must keep the day
    // until the exporter has moved the row and verified again.
    const late = { ...data[0], id: "999999", ts: D0 + DAY - 1_000_000_000 };
    const writer = new PostgresWriter({ sql, spillDir: `${root}/../spill`, log: () => {} });
    writer.write([late]);
    await writer.close();
    const drop = async () =>
      (await sql`select buffer_drop_expired(interval '7 days') as p`).map((r) => r.p).sort();
    const dropped = await drop();
    assert.ok(!dropped.includes("trades_p20240808"), "a day with unexported rows is kept");
    assert.ok(dropped.includes("trades_p20240809"));
    const third = await exporter.run();
    assert.deepEqual(third.verifiedDays, ["2024-08-08"]);
    assert.ok(logs.some((m) => /lake has \d+ of \d+ rows; exporting the day again/.test(m)));
    assert.equal((await lakeRows(root)).n, 4_001);
    assert.deepEqual(await drop(), ["trades_p20240808"]);
    const [{ n }] = await sql`select count(*)::int as n from trades`;
    assert.equal(n, 0);
    await exporter.close();
  } finally {
    await lake.close();
  }
});

/** The exporter's 1-minute bars, as text rows (volumes to 9 decimals: sums in any order). */
async function storedBars(sql: postgres.Sql): Promise<string[]> {
  return (await sql`select exchange, symbol, ts, recv_ts, open, high, low, close,
      round(volume::numeric, 9)::text as volume, trades
    from bars where interval_us = 60000000 order by 1, 2, 3`).map((r) => JSON.stringify(r));
}

/** The lake's 1-minute bars, as {@linkcode barsOfTrades} prints them. */
async function lakeBars(root: string): Promise<string[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    const reader = await con.runAndReadAll(
      `select exchange, symbol, epoch_us(ts)::double, epoch_us(recv_ts)::double, open, high,
         low, close, volume::double, trades::double
       from read_parquet('${root}/bars/exchange=*/symbol=*/year=*/*.parquet',
         hive_partitioning = true)
       where interval_us = 60000000 order by 1, 2, 3`,
    );
    return (reader.getRows() as [string, string, ...number[]][]).map((
      [exchange, symbol, ts, recv, open, high, low, close, volume, trades],
    ) =>
      JSON.stringify({
        exchange,
        symbol,
        ts: new Date(ts / 1000),
        recv_ts: new Date(recv / 1000),
        open,
        high,
        low,
        close,
        volume: volume.toFixed(9),
        trades: String(trades),
      })
    );
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** The same bars computed by PostgreSQL from the trades. */
async function barsOfTrades(sql: postgres.Sql): Promise<string[]> {
  return (await sql`select exchange, symbol, date_trunc('minute', ts) as ts,
      max(recv_ts) as recv_ts, (array_agg(price order by ts, id))[1] as open,
      max(price) as high, min(price) as low,
      (array_agg(price order by ts desc, id desc))[1] as close,
      round(sum(size)::numeric, 9)::text as volume,
      count(*)::bigint as trades
    from trades group by 1, 2, 3 order by 1, 2, 3`).map((r) => JSON.stringify(r));
}

Deno.test("Exporter: pages split equal times and minutes, every row once, bars exact", async () => {
  // Four trades per microsecond, three per page: pages end between trades of one time,
  // and every minute spans several pages.
  const data = trades(800, ["BTC-USD", "ETH-USD"], D0 + DAY - 100_000_000, 0).map((t, i) => ({
    ...t,
    ts: t.ts + Math.floor(i / 8) * 1_000_000,
    recvTs: t.recvTs + i,
  }));
  await using env = await setup(data);
  const { sql, root } = env;
  const lake = await ParquetLake.open({ root });
  try {
    const exporter = new Exporter({
      sql,
      lake,
      now: () => LATER,
      progress: false,
      sliceRows: 3,
      log: () => {},
    });
    const report = await exporter.run();
    await exporter.close();
    assert.equal(report.rowsRead, 800);
    assert.deepEqual(report.unverifiedDays, []);
    const inLake = await lakeRows(root);
    assert.equal(inLake.n, 800);
    assert.equal(inLake.keys, 800);
    assert.deepEqual(await storedBars(sql), await barsOfTrades(sql));
  } finally {
    await lake.close();
  }
});

Deno.test("Exporter: killed in the middle, no partial file is visible and the re-run completes exactly", async () => {
  const data = trades(240_000, ["A-USD", "B-USD", "C-USD", "D-USD"], D0, 300_000);
  await using env = await setup(data);
  const { pg, root } = env;
  const command = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/export.ts", "--lake", root],
      env: { DATABASE_URL: pg.url },
      stdout: "piped",
      stderr: "piped",
    });
  const child = command().spawn();
  // Kill as soon as the first file appears (under its temporary or its final name).
  const started = Date.now();
  let seen = false;
  while (!seen && Date.now() - started < 60_000) {
    await new Promise((r) => setTimeout(r, 5));
    try {
      for await (const _ of Deno.readDir(`${root}/trades`)) seen = true;
    } catch { /* not yet */ }
  }
  child.kill("SIGKILL");
  await child.output();
  assert.ok(seen, "the exporter started writing");

  const visible: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await walk(`${dir}/${e.name}`);
      else if (e.name.endsWith(".parquet")) visible.push(`${dir}/${e.name}`);
    }
  };
  await walk(`${root}/trades`);
  // Every visible file is complete: DuckDB reads it (a torn file has no valid footer).
  if (visible.length) assert.ok((await lakeRows(root)).n <= data.length);

  const out = await command().output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const report = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
  assert.deepEqual(report.unverified_days, []);
  const inLake = await lakeRows(root);
  assert.equal(inLake.n, data.length);
  assert.equal(inLake.keys, data.length);
  // The run ends with retention (default --retain 7d): the 2024 days are verified and long
  // expired, so the buffer lets them go; the lake keeps them.
  assert.ok(report.retention_dropped.includes("trades_p20240808"), report.retention_dropped);
  const [{ n }] = await env.sql`select count(*)::int as n from trades`;
  assert.equal(n, 0);
  assert.equal((await lakeRows(root)).n, data.length);
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/export.ts", "--retain", "soon"],
    env: { DATABASE_URL: pg.url },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /--retain: /);
});

Deno.test("readTrades with integerIds: numbers while every id is a canonical integer", async () => {
  // Over a megabyte per instrument, so the reader parses in several batches.
  const rows = trades(40_000, ["AAAUSDT", "BBBUSDT"]);
  // One non-canonical id late in BBBUSDT's stream: all of its ids come back as text.
  const odd = rows.findLastIndex((r) => r.symbol === "BBBUSDT") - 100;
  rows[odd] = { ...rows[odd], id: "0042" };
  await using db = await setup(rows);
  for (const symbol of ["AAAUSDT", "BBBUSDT"]) {
    const expected = rows.filter((r) => r.symbol === symbol);
    const text = await readTrades(db.sql, { exchange: "binance", symbol });
    const mixed = await readTrades(db.sql, { exchange: "binance", symbol, integerIds: true });
    assert.deepEqual(text.id, expected.map((r) => r.id));
    if (symbol === "AAAUSDT") {
      assert.ok(mixed.id instanceof Float64Array);
      assert.deepEqual(Array.from(mixed.id, String), text.id);
    } else {
      assert.deepEqual(mixed.id, text.id);
    }
    assert.deepEqual(Array.from(mixed.ts), expected.map((r) => r.ts));
    assert.deepEqual(Array.from(mixed.price), expected.map((r) => r.price));
    assert.deepEqual(mixed.side, expected.map((r) => r.side));
    assert.deepEqual(Array.from(mixed.recvTs), Array.from(text.recvTs));
  }
});

// ---------------------------------------------------------------------------------------
// Every table: quotes, book snapshots, book changes and the event log, next to trades.

type RowEventOf = Quote | BookSnapshot | BookChange | FeedStatus;

/**
 * Events of every kind for two instruments, about `step` apart from `start` (two UTC days
 * with the defaults): unsorted snapshot levels beyond the 50 kept, changes with and without
 * sequences, statuses with text that needs escaping, rows whose key differs by digest only.
 */
function events(n: number, start = D0 + DAY - 2_000_000_000, step = 1_700_000): RowEventOf[] {
  const out: RowEventOf[] = [];
  for (let i = 0; i < n; i++) {
    // Groups of 8 share instrument and times: two rows of each table differ by digest only.
    const group = Math.floor(i / 8);
    const header = {
      exchange: "kraken",
      symbol: group % 3 ? "BTC-USD" : "ETH-USD",
      ts: start + group * 8 * step,
      recvTs: start + group * 8 * step + 1_234,
    };
    const mid = 60_000 + (i % 97) / 4;
    const levels = (count: number, side: 1 | -1) =>
      Array.from({ length: count }, (_, k) => {
        const j = (k * 7) % count; // out of order
        return [mid + side * (0.25 + j * 0.25), 0.5 + ((i + j) % 9) / 8] as const;
      });
    switch (i % 4) {
      case 0:
        out.push({
          ...header,
          kind: "quote",
          bidPrice: mid - 0.25,
          bidSize: (i % 11) / 3,
          askPrice: mid + 0.25,
          askSize: 1e-8 * (1 + i),
        });
        break;
      case 1:
        out.push({
          ...header,
          kind: "book_snapshot",
          bids: levels(i % 8 ? 60 : 0, -1),
          asks: levels(55, 1),
          ...(i % 5 ? { sequence: 1_000_000_000_000 + i, checksum: 4_000_000_000 + i } : {}),
        });
        break;
      case 2:
        out.push({
          ...header,
          kind: "book_change",
          bids: levels(1 + (i % 3), -1).map(([p]) => [p, i % 6 ? 0.125 : 0] as const),
          asks: i % 7 ? levels(2, 1) : [],
          ...(i % 3 ? { firstSequence: 2 * i, sequence: 2 * i + 1 } : {}),
          ...(i % 6 === 2 ? { checksum: 123_456 + i } : {}),
        });
        break;
      default:
        out.push({
          ...header,
          kind: "status",
          status: i % 8 === 3 ? "gap" : "reset",
          reason: `gap ${i} -> ${i + 5}\tover "wire"\nretrying \\ ünïcode`,
        });
    }
  }
  return out;
}

const KIND_OF = {
  quote: "quotes",
  book_snapshot: "book_snapshots",
  book_change: "book_changes",
  status: "event_log",
} as const;

/** Lake columns of each kind, in the contract's order (after the key). */
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

/** A row as plain values in the lake's column order (comparable with `deepEqual`). */
function rowValues(kind: EventKind, r: EventRow): unknown[] {
  const head = [r.exchange, r.symbol, r.ts, r.recvTs, r.digest];
  switch (kind) {
    case "quotes": {
      const q = r as QuoteRow;
      return [...head, q.bidPrice, q.bidSize, q.askPrice, q.askSize];
    }
    case "book_snapshots":
    case "book_changes": {
      const b = r as BookChangeRow;
      return [
        ...head,
        b.bidPrices,
        b.bidSizes,
        b.askPrices,
        b.askSizes,
        ...(kind === "book_changes" ? [b.firstSequence] : []),
        b.sequence,
        b.checksum,
      ];
    }
    default: {
      const s = r as StatusRow;
      return [...head, s.status, s.reason];
    }
  }
}

/** Every row of one table of the lake, ordered by instrument and key, as plain values. */
async function lakeTable(root: string, kind: EventKind): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    const reader = await con.runAndReadAll(
      `select exchange, symbol, epoch_us(ts)::double, epoch_us(recv_ts)::double, digest,
         ${PAYLOAD[kind].join(", ")}
       from read_parquet('${root}/${kind}/**/*.parquet', hive_partitioning = true)
       order by exchange, symbol, ts, recv_ts, digest`,
    );
    return reader.getRowsJS().map((row) =>
      row.map((v) =>
        typeof v === "bigint" ? Number(v) : Array.isArray(v) ? v.map((x) => Number(x)) : v
      )
    );
  } catch (e) {
    if (/No files found/.test(String(e))) return [];
    throw e;
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** Orders rows as values by their first five (exchange, symbol, ts, recv_ts, digest). */
function compareKeys(x: unknown[], y: unknown[]): number {
  for (let i = 0; i < 5; i++) {
    const a = x[i] as string | number, b = y[i] as string | number;
    if (a !== b) return a < b ? -1 : 1;
  }
  return 0;
}

/** Expected rows of one table: the model events as lake rows, ordered like `lakeTable`. */
function expectedTable(input: readonly RowEventOf[], kind: EventKind): unknown[][] {
  return input.filter((e) => KIND_OF[e.kind] === kind).map((e) => rowValues(kind, eventRow(e)))
    .sort(compareKeys);
}

const drop = async (sql: postgres.Sql, retain = "7 days") =>
  (await sql`select buffer_drop_expired(${retain}::interval) as p`).map((r) => r.p as string)
    .sort();

Deno.test("Exporter: every table round-trips buffer -> lake with identical values", async (t) => {
  const input = events(1_200);
  const tradeRows = trades(300, ["BTC-USD"], D0 + DAY - 2_000_000_000, 6_000_000);
  await using env = await setup([...input, ...tradeRows]);
  const { sql, root } = env;
  // The exporter copies the buffer's digest (it never recomputes one): a row whose stored
  // digest differs from the recomputed one must reach the lake with the stored digest.
  const tampered = await sql<{ ts: number; digest: number }[]>`
    update quotes set digest = digest + 1 where (exchange, symbol, ts, recv_ts, digest) =
      (select exchange, symbol, ts, recv_ts, digest from quotes order by ts, digest limit 1)
    returning (extract(epoch from ts) * 1000000)::float8 as ts, digest`;
  assert.equal(tampered.length, 1);
  const lake = await ParquetLake.open({ root });
  try {
    const exporter = new Exporter({
      sql,
      lake,
      now: () => LATER,
      progress: false,
      sliceRows: 70, // several slices per instrument-day of every table
      log: () => {},
    });
    const report = await exporter.run();
    await exporter.close();

    await t.step("report per table", () => {
      const count = (kind: EventKind) => input.filter((e) => KIND_OF[e.kind] === kind).length;
      assert.equal(report.rowsRead, 300); // the top-level figures are the trades'
      assert.equal(report.kinds.trades?.rowsRead, 300);
      for (const kind of EVENT_KINDS) {
        const k = report.kinds[kind]!;
        assert.equal(k.rowsRead, count(kind), kind);
        assert.equal(k.rowsWritten, count(kind), kind);
        // The writer creates the next day's partition ahead: empty, it is verified too.
        const days = ["2024-08-08", "2024-08-09", ...kind === "event_log" ? [] : ["2024-08-10"]];
        assert.deepEqual(k.verifiedDays, days, kind);
        assert.deepEqual(k.unverifiedDays, [], kind);
        assert.equal(k.watermark, report.watermark);
      }
    });

    await t.step("identical values in the lake", async () => {
      for (const kind of EVENT_KINDS) {
        const expected = expectedTable(input, kind);
        if (kind === "quotes") {
          // The tampered row: the stored digest, not a recomputed one.
          const [{ ts, digest }] = tampered;
          const i = expected.findIndex((r) => r[2] === ts && r[4] === digest - 1);
          expected[i] = [...expected[i]];
          expected[i][4] = digest;
          expected.sort(compareKeys);
        }
        assert.ok(expected.length > 250, kind);
        assert.deepEqual(await lakeTable(root, kind), expected, kind);
      }
    });

    await t.step("the buffer's digests are the lake's digests", async () => {
      const [buffer] = await sql`select
        (select sum(digest::float8) from quotes) as quotes,
        (select sum(digest::float8) from book_snapshots) as book_snapshots,
        (select sum(digest::float8) from book_changes) as book_changes,
        (select sum(digest::float8) from event_log) as event_log`;
      for (const kind of EVENT_KINDS) {
        const sum = (await lakeTable(root, kind)).reduce((s, r) => s + (r[4] as number), 0);
        assert.equal(sum, buffer[kind], kind);
      }
    });

    await t.step("re-runs store nothing twice", async () => {
      const before = Object.fromEntries(
        await Promise.all(EVENT_KINDS.map(async (k) => [k, await lakeTable(root, k)])),
      );
      const again = new Exporter({ sql, lake, now: () => LATER, progress: false, log: () => {} });
      const second = await again.run();
      for (const kind of EXPORT_KINDS) assert.equal(second.kinds[kind]?.rowsRead, 0, kind);
      // Lost watermarks: everything is read again, nothing is written again.
      await sql`delete from export_watermarks`;
      const third = await again.run();
      await again.close();
      for (const kind of EVENT_KINDS) {
        assert.equal(third.kinds[kind]?.rowsRead, before[kind].length, kind);
        assert.equal(third.kinds[kind]?.rowsWritten, 0, kind);
        assert.deepEqual(await lakeTable(root, kind), before[kind], kind);
      }
    });
  } finally {
    await lake.close();
  }
});

Deno.test("Exporter: retention drops a day of any table only after its verified export", async () => {
  // Three UTC days (2024-08-08 .. 2024-08-10) of every kind.
  const input = events(600, D0 + 3_600_000_000, 400_000_000);
  const tradeRows = trades(200, ["BTC-USD"], D0 + 3_600_000_000, 1_200_000_000);
  await using env = await setup([...input, ...tradeRows]);
  const { sql, root } = env;
  const lake = await ParquetLake.open({ root });
  const kindsOfDay = async (day: string) => {
    const out: string[] = [];
    for (const kind of EXPORT_KINDS) {
      const [{ n }] = await sql.unsafe(
        `select count(*)::int as n from ${kind} where (ts at time zone 'UTC')::date = '${day}'`,
      );
      if (n > 0) out.push(kind);
    }
    return out;
  };
  const ALL = [...EXPORT_KINDS].sort();
  try {
    assert.deepEqual((await kindsOfDay("2024-08-08")).sort(), ALL);
    assert.deepEqual(await drop(sql), [], "nothing is verified: nothing is dropped");

    // Trades alone exported: only trades' days may go.
    const tradesOnly = new Exporter({
      sql,
      lake,
      kinds: ["trades"],
      now: () => LATER,
      progress: false,
      log: () => {},
    });
    assert.deepEqual((await tradesOnly.run()).verifiedDays, [
      "2024-08-08",
      "2024-08-09",
      "2024-08-10",
      "2024-08-11", // created ahead by the writer, empty
    ]);
    await tradesOnly.close();
    // Verified, but not expired under a long retention: kept.
    assert.deepEqual(await drop(sql, "100000 days"), []);
    assert.deepEqual(await drop(sql), [
      "trades_p20240808",
      "trades_p20240809",
      "trades_p20240810",
      "trades_p20240811",
    ]);
    assert.deepEqual((await kindsOfDay("2024-08-08")).sort(), [...EVENT_KINDS].sort());

    // Every table, as of early 2024-08-10: the two days before are closed and verified,
    // 2024-08-10 is exported up to the hour but not verified.
    const now = D0 + 2 * DAY + 13 * 3_600_000_000;
    const exporter = new Exporter({ sql, lake, now: () => now, progress: false, log: () => {} });
    const report = await exporter.run();
    for (const kind of EVENT_KINDS) {
      assert.deepEqual(report.kinds[kind]?.verifiedDays, ["2024-08-08", "2024-08-09"], kind);
      assert.ok(report.kinds[kind]!.rowsRead > 0, kind);
    }
    // A late row in a verified day of the event log and of quotes keeps those days.
    const late = events(8, D0 + DAY + 600_000_000, 1_000).filter((e) =>
      e.kind === "status" || e.kind === "quote"
    ).map((e) => ({ ...e, recvTs: e.recvTs + 99 }));
    const writer = new PostgresWriter({ sql, spillDir: `${root}/../spill2`, log: () => {} });
    writer.write(late);
    await writer.close();
    assert.deepEqual(await drop(sql), [
      "book_changes_p20240808",
      "book_changes_p20240809",
      "book_snapshots_p20240808",
      "book_snapshots_p20240809",
      "event_log_p20240808",
      "quotes_p20240808",
    ]);
    assert.deepEqual(await kindsOfDay("2024-08-08"), []);
    assert.deepEqual((await kindsOfDay("2024-08-09")).sort(), ["event_log", "quotes"]);
    assert.deepEqual((await kindsOfDay("2024-08-10")).sort(), [...EVENT_KINDS].sort());

    // The next run exports the late rows and verifies the day again; then it goes too.
    const later = await exporter.run();
    assert.deepEqual(later.kinds.quotes?.verifiedDays, ["2024-08-09"]);
    assert.deepEqual(later.kinds.event_log?.verifiedDays, ["2024-08-09"]);
    assert.deepEqual(await drop(sql), ["event_log_p20240809", "quotes_p20240809"]);
    await exporter.close();
    // 2024-08-10 was never verified (its export is not closed): every table keeps it.
    assert.deepEqual((await kindsOfDay("2024-08-10")).sort(), [...EVENT_KINDS].sort());
    for (const kind of EVENT_KINDS) {
      // Everything up to the closed end (2024-08-10 12:00), and the late rows.
      const all = input.filter((e) =>
        KIND_OF[e.kind] === kind && e.ts < D0 + 2 * DAY + 12 * 3_600_000_000
      );
      const lateRows = late.filter((e) => KIND_OF[e.kind] === kind);
      assert.equal((await lakeTable(root, kind)).length, all.length + lateRows.length, kind);
    }
  } finally {
    await lake.close();
  }
});

Deno.test("Exporter: killed while exporting every table, the re-run completes exactly", async () => {
  const input = events(48_000, D0, 3_000_000);
  await using env = await setup(input);
  const { pg, root } = env;
  const command = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/export.ts", "--lake", root],
      env: { DATABASE_URL: pg.url },
      stdout: "piped",
      stderr: "piped",
    });
  const child = command().spawn();
  // Kill once the first book snapshot file appears (quotes are done by then, book changes
  // and the event log not started).
  const started = Date.now();
  let seen = false;
  while (!seen && Date.now() - started < 60_000) {
    await new Promise((r) => setTimeout(r, 5));
    try {
      for await (const _ of Deno.readDir(`${root}/book_snapshots`)) seen = true;
    } catch { /* not yet */ }
  }
  child.kill("SIGKILL");
  await child.output();
  assert.ok(seen, "the exporter started writing book snapshots");
  // Every visible file is complete: DuckDB reads them all (a torn file has no footer).
  for (const kind of EVENT_KINDS) {
    const rows = await lakeTable(root, kind);
    assert.ok(rows.length <= expectedTable(input, kind).length, kind);
  }
  // Killed before the end: the event log (exported last) is not all there.
  assert.ok((await lakeTable(root, "event_log")).length < expectedTable(input, "event_log").length);

  const out = await command().output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const report = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
  assert.deepEqual(report.unverified_days, []);
  for (const kind of EVENT_KINDS) {
    assert.deepEqual(report.kinds[kind].unverified_days, [], kind);
    assert.deepEqual(await lakeTable(root, kind), expectedTable(input, kind), kind);
  }
});
