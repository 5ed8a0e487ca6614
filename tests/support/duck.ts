/**
 * DuckDB as the tests' independent engine.
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";

/** Runs `sql` on a throwaway in-memory DuckDB; rows as objects, bigints as numbers. */
export async function duck(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    const reader = await con.runAndReadAll(sql);
    return reader.getRowObjectsJS().map((r) =>
      Object.fromEntries(
        Object.entries(r).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v]),
      )
    );
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}
