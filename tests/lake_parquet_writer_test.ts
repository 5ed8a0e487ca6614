import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { ParquetLake } from "../lib/lake/mod.ts";
import type { MarketEvent, Trade } from "../lib/market/types.ts";
import {
  encodeParquet,
  lakeFileFields,
  type ParquetField,
  writeParquetFile,
} from "../lib/lake/parquet/mod.ts";
import { type TableName, TABLES } from "../lib/schema/tables.ts";
import {
  duckColumns,
  duckRows,
  type Plain,
  polarsColumns,
  randomTable,
} from "./support/parquet_tables.ts";

const TABLE_LIST: readonly TableName[] = [
  "trades",
  "quotes",
  "book_snapshots",
  "book_changes",
  "bars",
  "event_log",
  "actions",
];

/** Every field type, each nullable (the lake's tables leave some types non-nullable). */
const ALL_TYPES: ParquetField[] = [
  { name: "d", type: "double" },
  { name: "i", type: "int32" },
  { name: "l", type: "int64" },
  { name: "t", type: "timestamp_us" },
  { name: "s", type: "string" },
  { name: "b", type: "boolean" },
  { name: "x", type: "list_double" },
];

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pq_writer_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes `rows` random rows of `fields`, reads them back with DuckDB and Polars. */
async function roundTrip(
  dir: string,
  fields: readonly ParquetField[],
  rows: number,
  seed: number,
  options = { rowGroupSize: 64, pageSize: 200 },
): Promise<{ path: string; expected: Record<string, Plain[]> }> {
  const { columns, expected } = randomTable(fields, rows, seed, options.rowGroupSize);
  const path = `${dir}/t${seed}.parquet`;
  await writeParquetFile(path, fields, columns, options);
  assert.deepEqual(await duckColumns(path, fields), expected, "DuckDB read back");
  assert.deepEqual(polarsColumns(path, fields), expected, "Polars read back");
  return { path, expected };
}

for (const table of TABLE_LIST) {
  Deno.test(`parquet writer: ${table} random rows read back equal in DuckDB and Polars`, async () => {
    await withDir(async (dir) => {
      const fields = lakeFileFields(table);
      // 200 rows: 4 row groups of up to 64 rows, pages of about 200 bytes.
      await roundTrip(dir, fields, 200, 11);
      // One row; no row (the file has no row group).
      await roundTrip(dir, fields, 1, 12);
      await roundTrip(dir, fields, 0, 13);
      // Defaults: one row group, 1 MiB pages.
      await roundTrip(dir, fields, 500, 14, { rowGroupSize: 131_072, pageSize: 1 << 20 });
    });
  });
}

Deno.test("parquet writer: every type nullable, nulls, NaN, -0, empty lists, long runs", async () => {
  await withDir(async (dir) => {
    for (const [rows, seed] of [[300, 21], [1, 22], [0, 23], [9, 24]]) {
      await roundTrip(dir, ALL_TYPES, rows, seed);
    }
    // Long runs of nulls and of values (RLE runs), then alternating (bit-packed groups).
    const pattern = Array.from(
      { length: 1000 },
      (_, i) => i < 300 ? null : i < 700 ? i : i % 2 ? i : null,
    );
    const path = `${dir}/runs.parquet`;
    const fields: ParquetField[] = [{ name: "v", type: "int64" }, { name: "w", type: "double" }];
    await writeParquetFile(path, fields, { v: pattern, w: pattern }, { rowGroupSize: 512 });
    const expected = { v: pattern.map((v) => v === null ? null : String(v)), w: pattern };
    assert.deepEqual(await duckColumns(path, fields), expected);
    assert.deepEqual(polarsColumns(path, fields), expected);
  });
});

