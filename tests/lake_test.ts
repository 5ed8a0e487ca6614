import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import pl from "nodejs-polars";
import { LakeSink, ParquetLake } from "../lib/lake/mod.ts";
import type { MarketEvent, Trade } from "../lib/market/types.ts";
import { listTree, sortTrades, syntheticTrades } from "./support/lake_trades.ts";

const DAY = 86_400_000_000;
/** 2024-03-09 00:00:00 UTC in microseconds. */
const MIDNIGHT = Date.UTC(2024, 2, 9) * 1000;

async function withLake(
  fn: (lake: ParquetLake, root: string) => Promise<void>,
  options: { autoCompactFiles?: number } = {},
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "lake_test_" });
  const lake = await ParquetLake.open({ root: `${root}/lake`, ...options });
  try {
    await fn(lake, `${root}/lake`);
  } finally {
    await lake.close();
    await Deno.remove(root, { recursive: true });
  }
}

/** Runs SQL on a throwaway DuckDB and returns the rows (bigints as numbers). */
async function duck(sql: string): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    const reader = await con.runAndReadAll(sql);
    return reader.getRowsJS().map((r) => r.map((v) => (typeof v === "bigint" ? Number(v) : v)));
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** All trades stored in the lake, read by DuckDB with hive partitioning. */
async function readLake(root: string): Promise<Trade[]> {
  const rows = await duck(
    `SELECT exchange, symbol, id, price, size, side, epoch_us(ts), epoch_us(recv_ts)
     FROM read_parquet('${root}/trades/*/*/*/*.parquet', hive_partitioning = true)
     ORDER BY exchange, symbol, ts, id`,
  );
  return rows.map(([exchange, symbol, id, price, size, side, ts, recvTs]) => ({
    kind: "trade",
    exchange,
    symbol,
    ts,
    recvTs,
    id,
    price,
    size,
    side,
  } as Trade));
}

function shuffled<T>(items: readonly T[]): T[] {
  // Deterministic: reverse odd positions relative to even ones.
  const even = items.filter((_, i) => i % 2 === 0);
  const odd = items.filter((_, i) => i % 2 === 1).reverse();
  return [...odd, ...even];
}

Deno.test("ParquetLake writes the documented hive layout readable by DuckDB and Polars", async () => {
  await withLake(async (lake, root) => {
    // 90 trades one minute apart from 23:00 the day before: two date partitions.
    const trades = syntheticTrades({ start: MIDNIGHT - 3600e6, count: 90, step: 60e6 });
    const written = await lake.writeTrades(shuffled(trades));
    assert.equal(written, 90);

    const files = await listTree(root);
    assert.equal(files.length, 2);
    for (const [i, date] of ["2024-03-08", "2024-03-09"].entries()) {
      assert.match(
        files[i],
        new RegExp(
          `^trades/exchange=coinbase/symbol=BTC-USD/date=${date}/part-[0-9a-z-]+\\.parquet$`,
        ),
      );
    }

    assert.deepEqual(await readLake(root), sortTrades(trades));
    const schema = await duck(
      `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM
       read_parquet('${root}/trades/*/*/*/*.parquet', hive_partitioning = true))`,
    );
    assert.deepEqual(schema, [
      ["id", "VARCHAR"],
      ["price", "DOUBLE"],
      ["size", "DOUBLE"],
      ["side", "VARCHAR"],
      ["ts", "TIMESTAMP"],
      ["recv_ts", "TIMESTAMP"],
      ["backfilled", "BOOLEAN"],
      ["date", "DATE"],
      ["exchange", "VARCHAR"],
      ["symbol", "VARCHAR"],
    ]);
    const compression = await duck(
      `SELECT DISTINCT compression FROM parquet_metadata('${root}/trades/*/*/*/*.parquet')`,
    );
    assert.deepEqual(compression, [["ZSTD"]]);

    // Each file is sorted by ts although the input was shuffled.
    for (const file of files) {
      const ts = (await duck(`SELECT epoch_us(ts) FROM '${root}/${file}'`)).map((r) => r[0]);
      assert.deepEqual(ts, [...ts].sort((a, b) => (a as number) - (b as number)));
    }

    const df = await pl.scanParquet(`${root}/trades/**/*.parquet`, { hivePartitioning: true })
      .sort("ts").collect();
    assert.equal(df.height, 90);
    assert.deepEqual(df.getColumn("id").toArray(), sortTrades(trades).map((t) => t.id));
    assert.deepEqual(df.getColumn("symbol").unique().toArray(), ["BTC-USD"]);
    assert.equal(String(df.getColumn("ts").dtype), String(pl.Datetime("us")));
  });
});

