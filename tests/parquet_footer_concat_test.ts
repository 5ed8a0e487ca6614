/**
 * The Parquet footer reader and the row-group concatenation (`lib/lake/parquet/footer.ts`,
 * `concat.ts`): footers of files written by our writer and by Polars against what the test
 * computes from the values it wrote; concatenated files read by DuckDB and Polars against
 * the inputs read by DuckDB, for every lake table.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { lakeFileFields, type ParquetField, writeParquetFile } from "../lib/lake/parquet/mod.ts";
import {
  type FooterRowGroup,
  readParquetFooter,
  statisticValue,
} from "../lib/lake/parquet/footer.ts";
import { concatParquetFiles } from "../lib/lake/parquet/concat.ts";
import { TABLE_NAMES } from "../lib/schema/tables.ts";
import { duckColumns, type Plain, polarsColumns, randomTable } from "./support/parquet_tables.ts";
import { withTempDir } from "./support/temp_dir.ts";

const TABLE_LIST = TABLE_NAMES;

/** The physical type (`Type` enum) of a field's leaf column. */
const PHYSICAL: Record<ParquetField["type"], number> = {
  boolean: 0,
  int32: 1,
  int64: 2,
  timestamp_us: 2,
  double: 5,
  list_double: 5,
  string: 6,
};

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("pq_concat_test_", fn);

const utf8 = new TextEncoder();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The min / max the test computes of a scalar column's values, as `statisticValue` gives. */
function expectedBounds(
  field: ParquetField,
  values: readonly Plain[],
): { nulls: number; bounds?: [unknown, unknown] } {
  const present = values.filter((v) => v !== null);
  const nulls = values.length - present.length;
  if (present.length === 0) return { nulls };
  switch (field.type) {
    case "int64":
    case "timestamp_us": {
      const big = present.map((v) => BigInt(v as string));
      return {
        nulls,
        bounds: [big.reduce((a, b) => a < b ? a : b), big.reduce((a, b) => a > b ? a : b)],
      };
    }
    case "int32": {
      const n = present.map((v) => Number(v));
      return { nulls, bounds: [Math.min(...n), Math.max(...n)] };
    }
    case "double": {
      const n = present as number[];
      if (n.some((v) => Number.isNaN(v))) return { nulls };
      return { nulls, bounds: [Math.min(...n), Math.max(...n)] };
    }
    case "string": {
      const b = (present as string[]).map((s) => utf8.encode(s)).sort(compareBytes);
      return { nulls, bounds: [b[0], b[b.length - 1]] };
    }
    default:
      return { nulls };
  }
}

/** Checks each row group's statistics of the scalar columns against the written values. */
function checkStatistics(
  fields: readonly ParquetField[],
  groups: readonly FooterRowGroup[],
  expected: Record<string, Plain[]>,
  label: string,
): void {
  let from = 0;
  for (const [g, group] of groups.entries()) {
    const to = from + group.numRows;
    for (const field of fields) {
      if (field.type === "list_double" || field.type === "boolean") continue;
      const chunk = group.columns.find((c) => c.path[0] === field.name)!;
      const want = expectedBounds(field, expected[field.name].slice(from, to));
      const s = chunk.statistics!;
      const where = `${label} group ${g} ${field.name}`;
      assert.equal(s.nullCount, want.nulls, `${where} null count`);
      if (want.bounds === undefined || s.minValue === undefined) {
        // Only doubles with a NaN go without bounds (as Polars writes them).
        assert.ok(want.bounds === undefined, `${where}: bounds missing`);
        continue;
      }
      const min = statisticValue(chunk.type, s.minValue);
      const max = statisticValue(chunk.type, s.maxValue!);
      // == on numbers: -0 and 0 are one bound.
      if (typeof min === "number") {
        assert.ok(min == want.bounds[0] && max == want.bounds[1], `${where} ${min}..${max}`);
      } else assert.deepEqual([min, max], want.bounds, `${where} bounds`);
    }
    from = to;
  }
  assert.equal(from, expected[fields[0].name].length, `${label}: rows of the row groups`);
}

