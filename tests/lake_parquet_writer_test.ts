import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { ParquetLake } from "../lib/lake/mod.ts";
import { PARQUET_OPTIONS } from "../lib/lake/_files.ts";
import { bookColumnsFrame } from "../lib/lake/_event_frame.ts";
import { polarsFrame } from "../lib/lake/_polars_table.ts";
import { lakeFileColumns } from "../lib/lake/_js_encoder.ts";
import { BookColumns } from "../lib/lake/book_columns.ts";
import type { MarketEvent, Trade } from "../lib/market/types.ts";
import {
  encodeParquet,
  lakeFileFields,
  type ParquetField,
  writeParquetFile,
} from "../lib/lake/parquet/mod.ts";
import { TABLE_NAMES, type TableName, TABLES } from "../lib/schema/tables.ts";
import {
  duckColumns,
  duckRows,
  type Plain,
  polarsColumns,
  randomTable,
} from "./support/parquet_tables.ts";
import { withTempDir } from "./support/temp_dir.ts";

const TABLE_LIST = TABLE_NAMES;

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

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("pq_writer_test_", fn);

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

const T0 = Date.UTC(2024, 2, 9) * 1000;

/** One valid row of `table` written the Polars way (the lake; actions: a Polars frame). */
async function polarsFile(table: TableName, dir: string): Promise<string> {
  if (table === "actions") {
    const path = `${dir}/polars_actions.parquet`;
    const text = (name: string) => pl.Series(name, ["x"], pl.Utf8);
    pl.DataFrame([
      pl.Series("seq", [1], pl.Int64),
      pl.Series("ts", [T0], pl.Float64).cast(pl.Int64).cast(pl.Datetime("us")),
      ...["action", "payload", "prev", "hash"].map(text),
    ]).writeParquet(path, PARQUET_OPTIONS);
    return path;
  }
  const lake = await ParquetLake.open({ root: `${dir}/lake` });
  const base = { exchange: "x", symbol: "A-B", ts: T0, recvTs: T0 + 1 };
  if (table === "trades") {
    const trade: Trade = { kind: "trade", ...base, id: "1", price: 1, size: 2, side: "buy" };
    await lake.writeTrades([trade]);
  } else if (table === "bars") {
    await lake.writeBars([{
      kind: "bar",
      ...base,
      interval: 60_000_000,
      open: 1,
      high: 2,
      low: 1,
      close: 2,
      volume: 3,
      vwap: 1.5,
      trades: 4,
    }]);
  } else {
    const events: Record<string, MarketEvent> = {
      quotes: { kind: "quote", ...base, bidPrice: 1, bidSize: 2, askPrice: 3, askSize: 4 },
      book_snapshots: { kind: "book_snapshot", ...base, bids: [[1, 2]], asks: [[3, 4]] },
      book_changes: { kind: "book_change", ...base, bids: [[1, 2]], asks: [] },
      event_log: { kind: "status", ...base, status: "connected", reason: "r" },
    };
    await lake.writeEvents([events[table]]);
  }
  await lake.close();
  const files: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else if (e.name.endsWith(".parquet")) files.push(`${d}/${e.name}`);
    }
  };
  await walk(`${dir}/lake/${table}`);
  assert.equal(files.length, 1, `${table}: one Polars file`);
  return files[0];
}

const SCHEMA_SQL = (path: string) =>
  `SELECT name, type, repetition_type, num_children, converted_type, logical_type
   FROM parquet_schema('${path}')`;

for (const table of TABLE_LIST) {
  Deno.test(`parquet writer: ${table} file has the Polars path's schema and reads with it as one table`, async () => {
    await withDir(async (dir) => {
      const theirs = await polarsFile(table, dir);
      const fields = lakeFileFields(table);
      assert.deepEqual(
        fields.map((f) => f.name),
        TABLES[table].columns.filter((c) => c.lake === "file").map((c) => c.name),
      );
      await Deno.mkdir(`${dir}/both`);
      const { columns, expected } = randomTable(fields, 150, 41, 0);
      const ours = `${dir}/both/ours.parquet`;
      await writeParquetFile(ours, fields, columns, { rowGroupSize: 50 });
      await Deno.copyFile(theirs, `${dir}/both/theirs.parquet`);
      assert.deepEqual(await duckRows(SCHEMA_SQL(ours)), await duckRows(SCHEMA_SQL(theirs)));
      const describe = (from: string) =>
        duckRows(`SELECT column_name, column_type, "null" FROM (DESCRIBE SELECT * FROM ${from})`);
      const theirTypes = await describe(`read_parquet('${theirs}', hive_partitioning = false)`);
      assert.deepEqual(await describe(`read_parquet('${ours}')`), theirTypes);
      // Both files as one table, as the lake reads them.
      const both = `read_parquet(['${ours}', '${dir}/both/theirs.parquet'], union_by_name = true)`;
      assert.deepEqual(await describe(both), theirTypes);
      assert.deepEqual(await duckRows(`SELECT count(*) FROM ${both}`), [["151"]]);
      assert.equal(String(pl.readParquet(ours).schema), String(pl.readParquet(theirs).schema));
      const scanned = await pl.scanParquet(`${dir}/both/*.parquet`).collect();
      assert.equal(scanned.height, 151);
      // Row groups pruned by our statistics still give the right answer.
      const ts = expected.ts.filter((v) => v !== null).map(Number).sort((a, b) => a - b);
      const cut = ts[Math.floor(ts.length / 2)];
      const counted = await duckRows(
        `SELECT count(*) FROM read_parquet('${ours}') WHERE ts >= make_timestamp(${cut}::BIGINT)`,
      );
      assert.deepEqual(counted, [[String(ts.filter((v) => v >= cut).length)]]);
    });
  });
}