Deno.test("ParquetLake writes are idempotent", async (t) => {
  await withLake(async (lake, root) => {
    const trades = syntheticTrades({ start: MIDNIGHT - 50e6, count: 100, step: 1e6 });

    await t.step("the same batch twice stores it once", async () => {
      assert.equal(await lake.writeTrades(trades), 100);
      assert.equal(await lake.writeTrades(trades), 0);
      assert.equal(lake.lastWrite.duplicates, 100);
      assert.deepEqual(await readLake(root), sortTrades(trades));
    });

    await t.step("an overlapping batch stores only the new rows", async () => {
      const more = syntheticTrades({ start: MIDNIGHT + 40e6, count: 20, step: 1e6, firstId: 91 });
      // ids 91..100 are stored already; 101..110 are new.
      assert.equal(await lake.writeTrades(more), 10);
      assert.equal(lake.lastWrite.duplicates, 10);
      assert.equal((await readLake(root)).length, 110);
    });

    await t.step("repeats within one batch keep the first row", async () => {
      const base = syntheticTrades({ start: MIDNIGHT + 500e6, count: 3, firstId: 500 });
      const again = { ...base[0], price: 999 }; // same id, different price, later in batch
      assert.equal(await lake.writeTrades([base[1], base[0], again, base[2], base[1]]), 3);
      assert.equal(lake.lastWrite.duplicates, 2);
      const stored = (await readLake(root)).filter((r) => r.id === base[0].id);
      assert.deepEqual(stored, [base[0]]);
    });

    await t.step("text ids and the same id under another symbol", async () => {
      const text = ["TX-b", "TX-a", "007", "7", "12345678901234567890"].map((id, i) => ({
        ...trades[0],
        id,
        ts: MIDNIGHT + 900e6 + i,
      }));
      const otherSymbol = { ...trades[0], symbol: "ETH-USD" };
      assert.equal(await lake.writeTrades([...text, otherSymbol]), 6);
      assert.equal(await lake.writeTrades([...text, otherSymbol]), 0);
      const ids = (await readLake(root)).filter((r) => r.ts >= MIDNIGHT + 900e6).map((r) => r.id);
      assert.deepEqual(ids, ["TX-b", "TX-a", "007", "7", "12345678901234567890"]);
    });

    assert.equal(lake.counts.written, 100 + 10 + 3 + 6);
    assert.equal(lake.counts.rejected, 0);
  });
});

Deno.test("ParquetLake rejects invalid rows, counts them and writes the rest", async () => {
  await withLake(async (lake, root) => {
    const [good, good2] = syntheticTrades({ start: MIDNIGHT, count: 2 });
    const bad: Trade[] = [
      { ...good, id: "p0", price: 0 },
      { ...good, id: "p1", price: -5 },
      { ...good, id: "p2", price: NaN },
      { ...good, id: "s0", size: 0 },
      { ...good, id: "s1", size: Infinity },
      { ...good, id: "t0", ts: Date.UTC(1999, 11, 31) * 1000 },
      { ...good, id: "t1", ts: 1.5e15 + 0.5 },
      { ...good, id: "" },
      { ...good, id: "x", symbol: "BTC/USD" },
      { ...good, id: "y", exchange: "" },
      { ...good, id: "z", side: "sideways" as Trade["side"] },
      { ...good, id: "r", recvTs: NaN },
    ];
    const warn = console.warn;
    const warnings: unknown[][] = [];
    console.warn = (...args: unknown[]) => void warnings.push(args);
    try {
      assert.equal(await lake.writeTrades([good, ...bad, good2]), 2);
    } finally {
      console.warn = warn;
    }
    assert.deepEqual(lake.lastWrite, {
      written: 2,
      duplicates: 0,
      rejected: 12,
      rejectedBy: {
        price: 3,
        size: 2,
        ts: 2,
        id: 1,
        symbol: 1,
        exchange: 1,
        side: 1,
        recv_ts: 1,
      },
    });
    // Logged once per reason, with the row's context.
    assert.equal(warnings.length, 8);
    assert.match(String(warnings[0][1]), /id=p0/);
    assert.deepEqual(await readLake(root), [good, good2]);
    // A batch with nothing valid writes no file.
    assert.equal(await lake.writeTrades(bad), 0);
    assert.equal((await listTree(root)).length, 1);
  });
});

