/**
 * As-of alignment of several instruments or venues on one clock.
 * @module
 */
import pl from "nodejs-polars";
import {
  checkFrame,
  checkTime,
  type Duration,
  durationMicros,
  fromMicros,
  int,
  micros,
  requireColumn,
} from "./_frame.ts";

/** Options of {@linkcode asofAlign}. */
export interface AsofAlignOptions {
  /**
   * The clock: a regular grid of this step (microseconds or `"1s"`) from the first source
   * time rounded down to the step to the last source time; or the name of one source
   * (its times, every row); or a Series of times (in order).
   */
  readonly clock: Duration | string | pl.Series;
  /** Time column of every source (default `ts`). */
  readonly time?: string;
  /** Columns taken from each source (default every numeric column but time). */
  readonly columns?: readonly string[] | Readonly<Record<string, readonly string[]>>;
  /** Oldest value used: rows older than `clock - tolerance` give null (default no limit). */
  readonly tolerance?: Duration;
}

/**
 * One frame on one clock with the latest value of each source at each clock time:
 *
 *     out[name_col](t) = col of the last row of source `name` with time <= t
 *
 * (as-of join looking back; among rows sharing a time the last counts). Output: `ts` (the
 * clock, in the type of the first source's time column), then `<name>_<column>` per source
 * in the order given. Values are null before a source's first row and, with `tolerance`,
 * when its latest row is older than `t - tolerance`. A clock name that matches a source and
 * is also a duration text (for example a source named `"1s"`) is read as the source.
 *
 * @throws {TypeError} for no sources, a missing column or a column of the wrong type.
 * @throws {RangeError} for a bad clock or tolerance, or a source time column with missing
 * values or out of order.
 */
export function asofAlign(
  sources: Readonly<Record<string, pl.DataFrame>>,
  options: AsofAlignOptions,
): pl.DataFrame {
  const fn = "asofAlign";
  const names = Object.keys(sources ?? {});
  if (names.length === 0) throw new TypeError(`${fn}: no sources`);
  const time = options?.time ?? "ts";
  const types = new Map<string, pl.DataType>();
  const picked = new Map<string, string[]>();
  for (const name of names) {
    const frame = sources[name];
    checkFrame(frame, `${fn} (source "${name}")`);
    types.set(name, checkTime(frame, time, `${fn} (source "${name}")`));
    const cols = sourceColumns(frame, name, time, options?.columns);
    for (const c of cols) requireColumn(frame, c, "number", `${fn} (source "${name}")`);
    picked.set(name, cols);
  }
  const outType = types.get(names[0])!;
  const tolerance = options?.tolerance === undefined
    ? undefined
    : durationMicros(options.tolerance, "tolerance", fn);
  let clock = clockFrame(sources, types, options?.clock, time, fn);
  for (const name of names) {
    const cols = picked.get(name)!;
    const right = sources[name].lazy().select(
      micros(time, types.get(name)!).alias("__rt"),
      ...cols.map((c) => pl.col(c).alias(`${name}_${c}`)),
    );
    clock = clock.joinAsof(right, {
      leftOn: "__t",
      rightOn: "__rt",
      strategy: "backward",
      checkSortedness: false,
    });
    if (tolerance !== undefined) {
      const stale = pl.col("__rt").lt(pl.col("__t").sub(int(tolerance)));
      clock = clock.withColumns(
        ...cols.map((c) =>
          pl.when(stale).then(pl.lit(null)).otherwise(pl.col(`${name}_${c}`)).alias(`${name}_${c}`)
        ),
      );
    }
    clock = clock.drop("__rt");
  }
  return clock.withColumns(fromMicros(pl.col("__t"), outType).alias("ts")).drop("__t")
    .select(pl.col("ts"), pl.exclude("ts")).collectSync();
}

function sourceColumns(
  frame: pl.DataFrame,
  name: string,
  time: string,
  columns: AsofAlignOptions["columns"],
): string[] {
  if (Array.isArray(columns)) return [...columns];
  const own = columns && !Array.isArray(columns)
    ? (columns as Record<string, readonly string[]>)[name]
    : undefined;
  if (own) return [...own];
  return frame.columns.filter((c) => {
    if (c === time) return false;
    const v = frame.schema[c].variant;
    return /^(Float|Int|UInt)/.test(v);
  });
}

function clockFrame(
  sources: Readonly<Record<string, pl.DataFrame>>,
  types: Map<string, pl.DataType>,
  clock: AsofAlignOptions["clock"] | undefined,
  time: string,
  fn: string,
): pl.LazyDataFrame {
  if (clock === undefined) throw new TypeError(`${fn}: a clock is required`);
  if (typeof clock === "string" && clock in sources) {
    return sources[clock].lazy().select(micros(time, types.get(clock)!).alias("__t"));
  }
  if (pl.Series.isSeries(clock)) {
    const dtype = clock.dtype;
    if (!/^(Float|Int|UInt|Datetime)/.test(dtype.variant)) {
      throw new TypeError(`${fn}: the clock Series must hold times, not ${dtype.variant}`);
    }
    const frame = pl.DataFrame([clock.alias("__c")]);
    checkTime(frame, "__c", `${fn} (clock)`);
    return frame.lazy().select(micros("__c", dtype).alias("__t"));
  }
  const step = durationMicros(clock as Duration, "clock", fn);
  let first = Infinity;
  let last = -Infinity;
  for (const [name, frame] of Object.entries(sources)) {
    if (frame.height === 0) continue;
    const row = frame.lazy().select(
      micros(time, types.get(name)!).min().alias("a"),
      micros(time, types.get(name)!).max().alias("b"),
    ).collectSync().row(0);
    first = Math.min(first, Number(row[0]));
    last = Math.max(last, Number(row[1]));
  }
  if (first === Infinity) return pl.DataFrame([pl.Series("__t", [], pl.Int64)]).lazy();
  const start = first - (((first % step) + step) % step);
  return pl.DataFrame({}).lazy().select(
    pl.intRange(int(start), int(last + 1), step).cast(pl.Int64).alias("__t"),
  );
}
