/**
 * The `bars` table (`year=` partitions) goes through the lake's maintenance like the `date=`
 * tables, through its table spec: `lake:repair` removes duplicate bars (newest copy kept),
 * compaction merges a year's files in `(interval_us, ts)` order, and the catalog lists and
 * counts its partitions. Stored rows are read back by DuckDB; expected figures are counted
 * by hand from the bars written.
 */
import assert from "node:assert/strict";
import { duck } from "./support/duck.ts";
import type { Bar } from "../lib/market/types.ts";
import { ParquetLake, PARTITIONED_TABLES } from "../lib/lake/mod.ts";
import { repairLake } from "../lib/lake/repair.ts";

const DAY_US = 86_400_000_000;
const EXCHANGE = "alpaca";
const SYMBOL = "AAPL";
const REPAIR = new URL("../scripts/lake_repair.ts", import.meta.url).pathname;

/** Daily bars from `first` (a UTC date), `count` days, closes 100, 101, ... */
function dailyBars(first: string, count: number): Bar[] {
  const start = Date.parse(first + "T00:00:00Z") * 1000;
  return Array.from({ length: count }, (_, i) => ({
    kind: "bar" as const,
    exchange: EXCHANGE,
    symbol: SYMBOL,
    ts: start + i * DAY_US,
    recvTs: start + (i + 1) * DAY_US,
    interval: DAY_US,
    open: 99 + i,
    high: 102 + i,
    low: 98 + i,
    close: 100 + i,
    volume: 1_000 + i,
    vwap: 100.5 + i,
    trades: 10 + i,
  }));
}

function parquetNames(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
    n.endsWith(".parquet") && !n.startsWith(".")
  ).sort();
}

Deno.test("bars: repair, compaction and the catalog handle the year= partitions", async () => {
  const root = await Deno.makeTempDir({ prefix: "bars-maintenance-" });
  try {
    assert.ok(PARTITIONED_TABLES.includes("bars"));
    // 3 bars in 2023 (Dec 29-31) and 4 in 2024 (Jan 1-4).
    const bars = dailyBars("2023-12-29", 7);
    let lake = await ParquetLake.open({ root });
    assert.equal(await lake.writeBars(bars), 7);
    await lake.close();
    const base = `${root}/bars/exchange=${EXCHANGE}/symbol=${SYMBOL}`;
    const y2024 = `${base}/year=2024`;
    const [stored] = parquetNames(y2024);

    // Two writers at once left a later file repeating 2 of 2024's bars, corrected (close+1).
    const late = `${y2024}/part-zzzz-late.parquet`;
    await duck(
      `COPY (SELECT * REPLACE (close + 1 AS close) FROM read_parquet('${y2024}/${stored}', hive_partitioning = false)
         ORDER BY ts LIMIT 2) TO '${late}' (FORMAT parquet)`,
    );

    lake = await ParquetLake.open({ root });
    try {
      const catalog = lake.catalog;
      assert.deepEqual(
        (await catalog.instruments("bars")).map((i) => [i.exchange, i.symbol]),
        [[EXCHANGE, SYMBOL]],
      );
      const parts = await catalog.partitions("bars", { exchange: EXCHANGE, symbol: SYMBOL });
      assert.deepEqual(parts.map((p) => [p.folder, p.files.length]), [
        ["year=2023", 1],
        ["year=2024", 2],
      ]);
      const instrument = { exchange: EXCHANGE, symbol: SYMBOL };
      assert.equal(await catalog.countRows("bars", instrument), 3 + 4 + 2);
      const in2024 = { ...instrument, start: Date.UTC(2024, 5, 1) * 1000 };
      assert.equal(await catalog.countRows("bars", in2024), 4 + 2);
    } finally {
      await lake.close();
    }

    // lake:repair (the script) finds the 2 duplicates, then removes them, newest kept.
    const dry = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", REPAIR, "--lake", root, "--dry-run"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(dry.code, 1, new TextDecoder().decode(dry.stderr));
    assert.match(new TextDecoder().decode(dry.stderr), /found 2 duplicate rows of 6 in bars\//);
    const dryReport = JSON.parse(new TextDecoder().decode(dry.stdout).trim().split("\n").at(-1)!);
    assert.deepEqual(dryReport.by_table, { bars: 2 });
    const fixed = await repairLake({ root });
    assert.deepEqual(fixed.duplicatesByKind, { bars: 2 });
    assert.deepEqual(
      fixed.partitions.map((p) => [p.kind, p.folder, p.rows, p.duplicates, p.files]),
      [["bars", "year=2024", 6, 2, 2]],
    );
    assert.equal(parquetNames(y2024).length, 1);
    const closes = await duck(
      `SELECT strftime(ts, '%Y-%m-%d') AS day, close FROM read_parquet('${base}/*/*.parquet')
       ORDER BY interval_us, ts`,
    );
    assert.deepEqual(closes, [
      { day: "2023-12-29", close: 100 },
      { day: "2023-12-30", close: 101 },
      { day: "2023-12-31", close: 102 },
      { day: "2024-01-01", close: 104 }, // the later copy, corrected
      { day: "2024-01-02", close: 105 },
      { day: "2024-01-03", close: 105 },
      { day: "2024-01-04", close: 106 },
    ]);
    assert.deepEqual((await repairLake({ root })).duplicatesByKind, {});

    // A second file of new bars in 2024 (hourly ones, written out of order): compaction
    // merges the year's two files into one, sorted by (interval_us, ts).
    const [kept] = parquetNames(y2024);
    await duck(
      `COPY (SELECT 3600000000::BIGINT AS interval_us, ts + INTERVAL 1 HOUR * (3 - i) AS ts,
           recv_ts, open, high, low, close, volume, vwap, trades
         FROM read_parquet('${y2024}/${kept}'), range(3) r(i) WHERE ts = TIMESTAMP '2024-01-02')
         TO '${y2024}/part-zzzz-hourly.parquet' (FORMAT parquet)`,
    );
    lake = await ParquetLake.open({ root });
    try {
      const report = await lake.compact({ kinds: ["bars"] });
      assert.deepEqual(report, { partitions: 1, filesMerged: 2, rows: 4 + 3 });
      assert.equal(
        await lake.catalog.countRows("bars", { exchange: EXCHANGE, symbol: SYMBOL }),
        10,
      );
    } finally {
      await lake.close();
    }
    const [merged] = parquetNames(y2024);
    assert.equal(parquetNames(y2024).length, 1);
    const order = await duck(
      `SELECT interval_us, strftime(ts, '%Y-%m-%d %H') AS t FROM read_parquet('${y2024}/${merged}')`,
    );
    assert.deepEqual(order.map((r) => `${r.interval_us}@${r.t}`), [
      "3600000000@2024-01-02 01",
      "3600000000@2024-01-02 02",
      "3600000000@2024-01-02 03",
      `${DAY_US}@2024-01-01 00`,
      `${DAY_US}@2024-01-02 00`,
      `${DAY_US}@2024-01-03 00`,
      `${DAY_US}@2024-01-04 00`,
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
