/**
 * DuckDB helpers for the lake's readers: SQL quoting and reading numeric results as typed
 * arrays without row objects.
 * @module
 */
import type { DuckDBResult, DuckDBValue, DuckDBVector } from "@duckdb/node-api";

/** A SQL string literal (single quotes doubled). */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** A SQL list literal of string literals, for `read_parquet([...])`. */
export function sqlStringList(items: readonly string[]): string {
  return `[${items.map(sqlString).join(", ")}]`;
}

/**
 * Reads every column of a result whose columns are all numeric (DOUBLE, BIGINT, ...) into
 * `Float64Array`s, chunk by chunk, without building row objects. NULL reads as NaN.
 * Cast in SQL (`::DOUBLE`) to keep the per-value conversion cheap.
 */
export async function readNumericColumns(result: DuckDBResult): Promise<Float64Array[]> {
  const columnCount = result.columnCount;
  let parts: Float64Array[][] = Array.from({ length: columnCount }, () => []);
  let total = 0;
  for (;;) {
    const chunk = await result.fetchChunk();
    if (chunk === null || chunk.rowCount === 0) break;
    const n = chunk.rowCount;
    for (let c = 0; c < columnCount; c++) {
      const vector = chunk.getColumnVector(c) as DuckDBVector<DuckDBValue>;
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const v = vector.getItem(i);
        out[i] = v === null ? NaN : Number(v);
      }
      parts[c].push(out);
    }
    total += n;
  }
  const columns = parts.map((chunks) => {
    if (chunks.length === 1) return chunks[0];
    const out = new Float64Array(total);
    let at = 0;
    for (const part of chunks) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  });
  parts = [];
  return columns;
}