Deno.test("parquet writer: bad input is refused with TypeError or RangeError", () => {
  const f: ParquetField[] = [{ name: "a", type: "int64", nullable: false }];
  assert.throws(() => encodeParquet(f, {}), TypeError);
  assert.throws(() => encodeParquet(f, { a: [1, null] }), TypeError);
  assert.throws(() => encodeParquet(f, { a: new Float64Array([1.5]) }), RangeError);
  assert.throws(() => encodeParquet(f, { a: ["1"] }), TypeError);
  assert.throws(
    () => encodeParquet([...f, { name: "b", type: "double" }], { a: [1], b: [1, 2] }),
    RangeError,
  );
  assert.throws(
    () =>
      encodeParquet([{ name: "x", type: "list_double" }], {
        x: { offsets: new Int32Array([0, 3]), values: new Float64Array(2) },
      }),
    RangeError,
  );
  assert.throws(() => encodeParquet(f, { a: [1] }, { rowGroupSize: 0 }), RangeError);
});

Deno.test("parquet writer: a zero bound is -0.0 as min and +0.0 as max, as Polars writes it", async () => {
  await withDir(async (dir) => {
    const fields: ParquetField[] = [{ name: "d", type: "double" }, {
      name: "x",
      type: "list_double",
    }];
    const path = `${dir}/zero.parquet`;
    await writeParquetFile(path, fields, {
      d: new Float64Array([0, 1.5, 0, -2, -0, 0]),
      x: {
        offsets: new Int32Array([0, 2, 2, 3, 4, 5, 6]),
        values: new Float64Array([0, 2, -0, -0, -3, 0]),
      },
    }, { rowGroupSize: 3 });
    // Polars writes one row group here: each row group's rows as a file of its own.
    const polars = [[[0, 1.5, 0], [[0, 2], [], [-0]]], [[-2, -0, 0], [[-0], [-3], [0]]]].map(
      ([d, x], i) => {
        const file = `${dir}/zero_polars${i}.parquet`;
        pl.DataFrame([pl.Series("d", d, pl.Float64), pl.Series("x", x, pl.List(pl.Float64))])
          .writeParquet(file, PARQUET_OPTIONS);
        return file;
      },
    );
    const stats = (p: string) =>
      duckRows(
        `SELECT row_group_id, path_in_schema, stats_min_value, stats_max_value
         FROM parquet_metadata('${p}') ORDER BY row_group_id, column_id`,
      );
    const expected = [
      ["0", "d", "-0.0", "1.5"],
      ["0", "x, list, element", "-0.0", "2.0"],
      ["1", "d", "-2.0", "0.0"],
      ["1", "x, list, element", "-3.0", "0.0"],
    ];
    assert.deepEqual(await stats(path), expected);
    assert.deepEqual(await stats(polars[0]), expected.slice(0, 2));
    assert.deepEqual(
      await stats(polars[1]),
      expected.slice(2).map(([_, ...rest]) => ["0", ...rest]),
    );
  });
});

Deno.test("parquet writer: BookColumns files hold the rows the lake's Polars frame holds", async () => {
  await withDir(async (dir) => {
    for (const kind of ["book_snapshots", "book_changes"] as const) {
      const book = new BookColumns(kind, 3);
      const base = { exchange: "x", symbol: "A-B" };
      for (let i = 0; i < 40; i++) {
        const levels = Array.from({ length: i % 5 }, (_, k) =>
          [100 - k - i / 8, k + 0.5] as [
            number,
            number,
          ]);
        const common = { ...base, ts: T0 + i, recvTs: T0 + i + 1, bids: levels, asks: [] };
        const sequence = i % 3 === 0 ? undefined : 2 ** 40 + i;
        book.append(
          kind === "book_snapshots"
            ? { kind: "book_snapshot", ...common, sequence, checksum: i % 4 ? -i : undefined }
            : { kind: "book_change", ...common, sequence, firstSequence: i % 2 ? i : undefined },
        );
      }
      const ours = `${dir}/${kind}.parquet`;
      const table = lakeFileColumns(bookColumnsFrame(book), kind);
      await writeParquetFile(ours, table.fields, table.columns, { rowGroupSize: 16 });
      const theirs = `${dir}/${kind}_polars.parquet`;
      polarsFrame(bookColumnsFrame(book)).writeParquet(
        theirs,
        PARQUET_OPTIONS,
      );
      const all = (p: string) => duckRows(`SELECT * FROM read_parquet('${p}')`);
      const rows = await all(theirs);
      assert.equal(rows.length, 40);
      assert.deepEqual(await all(ours), rows);
      assert.equal(
        String(pl.readParquet(ours).schema),
        String(pl.readParquet(theirs).schema),
      );
      assert.ok(pl.readParquet(ours).frameEqual(pl.readParquet(theirs), true));
    }
  });
});