for (const table of TABLE_LIST) {
  Deno.test(`parquet footer: ${table} written by our writer and by Polars`, async () => {
    await withDir(async (dir) => {
      const fields = lakeFileFields(table);
      const { columns, expected } = randomTable(fields, 150, 31, 64);
      const ours = `${dir}/ours.parquet`;
      await writeParquetFile(ours, fields, columns, { rowGroupSize: 64, pageSize: 300 });
      const polars = `${dir}/polars.parquet`;
      await pl.readParquet(ours).lazy()
        .sinkParquet(polars, { compression: "zstd", rowGroupSize: 50 }).collect();
      for (const [label, path] of [["ours", ours], ["polars", polars]]) {
        const footer = await readParquetFooter(path);
        assert.equal(footer.numRows, 150, label);
        assert.equal(footer.rowGroups.reduce((n, g) => n + g.numRows, 0), 150, label);
        if (label === "ours") {
          assert.deepEqual(footer.rowGroups.map((g) => g.numRows), [64, 64, 22]);
        }
        const leaves = footer.rowGroups[0].columns;
        assert.deepEqual(leaves.map((c) => c.path[0]), fields.map((f) => f.name), label);
        assert.deepEqual(leaves.map((c) => c.type), fields.map((f) => PHYSICAL[f.type]), label);
        for (const [i, f] of fields.entries()) {
          const path = f.type === "list_double" ? [f.name, "list", "element"] : [f.name];
          assert.deepEqual(leaves[i].path, path, label);
        }
        checkStatistics(fields, footer.rowGroups, expected, `${table} ${label}`);
      }
    });
  });
}

/** The inputs' columns, read by DuckDB, one after the other. */
async function concatenated(
  paths: readonly string[],
  fields: readonly ParquetField[],
): Promise<Record<string, Plain[]>> {
  const out: Record<string, Plain[]> = Object.fromEntries(fields.map((f) => [f.name, []]));
  for (const path of paths) {
    const columns = await duckColumns(path, fields);
    for (const f of fields) out[f.name].push(...columns[f.name]);
  }
  return out;
}

for (const table of TABLE_LIST) {
  Deno.test(`parquet concat: ${table} files read back in DuckDB and Polars as the inputs in order`, async () => {
    await withDir(async (dir) => {
      const fields = lakeFileFields(table);
      const ours: string[] = [];
      for (const [i, rows] of [120, 1, 0, 77].entries()) {
        const { columns } = randomTable(fields, rows, 40 + i, 30);
        ours.push(`${dir}/ours${i}.parquet`);
        await writeParquetFile(ours[i], fields, columns, { rowGroupSize: 50, pageSize: 200 });
      }
      // Polars writes dictionary pages (the chunk starts before its first data page).
      const polars = [`${dir}/polars0.parquet`, `${dir}/polars1.parquet`];
      await pl.readParquet(ours[0]).lazy()
        .sinkParquet(polars[0], { compression: "zstd", rowGroupSize: 40 }).collect();
      await pl.readParquet(ours[3]).lazy()
        .sinkParquet(polars[1], { compression: "zstd", rowGroupSize: 1000 }).collect();
      const cases: [string, string[]][] = [
        ["ours", [ours[3], ours[0], ours[1], ours[2], ours[0]]],
        ["polars", [polars[1], polars[0], polars[1]]],
        ["mixed", [ours[0], polars[1], ours[3], polars[0]]],
      ];
      for (const [label, inputs] of cases) {
        const output = `${dir}/out-${label}.parquet`;
        const result = await concatParquetFiles(inputs, output);
        const want = await concatenated(inputs, fields);
        assert.equal(result.rows, want[fields[0].name].length, label);
        assert.deepEqual(await duckColumns(output, fields), want, `${table} ${label}: DuckDB`);
        assert.deepEqual(polarsColumns(output, fields), want, `${table} ${label}: Polars`);
        const footer = await readParquetFooter(output);
        assert.equal(footer.numRows, want[fields[0].name].length, label);
      }
    });
  });
}

Deno.test("parquet concat: files of another schema are refused", async () => {
  await withDir(async (dir) => {
    const a = lakeFileFields("quotes");
    const b = lakeFileFields("trades");
    await writeParquetFile(`${dir}/a.parquet`, a, randomTable(a, 5, 1).columns);
    await writeParquetFile(`${dir}/b.parquet`, b, randomTable(b, 5, 2).columns);
    await assert.rejects(
      concatParquetFiles([`${dir}/a.parquet`, `${dir}/b.parquet`], `${dir}/c.parquet`),
      TypeError,
    );
  });
});
