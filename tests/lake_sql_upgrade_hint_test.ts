/**
 * When the lake's SQL views must fall back to reading a table's files by name (a file written
 * before a column was added sits after one that has it), the repository logs once per lake
 * that `deno task lake:repair --upgrade` rewrites the old files; the queries still answer
 * (the rows are set by hand), and a lake whose files agree logs nothing.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { ParquetLake } from "../lib/lake/parquet_lake.ts";
import { LakeRepository } from "../lib/repositories/lake_repository.ts";
import type { Trade } from "../lib/market/types.ts";

const T0 = Date.UTC(2024, 7, 8, 10) * 1000;
const DIR = "trades/exchange=kraken/symbol=BTC-USD/date=2024-08-08";

function trade(id: number): Trade {
  return {
    kind: "trade",
    exchange: "kraken",
    symbol: "BTC-USD",
    id: String(id),
    price: 100 + id,
    size: 1,
    side: "buy",
    ts: T0 + id,
    recvTs: T0 + id + 5,
  };
}

/** A lake with a file it writes now (ids 1, 2), and, if `old`, an old file after it (10, 11). */
async function makeLake(root: string, old: boolean): Promise<void> {
  const lake = await ParquetLake.open({ root, autoCompactFiles: Infinity });
  try {
    assert.equal(await lake.writeTrades([trade(1), trade(2)]), 2);
  } finally {
    await lake.close();
  }
  if (!old) return;
  // The six columns of before `backfilled`, named after the lake's own file so DuckDB binds
  // the glob on the new file first and then meets the old one.
  const ids = [10, 11];
  const micros = (name: string, values: number[]) =>
    pl.Series(name, values, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us"));
  pl.DataFrame([
    pl.Series("id", ids.map(String), pl.Utf8),
    pl.Series("price", ids.map((id) => 100 + id), pl.Float64),
    pl.Series("size", ids.map(() => 1), pl.Float64),
    pl.Series("side", ids.map(() => "buy"), pl.Utf8),
    micros("ts", ids.map((id) => T0 + id)),
    micros("recv_ts", ids.map((id) => T0 + id + 5)),
  ]).writeParquet(`${root}/${DIR}/part-zzzzzzzzz-old.parquet`, { compression: "zstd" });
}

/** Runs `task` with `console.warn` captured; returns what it logged. */
async function warnings(task: () => Promise<void>): Promise<string[]> {
  const warn = console.warn;
  const logged: string[] = [];
  console.warn = (...args: unknown[]) => void logged.push(args.map(String).join(" "));
  try {
    await task();
  } finally {
    console.warn = warn;
  }
  return logged;
}

async function ids(root: string): Promise<string[][]> {
  const repo = await LakeRepository.open({ root });
  try {
    const query = "SELECT id, backfilled FROM trades ORDER BY ts";
    const first = await repo.sql(query).rows();
    const second = await repo.sql(query).rows();
    assert.deepEqual(second, first);
    return first.map((r) => [String(r.id), String(r.backfilled)]);
  } finally {
    await repo.close();
  }
}

Deno.test("the old-files fallback of lake SQL logs the lake:repair --upgrade hint once per lake", async () => {
  const mixed = await Deno.makeTempDir({ prefix: "alphapulse-sql-hint-" });
  const plain = await Deno.makeTempDir({ prefix: "alphapulse-sql-nohint-" });
  try {
    await makeLake(mixed, true);
    await makeLake(plain, false);
    // Live trades: not backfilled; the old file has no column, which the view reads as its
    // `absent` value, false.
    const expected = [["1", "false"], ["2", "false"], ["10", "false"], ["11", "false"]];
    const logged = await warnings(async () => {
      assert.deepEqual(await ids(mixed), expected);
      assert.deepEqual(await ids(mixed), expected, "a second repository on the same lake");
    });
    assert.equal(logged.length, 1, logged.join("\n"));
    assert.ok(logged[0].includes(`deno task lake:repair --lake ${mixed} --upgrade`), logged[0]);
    assert.ok(logged[0].includes("trades"), logged[0]);
    assert.match(logged[0], /schema mismatch/i);
    const none = await warnings(async () => {
      assert.deepEqual(await ids(plain), [["1", "false"], ["2", "false"]]);
    });
    assert.deepEqual(none, []);
  } finally {
    await Deno.remove(mixed, { recursive: true });
    await Deno.remove(plain, { recursive: true });
  }
});
