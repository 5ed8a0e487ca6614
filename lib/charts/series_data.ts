/**
 * Turns rows into the sorted, de-duplicated columns a chart series needs, counting and
 * reporting rows that cannot be drawn.
 * @module
 */
import { microsToChartTime, timeToMicros, toNumber } from "./_private.ts";

/** Columns extracted from rows, sorted by time with one point per time. */
export interface ExtractedColumns {
  /** Times, seconds since the epoch, strictly ascending. */
  readonly time: number[];
  /** The requested value columns, aligned with `time`. */
  readonly values: Record<string, number[]>;
  /** Rows skipped because their time or a value was missing or not finite. */
  readonly invalid: number;
  /** Rows replaced by a later row with the same time. */
  readonly duplicates: number;
  /** First and last time in microseconds (NaN when empty). */
  readonly first: number;
  readonly last: number;
}

/**
 * Reads `timeField` and `fields` from every row. Rows with an invalid time or value are
 * skipped (counted); rows are sorted by time if needed; of rows with the same time the
 * last one wins (counted). `optional` fields may be missing (then 0).
 */
export function extractColumns(
  rows: readonly unknown[],
  timeField: string,
  fields: readonly string[],
  optional: readonly string[] = [],
): ExtractedColumns {
  const all = [...fields, ...optional];
  const points: { t: number; v: number[] }[] = [];
  let invalid = 0;
  let sorted = true;
  for (const row of rows) {
    if (row === null || typeof row !== "object") {
      invalid++;
      continue;
    }
    const r = row as Record<string, unknown>;
    const micros = timeToMicros(r[timeField]);
    if (!Number.isFinite(micros)) {
      invalid++;
      continue;
    }
    const v = new Array<number>(all.length);
    let ok = true;
    for (let i = 0; i < all.length; i++) {
      const raw = r[all[i]];
      const n = i >= fields.length && raw === undefined ? 0 : toNumber(raw);
      if (!Number.isFinite(n)) {
        ok = false;
        break;
      }
      v[i] = n;
    }
    if (!ok) {
      invalid++;
      continue;
    }
    if (points.length > 0 && micros < points[points.length - 1].t) sorted = false;
    points.push({ t: micros, v });
  }
  if (!sorted) points.sort((a, b) => a.t - b.t);
  const time: number[] = [];
  const values: Record<string, number[]> = {};
  for (const name of all) values[name] = [];
  let duplicates = 0;
  let previous = NaN;
  for (const p of points) {
    if (p.t === previous) {
      duplicates++;
      for (let i = 0; i < all.length; i++) values[all[i]][time.length - 1] = p.v[i];
      continue;
    }
    previous = p.t;
    time.push(microsToChartTime(p.t));
    for (let i = 0; i < all.length; i++) values[all[i]].push(p.v[i]);
  }
  return {
    time,
    values,
    invalid,
    duplicates,
    first: points.length ? points[0].t : NaN,
    last: points.length ? points[points.length - 1].t : NaN,
  };
}

/** Logs once per call what was skipped, so bad input is visible but never fatal. */
export function reportSkipped(fn: string, name: string, columns: ExtractedColumns): void {
  if (columns.invalid === 0 && columns.duplicates === 0) return;
  const parts = [];
  if (columns.invalid) parts.push(`${columns.invalid} rows with a missing or invalid time/value`);
  if (columns.duplicates) parts.push(`${columns.duplicates} rows repeating an earlier time`);
  console.warn(`${fn}(${name}): skipped ${parts.join(" and ")}`);
}
