/**
 * The ask side of a rebuild on a worker (`replayBookOn`) gives the columns of the rebuild on
 * one thread (`replayBook`), value for value; and when the worker exits, throws or is busy,
 * the calling thread rebuilds the side itself, to the same columns.
 */
import assert from "node:assert/strict";
import type { BookChange, BookSnapshot, MarketEvent, PriceLevel } from "../lib/market/types.ts";
import { type BookEvents, bookEventsFromMarketEvents } from "../lib/research/_book_events.ts";
import {
  replayBook,
  replayBookOn,
  type ReplayColumns,
  type ReplayOptions,
} from "../lib/research/_book_replay.ts";
import { SideReplayPool } from "../lib/research/_side_replay_pool.ts";

/**
 * Snapshots (some cut at the stored depth), changes on both sides and on one, deletes,
 * resets, and changes out of time order: every path of a side's replay.
 */
function marketEvents(count: number): MarketEvent[] {
  let seed = 7;
  const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  const h = (i: number) => ({
    exchange: "test",
    symbol: "X-Y",
    // Every 97th event is stamped a little earlier than the one before it.
    ts: (i + 1) * 1_000 - (i % 97 === 0 ? 1_500 : 0),
    recvTs: (i + 1) * 1_000 + 300,
  });
  const px = (x: number) => Math.round(x * 100) / 100;
  const side = (mid: number, sign: number, n: number): PriceLevel[] =>
    Array.from({ length: n }, (_, k) => [px(mid + sign * (k + 0.5) * 0.01), 1 + k]);
  const out: MarketEvent[] = [];
  let mid = 100;
  for (let i = 0; i < count; i++) {
    if (i % 1_000 === 0) {
      // With a stored depth of 8, a side of 8 or more levels may have been cut: levels past
      // its worst are unknown (NaN) where the top 10 reaches them.
      const snapshot: BookSnapshot = {
        kind: "book_snapshot",
        ...h(i),
        bids: side(mid, -1, i % 2_000 === 0 ? 20 : 12),
        asks: side(mid, 1, i % 2_000 === 0 ? 8 : 20),
      };
      out.push(snapshot);
      continue;
    }
    if (i % 1_777 === 0) {
      out.push({ kind: "status", ...h(i), status: "reset", reason: "test" });
      continue;
    }
    if (rand() < 0.05) mid += (rand() < 0.5 ? -1 : 1) * 0.01;
    const levels = (sign: number): PriceLevel[] =>
      Array.from({ length: Math.floor(rand() * 3) }, () => {
        const k = Math.floor(rand() * rand() * 25);
        return [px(mid + sign * (k + 0.5) * 0.01), rand() < 0.3 ? 0 : px(rand() * 10)];
      });
    const both = rand() < 0.2;
    const bid = both || rand() < 0.5;
    const change: BookChange = {
      kind: "book_change",
      ...h(i),
      bids: bid ? levels(-1) : [],
      asks: both || !bid ? levels(1) : [],
    };
    out.push(change);
  }
  return out;
}

const EVENTS: BookEvents = bookEventsFromMarketEvents(marketEvents(12_000));

const CASES: [string, ReplayOptions][] = [
  ["every event", {
    levels: 10,
    clock: "ts",
    storedDepth: 8,
    venueDepth: () => Infinity,
    imbalanceLevels: [1, 3, 10],
  }],
  ["a venue depth of 15", {
    levels: 5,
    clock: "ts",
    storedDepth: 50,
    venueDepth: () => 15,
    imbalanceLevels: [2],
  }],
  ["a clock of 50 ms on recv_ts", {
    levels: 4,
    clock: "recv_ts",
    every: 50_000,
    storedDepth: 20,
    venueDepth: () => Infinity,
    imbalanceLevels: [1, 4],
  }],
  ["a window", {
    levels: 3,
    clock: "ts",
    from: 3_000_000,
    to: 7_500_000,
    storedDepth: 20,
    venueDepth: () => Infinity,
  }],
];

