/**
 * A one-frame summary of a frame: per column its type, counts of values, nulls and NaNs, and
 * for numbers and times the minimum, maximum and mean.
 * @module
 */
import pl from "nodejs-polars";
import { dtypeName, formatValue } from "./frame_html.ts";

const NUMERIC = /^(Float|Int|UInt)/;

/**
 * One row per column of `frame`: `column`, `dtype`, `count` (non-null values), `nulls`,
 * `nans` (floats), and as text `min`, `max`, `mean` (numbers; min and max also for times,
 * shown to the microsecond, and text). Show it with `show(summary(frame))`.
 *
 * @example
 * ```ts
 * import pl from "nodejs-polars";
 * import { summary } from "./summary.ts";
 * import assert from "node:assert/strict";
 * const s = summary(pl.DataFrame({ x: [1, 2, NaN, null] }));
 * assert.deepEqual(s.row(0), ["x", "Float64", 3, 1, 1, "1", "2", "NaN"]);
 * ```
 */
export function summary(frame: pl.DataFrame): pl.DataFrame {
  const rows = frame.columns.map((name) => {
    const s = frame.getColumn(name);
    const dtype = dtypeName(s.dtype);
    const nulls = s.nullCount();
    let nans = 0;
    let min = "", max = "", mean = "";
    if (NUMERIC.test(dtype)) {
      let lo = Infinity, hi = -Infinity, sum = 0, n = 0;
      for (const raw of s.toArray() as (number | bigint | null)[]) {
        if (raw === null || raw === undefined) continue;
        const v = Number(raw);
        n++;
        sum += v;
        if (v !== v) nans++;
        else {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
      min = lo <= hi ? formatValue(lo) : "";
      max = lo <= hi ? formatValue(hi) : "";
      mean = n > 0 ? formatValue(sum / n) : "";
    } else if (dtype.startsWith("Datetime")) {
      const text = s.cast(pl.Datetime("us")).dt.strftime("%Y-%m-%d %H:%M:%S%.6f").dropNulls()
        .sort();
      min = text.len() > 0 ? String(text.get(0)) : "";
      max = text.len() > 0 ? String(text.get(text.len() - 1)) : "";
    } else if (dtype === "String" || dtype === "Utf8") {
      const text = s.dropNulls().sort();
      min = text.len() > 0 ? String(text.get(0)) : "";
      max = text.len() > 0 ? String(text.get(text.len() - 1)) : "";
    }
    return { column: name, dtype, count: s.len() - nulls, nulls, nans, min, max, mean };
  });
  return pl.DataFrame({
    column: rows.map((r) => r.column),
    dtype: rows.map((r) => r.dtype),
    count: pl.Series("count", rows.map((r) => r.count), pl.Int64),
    nulls: pl.Series("nulls", rows.map((r) => r.nulls), pl.Int64),
    nans: pl.Series("nans", rows.map((r) => r.nans), pl.Int64),
    min: rows.map((r) => r.min),
    max: rows.map((r) => r.max),
    mean: rows.map((r) => r.mean),
  });
}
