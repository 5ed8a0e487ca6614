/**
 * The configuration of a run as plain JSON data: the event log records it in its `start`
 * entry and `replay` rebuilds the run from it.
 * @module
 */
import type { FeeSchedule } from "./fees.ts";
import type { LatencySpec } from "./latency.ts";
import type { QueueSpec } from "./queue.ts";
import type { InstrumentSpec } from "./strategy.ts";

/** Latencies of the three channels (default 0 each). */
export interface LatencyConfig {
  /** Market data, exchange to strategy (`{ kind: "recorded" }` uses each event's `recvTs - ts`). */
  readonly marketData?: LatencySpec;
  /** Orders, cancels and amendments, strategy to exchange. */
  readonly orderEntry?: LatencySpec;
  /** Reports (acknowledgements, fills, cancels), exchange to strategy. */
  readonly response?: LatencySpec;
}

/** Everything but the strategy and the data that decides a run's outcome. */
export interface BacktestConfig {
  /** Instruments the strategy may trade; events of others are fed but not tradable. */
  readonly instruments: readonly InstrumentSpec[];
  readonly latency?: LatencyConfig;
  /** Queue position model of resting orders (default conservative). */
  readonly queue?: QueueSpec;
  readonly fees?: FeeSchedule;
  /** Seed of the latency draws (default 1). */
  readonly seed?: number;
  /** Starting cash in quote currency (default 1,000,000). */
  readonly initialCash?: number;
  /** Bar instruments: fill market orders at the close of the bar just seen (look-ahead). */
  readonly sameBarClose?: boolean;
  /** Equity sampling period in microseconds (default 1 s). */
  readonly equityEvery?: number;
  /** Horizon of fill markouts in microseconds (default 1 s). */
  readonly markoutHorizon?: number;
  /** Events at or after this time are not read (microseconds, default: the whole feed). */
  readonly end?: number;
  /**
   * Which time orders and drives the run: `venue` (`ts`, a bar at `ts + interval`; the
   * default) or `receive` (`recvTs`: the order a recording saw events in, for captures whose
   * streams carry venue times that are not mutually ordered).
   */
  readonly clock?: "venue" | "receive";
}

/** Defaults filled in, as recorded in the log. */
export interface ResolvedConfig extends BacktestConfig {
  readonly latency: Required<LatencyConfig>;
  readonly queue: QueueSpec;
  readonly seed: number;
  readonly initialCash: number;
  readonly sameBarClose: boolean;
  readonly equityEvery: number;
  readonly markoutHorizon: number;
  readonly clock: "venue" | "receive";
}

/**
 * Fills in defaults and checks the configuration.
 * @throws {TypeError} when `instruments` is not an array; {RangeError} for bad numbers.
 */
export function resolveConfig(config: BacktestConfig): ResolvedConfig {
  if (!Array.isArray(config?.instruments)) {
    throw new TypeError("config.instruments must be an array of { exchange, symbol }");
  }
  const seed = config.seed ?? 1;
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  const initialCash = config.initialCash ?? 1_000_000;
  if (!Number.isFinite(initialCash)) throw new RangeError("initialCash must be finite");
  const equityEvery = config.equityEvery ?? 1_000_000;
  if (!(equityEvery > 0)) throw new RangeError("equityEvery must be positive");
  const markoutHorizon = config.markoutHorizon ?? 1_000_000;
  if (!(markoutHorizon >= 0)) throw new RangeError("markoutHorizon must be >= 0");
  const clock = config.clock ?? "venue";
  if (clock !== "venue" && clock !== "receive") {
    throw new RangeError(`clock must be "venue" or "receive", got ${JSON.stringify(clock)}`);
  }
  for (const spec of config.instruments) {
    if (typeof spec?.exchange !== "string" || typeof spec.symbol !== "string") {
      throw new TypeError("every instrument needs an exchange and a symbol");
    }
    for (const step of [spec.tickSize, spec.lotSize]) {
      if (step !== undefined && !(step > 0)) throw new RangeError("tick and lot sizes must be > 0");
    }
  }
  return {
    ...config,
    latency: {
      marketData: config.latency?.marketData ?? 0,
      orderEntry: config.latency?.orderEntry ?? 0,
      response: config.latency?.response ?? 0,
    },
    queue: config.queue ?? { kind: "conservative" },
    seed,
    initialCash,
    sameBarClose: config.sameBarClose ?? false,
    equityEvery,
    markoutHorizon,
    clock,
  };
}
