/**
 * Small statistics for benchmarks that repeat a measurement in several windows or rounds:
 * latency histograms of 0.1 ms buckets (pooled across windows, read at a quantile), the
 * median, and the per-pair change of an A/B sequence.
 * @module
 */

/** A latency histogram: bucket index (0.1 ms wide) to count. */
export type Histogram = Map<number, number>;

/** Width of one histogram bucket, in milliseconds. */
export const BUCKET_MS = 0.1;

/** Adds `counts` (`[bucket, count]` pairs, or another histogram) into `into`; returns `into`. */
export function addCounts(
  into: Histogram,
  counts: Iterable<readonly [number, number]>,
): Histogram {
  for (const [bucket, n] of counts) into.set(bucket, (into.get(bucket) ?? 0) + n);
  return into;
}

/** One histogram holding the counts of all of `histograms`. */
export function pool(histograms: Iterable<Histogram>): Histogram {
  const out: Histogram = new Map();
  for (const h of histograms) addCounts(out, h);
  return out;
}

/** The number of samples in a histogram. */
export function total(histogram: Histogram): number {
  let n = 0;
  for (const count of histogram.values()) n += count;
  return n;
}

/**
 * The `q` quantile (0 < q <= 1) of a histogram, in milliseconds: the upper edge of the
 * bucket holding the `ceil(total * q)`-th smallest sample. `NaN` when the histogram is empty.
 * @throws {RangeError} when `q` is not in (0, 1].
 */
export function quantile(histogram: Histogram, q: number): number {
  if (!(q > 0 && q <= 1)) throw new RangeError(`quantile must be in (0, 1], got ${q}`);
  const target = Math.ceil(total(histogram) * q);
  let seen = 0;
  for (const bucket of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(bucket)!;
    if (seen >= target && target > 0) return Number(((bucket + 1) * BUCKET_MS).toFixed(1));
  }
  return NaN;
}

/**
 * The median of `values` (the mean of the two middle ones for an even count), leaving out
 * `NaN`s (a window in which no client received anything); `NaN` if none is left.
 */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** How much `value` exceeds `base`, in percent, to one decimal. */
export function increasePercent(value: number, base: number): number {
  return Number(((value - base) / base * 100).toFixed(1));
}

/**
 * The order of an A/B sequence of `pairs` pairs that cancels a linear drift: A B, B A, A B,
 * ... (`"a"` and `"b"` per window, pair `k` occupying windows `2k` and `2k + 1`).
 * @throws {RangeError} when `pairs` is not a positive integer.
 */
export function abbaOrder(pairs: number): ("a" | "b")[] {
  if (!Number.isInteger(pairs) || pairs < 1) {
    throw new RangeError(`pairs must be a positive integer, got ${pairs}`);
  }
  const order: ("a" | "b")[] = [];
  for (let k = 0; k < pairs; k++) {
    order.push(...(k % 2 ? ["b", "a"] as const : ["a", "b"] as const));
  }
  return order;
}
