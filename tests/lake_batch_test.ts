/**
 * The lake's one grouping of row batches (`lib/lake/_batch.ts`): a key repeated right after
 * itself within one batch (a sorted batch, so only the repeat tells it is not unique) is
 * stored once, for a digest-keyed table and for the action log alike. Stored rows are
 * counted by DuckDB; the expected counts are the distinct keys written, by hand.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import type { BookSnapshot, Quote } from "../lib/market/types.ts";
import { ParquetLake } from "../lib/lake/mod.ts";
import type { ActionRow } from "../lib/schema/mod.ts";

const T0 = Date.UTC(2024, 4, 6, 12) * 1000;

async function count(glob: string): Promise<number> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    const reader = await con.runAndReadAll(
      `SELECT count(*)::INTEGER AS n FROM read_parquet('${glob}', hive_partitioning = false)`,
    );
    return Number(reader.getRows()[0][0]);
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

Deno.test("a row repeated right after itself in one batch is stored once", async () => {
  const root = await Deno.makeTempDir({ prefix: "lake-batch-" });
  try {
    const quote = (i: number): Quote => ({
      kind: "quote",
      exchange: "coinbase",
      symbol: "BTC-USD",
      ts: T0 + i * 1_000,
      recvTs: T0 + i * 1_000 + 50,
      bidPrice: 100 + i,
      bidSize: 1,
      askPrice: 101 + i,
      askSize: 2,
    });
    // Quotes 0, 1, 1, 2, 3: in file order, the second 1 repeats the first.
    const quotes = [0, 1, 1, 2, 3].map(quote);
    const action = (seq: number): ActionRow => ({
      source: "backtest",
      run: "run-1",
      seq,
      ts: T0 + seq,
      action: "order",
      payload: `{"id":${seq}}`,
      prev: "0".repeat(16),
      hash: seq.toString(16).padStart(16, "0"),
    });
    // Actions 1, 2, 2, 3.
    const actions = [1, 2, 2, 3].map(action);
    const lake = await ParquetLake.open({ root });
    try {
      assert.equal(await lake.writeEvents(quotes), 4);
      assert.equal(lake.lastWrite.duplicates, 1);
      assert.equal(await lake.writeActions(actions), 3);
      assert.equal(lake.lastWrite.duplicates, 1);
    } finally {
      await lake.close();
    }
    assert.equal(await count(`${root}/quotes/**/*.parquet`), 4);
    assert.equal(await count(`${root}/actions/**/*.parquet`), 3);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a batch's partitions in runs and revisited are each stored with their own rows", async () => {
  const root = await Deno.makeTempDir({ prefix: "lake-batch-" });
  const DAY = 86_400_000_000;
  const snapshot = (symbol: string, ts: number): BookSnapshot => ({
    kind: "book_snapshot",
    exchange: "kraken",
    symbol,
    ts,
    recvTs: ts + 7,
    bids: [[100 - ts % 5, 1], [99 - ts % 5, 2]],
    asks: [[101 + ts % 3, 3]],
    sequence: ts % 1_000,
  });
  // X day 0 (a run), Y day 0, X day 1 (a run), Y day 0 again (not one run), Z day 1 (a run).
  const plan: [string, number][] = [
    ["X", T0],
    ["X", T0 + 1],
    ["X", T0 + 2],
    ["Y", T0 + 3],
    ["Y", T0 + 4],
    ["X", T0 + DAY],
    ["X", T0 + DAY + 1],
    ["Y", T0 + 5],
    ["Z", T0 + DAY + 6],
    ["Z", T0 + DAY + 7],
  ];
  try {
    const lake = await ParquetLake.open({ root });
    try {
      assert.equal(await lake.writeEvents(plan.map(([s, ts]) => snapshot(s, ts))), plan.length);
    } finally {
      await lake.close();
    }
    const instance = await DuckDBInstance.create(":memory:");
    const con = await instance.connect();
    try {
      const reader = await con.runAndReadAll(
        `SELECT symbol, date::VARCHAR AS date, list(epoch_us(ts) - ${T0} ORDER BY ts) AS ts,
                list(bid_prices[1] ORDER BY ts) AS best
         FROM read_parquet('${root}/book_snapshots/**/*.parquet', hive_partitioning = true)
         GROUP BY ALL ORDER BY symbol, date`,
      );
      const rows = reader.getRowObjectsJson();
      const day = (ts: number) => new Date(ts / 1000).toISOString().slice(0, 10);
      const expected = [
        ["X", T0, [0, 1, 2]],
        ["X", T0 + DAY, [DAY, DAY + 1]],
        ["Y", T0, [3, 4, 5]],
        ["Z", T0 + DAY, [DAY + 6, DAY + 7]],
      ].map(([symbol, t, offsets]) => ({
        symbol,
        date: day(t as number),
        ts: (offsets as number[]).map(String),
        best: (offsets as number[]).map((o) => 100 - (T0 + o) % 5),
      }));
      assert.deepEqual(rows, expected);
    } finally {
      con.closeSync();
      instance.closeSync();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
