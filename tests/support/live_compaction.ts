/**
 * A collector's lake writes in a fresh process (run by `tests/compactor_polars_free_test.ts`):
 * `flushes` batches of book changes and trades, each above the stored keys, written by the
 * lake's default encoder (our Parquet writer, `jsEncoder`), so that the lake compacts each partition once it
 * holds more than 32 small files. Prints, as JSON, whether the Polars native library is
 * mapped into the process (`/proc/self/maps`) at the end, and the compactions' methods.
 * With `--import-polars` it imports Polars before printing (the check's control).
 *
 * Usage: deno run -A tests/support/live_compaction.ts ROOT FLUSHES [--import-polars]
 * @module
 */
import { ParquetLake } from "../../lib/lake/parquet_lake.ts";
import type { BookChange, Trade } from "../../lib/market/types.ts";
import { Compactor } from "../../lib/lake/compactor.ts";

const [root, flushArg, flag] = Deno.args;
const flushes = Number(flushArg);
const T0 = Date.UTC(2024, 4, 6, 12) * 1000;
const methods: string[] = [];
const compactPartition = Compactor.prototype.compactPartition;
Compactor.prototype.compactPartition = async function (...args) {
  const merged = await compactPartition.apply(this, args);
  if (merged !== undefined) methods.push(merged.method);
  return merged;
};
const lake = await ParquetLake.open({ root });
for (let f = 0; f < flushes; f++) {
  const changes: BookChange[] = [];
  const trades: Trade[] = [];
  for (let j = 0; j < 20; j++) {
    const i = f * 20 + j;
    changes.push({
      kind: "book_change",
      exchange: "coinbase",
      symbol: "ETH-USD",
      ts: T0 + i * 500,
      recvTs: T0 + i * 500 + 3,
      bids: [[2000 - (i % 5), 1 + i]],
      asks: i % 3 === 0 ? [] : [[2001 + (i % 4), 0.5]],
      sequence: 10_000 + i,
    });
    trades.push({
      kind: "trade",
      exchange: "coinbase",
      symbol: "BTC-USD",
      id: String(1_000 + i),
      price: 100 + (i % 17),
      size: 0.25,
      side: i % 2 === 0 ? "buy" : "sell",
      ts: T0 + i * 700,
      recvTs: T0 + i * 700 + 11,
    });
  }
  await lake.writeEvents([...changes, ...trades]);
}
await lake.close();
if (flag === "--import-polars") await import("nodejs-polars");
const maps = await Deno.readTextFile("/proc/self/maps");
console.log(JSON.stringify({ polarsMapped: /nodejs-polars/.test(maps), methods }));
