/**
 * Mean forward returns by quantile of a signal.
 * @module
 */
import pl from "nodejs-polars";
import { checkFrame, groupColumns, overGroups, positiveInt, requireColumn } from "./_frame.ts";

/** Options of {@linkcode quantileReturns}. */
export interface QuantileReturnOptions {
  /** The signal column. */
  readonly factor: string;
  /** Return columns, one mean each. */
  readonly returns: string | readonly string[];
  /** Number of quantile buckets (default 5). */
  readonly quantiles?: number;
  /** Buckets are formed within each group (for example per time, cross-sectionally). */
  readonly by?: string | readonly string[];
}

/**
 * Mean return per signal quantile. Within each group of `by` (or the whole frame), over
 * the `m` rows whose factor is present (not null or NaN):
 *
 *     q_i = floor(Q * (rank_i - 1) / m) + 1,   rank_i = 1 + number of factors < f_i
 *
 * (ties share the lowest rank, so equal factors never straddle buckets; bucket 1 holds the
 * smallest factors). Output, one row per bucket that has rows: `quantile` (1..Q), `n`
 * (rows), then per return column its mean over the bucket's rows where it is present
 * (null and NaN returns left out) and `<column>_n` (how many).
 *
 * @throws {TypeError} when a column is missing or not numeric.
 * @throws {RangeError} for `quantiles` < 2 or an empty list of returns.
 */
export function quantileReturns(frame: pl.DataFrame, options: QuantileReturnOptions): pl.DataFrame {
  const fn = "quantileReturns";
  checkFrame(frame, fn);
  const { factor } = options ?? {};
  const q = positiveInt(options?.quantiles ?? 5, "quantiles", fn, 2);
  const returns = typeof options.returns === "string"
    ? [options.returns]
    : [...options.returns ?? []];
  if (returns.length === 0) throw new RangeError(`${fn}: returns must name at least one column`);
  const by = groupColumns(frame, options.by, fn);
  requireColumn(frame, factor, "number", fn);
  for (const r of returns) requireColumn(frame, r, "number", fn);
  const f = pl.col(factor).cast(pl.Float64);
  const rank = overGroups(f.rank("min"), by).cast(pl.Float64);
  const m = overGroups(f.count(), by).cast(pl.Float64);
  const bucket = rank.sub(1).mul(q).div(m).floor().add(1).cast(pl.Int64);
  return frame.lazy()
    .filter(f.isNotNull().and(f.isNotNan()))
    .withColumns(bucket.alias("quantile"))
    .groupBy("quantile")
    .agg(
      pl.len().cast(pl.Int64).alias("n"),
      ...returns.flatMap((r) => {
        const x = pl.col(r).cast(pl.Float64);
        const ok = x.isNotNull().and(x.isNotNan());
        return [x.filter(ok).mean().alias(r), ok.sum().cast(pl.Int64).alias(`${r}_n`)];
      }),
    )
    .sort("quantile")
    .collectSync();
}
