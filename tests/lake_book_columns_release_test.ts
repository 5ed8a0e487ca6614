/**
 * `BookColumns.release` gives its level arrays to the next columns of the process: the
 * next columns take them (no new memory) and hold exactly their own rows' levels (as
 * `storedBookLevels` makes them), whatever the arrays held before.
 */
import assert from "node:assert/strict";
import { BookColumns } from "../lib/lake/mod.ts";
import { storedBookLevels } from "../lib/market/event_digest.ts";
import type { BookSnapshot, PriceLevel } from "../lib/market/types.ts";

function snapshots(count: number, base: number, depth: (i: number) => number): BookSnapshot[] {
  return Array.from({ length: count }, (_, i) => {
    const side = (sign: number): PriceLevel[] =>
      Array.from({ length: depth(i) }, (_, k) => [base + i + sign * (k + 1) * 0.5, k + 0.25]);
    return {
      kind: "book_snapshot",
      exchange: "kraken",
      symbol: "BTC-USD",
      ts: 1.7e15 + i,
      recvTs: 1.7e15 + i + 3,
      bids: side(-1),
      asks: side(1),
    };
  });
}

function fill(events: readonly BookSnapshot[]): BookColumns {
  const columns = new BookColumns("book_snapshots", 50);
  columns.reserve(events.length, events.length * 50, events.length * 50);
  for (const e of events) columns.append(e);
  return columns;
}

Deno.test("BookColumns.release: the next columns reuse the level arrays, with their own rows", () => {
  const first = fill(snapshots(4_000, 60_000, () => 50));
  const arrays = [first.bidPrices.values, first.askSizes.values];
  first.release();
  assert.equal(first.length, 0);
  assert.equal(first.bidPrices.length, 0);
  assert.ok(!arrays.includes(first.bidPrices.values), "released columns keep none");

  // Fewer rows, thinner books: stale values lie beyond every row's levels.
  const events = snapshots(3_000, 1_000, (i) => 20 + (i % 31));
  const second = fill(events);
  assert.ok(arrays.includes(second.bidPrices.values), "a released array is taken again");
  assert.equal(second.length, events.length);
  events.forEach((e, i) => {
    const levels = storedBookLevels(e, 50);
    const bids = [second.bidOffsets.values[i], second.bidOffsets.values[i + 1]];
    const asks = [second.askOffsets.values[i], second.askOffsets.values[i + 1]];
    assert.deepEqual(
      Array.from(second.bidPrices.values.subarray(bids[0], bids[1])),
      levels.bidPrices,
    );
    assert.deepEqual(
      Array.from(second.bidSizes.values.subarray(bids[0], bids[1])),
      levels.bidSizes,
    );
    assert.deepEqual(
      Array.from(second.askPrices.values.subarray(asks[0], asks[1])),
      levels.askPrices,
    );
    assert.deepEqual(
      Array.from(second.askSizes.values.subarray(asks[0], asks[1])),
      levels.askSizes,
    );
  });
  assert.equal(second.bidPrices.length, second.bidOffsets.values[events.length]);
  second.release();
});
