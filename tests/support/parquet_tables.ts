/**
 * Test data and independent readers for the Polars-free Parquet writer
 * (`lib/lake/parquet`): random columns of each field type with the edge cases (nulls,
 * NaN, -0, empty lists, large integers, non-ASCII strings), their expected values as plain
 * JS, and the same file read back by DuckDB and by Polars in that plain form.
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";
import pl from "nodejs-polars";
import type { ColumnData, ParquetField } from "../../lib/lake/parquet/mod.ts";

/** A plain value: number (doubles), string (integers, times in µs, text), list, null. */
export type Plain = number | string | boolean | null | number[];

/** A seeded generator of numbers in [0, 1). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 4_294_967_296;
  };
}

const STRINGS = ["", "a", "b", "ab", "é", "日本", "\uFFFD", "😀", "z", "BTC-USD", "x'y"];

/** Random data for `field`, `rows` long, and its expected plain values. */
export function randomColumn(
  field: ParquetField,
  rows: number,
  rand: () => number,
  /** Rows below this may hold NaN (so that later row groups keep their min / max). */
  nanRows: number,
): { data: ColumnData; expected: Plain[] } {
  const nullable = field.nullable !== false;
  const isNull = () => nullable && rand() < 0.15;
  const expected: Plain[] = [];
  const double = (i: number) => {
    const r = rand();
    if (i < nanRows && r < 0.05) return NaN;
    if (r < 0.1) return -0;
    if (r < 0.12) return 0;
    if (r < 0.13) return Infinity;
    return (rand() - 0.5) * 10 ** Math.floor(rand() * 8);
  };
  switch (field.type) {
    case "double": {
      const values = Array.from({ length: rows }, (_, i) => isNull() ? null : double(i));
      return { data: nullable ? values : Float64Array.from(values as number[]), expected: values };
    }
    case "int32": {
      const values = Array.from({ length: rows }, () => Math.floor((rand() - 0.5) * 2 ** 32));
      return { data: Int32Array.from(values), expected: values.map(String) };
    }
    case "int64":
    case "timestamp_us": {
      const values = new Float64Array(rows);
      for (let i = 0; i < rows; i++) {
        const r = rand();
        values[i] = isNull()
          ? NaN
          : r < 0.05
          ? (r < 0.025 ? 1 : -1) * Number.MAX_SAFE_INTEGER
          : Math.round((rand() - 0.3) * 4e15);
        expected.push(values[i] !== values[i] ? null : String(values[i]));
      }
      if (field.type === "timestamp_us") {
        // DuckDB's TIMESTAMP range is smaller than int64: keep times within years 1843..2097.
        for (let i = 0; i < rows; i++) {
          if (Math.abs(values[i]) > 4e15) values[i] = Math.sign(values[i]) * 4e15;
          if (expected[i] !== null) expected[i] = String(values[i]);
        }
      }
      return { data: values, expected };
    }
    case "boolean": {
      const values = Array.from({ length: rows }, () => isNull() ? null : rand() < 0.5);
      return {
        data: nullable ? values : Uint8Array.from(values.map((v) => (v ? 1 : 0))),
        expected: values,
      };
    }
    case "string": {
      const values = Array.from(
        { length: rows },
        () =>
          isNull() ? null : STRINGS[Math.floor(rand() * STRINGS.length)] +
            (rand() < 0.3 ? String(Math.floor(rand() * 100)) : ""),
      );
      return { data: values, expected: values };
    }
    case "list_double": {
      const offsets = new Int32Array(rows + 1);
      const values: number[] = [];
      for (let i = 0; i < rows; i++) {
        const length = rand() < 0.2 ? 0 : Math.floor(rand() * 7);
        const list = Array.from({ length }, () => double(i));
        values.push(...list);
        offsets[i + 1] = values.length;
        expected.push(list);
      }
      return { data: { offsets, values: Float64Array.from(values) }, expected };
    }
  }
}

/** Random data for every field and the expected plain values, by field name. */
export function randomTable(
  fields: readonly ParquetField[],
  rows: number,
  seed: number,
  nanRows = rows,
): { columns: Record<string, ColumnData>; expected: Record<string, Plain[]> } {
  const rand = seeded(seed);
  const columns: Record<string, ColumnData> = {};
  const expected: Record<string, Plain[]> = {};
  for (const field of fields) {
    const column = randomColumn(field, rows, rand, nanRows);
    columns[field.name] = column.data;
    expected[field.name] = column.expected;
  }
  return { columns, expected };
}

/** SQL that reads `field` as its plain value. */
function duckSelect(field: ParquetField): string {
  const name = `"${field.name}"`;
  if (field.type === "timestamp_us") return `CAST(epoch_us(${name}) AS VARCHAR)`;
  if (field.type === "int64" || field.type === "int32") return `CAST(${name} AS VARCHAR)`;
  return name;
}

/** Runs `sql` on a throwaway DuckDB; rows as arrays (BIGINT as string). */
export async function duckRows(sql: string): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    const reader = await con.runAndReadAll(sql);
    return reader.getRowsJS().map((r) => r.map((v) => (typeof v === "bigint" ? String(v) : v)));
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** Every column of `path` read by DuckDB, as plain values. */
export async function duckColumns(
  path: string,
  fields: readonly ParquetField[],
): Promise<Record<string, Plain[]>> {
  const rows = await duckRows(
    `SELECT ${fields.map(duckSelect).join(", ")} FROM read_parquet('${path}')`,
  );
  const out: Record<string, Plain[]> = {};
  fields.forEach((f, c) => {
    out[f.name] = rows.map((r) => {
      const v = r[c];
      return Array.isArray(v) ? v.map(Number) : v as Plain;
    });
  });
  return out;
}

/** Every column of `path` read by Polars, as plain values. */
export function polarsColumns(
  path: string,
  fields: readonly ParquetField[],
): Record<string, Plain[]> {
  const frame = pl.readParquet(path).select(...fields.map((f) => {
    const col = pl.col(f.name);
    if (f.type === "timestamp_us") return col.cast(pl.Int64).cast(pl.Utf8);
    if (f.type === "int64" || f.type === "int32") return col.cast(pl.Utf8);
    return col;
  }));
  const out: Record<string, Plain[]> = {};
  for (const f of fields) {
    out[f.name] = [...frame.getColumn(f.name).toArray()].map((v) =>
      v === undefined
        ? null
        : typeof v === "bigint"
        ? String(v)
        : (v !== null && typeof v === "object")
        ? Array.from(v as number[])
        : v
    );
  }
  return out;
}
