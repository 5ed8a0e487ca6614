/**
 * What a run leaves behind, before it becomes frames and metrics (`results.ts`).
 * @module
 */
import type { ActionLog } from "./action_log.ts";
import type { ResolvedConfig } from "./config.ts";
import type { Fill, Order } from "./types.ts";

/** One position change (after a fill). */
export interface PositionRow {
  readonly ts: number;
  readonly exchange: string;
  readonly symbol: string;
  readonly position: number;
  /** Cash of the whole account after the fill. */
  readonly cash: number;
  /** Profit realised by this fill (average-cost accounting), before fees. */
  readonly realized: number;
}

/** The raw outcome of a run. */
export interface RunRecord {
  readonly config: ResolvedConfig;
  readonly strategy: { readonly name: string; readonly version: string; readonly params: unknown };
  readonly orders: readonly Order[];
  readonly fills: readonly Fill[];
  /** Per fill: `side * (mark at fill time + horizon - price)`; NaN when the run ended first. */
  readonly markouts: readonly number[];
  readonly positions: readonly PositionRow[];
  readonly equityTs: readonly number[];
  readonly equity: readonly number[];
  readonly log: ActionLog;
  /** Market events read. */
  readonly events: number;
  /** Events whose time went backwards (processed at the current time). */
  readonly outOfOrder: number;
  readonly warnings: readonly string[];
  /** The strategy's error, when it threw. */
  readonly error?: string;
}
