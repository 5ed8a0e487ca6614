/**
 * Argument checks shared by the repositories.
 * @module
 */
import type { BarQuery, BookSnapshotQuery, RangeQuery } from "./repository.ts";

/**
 * Checks a range query and returns it with `start`/`end` rounded up to whole microseconds
 * (trade times are integers, so `ts >= start` and `ts < end` select the same trades).
 * @throws {TypeError} when exchange or symbol is not a string, or a bound is not a number.
 * @throws {RangeError} when a bound is not finite.
 */
export function checkRangeQuery<Q extends RangeQuery>(query: Q): Q {
  if (typeof query?.exchange !== "string" || typeof query.symbol !== "string") {
    throw new TypeError("a query needs an exchange and a symbol (strings)");
  }
  return { ...query, start: checkBound("start", query.start), end: checkBound("end", query.end) };
}

/**
 * Checks a bar query (see {@linkcode checkRangeQuery}).
 * @throws {RangeError} when the interval is not a positive whole number of microseconds.
 */
export function checkBarQuery(query: BarQuery): BarQuery {
  const checked = checkRangeQuery(query);
  if (!Number.isSafeInteger(query.interval) || query.interval <= 0) {
    throw new RangeError(
      `bar interval must be a positive whole number of microseconds, got ${query.interval}`,
    );
  }
  return checked;
}

/**
 * Checks a book snapshot query (see {@linkcode checkRangeQuery}).
 * @throws {TypeError} when `depth` is given and not a number.
 * @throws {RangeError} when `depth` is not a positive whole number.
 */
export function checkBookSnapshotQuery(query: BookSnapshotQuery): BookSnapshotQuery {
  const checked = checkRangeQuery(query);
  const { depth } = query;
  if (depth === undefined) return checked;
  if (typeof depth !== "number") throw new TypeError("depth must be a number of levels");
  if (!Number.isSafeInteger(depth) || depth < 1) {
    throw new RangeError(`depth must be a positive whole number of levels, got ${depth}`);
  }
  return checked;
}

function checkBound(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number") throw new TypeError(`${name} must be a number of microseconds`);
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be finite, got ${value}`);
  return Math.ceil(value);
}
