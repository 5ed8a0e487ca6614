/**
 * Information-driven (activity) bars from trade columns, shared by every repository: one
 * pass over `(ts, id)`-ordered trades in JavaScript, so each store only has to read its
 * trades in order.
 * @module
 */
import { computeBars } from "../market/bars.ts";
import type { BarColumns } from "./_result.ts";
import { checkRangeQuery } from "./_query.ts";
import type { ActivityBarQuery } from "./repository.ts";

/** The trade columns activity bars need, ordered by `(ts, id)`. */
export interface ActivityTradeColumns {
  readonly price: ArrayLike<number>;
  readonly size: ArrayLike<number>;
  /** Microseconds since the epoch. */
  readonly ts: ArrayLike<number>;
  /** Microseconds since the epoch. */
  readonly recvTs: ArrayLike<number>;
}

/** The `interval` of activity bars: they have no fixed length. */
export const ACTIVITY_BAR_INTERVAL = 0;

const ACTIVITY_MEASURES: ReadonlySet<string> = new Set(["ticks", "volume", "dollars"]);

/**
 * Checks an activity bar query (see `checkRangeQuery` for the range).
 * @throws {RangeError} when `by` is not `ticks`, `volume` or `dollars`, when the threshold
 * is not a positive finite number, or (for `ticks`) not a positive whole number.
 */
export function checkActivityBarQuery(query: ActivityBarQuery): ActivityBarQuery {
  const checked = checkRangeQuery(query);
  if (!ACTIVITY_MEASURES.has(query.by)) {
    throw new RangeError(`activity bars are by "ticks", "volume" or "dollars", got ${query.by}`);
  }
  const { threshold } = query;
  if (typeof threshold !== "number" || !Number.isFinite(threshold) || threshold <= 0) {
    throw new RangeError(`activity bar threshold must be positive and finite, got ${threshold}`);
  }
  if (query.by === "ticks" && !Number.isSafeInteger(threshold)) {
    throw new RangeError(`tick bar threshold must be a whole number of trades, got ${threshold}`);
  }
  return checked;
}

/**
 * Activity bars over trades ordered by `(ts, id)`: the bar kernel's rules
 * (`lib/market/bars.ts`): a bar closes at the trade that brings its trade count (`ticks`),
 * summed size (`volume`) or summed `price * size` (`dollars`) to at least `threshold`; that
 * trade belongs to the closing bar and the next trade opens a new one (no carry-over). The
 * last bar may be incomplete (below the threshold). Bar `ts` is the first trade's time,
 * `recvTs` the latest receive time of its trades, `interval` is
 * {@linkcode ACTIVITY_BAR_INTERVAL} (0).
 */
export function activityBarColumns(
  query: ActivityBarQuery,
  trades: ActivityTradeColumns,
): BarColumns {
  const bars = computeBars({ by: query.by, threshold: query.threshold }, trades);
  return { exchange: query.exchange, symbol: query.symbol, ...bars };
}
