/**
 * The compactor concatenates a partition's files without Polars when their ranges in the
 * table's file order do not overlap, and merges them with Polars when they do; either way
 * the partition holds, afterwards, one file of the distinct rows it held before (DuckDB
 * compares the two sets), in file order (checked by the test on DuckDB's read of the file).
 */
import assert from "node:assert/strict";
import { Compactor } from "../lib/lake/compactor.ts";
import { listPartitionFiles } from "../lib/lake/_files.ts";
import type { PartitionedTable } from "../lib/lake/layout.ts";
import { type ColumnData, lakeFileFields, writeParquetFile } from "../lib/lake/parquet/mod.ts";
import { TABLES } from "../lib/schema/tables.ts";
import { duckColumns, duckRows, type Plain, randomTable } from "./support/parquet_tables.ts";
import { withTempDir } from "./support/temp_dir.ts";

const KINDS: readonly PartitionedTable[] = [
  "trades",
  "quotes",
  "book_snapshots",
  "book_changes",
  "event_log",
  "actions",
  "bars",
];

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("compact_concat_test_", fn);

/**
 * Writes a file of `rows` random rows of `kind` whose first file-order column runs from
 * `start` by `step` (so its rows are in file order), named `name`.
 */
async function writeOrdered(
  path: string,
  kind: PartitionedTable,
  rows: number,
  start: number,
  step: number,
  seed: number,
): Promise<void> {
  const fields = lakeFileFields(kind);
  const { columns } = randomTable(fields, rows, seed);
  const first = fields.find((f) => f.name === TABLES[kind].fileOrder[0])!;
  const values = Array.from({ length: rows }, (_, i) => start + i * step);
  const data: ColumnData = first.type === "int32"
    ? Int32Array.from(values)
    : Float64Array.from(values);
  await writeParquetFile(path, fields, { ...columns, [first.name]: data }, { rowGroupSize: 16 });
}

/** Rows of `sql` as one JSON string each (lists and all), sorted. */
async function rowSet(source: string): Promise<string[]> {
  const rows = await duckRows(`SELECT DISTINCT * FROM ${source}`);
  return rows.map((r) => JSON.stringify(r)).sort();
}

function compareKeys(a: readonly Plain[], b: readonly Plain[]): number {
  for (let k = 0; k < a.length; k++) {
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    // Integers and times are read as decimal strings: compare them as numbers.
    const c = typeof x === "string" && /^-?\d+$/.test(x) && /^-?\d+$/.test(y as string)
      ? Number(BigInt(x) - BigInt(y as string))
      : (x as string) < (y as string)
      ? -1
      : 1;
    if (c !== 0) return c;
  }
  return 0;
}

/** Compacts `dir` (files already written); checks rows and order; resolves to the method. */
async function compactAndCheck(
  dir: string,
  kind: PartitionedTable,
  maxConcatRowGroups?: number,
): Promise<string> {
  const before = await listPartitionFiles(dir);
  const snapshot = `${dir}/../snapshot-${kind}`;
  await Deno.mkdir(snapshot);
  for (const f of before) await Deno.copyFile(f.path, `${snapshot}/${f.name}`);
  const wanted = await rowSet(`read_parquet('${snapshot}/*.parquet')`);
  const compactor = new Compactor({
    smallFileBytes: 1 << 30,
    autoCompactFiles: 32,
    ...(maxConcatRowGroups === undefined ? {} : { maxConcatRowGroups }),
  });
  const merged = await compactor.compactPartition(dir, kind, 2);
  assert.ok(merged !== undefined);
  const after = await listPartitionFiles(dir);
  assert.deepEqual(after.map((f) => f.name), [merged.output]);
  assert.equal(merged.rows, wanted.length, `${kind}: rows of the new file`);
  const [[count]] = await duckRows(`SELECT count(*) FROM read_parquet('${after[0].path}')`);
  assert.equal(Number(count), wanted.length, `${kind}: rows after = distinct rows before`);
  assert.deepEqual(await rowSet(`read_parquet('${after[0].path}')`), wanted, kind);
  const fields = lakeFileFields(kind);
  const order = TABLES[kind].fileOrder;
  const columns = await duckColumns(after[0].path, fields.filter((f) => order.includes(f.name)));
  const key = (i: number) => order.map((name) => columns[name][i]);
  for (let i = 1; i < wanted.length; i++) {
    assert.ok(compareKeys(key(i - 1), key(i)) <= 0, `${kind}: row ${i} out of file order`);
  }
  await Deno.remove(snapshot, { recursive: true });
  return merged.method;
}

