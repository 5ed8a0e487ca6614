/**
 * `backtest()`: the one call that runs a strategy over a feed in the event-driven engine
 * (`engine.ts`) and returns a {@linkcode BacktestResult}.
 * @module
 */
import type { MarketEvent } from "../market/types.ts";
import type { BacktestConfig } from "./config.ts";
import { Engine } from "./engine.ts";
import type { FeedSource } from "./feed.ts";
import { BacktestResult } from "./results.ts";
import type { Strategy } from "./strategy.ts";

/** What {@linkcode backtest} needs. */
export interface BacktestOptions extends BacktestConfig {
  readonly strategy: Strategy;
  /** One feed, or several merged in time order. */
  readonly feed: FeedSource | readonly FeedSource[];
}

/**
 * Runs a strategy over a feed.
 * @throws {TypeError} / {RangeError} for a bad configuration (as a rejection).
 */
export async function backtest(options: BacktestOptions): Promise<BacktestResult> {
  const { strategy, feed, ...config } = options;
  const engine = new Engine(config, strategy);
  const sources = Array.isArray(feed) && feed.length > 0 && !isEvent(feed[0])
    ? feed as readonly FeedSource[]
    : [feed as FeedSource];
  return new BacktestResult(await engine.run(sources));
}

function isEvent(x: unknown): boolean {
  return typeof x === "object" && x !== null && typeof (x as MarketEvent).kind === "string";
}
