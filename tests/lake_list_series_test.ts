/**
 * `listSeries` (lib/lake/_list_series.ts): the `List(Float64)` column made from flat values
 * and offsets equals the column Polars makes from the same lists given as nested JS arrays,
 * on each of its paths (every row alike, rows of different lengths, a few long rows, no
 * values), and a lake file written from it has the same bytes as one written from the
 * nested arrays; a book frame of one row group is stored alike by `writeParquet` and the
 * sink (the partition writer's choice for the book tables).
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { DuckDBInstance } from "@duckdb/node-api";
import { listSeries } from "../lib/lake/_list_series.ts";
import { PARQUET_OPTIONS } from "../lib/lake/_files.ts";

/** Flat values and offsets of `lists`, with `lead` unused values before the first. */
function flat(lists: readonly number[][], lead = 0): { offsets: Int32Array; values: Float64Array } {
  const offsets = new Int32Array(lists.length + 1);
  const values: number[] = Array.from({ length: lead }, () => -1);
  offsets[0] = lead;
  lists.forEach((list, i) => {
    values.push(...list);
    offsets[i + 1] = values.length;
  });
  return { offsets, values: Float64Array.from(values) };
}

/** The column from nested JS arrays (Polars' own list building). */
function nested(name: string, lists: number[][]): pl.Series {
  return pl.Series(name, lists, pl.List(pl.Float64));
}

function assertSame(name: string, lists: number[][], lead = 0): void {
  const { offsets, values } = flat(lists, lead);
  const values0 = values.subarray(lead);
  const got = listSeries(name, offsets, values0);
  assert.equal(String(got.dtype), String(pl.List(pl.Float64)));
  assert.equal(got.name, name);
  assert.deepEqual(got.toArray(), lists.map((l) => [...l]));
  // (The bindings cannot build a list column of nested arrays without any value.)
  if (values0.length > 0) assert.ok(got.seriesEqual(nested(name, lists), true), name);
}

let seed = 5;
const random = () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
const row = (n: number) => Array.from({ length: n }, () => Math.round(random() * 1e6) / 100);

Deno.test("listSeries: every row of one length (reshaped)", () => {
  assertSame("uniform", Array.from({ length: 300 }, () => row(50)));
  assertSame("one_each", Array.from({ length: 7 }, () => row(1)));
  assertSame("one_row", [row(4)]);
});

Deno.test("listSeries: rows of different lengths, empty rows among them (padded)", () => {
  const lists = Array.from({ length: 500 }, (_, i) => row(i % 9 === 0 ? 0 : 40 + (i % 11)));
  assertSame("ragged", lists);
  assertSame("thin_book", [row(50), row(50), row(48), row(50), row(49)]);
});

Deno.test("listSeries: a few rows far longer than the rest (Arrow), and no values at all", () => {
  const lists = Array.from({ length: 200 }, () => row(1));
  lists[17] = row(5_000);
  assertSame("wide", lists);
  assertSame("empty", [[], [], []]);
  assertSame("none", []);
});

Deno.test("listSeries: offsets that start past zero index values from their first offset", () => {
  const lists = [row(3), row(3), row(2)];
  const { offsets, values } = flat(lists, 4);
  const got = listSeries("shifted", offsets, values.subarray(4));
  assert.deepEqual(got.toArray(), lists);
  assert.throws(() => listSeries("short", offsets, values.subarray(6)), RangeError);
  assert.throws(() => listSeries("none", new Int32Array(0), values), RangeError);
});

Deno.test("listSeries: a file from its columns has the bytes of one from nested arrays", async () => {
  const dir = await Deno.makeTempDir({ prefix: "list_series_" });
  try {
    for (const lists of [Array.from({ length: 2_000 }, () => row(50)), [row(3), [], row(7)]]) {
      const ours = flat(lists);
      const a = pl.DataFrame([listSeries("bid_prices", ours.offsets, ours.values)]);
      const b = pl.DataFrame([nested("bid_prices", lists)]);
      a.writeParquet(`${dir}/a.parquet`, PARQUET_OPTIONS);
      b.writeParquet(`${dir}/b.parquet`, PARQUET_OPTIONS);
      assert.deepEqual(
        await Deno.readFile(`${dir}/a.parquet`),
        await Deno.readFile(`${dir}/b.parquet`),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a book frame of one row group: writeParquet and sinkParquet store the same", async () => {
  // The lake's partition writer takes writeParquet for such files of the book tables.
  const dir = await Deno.makeTempDir({ prefix: "list_series_" });
  try {
    const lists = Array.from({ length: 20_000 }, (_, i) => row(i % 5 === 0 ? 3 : 50));
    const { offsets, values } = flat(lists);
    const frame = pl.DataFrame([
      pl.Series("ts", Float64Array.from(lists, (_, i) => 1.7e15 + i), pl.Float64)
        .cast(pl.Int64).cast(pl.Datetime("us")),
      listSeries("bid_prices", offsets, values),
      pl.Series("sequence", lists.map((_, i) => i % 3 ? i : null), pl.Int64),
    ]).slice(3_000, 13_600);
    frame.writeParquet(`${dir}/w.parquet`, PARQUET_OPTIONS);
    await frame.lazy().sinkParquet(`${dir}/s.parquet`, PARQUET_OPTIONS).collect();
    const db = await (await DuckDBInstance.create()).connect();
    const shape = async (file: string) =>
      (await db.runAndReadAll(
        `select name, type, repetition_type, converted_type, logical_type, duckdb_type
          from parquet_schema('${file}')`,
      )).getRowObjectsJson();
    const groups = async (file: string) =>
      (await db.runAndReadAll(
        `select count(distinct row_group_id) as n from parquet_metadata('${file}')`,
      )).getRowObjectsJson();
    assert.deepEqual(await shape(`${dir}/w.parquet`), await shape(`${dir}/s.parquet`));
    assert.deepEqual(await groups(`${dir}/w.parquet`), [{ n: "1" }]);
    assert.deepEqual(await groups(`${dir}/s.parquet`), [{ n: "1" }]);
    const written = pl.readParquet(`${dir}/w.parquet`);
    assert.equal(written.height, 13_600);
    assert.ok(written.frameEqual(pl.readParquet(`${dir}/s.parquet`), true));
    assert.deepEqual(written.getColumn("bid_prices").toArray(), lists.slice(3_000, 16_600));
    db.closeSync();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
