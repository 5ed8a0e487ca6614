/**
 * `deno task import` and `importFile`: bars and trades from CSV and Parquet into the lake,
 * checked against the source file read independently (plain text splitting, DuckDB over the
 * stored files); bad input names its line and column, exits 65 and writes nothing.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { ImportError, importFile } from "../lib/importers/mod.ts";
import { LakeRepository } from "../lib/repositories/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const SPY = `${ROOT}../shared/data/spy-daily-1999-2020.csv`;
const DAY_US = 86_400_000_000;

async function tempLake(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "alphapulse-import-" });
}

/** Every file under `dir` (recursively), hidden ones included. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) out.push(...await filesUnder(path));
      else if (e.name !== ".writer.lock") out.push(path);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out;
}

async function sqlRows(root: string, query: string): Promise<Record<string, unknown>[]> {
  const repo = await LakeRepository.open({ root });
  try {
    return await repo.sql(query).rows();
  } finally {
    await repo.close();
  }
}

async function runImport(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/import.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("import: SPY daily CSV into the lake's bars, as the file says, idempotent", async () => {
  const lake = await tempLake();
  try {
    // The file read independently: `,date,open,high,low,close,volume`.
    const lines = (await Deno.readTextFile(SPY)).trim().split("\n").slice(1)
      .map((l) => l.split(","));
    const first = await runImport([
      SPY,
      "--table=bars",
      "--exchange=nyse",
      "--symbol=SPY",
      `--lake=${lake}`,
    ]);
    assert.equal(first.code, 0, first.stderr);
    const report = JSON.parse(first.stdout.trim().split("\n").at(-1)!);
    assert.equal(report.rows, lines.length);
    assert.equal(report.written, lines.length);
    assert.equal(report.interval_us, DAY_US);
    assert.equal(report.first, "1999-11-01T00:00:00.000000Z");

    const [s] = await sqlRows(
      lake,
      `SELECT count(*)::INT AS n, sum(close) AS closes, sum(volume) AS volume,
        min(ts)::VARCHAR AS first, max(ts)::VARCHAR AS last, count(DISTINCT year)::INT AS years
       FROM bars WHERE exchange = 'nyse' AND symbol = 'SPY' AND interval_us = ${DAY_US}`,
    );
    assert.equal(s.n, lines.length);
    const closes = lines.reduce((a, l) => a + Number(l[5]), 0);
    const volume = lines.reduce((a, l) => a + Number(l[6]), 0);
    assert.ok(Math.abs((s.closes as number) - closes) < 1e-6, `${s.closes} vs ${closes}`);
    assert.equal(s.volume, volume);
    assert.equal(s.first, `${lines[0][1]} 00:00:00`);
    assert.equal(s.last, `${lines.at(-1)![1]} 00:00:00`);
    assert.equal(s.years, 2020 - 1999 + 1);
    const [row] = await sqlRows(
      lake,
      `SELECT open, high, low, close, volume FROM bars WHERE ts = TIMESTAMP '2008-10-10'`,
    );
    const oct10 = lines.find((l) => l[1] === "2008-10-10")!;
    assert.deepEqual(Object.values(row), oct10.slice(2).map(Number));

    const again = await runImport([
      SPY,
      "--table",
      "bars",
      "--exchange",
      "nyse",
      "--symbol",
      "SPY",
      "--lake",
      lake,
    ]);
    assert.equal(again.code, 0, again.stderr);
    const second = JSON.parse(again.stdout.trim().split("\n").at(-1)!);
    assert.equal(second.written, 0);
    assert.equal(second.existing, lines.length);
    const [{ n }] = await sqlRows(lake, "SELECT count(*)::INT AS n FROM bars");
    assert.equal(n, lines.length, "a second import stores nothing twice");
  } finally {
    await Deno.remove(lake, { recursive: true });
  }
});

const GOOD_BARS = `ts,open,high,low,close,volume
2024-01-02T14:30:00Z,10,11,9.5,10.5,100
2024-01-02T14:31:00Z,10.5,10.75,10.25,10.25,50
`;

const BAD_INPUTS: readonly {
  name: string;
  text: string;
  table: "bars" | "trades";
  want: RegExp;
}[] = [
  {
    name: "a word for a number",
    table: "bars",
    text: GOOD_BARS + "2024-01-02T14:32:00Z,10,11,9,abc,7\n",
    want: /:4: column "close": not a number: "abc"/,
  },
  {
    name: "high below low",
    table: "bars",
    text: "Date,Open,High,Low,Close,Volume\n2024-01-02,10,9,9.5,9.8,1\n",
    want: /:2: column "High": high 9 is below open, close or low/,
  },
  {
    name: "a time twice",
    table: "bars",
    text: GOOD_BARS + "2024-01-02T14:31:00Z,10,11,9,10,7\n",
    want: /:4: column "ts": a second bar at this time \(line 3\)/,
  },
  {
    name: "a missing field",
    table: "bars",
    text: GOOD_BARS + "2024-01-02T14:32:00Z,10,11,9,10\n",
    want: /:4: 5 fields, the header has 6/,
  },
  {
    name: "a bad time",
    table: "trades",
    text: "time,price,qty,side\n2024-01-02 14:30:00,10,1,buy\nyesterday,10,1,sell\n",
    want: /:3: column "time": not a time: "yesterday"/,
  },
  {
    name: "a zero size",
    table: "trades",
    text: "time,price,qty,side\n2024-01-02 14:30:00,10,1,buy\n2024-01-02 14:30:01,10,0,sell\n",
    want: /:3: column "qty": rejected by the lake's rules \(size\)/,
  },
  {
    name: "an unknown side",
    table: "trades",
    text: "time,price,qty,side\n2024-01-02 14:30:00,10,1,long\n",
    want: /:2: column "side": not a side: "long"/,
  },
  {
    name: "no price column",
    table: "trades",
    text: "time,qty\n2024-01-02 14:30:00,1\n",
    want: /:1: no column for "price"/,
  },
  {
    name: "a quote never closed",
    table: "trades",
    text: 'time,price,qty\n2024-01-02 14:30:00,"10,1\n',
    want: /:2: quoted field never closed/,
  },
];

for (const bad of BAD_INPUTS) {
  Deno.test(`import: ${bad.name} is named by line and column, nothing written`, async () => {
    const lake = await tempLake();
    const file = `${lake}.csv`;
    try {
      await Deno.writeTextFile(file, bad.text);
      await assert.rejects(
        importFile({ root: lake, file, table: bad.table, exchange: "test", symbol: "X" }),
        (error: unknown) => {
          assert.ok(error instanceof ImportError, String(error));
          assert.match(error.message, bad.want);
          assert.ok(error.message.startsWith(file));
          return true;
        },
      );
      assert.deepEqual(await filesUnder(lake), []);
    } finally {
      await Deno.remove(lake, { recursive: true });
      await Deno.remove(file);
    }
  });
}

Deno.test("import: the program exits 65 with the line and column and leaves the lake as it was", async () => {
  const lake = await tempLake();
  const good = `${lake}-good.csv`;
  const bad = `${lake}-bad.csv`;
  try {
    await Deno.writeTextFile(good, GOOD_BARS);
    await Deno.writeTextFile(bad, GOOD_BARS.replace("10.25,10.25,50", "10.25,10.25,-50") + "");
    const args = ["--table", "bars", "--exchange", "test", "--symbol", "X", "--lake", lake];
    assert.equal((await runImport([good, ...args])).code, 0);
    const before = (await filesUnder(lake)).sort();
    const failed = await runImport([bad, ...args]);
    assert.equal(failed.code, 65);
    assert.match(failed.stderr, /-bad\.csv:3: column "volume": volume must be >= 0, got -50/);
    assert.deepEqual((await filesUnder(lake)).sort(), before);
    const usage = await runImport([good, "--table", "quotes", "--exchange", "t", "--symbol", "X"]);
    assert.equal(usage.code, 2);
  } finally {
    await Deno.remove(lake, { recursive: true });
    await Deno.remove(good);
    await Deno.remove(bad);
  }
});

Deno.test("import: trades from Parquet and CSV, values as given", async () => {
  const lake = await tempLake();
  const parquet = `${lake}.parquet`;
  const csv = `${lake}.csv`;
  try {
    const t0 = Date.UTC(2024, 0, 2, 14, 30) * 1000;
    const ts = [t0, t0 + 1_500, t0 + 2_000_000];
    pl.DataFrame({
      timestamp: pl.Series("timestamp", ts, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us")),
      trade_id: ["a1", "a2", "a3"],
      price: [101.5, 101.25, 102],
      size: [0.5, 1.25, 2],
      side: ["buy", "sell", ""],
    }).writeParquet(parquet);
    const fromParquet = await importFile({
      root: lake,
      file: parquet,
      table: "trades",
      exchange: "test",
      symbol: "P",
    });
    assert.equal(fromParquet.written, 3);
    await Deno.writeTextFile(
      csv,
      'time,price,amount,side\n1704205800.25,"99.5",3,s\n1704205801,100,1,B\n',
    );
    const fromCsv = await importFile({
      root: lake,
      file: csv,
      table: "trades",
      exchange: "test",
      symbol: "C",
    });
    assert.equal(fromCsv.written, 2);
    const rows = await sqlRows(
      lake,
      `SELECT symbol, id, epoch_us(ts) AS ts, price, size, side FROM trades ORDER BY symbol, ts`,
    );
    assert.deepEqual(rows.map((r) => ({ ...r, ts: Number(r.ts) })), [
      { symbol: "C", id: "2", ts: 1704205800_250000, price: 99.5, size: 3, side: "sell" },
      { symbol: "C", id: "3", ts: 1704205801_000000, price: 100, size: 1, side: "buy" },
      { symbol: "P", id: "a1", ts: ts[0], price: 101.5, size: 0.5, side: "buy" },
      { symbol: "P", id: "a2", ts: ts[1], price: 101.25, size: 1.25, side: "sell" },
      { symbol: "P", id: "a3", ts: ts[2], price: 102, size: 2, side: "unknown" },
    ]);
  } finally {
    for (const path of [lake, parquet, csv]) {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    }
  }
});
