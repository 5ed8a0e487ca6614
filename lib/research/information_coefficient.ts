/**
 * Information coefficient (rank correlation of a signal with later returns) and its decay
 * across horizons.
 * @module
 */
import pl from "nodejs-polars";
import { checkFrame, groupColumns, requireColumn } from "./_frame.ts";

/** Options of {@linkcode informationCoefficient} and {@linkcode icDecay}. */
export interface InformationCoefficientOptions {
  /** The signal column. */
  readonly factor: string;
  /** Forward-return columns, one IC each (for example `fwd_1m`, `fwd_5m`). */
  readonly returns: string | readonly string[];
  /**
   * Groups with one IC each (for example the time column, for a cross-sectional IC per
   * time over instruments). Omitted: one IC over all rows.
   */
  readonly by?: string | readonly string[];
  /** `spearman` (default: Pearson correlation of average ranks) or `pearson`. */
  readonly method?: "spearman" | "pearson";
}

function present(c: string): pl.Expr {
  const x = pl.col(c).cast(pl.Float64);
  return x.isNotNull().and(x.isNotNan());
}

/**
 * The information coefficient of `factor` for each return column (and group of `by`):
 *
 *     IC = corr(rank(f), rank(r))   Spearman: ranks with ties at their average rank
 *
 * over the rows where both the factor and that return are present: rows with a null or
 * NaN in either are left out of that IC (forward returns at the end of the data are null)
 * and `n` says how many rows were used. Output: `by` columns, `return` (the column name),
 * `ic`, `n`, in the order of `by` then `returns`. `ic` is null with fewer than 3 rows or
 * a constant side.
 *
 * @throws {TypeError} when a column is missing or not numeric.
 * @throws {RangeError} for an empty list of returns or an unknown method.
 */
export function informationCoefficient(
  frame: pl.DataFrame,
  options: InformationCoefficientOptions,
): pl.DataFrame {
  const fn = "informationCoefficient";
  checkFrame(frame, fn);
  const { factor, method = "spearman" } = options ?? {};
  if (method !== "spearman" && method !== "pearson") {
    throw new RangeError(`${fn}: method must be "spearman" or "pearson", got ${method}`);
  }
  const returns = typeof options.returns === "string"
    ? [options.returns]
    : [...options.returns ?? []];
  if (returns.length === 0) throw new RangeError(`${fn}: returns must name at least one column`);
  const by = groupColumns(frame, options.by, fn);
  requireColumn(frame, factor, "number", fn);
  for (const r of returns) requireColumn(frame, r, "number", fn);
  const parts = returns.map((r) => {
    const ok = present(factor).and(present(r));
    let f = pl.col(factor).cast(pl.Float64).filter(ok);
    let x = pl.col(r).cast(pl.Float64).filter(ok);
    if (method === "spearman") {
      f = f.rank("average");
      x = x.rank("average");
    }
    const aggs = [
      ok.sum().cast(pl.Int64).alias("n"),
      pl.pearsonCorr(f, x).alias("__c"),
      f.std().alias("__sf"),
      x.std().alias("__sx"),
    ];
    const lazy = by.length === 0
      ? frame.lazy().select(...aggs)
      : frame.lazy().groupBy(by).agg(...aggs).sort(by);
    return lazy.select(
      ...by.map((c) => pl.col(c)),
      pl.lit(r).alias("return"),
      pl.when(pl.col("n").lt(3).or(pl.col("__sf").eq(0)).or(pl.col("__sx").eq(0)))
        .then(pl.lit(null)).otherwise(pl.col("__c")).cast(pl.Float64).alias("ic"),
      pl.col("n"),
    );
  });
  const all = pl.concat(parts, { how: "vertical" });
  return (by.length === 0 ? all : all.sort([...by])).collectSync();
}

/**
 * IC decay: the information coefficient across horizons, one row per return column (in
 * the order given). With `by` (one IC per group, for example per time):
 *
 *     ic_mean = mean of the groups' ICs,  ic_std = their sample standard deviation,
 *     ic_ir = ic_mean / ic_std,  groups = number of groups with an IC
 *
 * Without `by`: `ic_mean` is the one pooled IC, `ic_std` and `ic_ir` are null and `groups`
 * is 1 (0 when undefined). Groups whose IC is null are left out.
 *
 * @throws {TypeError} when a column is missing or not numeric.
 * @throws {RangeError} for an empty list of returns or an unknown method.
 */
export function icDecay(frame: pl.DataFrame, options: InformationCoefficientOptions): pl.DataFrame {
  const ic = informationCoefficient(frame, options);
  const returns = typeof options.returns === "string" ? [options.returns] : [...options.returns];
  const stats = ic.lazy().filter(pl.col("ic").isNotNull()).groupBy("return").agg(
    pl.col("ic").mean().alias("ic_mean"),
    pl.col("ic").std().alias("ic_std"),
    pl.len().cast(pl.Int64).alias("groups"),
  ).collectSync();
  const order = pl.DataFrame([pl.Series("return", returns, pl.Utf8)]);
  const grouped = (options.by ?? []).length > 0;
  return order.join(stats, { on: "return", how: "left" }).select(
    pl.col("return"),
    pl.col("ic_mean"),
    grouped ? pl.col("ic_std") : pl.lit(null).cast(pl.Float64).alias("ic_std"),
    grouped
      ? pl.when(pl.col("ic_std").eq(0)).then(pl.lit(null)).otherwise(
        pl.col("ic_mean").div(pl.col("ic_std")),
      )
        .cast(pl.Float64).alias("ic_ir")
      : pl.lit(null).cast(pl.Float64).alias("ic_ir"),
    pl.col("groups").fillNull(0).cast(pl.Int64),
  );
}
