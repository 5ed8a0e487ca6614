/**
 * Shared argument and column checks of the research functions, and the conversions between
 * a frame's time column and microseconds.
 *
 * Conventions every research function follows (and documents once here):
 * - a missing column, or a column of the wrong type, is a `TypeError` naming the function
 *   and the column;
 * - a time column with a missing value, or out of time order, is a `RangeError` naming the
 *   column and the first offending row (sort the frame by time first);
 * - a missing value (null) in a numeric input column is read as NaN, and NaN propagates:
 *   every result computed from it is NaN. Nulls in results mean "no value by construction"
 *   (no previous trade, a horizon past the end of the data, an empty window).
 * @module
 */
import pl from "nodejs-polars";
import { parseDuration } from "../market/time.ts";

/** A duration in microseconds, or text such as `"500ms"`, `"5m"`, `"1h"`. */
export type Duration = number | string;

const NUMERIC = new Set([
  "Float32",
  "Float64",
  "Int8",
  "Int16",
  "Int32",
  "Int64",
  "UInt8",
  "UInt16",
  "UInt32",
  "UInt64",
]);
const TEXT = new Set(["Utf8", "String", "Categorical"]);

/** A frame, or a lazy query (such as `pl.scanParquet(...)`) where a function accepts one. */
export type Source = pl.DataFrame | pl.LazyDataFrame;

const SCHEMAS = new WeakMap<pl.LazyDataFrame, pl.DataFrame>();

/** A zero-row frame with the source's columns and types (a lazy query is planned once). */
function schemaFrame(source: Source): pl.DataFrame {
  if (pl.DataFrame.isDataFrame(source)) return source;
  let empty = SCHEMAS.get(source);
  if (!empty) {
    empty = source.limit(0).collectSync();
    SCHEMAS.set(source, empty);
  }
  return empty;
}

function lazyOf(source: Source): pl.LazyDataFrame {
  return pl.DataFrame.isDataFrame(source) ? source.lazy() : source;
}

/** The value of `name` at `row` (a lazy source is queried for that one value). */
export function valueAt(source: Source, name: string, row: number): unknown {
  if (pl.DataFrame.isDataFrame(source)) return source.getColumn(name).get(row);
  return source.select(pl.col(name)).slice(row, 1).collectSync().getColumn(name).get(0);
}

/** Throws a `TypeError` unless `frame` is a Polars DataFrame or LazyDataFrame. */
export function checkSource(frame: unknown, fn: string): asserts frame is Source {
  if (!pl.DataFrame.isDataFrame(frame) && !pl.LazyDataFrame.isLazyDataFrame(frame)) {
    throw new TypeError(`${fn}: expected a Polars DataFrame or LazyDataFrame, got ${typeof frame}`);
  }
}

/** Throws a `TypeError` unless `frame` is a Polars DataFrame. */
export function checkFrame(frame: unknown, fn: string): asserts frame is pl.DataFrame {
  if (!pl.DataFrame.isDataFrame(frame)) {
    throw new TypeError(`${fn}: expected a Polars DataFrame, got ${typeof frame}`);
  }
}

/** What a column must hold. */
export type ColumnKind = "number" | "time" | "text";

/**
 * The column's type, after checking it exists and holds `kind`:
 * numbers (any integer or float), time (Datetime, or integer/float microseconds) or text.
 */
export function requireColumn(
  source: Source,
  name: string,
  kind: ColumnKind,
  fn: string,
): pl.DataType {
  const frame = schemaFrame(source);
  if (typeof name !== "string" || name === "") {
    throw new TypeError(`${fn}: a column name must be non-empty text, got ${String(name)}`);
  }
  const dtype = frame.schema[name];
  if (dtype === undefined) {
    throw new TypeError(
      `${fn}: column "${name}" is missing (columns: ${frame.columns.join(", ") || "none"})`,
    );
  }
  const variant = dtype.variant;
  const ok = kind === "number"
    ? NUMERIC.has(variant)
    : kind === "time"
    ? NUMERIC.has(variant) || variant === "Datetime"
    : TEXT.has(variant);
  if (!ok) {
    const wanted = kind === "number"
      ? "numbers"
      : kind === "time"
      ? "times (Datetime or microseconds)"
      : "text";
    throw new TypeError(`${fn}: column "${name}" must hold ${wanted}, not ${variant}`);
  }
  return dtype;
}

