/**
 * The statistics of the repeated benchmark windows (`bench/_stats.ts`): pooled histograms
 * read at a quantile, the median, the percent increase and the A/B window order. Expected
 * values are worked out by hand in the comments.
 */
import assert from "node:assert/strict";
import {
  abbaOrder,
  addCounts,
  type Histogram,
  increasePercent,
  median,
  pool,
  quantile,
  total,
} from "../bench/_stats.ts";

Deno.test("pooled histograms are read at a quantile on the bucket's upper edge", () => {
  // Window 1: 98 samples in bucket 10 (1.0-1.1 ms), 2 in bucket 50 (5.0-5.1 ms).
  const w1: Histogram = new Map([[10, 98], [50, 2]]);
  // Window 2: 90 samples in bucket 12, 10 in bucket 200.
  const w2: Histogram = new Map([[200, 10], [12, 90]]);
  // w1 alone: p50 is the 50th sample (bucket 10 -> 1.1 ms); p99 the 99th (bucket 50 -> 5.1).
  assert.equal(quantile(w1, 0.5), 1.1);
  assert.equal(quantile(w1, 0.99), 5.1);
  const both = pool([w1, w2]);
  assert.equal(total(both), 200);
  assert.deepEqual([...both].sort((a, b) => a[0] - b[0]), [[10, 98], [12, 90], [50, 2], [
    200,
    10,
  ]]);
  // Pooled, sorted: 98 in bucket 10, 90 in 12 (to 188), 2 in 50 (to 190), 10 in 200.
  // p50 = 100th sample -> bucket 12 -> 1.3 ms; p95 = 190th -> bucket 50 -> 5.1 ms;
  // p99 = 198th -> bucket 200 -> 20.1 ms.
  assert.equal(quantile(both, 0.5), 1.3);
  assert.equal(quantile(both, 0.95), 5.1);
  assert.equal(quantile(both, 0.99), 20.1);
  // pool copies: the windows are unchanged.
  assert.deepEqual([...w1], [[10, 98], [50, 2]]);
  assert.ok(Number.isNaN(quantile(new Map(), 0.99)));
  assert.throws(() => quantile(w1, 0), RangeError);
  assert.throws(() => quantile(w1, 1.5), RangeError);
});

Deno.test("addCounts adds sparse [bucket, count] pairs as the client processes send them", () => {
  const h = addCounts(new Map([[3, 1]]), [[3, 4], [7, 2]]);
  assert.deepEqual([...h], [[3, 5], [7, 2]]);
});

Deno.test("median, percent increase and the A/B order", () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 10]), 3.5); // (3 + 4) / 2
  assert.equal(median([-14.6, 66.2]), 25.8);
  assert.ok(Number.isNaN(median([])));
  // NaN (an empty window) is left out: the median of 5, 1, 3 -> 3.
  assert.equal(median([5, NaN, 1, 3, NaN]), 3);
  assert.ok(Number.isNaN(median([NaN, NaN])));
  // 12 ms over 10 ms: +20 %; 9 over 12: -25 %; 10.33 over 9.1: +13.5 % (1.23 / 9.1 = 13.52 %).
  assert.equal(increasePercent(12, 10), 20);
  assert.equal(increasePercent(9, 12), -25);
  assert.equal(increasePercent(10.33, 9.1), 13.5);
  assert.deepEqual(abbaOrder(1), ["a", "b"]);
  assert.deepEqual(abbaOrder(3), ["a", "b", "b", "a", "a", "b"]);
  assert.throws(() => abbaOrder(0), RangeError);
  assert.throws(() => abbaOrder(1.5), RangeError);
});
