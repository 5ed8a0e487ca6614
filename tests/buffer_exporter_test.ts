import assert from "node:assert/strict";
import postgres from "postgres";
import { DuckDBInstance } from "@duckdb/node-api";
import { startPostgres } from "./support/postgres.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import { Exporter } from "../lib/buffer/exporter.ts";
import { readTrades } from "../lib/buffer/trade_reader.ts";
import { ParquetLake } from "../lib/lake/mod.ts";
import type { Trade } from "../lib/market/types.ts";

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

async function setup(rows: Trade[]) {
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

Deno.test("Exporter: killed in the middle, no partial file is visible and the re-run completes exactly", async () => {
  const data = trades(240_000, ["A-USD", "B-USD", "C-USD", "D-USD"], D0, 300_000);
  await using env = await setup(data);
  const { pg, root } = env;
  const command = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "lib/buffer/exporter.ts", "--lake", root],
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
