/**
 * The exporter's durable order and the buffer's retention, on real exported data.
 *
 * - A lake write that fails (injected: the lake refuses the page that ends the open day's
 *   export) must leave the watermark where it was, so that the re-run exports that page;
 *   the open day is never re-verified, so a watermark moved before the write would leave a
 *   hole there for good. Checked for trades and for an event table (quotes).
 * - Retention drops a day exactly when it ended `retain` ago and was verified, never a day
 *   a late row arrived in, never the open day; the lake keeps every dropped row.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { DuckDBInstance } from "@duckdb/node-api";
import { startPostgres } from "./support/postgres.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import { Exporter, type ExportKind } from "../lib/buffer/exporter.ts";
import { ParquetLake } from "../lib/lake/mod.ts";
import type { MarketEvent, Quote, Trade } from "../lib/market/types.ts";

const HOUR = 3_600_000_000;
const DAY = 24 * HOUR;
const D0 = Date.UTC(2024, 7, 8) * 1000; // 2024-08-08
const D1 = D0 + DAY; // the open day of the first test

function trade(ts: number, i: number, symbol = "BTC-USD"): Trade {
  return {
    kind: "trade",
    exchange: "binance",
    symbol,
    id: String(1_000 + i),
    price: 60_000 + (i % 89) / 100,
    size: 0.001 * (1 + (i % 7)),
    side: i % 2 ? "buy" : "sell",
    ts,
    recvTs: ts + 333,
  };
}

function quote(ts: number, i: number): Quote {
  return {
    kind: "quote",
    exchange: "binance",
    symbol: "BTC-USD",
    ts,
    recvTs: ts + 333,
    bidPrice: 100 + (i % 13),
    bidSize: 1 + (i % 5),
    askPrice: 200 + (i % 11),
    askSize: 2,
  };
}

/** Venue times of a lake table's rows (DuckDB over the Parquet files), ascending. */
async function lakeTimes(root: string, table: string): Promise<number[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    const reader = await con.runAndReadAll(
      `select epoch_us(ts)::double from read_parquet('${root}/${table}/**/*.parquet',
         hive_partitioning = true) order by 1`,
    );
    return reader.getRows().map((r) => r[0] as number);
  } catch (e) {
    if (/No files found/i.test((e as Error).message)) return [];
    throw e;
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

async function watermark(sql: postgres.Sql, kind: ExportKind): Promise<number | undefined> {
  const [row] = await sql<{ w: number }[]>`select
    (extract(epoch from watermark) * 1000000)::float8 as w
    from export_watermarks where kind = ${kind}`;
  return row?.w;
}

/**
 * A lake that refuses writes while `refuse` says so (the exporter's lake is passed in, so
 * a proxy can stand in for it); every other call goes to the real lake.
 */
function refusingLake(
  lake: ParquetLake,
  refuse: (times: readonly number[]) => boolean,
): { lake: ParquetLake; refused: () => number } {
  let refused = 0;
  const proxy = new Proxy(lake, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "writeTradeColumns") {
        return (columns: { ts: ArrayLike<number> }) => {
          if (refuse(Array.from(columns.ts))) {
            refused++;
            return Promise.reject(new Error("injected: the disk is full"));
          }
          return value.call(target, columns);
        };
      }
      if (prop === "writeEventRows") {
        return (kind: string, rows: readonly { ts: number }[]) => {
          if (refuse(rows.map((r) => r.ts))) {
            refused++;
            return Promise.reject(new Error("injected: the disk is full"));
          }
          return value.call(target, kind, rows);
        };
      }
      return value.bind(target);
    },
  });
  return { lake: proxy, refused: () => refused };
}

