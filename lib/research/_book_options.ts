/**
 * Options of the book rebuilds (`bookHistory`, `bookSeries`), checked and defaulted.
 * @module
 */
import type { RangeQuery } from "../repositories/repository.ts";
import type { SnapshotOrder } from "./_book_events.ts";

/** Options of `bookHistory` and `bookSeries`. */
export interface BookHistoryOptions {
  /** Levels per side in the frame, best first (a whole number 1..1000; default 10). */
  readonly levels?: number;
  /**
   * Sample on a clock every this many microseconds (rows at multiples of `every`, each the
   * book after every event up to and including that time); default: one row after every
   * stored snapshot and change.
   */
  readonly every?: number;
  /** The time that orders the clock and the query window: venue `ts` (default) or `recv_ts`. */
  readonly clock?: "ts" | "recv_ts";
  /** Depth imbalance columns `imbalance_k` for these level counts (default `[1, levels]`). */
  readonly imbalanceLevels?: readonly number[];
  /** How snapshots are placed among changes (default `sequence` for Binance, else `receive`). */
  readonly snapshotOrder?: SnapshotOrder;
  /**
   * Levels per side the venue maintains (the book is truncated to it after every change, as
   * the collector's is). Default: for Kraken, which sends no deletes for levels that leave
   * the subscribed depth, the smallest Kraken depth (10, 25, 100, 500, 1000) that holds the
   * snapshot; no truncation for other venues.
   */
  readonly venueDepth?: number;
  /** Levels per side the store kept of each snapshot (default 50, the writers' depth). */
  readonly storedDepth?: number;
}

const KRAKEN_DEPTHS = [10, 25, 100, 500, 1000];

/** Options after {@linkcode checkOptions}: defaults filled in. */
export interface CheckedOptions {
  readonly levels: number;
  readonly every?: number;
  readonly clock: "ts" | "recv_ts";
  readonly imbalanceLevels: readonly number[];
  readonly snapshotOrder?: SnapshotOrder;
  readonly venueDepth?: number;
  readonly storedDepth: number;
}

/** Checks options and fills in defaults. */
export function checkOptions(o: BookHistoryOptions): CheckedOptions {
  if (o === null || typeof o !== "object") throw new TypeError("options must be an object");
  const levels = o.levels ?? 10;
  const whole = (name: string, v: number, max: number) => {
    if (typeof v !== "number") throw new TypeError(`${name} must be a number, got ${typeof v}`);
    if (!(Number.isInteger(v) && v >= 1 && v <= max)) {
      throw new RangeError(`${name} must be a whole number in 1..${max}, got ${v}`);
    }
  };
  whole("levels", levels, 1000);
  if (o.every !== undefined) {
    if (typeof o.every !== "number") throw new TypeError("every must be microseconds (a number)");
    if (!(o.every > 0 && Number.isFinite(o.every))) {
      throw new RangeError(`every must be a positive number of microseconds, got ${o.every}`);
    }
  }
  const clock = o.clock ?? "ts";
  if (clock !== "ts" && clock !== "recv_ts") {
    throw new RangeError(`clock must be "ts" or "recv_ts", got ${clock}`);
  }
  const imbalanceLevels = [...new Set(o.imbalanceLevels ?? [1, levels])];
  for (const k of imbalanceLevels) whole("imbalanceLevels", k, levels);
  if (o.snapshotOrder !== undefined && !["receive", "sequence"].includes(o.snapshotOrder)) {
    throw new RangeError(`snapshotOrder must be "receive" or "sequence", got ${o.snapshotOrder}`);
  }
  if (o.venueDepth !== undefined) whole("venueDepth", o.venueDepth, 1_000_000);
  const storedDepth = o.storedDepth ?? 50;
  whole("storedDepth", storedDepth, 1_000_000);
  return { ...o, levels, clock, imbalanceLevels, storedDepth };
}

/** The snapshot order of a venue (`sequence` for Binance, else `receive`). */
export function orderFor(query: RangeQuery): SnapshotOrder {
  return query.exchange === "binance" ? "sequence" : "receive";
}

/** The venue depth a snapshot with these level counts implies (see `venueDepth`). */
export function venueDepthFor(exchange: string, o: CheckedOptions) {
  if (o.venueDepth !== undefined) {
    const depth = o.venueDepth;
    return () => depth;
  }
  if (exchange !== "kraken") return () => Infinity;
  return (bids: number, asks: number) => {
    const most = Math.max(bids, asks);
    if (most >= o.storedDepth) return Infinity; // cut by the store: deeper than we can tell
    return KRAKEN_DEPTHS.find((d) => d >= most) ?? Infinity;
  };
}
