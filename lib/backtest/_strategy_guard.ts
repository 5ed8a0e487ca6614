/**
 * Running a strategy's callbacks: a throw stops the strategy, is logged as `strategy_error`,
 * and cancels its open orders. Shared by the backtester's engine and the live runner.
 * @module
 */
import type { ActionLog } from "./action_log.ts";

/** What runs a strategy: the backtest engine or a live runner. */
export interface StrategyHost {
  stopped: boolean;
  error: string | undefined;
  readonly now: number;
  readonly log: ActionLog;
  /** Cancels every open order after the strategy failed. */
  haltStrategy(): void;
}

/** Runs a strategy callback unless the strategy has stopped; a throw stops it. */
export function callStrategy(host: StrategyHost, fn: () => void): void {
  if (host.stopped) return;
  try {
    fn();
  } catch (err) {
    strategyFailed(host, err);
  }
}

/** The strategy threw `err`: stop it, log the error, cancel its orders (once). */
export function strategyFailed(host: StrategyHost, err: unknown): void {
  if (host.stopped) return;
  host.stopped = true;
  host.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  host.log.append(host.now, "strategy_error", { error: host.error });
  host.haltStrategy();
}