Deno.test("Exporter: a failed lake write leaves the watermark; the re-run fills the open day", async (t) => {
  // Every 7 minutes from 2024-08-08 00:00 to 2024-08-09 20:00. "Now" is 2024-08-09 13:30,
  // so the export is closed at 13:00 (5 minutes of lag, whole hours): 2024-08-08 is a
  // closed day, 2024-08-09 is open up to 13:00.
  const now = D1 + 13 * HOUR + 30 * 60_000_000;
  const closedEnd = D1 + 13 * HOUR;
  const times: number[] = [];
  for (let ts = D0 + 11_000_017; ts < D1 + 20 * HOUR; ts += 7 * 60_000_000) times.push(ts);
  const events: MarketEvent[] = times.flatMap((ts, i) => [trade(ts, i), quote(ts, i)]);
  const exported = times.filter((ts) => ts < closedEnd);
  const lastOpen = exported.at(-1)!;
  assert.ok(lastOpen >= D1 && times.some((ts) => ts >= closedEnd), "the fixture spans the edge");

  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 3, onnotice: () => {} });
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-export-resume-" });
  try {
    await migrate(sql);
    const writer = new PostgresWriter({ sql, spillDir: `${dir}/spill`, log: () => {} });
    writer.write(events);
    await writer.close();
    assert.equal(writer.stats().persisted, events.length);

    for (const kind of ["trades", "quotes"] as const) {
      await t.step(kind, async () => {
        const root = `${dir}/lake-${kind}`;
        const real = await ParquetLake.open({ root });
        const logs: string[] = [];
        const options = {
          sql,
          kinds: [kind],
          now: () => now,
          progress: false,
          sliceRows: 50, // several pages per day: the failing one ends the open day
          log: (m: string) => logs.push(m),
        };
        try {
          // The page holding the open day's last exported row is refused.
          const failing = refusingLake(real, (ts) => ts.includes(lastOpen));
          const first = new Exporter({ ...options, lake: failing.lake });
          await assert.rejects(first.run(), /injected/);
          await first.close();
          assert.equal(failing.refused(), 1);
          // The closed day was exported before; the open day's last page was not written,
          // so the watermark stays at the open day's start.
          assert.equal(await watermark(sql, kind), D1, "the watermark waits for the write");
          const partial = await lakeTimes(root, kind);
          assert.ok(!partial.includes(lastOpen));
          assert.deepEqual(partial.filter((ts) => ts < D1), exported.filter((ts) => ts < D1));

          // The re-run exports the rest; the open day holds every row up to the closed end.
          const second = new Exporter({ ...options, lake: real });
          const report = await second.run();
          await second.close();
          assert.equal(report.kinds[kind]?.watermark, closedEnd);
          assert.deepEqual(report.kinds[kind]?.unverifiedDays, []);
          assert.equal(await watermark(sql, kind), closedEnd);
          const inLake = await lakeTimes(root, kind);
          assert.deepEqual(inLake.filter((ts) => ts >= D1), exported.filter((ts) => ts >= D1));
          assert.deepEqual(inLake, exported);
        } finally {
          await real.close();
        }
      });
    }
  } finally {
    await sql.end();
    await pg.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("retention on exported data: the exact retain edge, late rows, the open day", async () => {
  // Three days, 2024-08-08 .. 2024-08-10, of trades, quotes and feed statuses; exported as
  // of 2024-08-10 13:30, so the first two days are verified and the third is open.
  const D2 = D0 + 2 * DAY;
  const now = D2 + 13 * HOUR + 30 * 60_000_000;
  const times: number[] = [];
  for (let ts = D0 + 5_000_003; ts < D2 + 20 * HOUR; ts += 13 * 60_000_000) times.push(ts);
  const status = (ts: number, i: number): MarketEvent => ({
    kind: "status",
    exchange: "binance",
    symbol: "BTC-USD",
    ts,
    recvTs: ts + 1,
    status: "gap",
    reason: `gap ${i}`,
  });
  const events: MarketEvent[] = times.flatMap((ts, i) => [
    trade(ts, i),
    quote(ts, i),
    status(ts, i),
  ]);
  const onDay = (day: number) => times.filter((ts) => ts >= day && ts < day + DAY);

  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 3, onnotice: () => {} });
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-retention-" });
  const root = `${dir}/lake`;
  const lake = await ParquetLake.open({ root });
  const day = (d: number) => new Date(d / 1000).toISOString().slice(0, 10);
  // Retention measured from the database's clock (`now()` is fixed within a statement):
  // `retain = now() - edge (+ extra)`, so a day ending at `edge` is exactly expired.
  const drop = async (edge: number, extra = "0") =>
    (await sql.unsafe(
      `select buffer_drop_expired(now() - timestamptz '${new Date(edge / 1000).toISOString()}'
         + interval '${extra}') as p`,
    )).map((r) => r.p as string).sort();
  const rowsOfDay = async (table: string, d: number) =>
    (await sql.unsafe(
      `select count(*)::int as n from ${table}
       where ts >= '${new Date(d / 1000).toISOString()}' and ts < '${
        new Date((d + DAY) / 1000).toISOString()
      }'`,
    ))[0].n as number;
  try {
    await migrate(sql);
    const writer = new PostgresWriter({ sql, spillDir: `${dir}/spill`, log: () => {} });
    writer.write(events);
    await writer.close();
    const exporter = new Exporter({
      sql,
      lake,
      kinds: ["trades", "quotes", "event_log"],
      now: () => now,
      progress: false,
      log: () => {},
    });
    const report = await exporter.run();
    for (const kind of ["trades", "quotes", "event_log"] as const) {
      assert.deepEqual(report.kinds[kind]?.verifiedDays, [day(D0), day(D0 + DAY)], kind);
    }

    // 2024-08-08 ends at D0 + DAY. Retained one microsecond longer: nothing goes.
    assert.deepEqual(await drop(D0 + DAY, "1 microsecond"), []);
    // A late trade, quote and status arrive in 2024-08-08 after its verification.
    const late: MarketEvent[] = [
      { ...trade(D0 + 7 * HOUR, 999_999), recvTs: now },
      { ...quote(D0 + 7 * HOUR, 5), recvTs: D0 + 7 * HOUR + 1 },
      { ...status(D0 + 7 * HOUR, 999_999) },
    ];
    const lateWriter = new PostgresWriter({ sql, spillDir: `${dir}/spill`, log: () => {} });
    lateWriter.write(late);
    await lateWriter.close();
    assert.equal(lateWriter.stats().persisted, 3);
    // Exactly expired: the day with late rows stays in every table; the next day is not
    // expired yet; the open day is neither verified nor expired.
    assert.deepEqual(await drop(D0 + DAY), []);
    // Expired up to 2024-08-10 00:00: 2024-08-09 goes (verified, nothing late), the rest stays.
    assert.deepEqual(await drop(D2), [
      "event_log_p20240809",
      "quotes_p20240809",
      "trades_p20240809",
    ]);
    for (const table of ["trades", "quotes", "event_log"]) {
      assert.equal(await rowsOfDay(table, D0 + DAY), 0, table);
      assert.equal(await rowsOfDay(table, D0), onDay(D0).length + 1, table);
      assert.equal(await rowsOfDay(table, D2), onDay(D2).length, table);
    }
    // Everything expired, even the open day: only verified days can go, and none is.
    assert.deepEqual(await drop(now + DAY), []);

    // The next run moves the late rows and verifies 2024-08-08 again; then it goes.
    const again = await exporter.run();
    await exporter.close();
    for (const kind of ["trades", "quotes", "event_log"] as const) {
      assert.deepEqual(again.kinds[kind]?.verifiedDays, [day(D0)], kind);
    }
    assert.deepEqual(await drop(D0 + DAY, "1 microsecond"), []);
    assert.deepEqual(await drop(D0 + DAY), [
      "event_log_p20240808",
      "quotes_p20240808",
      "trades_p20240808",
    ]);
    // The open day is still in the buffer; the lake holds every dropped row.
    for (const table of ["trades", "quotes", "event_log"]) {
      assert.equal(await rowsOfDay(table, D0), 0, table);
      assert.equal(await rowsOfDay(table, D2), onDay(D2).length, table);
      const expected = [...onDay(D0), D0 + 7 * HOUR, ...onDay(D0 + DAY)].sort((a, b) => a - b)
        .concat(onDay(D2).filter((ts) => ts < D2 + 13 * HOUR));
      assert.deepEqual(await lakeTimes(root, table), expected, table);
    }
  } finally {
    await lake.close();
    await sql.end();
    await pg.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
