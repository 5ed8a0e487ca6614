/**
 * The lake's one grouping of row batches (`lib/lake/_batch.ts`): a key repeated right after
 * itself within one batch (a sorted batch, so only the repeat tells it is not unique) is
 * stored once, for a digest-keyed table and for the action log alike. Stored rows are
 * counted by DuckDB; the expected counts are the distinct keys written, by hand.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import type { Quote } from "../lib/market/types.ts";
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
