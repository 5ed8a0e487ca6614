/**
 * A collector-like process writing 40 one-second flushes into a partition (more than the 32
 * small files that start a compaction) with our Parquet writer never loads Polars: its
 * compactions concatenate (`tests/support/live_compaction.ts`, a fresh process; the Polars
 * native library is looked for in `/proc/self/maps`, and found there when the same run
 * imports Polars). DuckDB counts the rows stored against the 800 distinct rows per table the
 * test wrote.
 */
import assert from "node:assert/strict";
import { duckRows } from "./support/parquet_tables.ts";

const SCRIPT = new URL("./support/live_compaction.ts", import.meta.url).pathname;
const T0 = Date.UTC(2024, 4, 6, 12) * 1000;

async function run(
  root: string,
  flushes: number,
  extra: string[] = [],
): Promise<{ polarsMapped: boolean; methods: string[] }> {
  const { success, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, root, String(flushes), ...extra],
    stderr: "inherit",
  }).output();
  assert.ok(success, "live_compaction.ts failed");
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

Deno.test("a collector's lake compacting 40 flushes per partition never loads Polars", async () => {
  const root = await Deno.makeTempDir({ prefix: "polars_free_test_" });
  try {
    const result = await run(`${root}/a`, 40);
    assert.equal(result.polarsMapped, false, "the Polars native library is mapped");
    // One compaction per partition (33 small files), both concatenations.
    assert.deepEqual(result.methods, ["concat", "concat"]);
    for (const [table, step] of [["book_changes", 500], ["trades", 700]] as const) {
      const glob = `${root}/a/${table}/*/*/*/*.parquet`;
      const [[rows, distinct, low, high, files]] = await duckRows(
        `SELECT count(*), count(DISTINCT ts), min(epoch_us(ts)), max(epoch_us(ts)),
          count(DISTINCT filename) FROM read_parquet('${glob}', filename = true)`,
      );
      assert.deepEqual(
        [Number(rows), Number(distinct), Number(low), Number(high)],
        [800, 800, T0, T0 + 799 * step],
        table,
      );
      assert.ok(Number(files) <= 32, `${table}: ${files} files after compaction`);
    }
    // The control: the same run importing Polars at the end shows it mapped.
    assert.equal((await run(`${root}/b`, 2, ["--import-polars"])).polarsMapped, true);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
