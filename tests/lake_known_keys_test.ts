/**
 * The lake writer's JavaScript path (`lib/lake/partition_writer.ts`, `stored_keys.ts`,
 * `_row_keys.ts`): repeats within a batch, across batches of one writer, and across a
 * restart of the writer with files on disk, each stored once. The expected rows are the
 * input's distinct keys, counted here in the test; what is stored is counted by DuckDB over
 * the written files. Which path wrote a file is seen through the lake's `encoder` option: the
 * encoder is called only when the writer knows what is stored without reading a file.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import type { Quote } from "../lib/market/types.ts";
import { bookChange as change, T0, trade } from "./support/lake_rows.ts";
import { ParquetLake } from "../lib/lake/parquet_lake.ts";
import { type ParquetEncoder, polarsEncoder } from "../lib/lake/parquet_encoder.ts";

/** A Polars encoder that counts its calls. */
function countingEncoder(): { encoder: ParquetEncoder; calls: number } {
  const counter = {
    calls: 0,
    encoder: ((table, target) => {
      counter.calls++;
      return polarsEncoder(table, target);
    }) as ParquetEncoder,
  };
  return counter;
}

/** Rows of `sql` (a query over `read_parquet` globs) as JSON objects. */
async function query(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    await con.run("SET threads = 1");
    return (await con.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

function quote(i: number): Quote {
  return {
    kind: "quote",
    exchange: "coinbase",
    symbol: "BTC-USD",
    ts: T0 + Math.floor(i / 2) * 1_000, // two quotes per time: recv_ts and payload differ
    recvTs: T0 + i * 1_000 + 7,
    bidPrice: 100 + (i % 13),
    bidSize: 1 + (i % 3),
    askPrice: 101 + (i % 13),
    askSize: 2,
  };
}

/** A shuffle fixed by its seed (a linear congruential generator). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Distinct quote identities (time, receipt time and payload: what the digest covers). */
function distinctQuotes(quotes: readonly Quote[]): number {
  return new Set(quotes.map((q) => JSON.stringify([q.ts, q.recvTs, q.bidPrice, q.bidSize]))).size;
}

/** Count and distinct keys of the digest-keyed table `kind` in `root`. */
async function storedEvents(root: string, kind: string): Promise<{ n: number; keys: number }> {
  const [row] = await query(
    `SELECT count(*)::INTEGER AS n, count(DISTINCT (ts, recv_ts, digest))::INTEGER AS keys
     FROM read_parquet('${root}/${kind}/*/*/*/*.parquet')`,
  );
  return row as { n: number; keys: number };
}

Deno.test("repeats within one unsorted batch are stored once, files in (ts, recv_ts, digest) order", async () => {
  const root = await Deno.makeTempDir({ prefix: "lake-known-" });
  try {
    const base = Array.from({ length: 300 }, (_, i) => quote(i));
    // Every third quote twice, every seventh three times, all shuffled.
    const input = shuffled([
      ...base,
      ...base.filter((_, i) => i % 3 === 0),
      ...base.filter((_, i) => i % 7 === 0),
    ], 7);
    const counter = countingEncoder();
    const lake = await ParquetLake.open({ root, encoder: counter.encoder });
    try {
      assert.equal(await lake.writeEvents(input), distinctQuotes(input));
      assert.equal(lake.lastWrite.duplicates, input.length - distinctQuotes(input));
    } finally {
      await lake.close();
    }
    assert.equal(counter.calls, 1);
    assert.deepEqual(await storedEvents(root, "quotes"), { n: 300, keys: 300 });
    const rows = await query(
      `SELECT epoch_us(ts) AS ts, epoch_us(recv_ts) AS recv_ts, digest
       FROM read_parquet('${root}/quotes/*/*/*/*.parquet')`,
    );
    const order = rows.map((r) => [Number(r.ts), Number(r.recv_ts), Number(r.digest)]);
    const sorted = [...order].sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
    assert.deepEqual(order, sorted);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("repeats across batches of one writer: newer batches skip the stored-key scan, overlapping ones do it", async () => {
  const root = await Deno.makeTempDir({ prefix: "lake-known-" });
  try {
    const counter = countingEncoder();
    const lake = await ParquetLake.open({ root, encoder: counter.encoder, autoCompactFiles: 3 });
    const seen = new Set<number>();
    const write = async (indices: readonly number[]) => {
      const fresh = new Set(indices.filter((i) => !seen.has(i))).size;
      for (const i of indices) seen.add(i);
      assert.equal(await lake.writeEvents(indices.map(change)), fresh);
    };
    try {
      // Batches 0-99, 100-199 (with repeats of itself), ... each newer than the last.
      for (let b = 0; b < 5; b++) {
        const indices = Array.from({ length: 100 }, (_, i) => b * 100 + i);
        await write([...indices, ...indices.slice(0, 10)]);
      }
      // Five files by the encoder; the third small file onwards merged (autoCompactFiles 3).
      assert.equal(counter.calls, 5);
      // A batch starting at the largest stored key: the scan path (the key is stored).
      await write([499, ...Array.from({ length: 20 }, (_, i) => 500 + i)]);
      assert.equal(counter.calls, 5);
      // A batch reaching back into stored keys (half repeats): the scan path, not the encoder.
      await write(Array.from({ length: 100 }, (_, i) => 450 + i));
      assert.equal(counter.calls, 5);
      // Newer again: the encoder, the merged files known.
      await write(Array.from({ length: 50 }, (_, i) => 700 + i));
      assert.equal(counter.calls, 6);
    } finally {
      await lake.close();
    }
    assert.deepEqual(await storedEvents(root, "book_changes"), { n: seen.size, keys: seen.size });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("after a restart, files on disk are read for stored keys: trades re-sent are stored once", async () => {
  const root = await Deno.makeTempDir({ prefix: "lake-known-" });
  try {
    // Ids 1..400 with times not in id order; "10" sorts before "9" in file order as text.
    const ts = (id: number) => T0 + Math.floor(id / 4) * 1_000;
    const first = shuffled(Array.from({ length: 200 }, (_, i) => trade(i + 1, ts(i + 1))), 3);
    const lake = await ParquetLake.open({ root });
    try {
      assert.equal(await lake.writeTrades([...first, ...first.slice(0, 50)]), 200);
    } finally {
      await lake.close();
    }
    const counter = countingEncoder();
    const again = await ParquetLake.open({ root, encoder: counter.encoder });
    try {
      // Ids 151..400 (50 stored already, and newer ones): the files are not this writer's.
      const second = Array.from({ length: 250 }, (_, i) => trade(151 + i, ts(151 + i)));
      assert.equal(await again.writeTrades(second), 200);
      assert.equal(await again.writeTrades(first), 0);
      assert.equal(counter.calls, 0);
    } finally {
      await again.close();
    }
    const [row] = await query(
      `SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS ids
       FROM read_parquet('${root}/trades/*/*/*/*.parquet')`,
    );
    assert.deepEqual(row, { n: 400, ids: 400 });
    // Each file in (ts, id) order, ids compared as text.
    const files = await query(
      `SELECT filename, list(id) AS ids, list(epoch_us(ts)) AS ts
       FROM read_parquet('${root}/trades/*/*/*/*.parquet', filename = true) GROUP BY filename`,
    );
    for (const f of files) {
      const ids = f.ids as string[];
      const times = (f.ts as string[]).map(Number);
      const pairs = ids.map((id, i) => [times[i], id] as const);
      const sorted = [...pairs].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
      assert.deepEqual(pairs, sorted);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("trades of a batch revisiting a partition are each stored in their own partition", async () => {
  const root = await Deno.makeTempDir({ prefix: "lake-known-" });
  try {
    // X 1-3, Y 4-5, X 6-7 (X revisited: not one run), Z 8.
    const plan: [string, number][] = [
      ["X", 1],
      ["X", 2],
      ["X", 3],
      ["Y", 4],
      ["Y", 5],
      ["X", 6],
      ["X", 7],
      ["Z", 8],
    ];
    const lake = await ParquetLake.open({ root });
    try {
      const trades = plan.map(([symbol, id]) => ({ ...trade(id, T0 + id), symbol }));
      assert.equal(await lake.writeTrades(trades), plan.length);
    } finally {
      await lake.close();
    }
    const rows = await query(
      `SELECT symbol, list(id ORDER BY ts) AS ids
       FROM read_parquet('${root}/trades/*/*/*/*.parquet', hive_partitioning = true)
       GROUP BY symbol ORDER BY symbol`,
    );
    const expected = ["X", "Y", "Z"].map((symbol) => ({
      symbol,
      ids: plan.filter(([s]) => s === symbol).map(([, id]) => String(id)),
    }));
    assert.deepEqual(rows, expected);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
