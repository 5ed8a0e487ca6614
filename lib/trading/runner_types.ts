/**
 * The options and results of {@linkcode LiveRunner} (`runner.ts`).
 * @module
 */
import type { OrderBook } from "../book/order_book.ts";
import type { ActionLog } from "../backtest/action_log.ts";
import type { InstrumentSpec, Strategy } from "../backtest/strategy.ts";
import type { Fill, Order } from "../backtest/types.ts";
import type { LatencySpec } from "../backtest/latency.ts";
import type { Broker } from "./broker.ts";
import type { RiskLimits } from "./risk.ts";
import type { Scheduler } from "./scheduler.ts";

/** Options of {@linkcode LiveRunner.kill}. */
export interface KillOptions {
  /** Who pulled the switch, for the log: a token's name or a JWT subject (never a secret). */
  readonly by?: string;
}

/** Options of {@linkcode LiveRunner}. */
export interface LiveRunnerOptions {
  readonly strategy: Strategy;
  readonly broker: Broker;
  /** Instruments the strategy may trade. */
  readonly instruments: readonly InstrumentSpec[];
  /** The run's clock and task queue (a SimBroker's must be the same one). Default: event clock. */
  readonly scheduler?: Scheduler;
  readonly risk?: RiskLimits;
  /** Starting cash of the strategy's view (default 1,000,000). */
  readonly initialCash?: number;
  /** Event clock: which time of an event is the run's time (default `venue`). */
  readonly eventTime?: "venue" | "receive";
  /** Prefix of client order ids (`<runId>-<order id>`); default `run`. */
  readonly runId?: string;
  /**
   * The log of an earlier run of the same `runId` (JSON lines), to resume from: order ids (and
   * so client order ids) continue after its last order, so none is reused.
   */
  readonly resume?: string | readonly string[];
  /**
   * Before the first event, take positions from the broker and cancel the open orders left by
   * an earlier run of this `runId` (default: when resuming).
   */
  readonly reconcile?: boolean;
  /** Extra configuration written to the log's `start` entry (must be JSON). */
  readonly config?: Readonly<Record<string, unknown>>;
  /**
   * Market-data latency: how long after the venue (and a simulated broker) sees an event the
   * strategy does, drawn as the backtester draws it (`latency.marketData`, seeded `seed`).
   * Default 0. Meant for simulated runs: a live feed has its own.
   */
  readonly marketDataLatency?: LatencySpec;
  /** Seed of the market-data latency draws (default 1, as the backtester). */
  readonly seed?: number;
}

/** Per instrument state of the strategy's view. */
export interface LiveInst {
  readonly spec: InstrumentSpec;
  readonly tradable: boolean;
  readonly view: OrderBook;
  viewPosition: number;
}

/** What a run leaves behind. */
export interface LiveRunRecord {
  readonly orders: readonly Order[];
  /** Fills as the strategy heard of them. */
  readonly fills: readonly Fill[];
  readonly log: ActionLog;
  /** `end of data`, `stopped`, `strategy_error`, or the kill switch's reason. */
  readonly reason: string;
  readonly error: string | undefined;
  readonly events: number;
}