/** A numeric column as Float64 with nulls read as NaN. */
export function num(name: string): pl.Expr {
  return pl.col(name).cast(pl.Float64).fillNull(Number.NaN);
}

/** A time column as Int64 microseconds since the epoch. */
export function micros(name: string, dtype: pl.DataType): pl.Expr {
  const col = pl.col(name);
  return dtype.variant === "Datetime"
    ? col.cast(pl.Datetime("us")).cast(pl.Int64)
    : col.cast(pl.Int64);
}

/** Int64 microseconds back to the kind of the input time column. */
export function fromMicros(expr: pl.Expr, dtype: pl.DataType): pl.Expr {
  if (dtype.variant === "Datetime") return expr.cast(pl.Datetime("us"));
  if (dtype.variant.startsWith("Float")) return expr.cast(pl.Float64);
  return expr.cast(pl.Int64);
}

/** An Int64 literal (a plain number literal would make integer arithmetic float). */
export function int(value: number): pl.Expr {
  return pl.lit(value).cast(pl.Int64);
}

/**
 * A data check that can run inside another query: `bad` is true on offending rows, and
 * `raise` (called only when some row is bad) finds the first one and throws.
 */
export interface DeferredCheck {
  readonly bad: pl.Expr;
  readonly raise: () => never;
}

/**
 * The checks of a time column (no missing value, never decreasing within `by`), to run
 * with {@linkcode runChecks} or inside a caller's own query. Also checks it exists and
 * holds times, and returns its type.
 */
export function timeChecks(
  frame: Source,
  name: string,
  fn: string,
  by?: readonly string[],
): { dtype: pl.DataType; checks: DeferredCheck[] } {
  const dtype = requireColumn(frame, name, "time", fn);
  const raw = pl.col(name);
  const missing = dtype.variant.startsWith("Float") ? raw.isNull().or(raw.isNan()) : raw.isNull();
  let step = micros(name, dtype).diff(1, "ignore");
  if (by && by.length > 0) step = step.over(by[0], ...by.slice(1));
  const back = step.lt(0);
  return {
    dtype,
    checks: [
      {
        bad: missing,
        raise: () => {
          throw new RangeError(
            `${fn}: column "${name}" has a missing time at row ${firstTrue(frame, missing)}`,
          );
        },
      },
      {
        bad: back,
        raise: () => {
          throw new RangeError(
            `${fn}: column "${name}" is out of time order at row ${firstTrue(frame, back)}` +
              (by && by.length > 0 ? ` (within ${by.join(", ")})` : "") +
              `; sort the frame by "${name}" first`,
          );
        },
      },
    ],
  };
}

/** Runs checks as one pass of reductions over `frame`; throws for the first that fails. */
export function runChecks(frame: pl.DataFrame, checks: readonly DeferredCheck[]): void {
  if (checks.length === 0 || frame.height === 0) return;
  const row = frame.lazy().select(
    ...checks.map((c, i) => c.bad.fillNull(false).any().alias(`c${i}`)),
  ).collectSync().row(0);
  const failed = row.findIndex((v) => v === true);
  if (failed >= 0) checks[failed].raise();
}

/**
 * Checks a time column: it exists, has no missing value (null or NaN) and never decreases
 * (within each group of `by`, when given). Returns its type.
 */
export function checkTime(
  frame: pl.DataFrame,
  name: string,
  fn: string,
  by?: readonly string[],
): pl.DataType {
  const { dtype, checks } = timeChecks(frame, name, fn, by);
  runChecks(frame, checks);
  return dtype;
}

