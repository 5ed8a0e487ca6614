/**
 * The sampling mode's constant columns (`events` on event rows, `digest` on clock rows) are
 * made on first read, with hand-computed values; the read path's list flattening and its
 * check that price and size lists have the same lengths, on hand-built frames.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import type { MarketEvent } from "../lib/market/types.ts";
import { bookEventsFromFrames, bookEventsFromMarketEvents } from "../lib/research/_book_events.ts";
import { checkOptions } from "../lib/research/_book_options.ts";
import { replayBook } from "../lib/research/_book_replay.ts";
import { Scratch } from "../lib/research/_scratch.ts";
import { type BookSeries, seriesOfEvents } from "../lib/research/book_series.ts";

/** Seconds to microseconds. */
const s = (t: number) => t * 1e6;

function events(): MarketEvent[] {
  const h = (t: number) => ({ exchange: "test", symbol: "X-Y", ts: s(t), recvTs: s(t) });
  return [
    { ...h(1), kind: "book_snapshot", bids: [[100, 2]], asks: [[101, 3]] },
    { ...h(2), kind: "book_change", bids: [[100, 5]], asks: [] },
    { ...h(3), kind: "book_change", bids: [], asks: [[100.5, 1]] },
    { ...h(4), kind: "book_change", bids: [[99, 1]], asks: [] },
    { ...h(5), kind: "book_change", bids: [[100.2, 2]], asks: [] },
    // Applied after t5 (stored order), stamped earlier: out of the window below.
    { ...h(2.5), kind: "book_change", bids: [[98, 1]], asks: [] },
    { ...h(6), kind: "status", status: "reset", reason: "test" },
    { ...h(7), kind: "book_change", bids: [[97, 1]], asks: [] },
    { ...h(8), kind: "book_snapshot", bids: [[98, 1]], asks: [[99, 1]] },
    { ...h(9), kind: "book_change", bids: [], asks: [[99, 3]] },
  ];
}

function series(
  range: { start?: number; end?: number },
  options: { every?: number; reuse?: BookSeries } = {},
): BookSeries {
  const o = checkOptions({ levels: 2, every: options.every });
  return seriesOfEvents(bookEventsFromMarketEvents(events()), range, {
    ...o,
    exchange: "test",
    reuse: options.reuse,
  });
}

// Window [3 s, 9 s): rows at t3, t4, t5, t7, t8. Events since the previous row: t3 takes
// t1, t2, t3 (warm-up before the window); t7 takes t2.5 (applied without a row) and t7; the
// reset is no event.
const WINDOW = { start: s(3), end: s(9) };
const WINDOW_EVENTS = [3, 1, 1, 2, 1];

Deno.test("event rows: events made on first read, 1 but where events had no row", () => {
  const o = checkOptions({ levels: 2 });
  const c = replayBook(bookEventsFromMarketEvents(events()), {
    ...o,
    from: WINDOW.start,
    to: WINDOW.end,
    venueDepth: () => Infinity,
  });
  assert.equal(c.lazy.events.made, undefined, "events made before a read");
  assert.deepEqual([...c.events], WINDOW_EVENTS);
  assert.equal(c.lazy.events.made, c.events);
  assert.deepEqual([...c.digest], [0, 0, 0, 0, 0]);
  // Without a window every stored snapshot and change is a row of one event.
  const all = series({});
  assert.equal(all.rows, 9);
  assert.deepEqual([...all.events], new Array(9).fill(1));
  assert.deepEqual([...series(WINDOW).events], WINDOW_EVENTS);
});

Deno.test("clock rows: digest made on first read, all 0; the frame has events", () => {
  const o = checkOptions({ levels: 1, every: s(4) });
  const c = replayBook(bookEventsFromMarketEvents(events()), { ...o, venueDepth: () => Infinity });
  assert.equal(c.lazy.digest.made, undefined, "digest made before a read");
  // Ticks at 4 s and 8 s: events at 1, 2, 3, 4 s; then 5, 2.5, 7, 8 s (not the reset).
  assert.deepEqual([...c.events], [4, 4]);
  assert.deepEqual([...c.digest], [0, 0]);
  const clocked = series({}, { every: s(4) });
  assert.deepEqual(clocked.polars().getColumn("events").toArray(), [4, 4]);
  assert.deepEqual([...clocked.digest], [0, 0]);
});

