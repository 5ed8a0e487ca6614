/**
 * Paper and live trading: an unchanged `lib/backtest` strategy on a live `MarketEvent` stream,
 * its orders through a {@linkcode Broker} (the simulated {@linkcode SimBroker} applies the
 * backtester's fill model to the live books), pre-trade risk checks, a kill switch, and the
 * backtester's hash-chained action log.
 * @module
 */
export type {
  Broker,
  BrokerAccount,
  BrokerListener,
  BrokerOrder,
  BrokerOrderRequest,
  BrokerPosition,
} from "./broker.ts";
export { SimBroker, type SimBrokerOptions } from "./sim_broker.ts";
export { type ClockMode, Scheduler, type SchedulerOptions, wallMicros } from "./scheduler.ts";
export { checkRisk, type Exposure, type RiskInput, type RiskLimits } from "./risk.ts";
export {
  ALPACA_PAPER_URL,
  AlpacaPaperBroker,
  type AlpacaPaperBrokerOptions,
  idFromClient,
} from "./alpaca_paper_broker.ts";
export {
  type KillOptions,
  type LiveInst,
  LiveRunner,
  type LiveRunnerOptions,
  type LiveRunRecord,
} from "./runner.ts";
export { LiveFeed } from "./live_feed.ts";
export type { RunnerPosition, RunnerUpdate } from "./watchers.ts";