/** The index of the first row where `condition` is true, or -1. */
export function firstTrue(frame: Source, condition: pl.Expr): number {
  const c = condition.fillNull(false);
  const lazy = lazyOf(frame);
  // A cheap reduction first; the row is looked up only when there is one.
  if (lazy.select(c.any().alias("any")).collectSync().row(0)[0] !== true) return -1;
  return Number(lazy.select(c.argMax().alias("i")).collectSync().row(0)[0]);
}

/** The check that every value of a numeric column is positive (NaN and null pass). */
export function positiveCheck(frame: Source, name: string, fn: string): DeferredCheck {
  const bad = num(name).ltEq(0);
  return {
    bad,
    raise: () => {
      const row = firstTrue(frame, bad);
      const value = valueAt(frame, name, row);
      throw new RangeError(`${fn}: column "${name}" must be positive, got ${value} at row ${row}`);
    },
  };
}

/**
 * Checks that every value of the numeric column is positive (or NaN/null, which propagate)
 * and throws a `RangeError` naming the column and row otherwise.
 */
export function checkPositive(frame: pl.DataFrame, name: string, fn: string): void {
  runChecks(frame, [positiveCheck(frame, name, fn)]);
}

/** A duration argument as whole positive microseconds. */
export function durationMicros(value: Duration, what: string, fn: string): number {
  let us: number;
  try {
    us = typeof value === "string" ? parseDuration(value) : value;
  } catch (e) {
    throw new RangeError(`${fn}: ${what}: ${(e as Error).message}`);
  }
  if (typeof us !== "number" || !Number.isSafeInteger(us) || us <= 0) {
    throw new RangeError(
      `${fn}: ${what} must be a positive whole number of microseconds or text such as "5m", ` +
        `got ${String(value)}`,
    );
  }
  return us;
}

/** A positive whole count argument (lags, windows, trade horizons). */
export function positiveInt(value: number, what: string, fn: string, min = 1): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${fn}: ${what} must be a whole number >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** A non-empty list of distinct values, each checked by `check`. */
export function distinctList<T>(
  values: readonly T[] | undefined,
  what: string,
  fn: string,
  check: (v: T) => number,
): number[] {
  if (!Array.isArray(values) || values.length === 0) {
    throw new RangeError(`${fn}: ${what} must be a non-empty list`);
  }
  const out = values.map(check);
  if (new Set(out).size !== out.length) throw new RangeError(`${fn}: ${what} has duplicates`);
  return out;
}

const UNITS: readonly [string, number][] = [
  ["d", 86_400_000_000],
  ["h", 3_600_000_000],
  ["m", 60_000_000],
  ["s", 1_000_000],
  ["ms", 1_000],
];

/** A short label for a duration: 300000000 -> `5m`, 1500 -> `1500us`. */
export function durationLabel(us: number): string {
  for (const [unit, size] of UNITS) if (us % size === 0) return `${us / size}${unit}`;
  return `${us}us`;
}

/** Group-by column names (`by` option) checked to exist. */
export function groupColumns(
  frame: Source,
  by: string | readonly string[] | undefined,
  fn: string,
): string[] {
  const list = by === undefined ? [] : typeof by === "string" ? [by] : [...by];
  for (const name of list) {
    if (schemaFrame(frame).schema[name] === undefined) {
      throw new TypeError(`${fn}: group column "${name}" is missing`);
    }
  }
  return list;
}

/** `expr.over(by)` when `by` is non-empty, else `expr`. */
export function overGroups(expr: pl.Expr, by: readonly string[]): pl.Expr {
  return by.length === 0 ? expr : expr.over(by[0], ...by.slice(1));
}

/** Start of the `every`-microsecond bucket holding each time: `t - (t mod every)` (floor). */
export function bucketStart(t: pl.Expr, every: number): pl.Expr {
  return t.sub(t.rem(int(every)));
}