Deno.test("reuse: a lazy column takes the earlier series' buffer, made or not", () => {
  const first = series({});
  const made = first.events; // made: 9 ones
  const second = series(WINDOW, { reuse: first });
  assert.deepEqual([...second.events], WINDOW_EVENTS);
  assert.equal(second.events.buffer, made.buffer, "events did not reuse the earlier buffer");
  // `second.events` was made; a third series over `second` reads it without a copy of its own,
  // and a fourth over a series whose events were never read still gets the right values.
  const third = series({}, { reuse: second });
  const fourth = series(WINDOW, { reuse: third });
  assert.deepEqual([...fourth.events], WINDOW_EVENTS);
  assert.deepEqual([...series({}, { every: s(4), reuse: fourth }).digest], [0, 0]);
});

function changeFrame(bidSizes: number[][]): pl.DataFrame {
  const micros = (name: string, v: number[]) =>
    pl.Series(name, v, pl.Int64).cast(pl.Datetime("us"));
  return pl.DataFrame([
    micros("ts", [s(1), s(2), s(3)]),
    micros("recv_ts", [s(1), s(2), s(3)]),
    pl.Series("digest", [7, 8, 9], pl.Int32),
    pl.Series("bid_prices", [[100, 99], [], [98]], pl.List(pl.Float64)),
    pl.Series("bid_sizes", bidSizes, pl.List(pl.Float64)),
    pl.Series("ask_prices", [[], [101], []], pl.List(pl.Float64)),
    pl.Series("ask_sizes", [[], [4], []], pl.List(pl.Float64)),
    pl.Series("sequence", [null, null, null], pl.Int64),
  ]);
}

Deno.test("read path: level lists flattened with offsets; uneven lists rejected", async () => {
  const snapshot = changeFrame([[1, 2], [], [3]]).head(0);
  const scratch = new Scratch();
  const ev = await bookEventsFromFrames(
    { snapshots: snapshot, changes: changeFrame([[1, 2], [], [3]]) },
    "receive",
    scratch,
  );
  assert.equal(ev.length, 3);
  assert.deepEqual([...ev.changes.bidOffsets], [0, 2, 2, 3]);
  assert.deepEqual([...ev.changes.bidPrices], [100, 99, 98]);
  assert.deepEqual([...ev.changes.bidSizes], [1, 2, 3]);
  assert.deepEqual([...ev.changes.askOffsets], [0, 0, 1, 1]);
  assert.deepEqual([...ev.changes.askPrices, ...ev.changes.askSizes], [101, 4]);
  assert.deepEqual([...ev.digest], [7, 8, 9]);
  // The same scratch again: the arrays are rewritten in place, with the same values.
  const again = await bookEventsFromFrames(
    { snapshots: snapshot, changes: changeFrame([[1, 2], [], [3]]) },
    "sequence",
    scratch,
  );
  assert.equal(again.changes.bidOffsets.buffer, ev.changes.bidOffsets.buffer);
  assert.deepEqual([...again.changes.bidOffsets], [0, 2, 2, 3]);
  assert.deepEqual([...again.ts], [s(1), s(2), s(3)]);
  await assert.rejects(
    () =>
      bookEventsFromFrames(
        { snapshots: snapshot, changes: changeFrame([[1], [], [3]]) },
        "receive",
      ),
    RangeError,
  );
  await assert.rejects(
    () =>
      bookEventsFromFrames(
        { snapshots: snapshot, changes: changeFrame([[1, 2], [5], [3]]) },
        "receive",
      ),
    RangeError,
  );
});
