/**
 * A collector's lake writes in a fresh process (run by `tests/compactor_polars_free_test.ts`):
 * `flushes` batches of book changes and trades, each above the stored keys, written by the
 * lake's default encoder (our Parquet writer, `jsEncoder`), so that the lake compacts each
 * partition once it holds more than 32 small files. Prints, as JSON, whether the Polars native library is
 * mapped into the process (`/proc/self/maps`) at the end, and the compactions' methods.
 * With `--import-polars` it imports Polars before printing (the check's control).
 *
 * Usage: deno run -A tests/support/live_compaction.ts ROOT FLUSHES [--import-polars]
 * @module
 */
import { ParquetLake } from "../../lib/lake/parquet_lake.ts";
import type { BookChange, Trade } from "../../lib/market/types.ts";
import { bookChange, T0, trade } from "./lake_rows.ts";
import { Compactor } from "../../lib/lake/compactor.ts";

const [root, flushArg, flag] = Deno.args;
const flushes = Number(flushArg);
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
    changes.push(bookChange(i));
    trades.push(trade(1_000 + i, T0 + i * 700));
  }
  await lake.writeEvents([...changes, ...trades]);
}
await lake.close();
if (flag === "--import-polars") await import("nodejs-polars");
const maps = await Deno.readTextFile("/proc/self/maps");
console.log(JSON.stringify({ polarsMapped: /nodejs-polars/.test(maps), methods }));
