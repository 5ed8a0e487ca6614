/**
 * `replay(log)`: re-runs the backtest an action log records and proves the outcome
 * bit-identical, entry by entry and hash by hash.
 *
 * The log's `start` entry holds the strategy's name, version and parameters and the whole
 * configuration (latencies, queue model, fees, seed, ...). The data and the strategy's code
 * cannot live in the log, so the caller supplies them: a fresh strategy (the same code) and
 * the same feed.
 * @module
 */
import { parseLine, verifyActionLog } from "./action_log.ts";
import type { BacktestConfig } from "./config.ts";
import { backtest } from "./backtest.ts";
import type { FeedSource } from "./feed.ts";
import type { BacktestResult } from "./results.ts";
import type { Strategy } from "./strategy.ts";

/** What {@linkcode replay} needs besides the log. */
export interface ReplayOptions {
  /** A fresh strategy object (replaying reuses nothing of the first run). */
  readonly strategy: Strategy;
  /** The feed of the original run. */
  readonly feed: FeedSource | readonly FeedSource[];
}

/** The verdict of {@linkcode replay}. */
export interface ReplayVerdict {
  /** True when every entry of the new run equals the log's, byte for byte. */
  readonly identical: boolean;
  /** Entries in the recorded log. */
  readonly entries: number;
  /** The first differing line (1-based), when not identical. */
  readonly firstDifference?: number;
  /** Why the replay could not even be compared (a broken chain, another strategy). */
  readonly reason?: string;
  /** The re-run, when it ran. */
  readonly result?: BacktestResult;
}

/**
 * Re-runs a logged backtest and compares the logs.
 * @throws {TypeError} (as a rejection) when the log has no `start` entry.
 */
export async function replay(
  log: string | readonly string[],
  options: ReplayOptions,
): Promise<ReplayVerdict> {
  const lines = typeof log === "string" ? log.split("\n").filter((l) => l.length > 0) : log;
  const chain = verifyActionLog(lines);
  if (!chain.ok) {
    return {
      identical: false,
      entries: lines.length,
      firstDifference: chain.badLine,
      reason: `the recorded log is broken: ${chain.reason}`,
    };
  }
  const start = lines.length > 0 ? parseLine(lines[0]) : undefined;
  if (start?.action !== "start") throw new TypeError("the log does not begin with a start entry");
  const { strategy, version, config } = start.data as {
    strategy: string;
    version: string;
    config: BacktestConfig;
  };
  const s = options.strategy;
  if (s.name !== strategy || (s.version ?? "") !== version) {
    return {
      identical: false,
      entries: lines.length,
      firstDifference: 1,
      reason: `the log is of ${strategy}@${version}, not ${s.name}@${s.version ?? ""}`,
    };
  }
  const result = await backtest({ ...config, strategy: s, feed: options.feed });
  const again = result.log.lines();
  const n = Math.max(lines.length, again.length);
  for (let i = 0; i < n; i++) {
    if (lines[i] !== again[i]) {
      return { identical: false, entries: lines.length, firstDifference: i + 1, result };
    }
  }
  return { identical: true, entries: lines.length, result };
}