Deno.test("ParquetLake never leaves a partial file visible", async (t) => {
  await withLake(async (lake, root) => {
    const trades = syntheticTrades({ start: MIDNIGHT, count: 300 });
    const dir = `${root}/trades/exchange=coinbase/symbol=BTC-USD/date=2024-03-09`;

    await t.step("only part-*.parquet files remain, all readable", async () => {
      for (let i = 0; i < 3; i++) await lake.writeTrades(trades.slice(i * 100, i * 100 + 100));
      const files = await listTree(root);
      assert.equal(files.length, 3);
      for (const f of files) assert.match(f, /\/part-[0-9a-z-]+\.parquet$/);
      const counts = await Promise.all(
        files.map(async (f) => (await duck(`SELECT count(*) FROM '${root}/${f}'`))[0][0]),
      );
      assert.deepEqual(counts, [100, 100, 100]);
    });

    await t.step(
      "a crashed write's temporary file is invisible to readers and writers",
      async () => {
        await Deno.writeTextFile(`${dir}/.part-crashed.parquet.tmp`, "PAR1 half a file");
        const rows = await duck(
          `SELECT count(*) FROM read_parquet('${root}/trades/*/*/*/*.parquet')`,
        );
        assert.deepEqual(rows, [[300]]);
        const df = await pl.scanParquet(`${root}/trades/**/*.parquet`).collect();
        assert.equal(df.height, 300);
        assert.equal(await lake.writeTrades(trades), 0);
        await Deno.remove(`${dir}/.part-crashed.parquet.tmp`);
      },
    );

    await t.step("compact merges a partition atomically and keeps every row once", async () => {
      const report = await lake.compact();
      assert.deepEqual(report, { partitions: 1, filesMerged: 3, rows: 300 });
      const files = await listTree(root);
      assert.equal(files.length, 1);
      assert.deepEqual(await readLake(root), sortTrades(trades));
      assert.equal(await lake.writeTrades(trades), 0);
      assert.deepEqual(await lake.compact(), { partitions: 0, filesMerged: 0, rows: 0 });
    });

    await t.step(
      "a compaction interrupted after its rename is finished by the next write",
      async () => {
        // Simulate a crash between renaming the merged file and removing its inputs: an old
        // input (here a copy of the merged file) is still there, named in the journal.
        const [merged] = await listTree(dir);
        await Deno.copyFile(`${dir}/${merged}`, `${dir}/part-0-old-input.parquet`);
        await Deno.writeTextFile(
          `${dir}/.compact-crash.json`,
          JSON.stringify({ output: merged, inputs: ["part-0-old-input.parquet"] }),
        );
        assert.equal((await readLake(root)).length, 600); // duplicated until repaired
        const extra = syntheticTrades({ start: MIDNIGHT + 400e6, count: 1, firstId: 10_000 });
        assert.equal(await lake.writeTrades(extra), 1);
        assert.deepEqual(await readLake(root), sortTrades([...trades, ...extra]));
        assert.ok(!(await listTree(dir)).some((f) => f.startsWith(".")));
      },
    );
  });
});

Deno.test("ParquetLake compacts a partition automatically past autoCompactFiles", async () => {
  await withLake(async (lake, root) => {
    const trades = syntheticTrades({ start: MIDNIGHT, count: 50 });
    for (let i = 0; i < 5; i++) await lake.writeTrades(trades.slice(i * 10, i * 10 + 10));
    const files = await listTree(root);
    assert.ok(files.length <= 2, `expected at most 2 files, got ${files.length}`);
    assert.deepEqual(await readLake(root), trades);
  }, { autoCompactFiles: 2 });
});

