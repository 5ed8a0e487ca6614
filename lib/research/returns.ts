/**
 * Log returns of a price series.
 * @module
 */
import type pl from "nodejs-polars";
import {
  checkFrame,
  checkPositive,
  checkTime,
  groupColumns,
  num,
  overGroups,
  requireColumn,
} from "./_frame.ts";

/** Options of {@linkcode logReturns}. */
export interface LogReturnOptions {
  /** Price column (default `price`; use `close` on bars). */
  readonly price?: string;
  /** Time column, Datetime or microseconds (default `ts`); checked to be in order. */
  readonly time?: string;
  /** Columns that identify one series (for example `symbol`); returns never cross them. */
  readonly by?: string | readonly string[];
  /** Name of the added column (default `log_return`). */
  readonly name?: string;
}

/**
 * Adds the log return of each row over the previous row of the same series:
 *
 *     r_i = ln(p_i / p_{i-1})
 *
 * The first row of each series has a null return (no previous price). A NaN or null price
 * makes the two returns touching it NaN.
 *
 * @throws {TypeError} when a column is missing or of the wrong type.
 * @throws {RangeError} when a price is zero or negative, or time is missing or out of order.
 * @example
 * ```ts ignore
 * const withReturns = logReturns(await repo.trades(btc).polars());
 * ```
 */
export function logReturns(frame: pl.DataFrame, options: LogReturnOptions = {}): pl.DataFrame {
  const fn = "logReturns";
  checkFrame(frame, fn);
  const { price = "price", time = "ts", name = "log_return" } = options;
  const by = groupColumns(frame, options.by, fn);
  requireColumn(frame, price, "number", fn);
  checkTime(frame, time, fn, by);
  checkPositive(frame, price, fn);
  return frame.withColumns(logReturnExpr(price, by).alias(name));
}

/** `ln(p_i / p_{i-1})` within each series of `by` (null on each series' first row). */
export function logReturnExpr(price: string, by: readonly string[]): pl.Expr {
  const p = num(price);
  return overGroups(p.div(p.shift(1)).log(), by);
}
