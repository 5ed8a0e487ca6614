/**
 * The result of a run: orders, fills, positions and equity as Polars frames, and metrics.
 *
 * Frames (times `Datetime(us)`):
 * - `orders`: `id, submitted_at, updated_at, exchange, symbol, side, type, price, stop_price,
 *   size, filled, avg_price, time_in_force, post_only, reduce_only, status, reason, tag`;
 * - `fills`: `id, order_id, ts, exchange, symbol, side, price, size, fee, liquidity, markout`
 *   (`markout` in price units, see `metrics.ts`);
 * - `positions`: `ts, exchange, symbol, position, cash, realized` (one row per fill);
 * - `equity`: `ts, equity` (cash plus positions at their mark, sampled every `equityEvery`).
 * @module
 */
import pl from "nodejs-polars";
import { computeMetrics, type Metrics } from "./metrics.ts";
import type { RunRecord } from "./_run_record.ts";
import type { ActionLog } from "./action_log.ts";
import type { Fill, Order } from "./types.ts";

/** The outcome of a backtest. */
export class BacktestResult {
  readonly record: RunRecord;

  constructor(record: RunRecord) {
    this.record = record;
  }

  /** Every order, in id order. */
  get orders(): readonly Order[] {
    return this.record.orders;
  }
  /** Every fill, in time order. */
  get fills(): readonly Fill[] {
    return this.record.fills;
  }
  /** The action log of the run. */
  get log(): ActionLog {
    return this.record.log;
  }
  /** Warnings (look-ahead, ...). */
  get warnings(): readonly string[] {
    return this.record.warnings;
  }
  /** The strategy's error when it threw. */
  get error(): string | undefined {
    return this.record.error;
  }
  /** Market events read. */
  get events(): number {
    return this.record.events;
  }

  /** Metrics; `periodsPerYear` overrides the annualisation (252 for daily stock bars). */
  metrics(options: { periodsPerYear?: number } = {}): Metrics {
    const r = this.record;
    return computeMetrics({
      initialCash: r.config.initialCash,
      equityTs: r.equityTs,
      equity: r.equity,
      fills: r.fills,
      markouts: r.markouts,
      realized: r.positions.map((p) => p.realized),
      periodsPerYear: options.periodsPerYear,
    });
  }

  /** Orders as a frame. */
  ordersFrame(): pl.DataFrame {
    const o = this.record.orders;
    return pl.DataFrame([
      pl.Series("id", o.map((x) => x.id), pl.Int64),
      micros("submitted_at", o.map((x) => x.submittedAt)),
      micros("updated_at", o.map((x) => x.updatedAt)),
      pl.Series("exchange", o.map((x) => x.exchange), pl.Utf8),
      pl.Series("symbol", o.map((x) => x.symbol), pl.Utf8),
      pl.Series("side", o.map((x) => String(x.side)), pl.Utf8),
      pl.Series("type", o.map((x) => String(x.type)), pl.Utf8),
      pl.Series("price", o.map((x) => x.price), pl.Float64),
      pl.Series("stop_price", o.map((x) => x.stopPrice), pl.Float64),
      pl.Series("size", o.map((x) => Number(x.size)), pl.Float64),
      pl.Series("filled", o.map((x) => x.filled), pl.Float64),
      pl.Series("avg_price", o.map((x) => x.avgPrice), pl.Float64),
      pl.Series("time_in_force", o.map((x) => x.timeInForce), pl.Utf8),
      pl.Series("post_only", o.map((x) => x.postOnly), pl.Bool),
      pl.Series("reduce_only", o.map((x) => x.reduceOnly), pl.Bool),
      pl.Series("status", o.map((x) => x.status), pl.Utf8),
      pl.Series("reason", o.map((x) => x.reason), pl.Utf8),
      pl.Series("tag", o.map((x) => x.tag), pl.Utf8),
    ]);
  }

  /** Fills as a frame. */
  fillsFrame(): pl.DataFrame {
    const f = this.record.fills;
    return pl.DataFrame([
      pl.Series("id", f.map((x) => x.id), pl.Int64),
      pl.Series("order_id", f.map((x) => x.orderId), pl.Int64),
      micros("ts", f.map((x) => x.ts)),
      pl.Series("exchange", f.map((x) => x.exchange), pl.Utf8),
      pl.Series("symbol", f.map((x) => x.symbol), pl.Utf8),
      pl.Series("side", f.map((x) => x.side), pl.Utf8),
      pl.Series("price", f.map((x) => x.price), pl.Float64),
      pl.Series("size", f.map((x) => x.size), pl.Float64),
      pl.Series("fee", f.map((x) => x.fee), pl.Float64),
      pl.Series("liquidity", f.map((x) => x.liquidity), pl.Utf8),
      pl.Series("markout", this.record.markouts as number[], pl.Float64),
    ]);
  }

  /** Positions after each fill as a frame. */
  positionsFrame(): pl.DataFrame {
    const p = this.record.positions;
    return pl.DataFrame([
      micros("ts", p.map((x) => x.ts)),
      pl.Series("exchange", p.map((x) => x.exchange), pl.Utf8),
      pl.Series("symbol", p.map((x) => x.symbol), pl.Utf8),
      pl.Series("position", p.map((x) => x.position), pl.Float64),
      pl.Series("cash", p.map((x) => x.cash), pl.Float64),
      pl.Series("realized", p.map((x) => x.realized), pl.Float64),
    ]);
  }

  /** Equity samples as a frame. */
  equityFrame(): pl.DataFrame {
    return pl.DataFrame([
      micros("ts", this.record.equityTs),
      pl.Series("equity", this.record.equity as number[], pl.Float64),
    ]);
  }
}

function micros(name: string, values: readonly number[]): pl.Series {
  return pl.Series(name, Float64Array.from(values), pl.Float64).cast(pl.Int64)
    .cast(pl.Datetime("us"));
}