Deno.test("parquet writer: int64 beyond 2^53 from BigInt64Array and bigint arrays", async () => {
  await withDir(async (dir) => {
    const big = [-(2n ** 63n), 2n ** 63n - 1n, 2n ** 62n + 3n, -1n, 0n];
    const fields: ParquetField[] = [
      { name: "a", type: "int64" },
      { name: "b", type: "int64" },
      { name: "t", type: "timestamp_us" },
    ];
    const path = `${dir}/big.parquet`;
    await writeParquetFile(path, fields, {
      a: BigInt64Array.from(big),
      b: [big[0], null, 5, big[2], null],
      t: BigInt64Array.from([1n, -1n, 1_700_000_000_000_001n, 0n, 4_000_000_000_000_000n]),
    });
    const expected = {
      a: big.map(String),
      b: [String(big[0]), null, "5", String(big[2]), null],
      t: ["1", "-1", "1700000000000001", "0", "4000000000000000"],
    };
    assert.deepEqual(await duckColumns(path, fields), expected);
    assert.deepEqual(polarsColumns(path, fields), expected);
    const stats = await duckRows(
      `SELECT path_in_schema, stats_min_value, stats_max_value, stats_null_count FROM parquet_metadata('${path}')`,
    );
    assert.deepEqual(stats.slice(0, 2), [
      ["a", String(big[0]), String(big[1]), "0"],
      ["b", String(big[0]), String(big[2]), "2"],
    ]);
  });
});

/** A DuckDB statistics string as a plain value of `field`'s type. */
function parseStat(field: ParquetField, text: string | null): Plain {
  if (text === null) return null;
  switch (field.type) {
    case "double":
    case "list_double":
      return text === "inf" ? Infinity : text === "-inf" ? -Infinity : Number(text);
    case "timestamp_us": {
      const [seconds, fraction = ""] = text.split(".");
      const ms = Date.parse(`${seconds.replace(" ", "T")}Z`);
      return String(BigInt(ms) * 1000n + BigInt(fraction.padEnd(6, "0")));
    }
    case "boolean":
      return text === "true";
    default:
      return text;
  }
}

const utf8 = new TextEncoder();

/** Orders two plain values of one field type as Parquet does (strings by UTF-8 bytes). */
function compare(a: Plain, b: Plain): number {
  if (typeof a === "string" && typeof b === "string") {
    if (/^-?\d+$/.test(a) && /^-?\d+$/.test(b)) {
      return BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0;
    }
    const x = utf8.encode(a);
    const y = utf8.encode(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  }
  return Number(a) - Number(b);
}

/**
 * The statistics of a row group's values, by the Parquet rules Polars follows: nulls
 * counted (a list's null elements: none), no bounds when a double is NaN or no value is
 * present, a zero min written as -0 and a zero max as +0.
 */
function expectedStats(field: ParquetField, values: Plain[]): [Plain, Plain, string] {
  const list = field.type === "list_double";
  const present = list ? values.flatMap((v) => v as number[]) : values.filter((v) => v !== null);
  const nulls = list ? 0 : values.length - present.length;
  if (present.length === 0 || present.some((v) => Number.isNaN(v))) return [null, null, `${nulls}`];
  let min = present[0];
  let max = present[0];
  for (const v of present) {
    if (compare(v, min) < 0) min = v;
    if (compare(v, max) > 0) max = v;
  }
  if (min === 0) min = -0;
  if (max === 0) max = 0;
  // DuckDB's parquet_metadata shows an infinite bound as NULL (for Polars' files too).
  const shown = (v: Plain) => (v === Infinity || v === -Infinity ? null : v);
  return [shown(min), shown(max), `${nulls}`];
}

for (
  const [name, fields] of [
    ...TABLE_LIST.map((t) => [t, lakeFileFields(t)] as const),
    ["all types", ALL_TYPES] as const,
  ]
) {
  Deno.test(`parquet writer: ${name} min / max / null count per row group`, async () => {
    await withDir(async (dir) => {
      const { path, expected } = await roundTrip(dir, fields, 230, 31);
      const rows = await duckRows(
        `SELECT row_group_id, path_in_schema, stats_min_value, stats_max_value, stats_null_count
         FROM parquet_metadata('${path}') ORDER BY row_group_id, column_id`,
      );
      assert.equal(rows.length, 4 * fields.length);
      let withBounds = 0;
      for (const [group, path_in_schema, min, max, nulls] of rows) {
        const field = fields.find((f) => f.name === String(path_in_schema).split(",")[0])!;
        const values = expected[field.name].slice(Number(group) * 64, Number(group) * 64 + 64);
        const got: [Plain, Plain, string] = [
          parseStat(field, min as string | null),
          parseStat(field, max as string | null),
          String(nulls),
        ];
        assert.deepEqual(got, expectedStats(field, values), `${field.name}, row group ${group}`);
        if (got[0] !== null) withBounds++;
      }
      // NaN is only in the first row group: the others have bounds.
      assert.ok(withBounds >= 3 * fields.length, `${withBounds} chunks with bounds`);
    });
  });
}