for (const kind of KINDS) {
  Deno.test(`compactor: ${kind} files of disjoint ranges are concatenated, overlapping ones merged by Polars`, async () => {
    await withDir(async (root) => {
      const disjoint = `${root}/disjoint`;
      await Deno.mkdir(disjoint);
      // Names against key order: the file with the lowest keys is listed last.
      for (let f = 0; f < 5; f++) {
        const name = `${disjoint}/part-${String.fromCharCode(101 - f)}.parquet`;
        await writeOrdered(name, kind, 20 + f * 7, 1_000 + f * 10_000, 10, f + 1);
      }
      assert.equal(await compactAndCheck(disjoint, kind), "concat");

      const overlapping = `${root}/overlapping`;
      await Deno.mkdir(overlapping);
      // Interleaved first-column values: file f holds start f, f + 4, f + 8, ...
      for (let f = 0; f < 4; f++) {
        await writeOrdered(`${overlapping}/part-${f}.parquet`, kind, 25, 1_000 + f, 4, 20 + f);
      }
      assert.equal(await compactAndCheck(overlapping, kind), "polars");
    });
  });
}

Deno.test("compactor: files that only touch at a first-column value are concatenated when the next column separates them", async () => {
  await withDir(async (root) => {
    const dir = `${root}/p`;
    await Deno.mkdir(dir);
    const fields = lakeFileFields("quotes");
    // File a: ts 1..10, recv_ts 100..109; file b: ts 10..19, recv_ts 200..209.
    for (const [name, ts, recv] of [["b", 10, 200], ["a", 1, 100]] as const) {
      const { columns } = randomTable(fields, 10, ts);
      await writeParquetFile(`${dir}/part-${name}.parquet`, fields, {
        ...columns,
        ts: Float64Array.from({ length: 10 }, (_, i) => ts + i),
        recv_ts: Float64Array.from({ length: 10 }, (_, i) => recv + i),
      });
    }
    assert.equal(await compactAndCheck(dir, "quotes"), "concat");
    // The same with recv_ts ranges crossing: merged by Polars.
    const crossing = `${root}/q`;
    await Deno.mkdir(crossing);
    for (const [name, ts, recv] of [["b", 10, 100], ["a", 1, 105]] as const) {
      const { columns } = randomTable(fields, 10, ts);
      await writeParquetFile(`${crossing}/part-${name}.parquet`, fields, {
        ...columns,
        ts: Float64Array.from({ length: 10 }, (_, i) => ts + i),
        recv_ts: Float64Array.from({ length: 10 }, (_, i) => recv + i),
      });
    }
    assert.equal(await compactAndCheck(crossing, "quotes"), "polars");
  });
});

Deno.test("compactor: disjoint files are merged by Polars when their row groups would exceed maxConcatRowGroups", async () => {
  await withDir(async (root) => {
    // 3 files of 40 rows in row groups of 16 rows: 3 row groups each, 9 in all.
    for (const [dir, max, method] of [["a", 8, "polars"], ["b", 9, "concat"]] as const) {
      await Deno.mkdir(`${root}/${dir}`);
      for (let f = 0; f < 3; f++) {
        const path = `${root}/${dir}/part-${f}.parquet`;
        await writeOrdered(path, "book_changes", 40, 1_000 + f * 1_000, 10, f + 1);
      }
      assert.equal(await compactAndCheck(`${root}/${dir}`, "book_changes", max), method, dir);
    }
  });
  assert.throws(
    () => new Compactor({ smallFileBytes: 1, autoCompactFiles: 2, maxConcatRowGroups: 1.5 }),
    RangeError,
  );
});
