/**
 * Performance metrics of a run, computed from its equity samples and fills.
 *
 * Definitions (equity samples `e_0..e_n` at times `t_0..t_n`, returns `r_i = e_i / e_{i-1} - 1`):
 * - `pnl = e_n - initialCash`, `totalReturn = pnl / initialCash`.
 * - `sharpe = mean(r) / std(r) * sqrt(periodsPerYear)` (sample standard deviation, no risk-free
 *   rate); `sortino = mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(periodsPerYear)`. Default
 *   `periodsPerYear`: a 365.25-day year over the median sample spacing. NaN with fewer than
 *   two returns or no dispersion.
 * - `maxDrawdown`: the largest `1 - e_i / max(e_0..e_i)`; `maxDrawdownDuration`: the longest
 *   time from a peak to the first sample back at or above it (or to the last sample), µs.
 * - `turnover`: traded notional over initial cash; `fees`: sum of fees (rebates negative).
 * - `hitRate`: share of fills that realise profit (average-cost accounting) with a positive
 *   result, among fills that realise any; NaN when none do.
 * - `avgMarkoutBps`: mean over fills of `side * (mark at t + horizon - price) / price`, in
 *   basis points; fills without a markout (the run ended first) are left out.
 * @module
 */
import type { Fill } from "./types.ts";

/** The metrics of a run. */
export interface Metrics {
  readonly pnl: number;
  readonly totalReturn: number;
  readonly sharpe: number;
  readonly sortino: number;
  readonly maxDrawdown: number;
  readonly maxDrawdownDuration: number;
  readonly turnover: number;
  readonly tradedNotional: number;
  readonly fees: number;
  readonly hitRate: number;
  readonly avgMarkoutBps: number;
  readonly fills: number;
}

/** Inputs of {@linkcode computeMetrics}. */
export interface MetricsInput {
  readonly initialCash: number;
  readonly equityTs: readonly number[];
  readonly equity: readonly number[];
  readonly fills: readonly Fill[];
  /** Per fill (same order): price units, NaN when unknown. */
  readonly markouts: readonly number[];
  /** Per position change: the realised profit of the fill that made it. */
  readonly realized: readonly number[];
  /** Override the annualisation. */
  readonly periodsPerYear?: number;
}

const YEAR_US = 365.25 * 86_400e6;

/** Computes {@linkcode Metrics}. */
export function computeMetrics(input: MetricsInput): Metrics {
  const { equity, equityTs, initialCash } = input;
  const last = equity.length > 0 ? equity[equity.length - 1] : initialCash;
  const returns: number[] = [];
  for (let i = 1; i < equity.length; i++) returns.push(equity[i] / equity[i - 1] - 1);
  const ppy = input.periodsPerYear ?? YEAR_US / medianSpacing(equityTs);
  const { drawdown, duration } = drawdowns(equityTs, equity);
  let notional = 0;
  let fees = 0;
  for (const f of input.fills) {
    notional += f.price * f.size;
    fees += f.fee;
  }
  let wins = 0;
  let closes = 0;
  for (const r of input.realized) {
    if (r !== 0) {
      closes++;
      if (r > 0) wins++;
    }
  }
  let markSum = 0;
  let marks = 0;
  input.fills.forEach((f, i) => {
    const m = input.markouts[i];
    if (m === m) {
      markSum += m / f.price * 1e4;
      marks++;
    }
  });
  return {
    pnl: last - initialCash,
    totalReturn: (last - initialCash) / initialCash,
    sharpe: sharpe(returns, ppy),
    sortino: sortino(returns, ppy),
    maxDrawdown: drawdown,
    maxDrawdownDuration: duration,
    turnover: notional / initialCash,
    tradedNotional: notional,
    fees,
    hitRate: closes > 0 ? wins / closes : NaN,
    avgMarkoutBps: marks > 0 ? markSum / marks : NaN,
    fills: input.fills.length,
  };
}

/** Annualised Sharpe ratio of per-period returns (sample std). */
export function sharpe(returns: readonly number[], periodsPerYear: number): number {
  const n = returns.length;
  if (n < 2) return NaN;
  const mean = returns.reduce((a, b) => a + b, 0) / n;
  const variance = returns.reduce((a, r) => a + (r - mean) ** 2, 0) / (n - 1);
  return variance > 0 ? mean / Math.sqrt(variance) * Math.sqrt(periodsPerYear) : NaN;
}

/** Annualised Sortino ratio (downside deviation against 0). */
export function sortino(returns: readonly number[], periodsPerYear: number): number {
  const n = returns.length;
  if (n < 2) return NaN;
  const mean = returns.reduce((a, b) => a + b, 0) / n;
  const down = returns.reduce((a, r) => a + (r < 0 ? r * r : 0), 0) / n;
  return down > 0 ? mean / Math.sqrt(down) * Math.sqrt(periodsPerYear) : NaN;
}

/** Largest drawdown (fraction of the peak) and longest time under a peak (µs). */
export function drawdowns(
  ts: readonly number[],
  equity: readonly number[],
): { drawdown: number; duration: number } {
  let peak = -Infinity;
  let peakTs = NaN;
  let drawdown = 0;
  let duration = 0;
  let under = false;
  for (let i = 0; i < equity.length; i++) {
    const e = equity[i];
    if (e >= peak) {
      if (under) duration = Math.max(duration, ts[i] - peakTs);
      under = false;
      peak = e;
      peakTs = ts[i];
      continue;
    }
    under = true;
    drawdown = Math.max(drawdown, 1 - e / peak);
  }
  if (under) {
    duration = Math.max(duration, ts[ts.length - 1] - peakTs);
  }
  return { drawdown, duration };
}

function medianSpacing(ts: readonly number[]): number {
  if (ts.length < 2) return NaN;
  const d: number[] = [];
  for (let i = 1; i < ts.length; i++) d.push(ts[i] - ts[i - 1]);
  d.sort((a, b) => a - b);
  return d[d.length >> 1] || NaN;
}
