/**
 * Windows shared by the per-window estimators: a window key per row (`every` buckets, or
 * one window per series when `every` is omitted) and the window's start in the output.
 * @module
 */
import pl from "nodejs-polars";
import {
  bucketStart,
  type Duration,
  durationMicros,
  fromMicros,
  micros,
  overGroups,
} from "./_frame.ts";

/** The window key of each row as Int64 microseconds (`__b`). */
export function windowKey(
  every: Duration | undefined,
  time: string,
  dtype: pl.DataType,
  by: readonly string[],
  fn: string,
): pl.Expr {
  const t = micros(time, dtype);
  if (every === undefined) return overGroups(t.first(), by).alias("__b");
  return bucketStart(t, durationMicros(every, "every", fn)).alias("__b");
}

/** The window start column (`ts`) in the input's time type. */
export function windowStart(dtype: pl.DataType): pl.Expr {
  return fromMicros(pl.col("__b"), dtype).alias("ts");
}