/** Every column of `actual` equals `expected`'s, value for value (NaN equal to NaN). */
function assertSameColumns(actual: ReplayColumns, expected: ReplayColumns, what: string) {
  assert.equal(actual.rows, expected.rows, `${what}: rows`);
  assert.equal(actual.applied, expected.applied, `${what}: applied`);
  assert.equal(actual.ignored, expected.ignored, `${what}: ignored`);
  const single = ["ts", "recvTs", "digest", "events", "ofi", "mid", "spread", "microprice"];
  const lists = ["bidPrice", "bidSize", "askPrice", "askSize", "imbalance"];
  const columns = (c: ReplayColumns): [string, ArrayLike<number>][] => {
    const r = c as unknown as Record<string, ArrayLike<number> & readonly ArrayLike<number>[]>;
    return [
      ...single.map((k) => [k, r[k]] as [string, ArrayLike<number>]),
      ...lists.flatMap((k) => r[k].map((a, j) => [`${k}[${j}]`, a] as [string, ArrayLike<number>])),
    ];
  };
  const want = new Map(columns(expected));
  const got = columns(actual);
  assert.deepEqual(got.map(([k]) => k), [...want.keys()], `${what}: columns`);
  for (const [name, a] of got) {
    const e = want.get(name)!;
    assert.equal(a.length, e.length, `${what}: ${name} length`);
    for (let i = 0; i < e.length; i++) {
      if (!Object.is(a[i], e[i])) assert.fail(`${what}: ${name}[${i}] ${a[i]} != ${e[i]}`);
    }
  }
}

Deno.test("the ask side on a worker gives the one-thread rebuild's columns", async () => {
  const pool = new SideReplayPool();
  let rowsCompared = 0;
  for (const [what, o] of CASES) {
    const expected = replayBook(EVENTS, o);
    assert.ok(expected.rows > 50, `${what}: only ${expected.rows} rows`);
    assert.ok(expected.ignored > 0 && expected.applied > 0, `${what}: resets and changes`);
    assertSameColumns(await replayBookOn(pool, EVENTS, o), expected, what);
    rowsCompared += expected.rows;
  }
  assert.equal(pool.served, CASES.length, "the worker rebuilt every case's ask side");
  assert.ok(rowsCompared > 20_000, `${rowsCompared} rows`);
});

Deno.test("the ask side on a worker, into the memory of an earlier rebuild", async () => {
  const pool = new SideReplayPool();
  const [, o] = CASES[0];
  const first = await replayBookOn(pool, EVENTS, o);
  const expected = replayBook(EVENTS, o);
  const again = await replayBookOn(pool, EVENTS, { ...o, reuse: first });
  assertSameColumns(again, expected, "reusing");
  assert.equal(again.mid.buffer, first.mid.buffer, "the bid side's columns reuse the buffers");
  assert.equal(first.askPrice[0].length, 0, "the ask columns given to the worker moved");
  assert.equal(pool.served, 2);
});

for (const fault of ["exit", "throw"] as const) {
  Deno.test(`a worker that fails (${fault}): the calling thread rebuilds the side`, async () => {
    const pool = new SideReplayPool();
    const [, o] = CASES[0];
    const expected = replayBook(EVENTS, o);
    pool.injectFault(fault);
    assertSameColumns(await replayBookOn(pool, EVENTS, o), expected, `${fault}: fallback`);
    assert.equal(pool.served, 0, `${fault}: the worker served nothing`);
    // The next rebuild has a worker again (a new one after an exit).
    assertSameColumns(await replayBookOn(pool, EVENTS, o), expected, `${fault}: after`);
    assert.equal(pool.served, 1, `${fault}: the worker served the next rebuild`);
  });
}

Deno.test("a worker past its deadline is stopped: the calling thread rebuilds the side", async () => {
  const pool = new SideReplayPool();
  pool.deadlineMs = () => 300;
  const [, o] = CASES[0];
  const expected = replayBook(EVENTS, o);
  pool.injectFault("hang");
  assertSameColumns(await replayBookOn(pool, EVENTS, o), expected, "hang: fallback");
  assert.equal(pool.served, 0);
  pool.deadlineMs = () => 60_000;
  assertSameColumns(await replayBookOn(pool, EVENTS, o), expected, "hang: after");
  assert.equal(pool.served, 1, "a new worker served the next rebuild");
});

Deno.test("two rebuilds at once: one on the worker, the other on the calling thread", async () => {
  const pool = new SideReplayPool();
  const [, a] = CASES[0];
  const [, b] = CASES[2];
  const [ra, rb] = await Promise.all([
    replayBookOn(pool, EVENTS, a),
    replayBookOn(pool, EVENTS, b),
  ]);
  assertSameColumns(ra, replayBook(EVENTS, a), "first");
  assertSameColumns(rb, replayBook(EVENTS, b), "second");
  assert.equal(pool.served, 1, "the worker took one of them");
});
