/**
 * `LakeRepository.sql`: views over every lake table with partition columns, results as rows,
 * Polars and Arrow, partition pruning, and clear errors for tables that are not there.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { ParquetLake } from "../lib/lake/mod.ts";
import type { MarketEvent, Trade } from "../lib/market/types.ts";
import { LakeRepository } from "../lib/repositories/mod.ts";

const DAY = 86_400_000_000;
const T0 = Date.UTC(2024, 7, 8) * 1000;

/** Trades on two venues over two UTC days, and book changes on one. */
function events(): MarketEvent[] {
  const out: MarketEvent[] = [];
  for (const exchange of ["coinbase", "kraken"]) {
    for (let i = 0; i < 30; i++) {
      const ts = T0 + (i % 2) * DAY + i * 1_000_000;
      out.push(
        {
          kind: "trade",
          exchange,
          symbol: "BTC-USD",
          id: String(i + 1),
          price: 100 + i,
          size: 0.5 * (i + 1),
          side: i % 3 === 0 ? "sell" : "buy",
          ts,
          recvTs: ts + 10,
        } satisfies Trade,
      );
    }
  }
  for (let i = 0; i < 5; i++) {
    const ts = T0 + i * 1_000;
    out.push({
      kind: "book_change",
      exchange: "coinbase",
      symbol: "BTC-USD",
      ts,
      recvTs: ts + 5,
      bids: [[99 - i, i]],
      asks: [],
    });
  }
  return out;
}

async function withLake(task: (repo: LakeRepository, root: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-sql-" });
  try {
    const lake = await ParquetLake.open({ root });
    await lake.writeEvents(events());
    await lake.close();
    const repo = await LakeRepository.open({ root });
    try {
      await task(repo, root);
    } finally {
      await repo.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("sql: views with exchange, symbol and date; rows, Polars and Arrow agree", async () => {
  await withLake(async (repo) => {
    // Expected from the input, by hand: per venue 15 trades on each day, sizes 0.5 * (i + 1).
    const expected = new Map<string, { n: number; volume: number }>();
    for (const e of events()) {
      if (e.kind !== "trade") continue;
      const date = new Date(e.ts / 1000).toISOString().slice(0, 10);
      const key = `${e.exchange}/${date}`;
      const v = expected.get(key) ?? { n: 0, volume: 0 };
      expected.set(key, { n: v.n + 1, volume: v.volume + e.size });
    }
    const query = `SELECT exchange, symbol, strftime(date, '%Y-%m-%d') AS day,
        count(*)::INTEGER AS n, sum(size) AS volume
      FROM trades GROUP BY ALL ORDER BY exchange, day;`;
    const rows = await repo.sql(query).rows();
    assert.equal(rows.length, 4);
    for (const r of rows) {
      const want = expected.get(`${r.exchange}/${r.day}`)!;
      assert.equal(r.symbol, "BTC-USD");
      assert.equal(r.n, want.n);
      assert.equal(r.volume, want.volume);
    }
    const frame = await repo.sql(query).polars();
    assert.deepEqual(frame.columns, ["exchange", "symbol", "day", "n", "volume"]);
    assert.deepEqual(frame.getColumn("n").toArray(), rows.map((r) => r.n));
    const table = await repo.sql(query).arrow();
    assert.equal(table.numRows, 4);
    assert.deepEqual([...table.getChild("volume")!.toArray()], rows.map((r) => r.volume));
  });
});

Deno.test("sql: every table with data is a view; timestamps and level lists keep their types", async () => {
  await withLake(async (repo) => {
    const changes = await repo.sql(
      "SELECT ts, bid_prices, date FROM book_changes WHERE exchange = 'coinbase' ORDER BY ts",
    ).polars();
    assert.equal(changes.height, 5);
    assert.equal(String(changes.getColumn("ts").dtype), "DataType(Datetime(us,))");
    assert.deepEqual(changes.getColumn("bid_prices").toArray(), [[99], [98], [97], [96], [95]]);
    assert.equal(changes.getColumn("ts").cast(pl.Int64).cast(pl.Float64).get(0), T0);
    const trades = await repo.trades({ exchange: "kraken", symbol: "BTC-USD" }).polars();
    const viaSql = await repo.sql(
      "SELECT id, price FROM trades WHERE exchange = 'kraken' ORDER BY ts, id",
    ).polars();
    assert.deepEqual(viaSql.getColumn("id").toArray(), trades.getColumn("id").toArray());
  });
});

Deno.test("sql: a table without data, or no such table, fails with a clear message", async () => {
  await withLake(async (repo) => {
    await assert.rejects(
      () => repo.sql("SELECT * FROM quotes").rows(),
      /lake table "quotes" has no data yet .*tables with data: trades, book_changes/,
    );
    await assert.rejects(
      () => repo.sql("SELECT count(*) FROM quotes").polars(),
      /lake table "quotes" has no data yet/,
    );
    await assert.rejects(() => repo.sql("SELECT * FROM candles").rows(), /no table "candles"/);
    // Bars are a lake table too (collected, exported or imported; `year=`), here still empty.
    await assert.rejects(
      () => repo.sql("SELECT * FROM bars").rows(),
      /lake table "bars" has no data yet/,
    );
    assert.throws(() => repo.sql("  ;"), TypeError);
  });
});

Deno.test("sql: filters on partition columns open only the matching folders", async () => {
  await withLake(async (repo, root) => {
    // A file that no Parquet reader can open, in the kraken partition of the first day.
    const dir = `${root}/trades/exchange=kraken/symbol=BTC-USD/date=2024-08-08`;
    await Deno.writeTextFile(`${dir}/part-broken.parquet`, "not parquet");
    const pruned = await repo.sql(
      "SELECT count(*)::INTEGER AS n FROM trades WHERE exchange = 'coinbase'",
    ).rows();
    assert.equal(pruned[0].n, 30);
    const otherDay = await repo.sql(
      "SELECT count(*)::INTEGER AS n FROM trades WHERE date = DATE '2024-08-09'",
    ).rows();
    assert.equal(otherDay[0].n, 30);
    await assert.rejects(() => repo.sql("SELECT count(*) FROM trades").rows());
  });
});
