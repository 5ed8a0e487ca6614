/**
 * Seeded trade data for the research tests, as plain arrays (for the independent loops
 * the tests compute by hand) and as the Polars frame the repository would return.
 * @module
 */
import pl from "nodejs-polars";
import { SeededRandom } from "../lib/simulator/random.ts";

/** Trades as plain arrays. */
export interface TradeArrays {
  price: number[];
  size: number[];
  side: string[];
  /** Microseconds. */
  ts: number[];
}

export const T0 = Date.UTC(2024, 2, 9, 10, 0, 0) * 1000;

/**
 * `count` trades of a seeded random walk: prices on a 0.01 grid (so zero ticks happen),
 * gaps of 0 to 20 s (so times repeat and minutes are skipped), sides buy / sell with
 * every fifth `unknown`.
 */
export function randomTrades(count: number, seed = 7): TradeArrays {
  const r = new SeededRandom(seed);
  const out: TradeArrays = { price: [], size: [], side: [], ts: [] };
  let p = 100;
  let t = T0 + 1_234_567;
  for (let i = 0; i < count; i++) {
    p = Math.max(1, Math.round((p + r.int(-3, 3) * 0.01) * 100) / 100);
    t += r.next() < 0.1 ? 0 : r.int(1, 20_000_000);
    out.price.push(p);
    out.size.push(r.int(1, 50) / 10);
    out.side.push(i % 5 === 4 ? "unknown" : r.next() < 0.5 ? "buy" : "sell");
    out.ts.push(t);
  }
  return out;
}

/** Microsecond times as a Datetime(us) Series, like the repository's `ts`. */
export function timeSeries(name: string, micros: number[]): pl.Series {
  return pl.Series(name, micros, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us"));
}

/** The arrays as a trade frame (columns of `repo.trades(...).polars()` that matter here). */
export function tradeFrame(t: TradeArrays): pl.DataFrame {
  return pl.DataFrame([
    pl.Series("price", t.price, pl.Float64),
    pl.Series("size", t.size, pl.Float64),
    pl.Series("side", t.side, pl.Utf8),
    timeSeries("ts", t.ts),
  ]);
}

/** A numeric column as numbers (null stays null). */
export function column(frame: pl.DataFrame, name: string): (number | null)[] {
  let s = frame.getColumn(name);
  if (s.dtype.variant === "Datetime") s = s.cast(pl.Datetime("us")).cast(pl.Int64);
  return (s.toArray() as (number | bigint | null)[]).map((v) => v === null ? null : Number(v));
}

/** Asserts two number lists agree to a relative tolerance (null and NaN must match). */
export function assertClose(
  actual: readonly (number | null)[],
  expected: readonly (number | null)[],
  what: string,
  tolerance = 1e-9,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  }
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const same = (a === null && e === null) ||
      (a !== null && e !== null &&
        ((Number.isNaN(a) && Number.isNaN(e)) ||
          (Math.abs(a - e) <= tolerance * Math.abs(e) || Math.abs(a - e) <= 1e-15)));
    if (!same) throw new Error(`${what}[${i}]: got ${a}, expected ${e}`);
  }
}