Deno.test("LakeSink buffers trades, quotes and bars and flushes on close", async () => {
  const root = await Deno.makeTempDir({ prefix: "lake_sink_test_" });
  try {
    const sink = await LakeSink.open({ root });
    const trades = syntheticTrades({ start: MIDNIGHT, count: 5 });
    const quote: MarketEvent = {
      kind: "quote",
      exchange: "coinbase",
      symbol: "BTC-USD",
      ts: MIDNIGHT,
      recvTs: MIDNIGHT,
      bidPrice: 1,
      bidSize: 1,
      askPrice: 2,
      askSize: 1,
    };
    const bar: MarketEvent = {
      kind: "bar",
      exchange: "coinbase",
      symbol: "BTC-USD",
      ts: MIDNIGHT,
      recvTs: MIDNIGHT,
      interval: 60e6,
      open: 1,
      high: 1,
      low: 1,
      close: 1,
      volume: 1,
      vwap: 1,
      trades: 1,
    };
    sink.write([trades[0], quote, bar, trades[1]]);
    assert.equal(sink.pending, 4);
    assert.equal(sink.ignored, 0);
    assert.equal(
      await sink.flush(),
      4,
      "flush resolves to the rows stored: 2 trades, 1 quote, 1 bar",
    );
    assert.deepEqual(sink.stored, { trades: 2, events: 2 });
    assert.equal(await sink.flush(), 0);
    sink.write([...trades, quote, bar]); // two trades, the quote and the bar already stored
    assert.equal(await sink.flush(), 3, "the 3 new trades");
    assert.deepEqual(sink.stored, { trades: 5, events: 2 });
    sink.write([{ ...trades[4], id: "late", ts: trades[4].ts + DAY }]);
    await sink.close();
    assert.throws(() => sink.write(trades));
    assert.equal((await readLake(root)).length, 6);
    const quotes = await duck(
      `SELECT count(*) FROM read_parquet('${root}/quotes/*/*/*/*.parquet', hive_partitioning = true)`,
    );
    assert.deepEqual(quotes, [[1]]);
    const bars = await duck(
      `SELECT symbol, interval_us, close, year FROM read_parquet('${root}/bars/exchange=*/symbol=*/year=*/*.parquet', hive_partitioning = true)`,
    );
    // The one bars layout (bar_store.ts): by the UTC year of ts.
    assert.deepEqual(bars, [[
      "BTC-USD",
      60_000_000,
      1,
      new Date(MIDNIGHT / 1000).getUTCFullYear(),
    ]]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** The trades of one instrument as columns, with ids as given. */
function columnsOf(
  trades: readonly Trade[],
  ids: string[] | Float64Array = trades.map((t) => t.id),
) {
  return {
    exchange: trades[0].exchange,
    symbol: trades[0].symbol,
    id: ids,
    price: Float64Array.from(trades, (t) => t.price),
    size: Float64Array.from(trades, (t) => t.size),
    side: trades.map((t) => t.side),
    ts: Float64Array.from(trades, (t) => t.ts),
    recvTs: Float64Array.from(trades, (t) => t.recvTs),
  };
}

Deno.test("ParquetLake.writeTradeColumns shares writeTrades' validation, dedup and layout", async (t) => {
  await t.step("text-id columns store what writeTrades stores", async () => {
    const trades = syntheticTrades({ start: MIDNIGHT - 30e6, count: 60, step: 1e6 });
    await withLake(async (lake, root) => {
      assert.equal(await lake.writeTradeColumns(columnsOf(shuffled(trades))), 60);
      assert.equal(await lake.writeTrades(trades), 0); // the row path sees them as stored
      assert.equal(lake.lastWrite.duplicates, 60);
      assert.deepEqual(await readLake(root), sortTrades(trades));
      assert.deepEqual((await listTree(root)).map((p) => p.split("/").slice(-2, -1)[0]), [
        "date=2024-03-08",
        "date=2024-03-09",
      ]);
    });
  });

  await t.step(
    "integer ids are stored as their text and deduplicated against text ids",
    async () => {
      // Ids 95..104 cross a digit count; two rows share a time where text order ("100" <
      // "99") differs from numeric order.
      const trades = syntheticTrades({ start: MIDNIGHT, count: 10, firstId: 95 });
      trades[5] = { ...trades[5], ts: trades[4].ts }; // id 100 at the time of id 99
      await withLake(async (lake, root) => {
        assert.equal(await lake.writeTrades(trades.slice(0, 3)), 3); // 95..97 as text
        const ids = Float64Array.from(trades, (r) => Number(r.id));
        assert.equal(await lake.writeTradeColumns(columnsOf(trades, ids)), 7);
        assert.equal(lake.lastWrite.duplicates, 3);
        assert.equal(await lake.writeTradeColumns(columnsOf(trades, ids)), 0);
        assert.deepEqual(await readLake(root), sortTrades(trades));
        // Each file is sorted by (ts, id) with ids compared as text.
        for (const file of await listTree(root)) {
          const stored = (await duck(`SELECT id FROM read_parquet('${root}/${file}')`)).flat();
          const sorted = trades.filter((r) => stored.includes(r.id)).sort((a, b) =>
            a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
          ).map((r) => r.id);
          assert.deepEqual(stored, sorted);
        }
      });
    },
  );

  await t.step("invalid values are rejected per row and bad shapes per call", async () => {
    const trades = syntheticTrades({ start: MIDNIGHT, count: 4 });
    await withLake(async (lake, root) => {
      const columns = columnsOf(trades, new Float64Array([1, -1, 2.5, 4]));
      columns.price[3] = NaN;
      const warn = console.warn;
      console.warn = () => {};
      try {
        assert.equal(await lake.writeTradeColumns(columns), 1);
        assert.deepEqual(lake.lastWrite.rejectedBy, { id: 2, price: 1 });
        const badSymbol = { ...columnsOf(trades), symbol: "BTC/USD" };
        assert.equal(await lake.writeTradeColumns(badSymbol), 0);
        assert.deepEqual(lake.lastWrite.rejectedBy, { symbol: 4 });
      } finally {
        console.warn = warn;
      }
      await assert.rejects(
        lake.writeTradeColumns({ ...columnsOf(trades), ts: new Float64Array(3) }),
        RangeError,
      );
      assert.deepEqual(await readLake(root), [trades[0]]);
    });
  });
});
