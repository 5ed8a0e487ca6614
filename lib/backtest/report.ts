/**
 * A one-call report of a backtest: metrics, equity and drawdown charts, fills and orders, as
 * an offline HTML document (`lib/charts`), or its parts for a notebook.
 * @module
 */
import { htmlReport, lineChart } from "../charts/mod.ts";
import type { Chart } from "../charts/chart.ts";
import type { BacktestResult } from "./results.ts";

/** Options of {@linkcode backtestReport}. */
export interface BacktestReportOptions {
  readonly title?: string;
  readonly subtitle?: string;
  /** Annualisation of the metrics (see `metrics.ts`). */
  readonly periodsPerYear?: number;
  /** Fills and orders shown (default 200 each). */
  readonly maxRows?: number;
}

/** Equity and drawdown (percent below the running peak) over time, as two line charts. */
export function equityCharts(result: BacktestResult): { equity: Chart; drawdown: Chart } {
  const { equityTs, equity } = result.record;
  let peak = -Infinity;
  const eq = equityTs.map((ts, i) => ({ ts, value: equity[i] }));
  const dd = equityTs.map((ts, i) => {
    peak = Math.max(peak, equity[i]);
    return { ts, value: -100 * (1 - equity[i] / peak) };
  });
  return {
    equity: lineChart(eq, { title: "Equity", area: true }),
    drawdown: lineChart(dd, { title: "Drawdown (%)", priceDecimals: 2 }),
  };
}

/** The metrics as rows of `metric, value` for a table. */
export function metricRows(result: BacktestResult, periodsPerYear?: number) {
  const m = result.metrics({ periodsPerYear });
  return Object.entries(m).map(([metric, value]) => ({ metric, value }));
}

/** A standalone HTML report of a run (the chart library inlined, no network needed). */
export function backtestReport(
  result: BacktestResult,
  options: BacktestReportOptions = {},
): string {
  const { strategy, config } = result.record;
  const charts = equityCharts(result);
  const maxRows = options.maxRows ?? 200;
  return htmlReport({
    title: options.title ?? `Backtest: ${strategy.name}`,
    subtitle: options.subtitle ??
      `${result.events} events, ${result.orders.length} orders, ${result.fills.length} fills; ` +
        `log head ${result.log.head}`,
    sections: [
      {
        heading: "Metrics",
        table: metricRows(result, options.periodsPerYear),
        text: result.warnings.length > 0 || result.error
          ? [...result.warnings, ...(result.error ? [`strategy error: ${result.error}`] : [])]
          : undefined,
      },
      { heading: "Equity", chart: [charts.equity, charts.drawdown] },
      {
        heading: "Configuration",
        table: [{
          strategy: strategy.name,
          version: strategy.version,
          params: strategy.params,
          latency: config.latency,
          queue: config.queue,
          fees: config.fees ?? {},
          seed: config.seed,
        }],
      },
      {
        heading: "Fills",
        table: result.fills.map((f, i) => ({
          fill_ts: f.ts,
          order: f.orderId,
          instrument: `${f.exchange}:${f.symbol}`,
          side: f.side,
          price: f.price,
          size: f.size,
          fee: f.fee,
          liquidity: f.liquidity,
          markout: result.record.markouts[i],
        })),
        maxRows,
      },
      {
        heading: "Orders",
        table: result.orders.map((o) => ({
          id: o.id,
          submitted_ts: o.submittedAt,
          instrument: `${o.exchange}:${o.symbol}`,
          side: o.side,
          type: o.type,
          price: o.price,
          size: o.size,
          filled: o.filled,
          status: o.status,
          reason: o.reason,
        })),
        maxRows,
      },
    ],
  });
}
