/**
 * `bookSeries` (typed-array columns, derived columns computed in JavaScript, the ask side
 * rebuilt on a worker) and `bookHistory` (now `bookSeries(...).polars()`) against the
 * previous frame path (the replay's columns copied into Polars, derived columns computed by
 * Polars expressions, both sides rebuilt on this thread; kept here as the reference) on
 * recorded sessions replayed into a lake: every row, every column, exactly (NaN equal to
 * NaN).
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { LakeRepository } from "../lib/repositories/mod.ts";
import type { RangeQuery } from "../lib/repositories/repository.ts";
import { bookHistory, type BookHistoryOptions } from "../lib/research/book_history.ts";
import { type BookSeries, bookSeries } from "../lib/research/book_series.ts";
import { loadBookEvents } from "../lib/research/_book_load.ts";
import { checkOptions, orderFor, venueDepthFor } from "../lib/research/_book_options.ts";
import { replayBook, type ReplayColumns } from "../lib/research/_book_replay.ts";
import { SIDE_REPLAYS } from "../lib/research/_side_replay_pool.ts";
import { replaySession } from "./support/replay_sessions.ts";

// Every `bookSeries` here rebuilds its ask side on the worker (the recorded sessions are
// below the size that would): the reference (`replayBook`) rebuilds both on this thread.
SIDE_REPLAYS.minEvents = 0;

/** Same value: NaN equals NaN, null equals null, bigint compared as bigint. */
function same(a: unknown, b: unknown): boolean {
  return Object.is(a, b) || (a === b) || (Number.isNaN(a) && Number.isNaN(b));
}

function assertFramesEqual(actual: pl.DataFrame, expected: pl.DataFrame, what: string) {
  assert.deepEqual(actual.columns, expected.columns, `${what}: columns`);
  assert.equal(actual.height, expected.height, `${what}: rows`);
  for (const name of expected.columns) {
    const [a, e] = [actual.getColumn(name), expected.getColumn(name)];
    assert.equal(String(a.dtype), String(e.dtype), `${what}: ${name} type`);
    const isTime = name === "ts" || name === "recv_ts";
    const [av, ev] = isTime
      ? [a.cast(pl.Int64).toArray(), e.cast(pl.Int64).toArray()]
      : [a.toArray(), e.toArray()];
    for (let i = 0; i < ev.length; i++) {
      if (!same(av[i], ev[i])) assert.fail(`${what}: ${name}[${i}] ${av[i]} != ${ev[i]}`);
    }
  }
}

/** The frame path before `bookSeries`: replay columns into Polars, then derived columns. */
async function previousFrame(
  repo: LakeRepository,
  query: RangeQuery,
  options: BookHistoryOptions,
): Promise<pl.DataFrame> {
  const o = checkOptions(options);
  const events = await loadBookEvents(repo, query, orderFor(query));
  const c = replayBook(events, {
    levels: o.levels,
    every: o.every,
    clock: o.clock,
    from: query.start,
    to: query.end,
    storedDepth: o.storedDepth,
    venueDepth: venueDepthFor(query.exchange, o),
  });
  return withDerived(levelFrame(c, o.every !== undefined), o.imbalanceLevels);
}

function levelFrame(c: ReplayColumns, clock: boolean): pl.DataFrame {
  const f64 = (name: string, v: Float64Array) => pl.Series(name, v, pl.Float64);
  const micros = (name: string, v: Float64Array) =>
    f64(name, v).cast(pl.Int64).cast(pl.Datetime("us"));
  const side = (name: string, lists: readonly Float64Array[]) =>
    lists.map((v, k) => f64(`${name}_${k + 1}`, v));
  return pl.DataFrame([
    micros("ts", c.ts),
    micros("recv_ts", c.recvTs),
    clock ? f64("events", c.events).cast(pl.UInt32) : pl.Series("digest", c.digest, pl.Int32),
    ...side("bid_price", c.bidPrice),
    ...side("bid_size", c.bidSize),
    ...side("ask_price", c.askPrice),
    ...side("ask_size", c.askSize),
    f64("ofi", c.ofi),
  ]);
}

function withDerived(frame: pl.DataFrame, imbalanceLevels: readonly number[]): pl.DataFrame {
  const col = pl.col;
  const sum = (name: string, k: number) => {
    let e = col(`${name}_1`);
    for (let j = 2; j <= k; j++) e = e.add(col(`${name}_${j}`));
    return e;
  };
  const imbalances = imbalanceLevels.map((k) => {
    const b = sum("bid_size", k);
    const a = sum("ask_size", k);
    return b.sub(a).div(b.add(a)).alias(`imbalance_${k}`);
  });
  return frame.withColumns(
    col("bid_price_1").add(col("ask_price_1")).div(2).alias("mid"),
    col("ask_price_1").sub(col("bid_price_1")).alias("spread"),
    col("bid_price_1").mul(col("ask_size_1")).add(col("ask_price_1").mul(col("bid_size_1")))
      .div(col("bid_size_1").add(col("ask_size_1"))).alias("microprice"),
    ...imbalances,
  ).select(
    ...frame.columns.filter((c) => c !== "ofi").map((c) => col(c)),
    col("mid"),
    col("spread"),
    col("microprice"),
    ...imbalanceLevels.map((k) => col(`imbalance_${k}`)),
    col("ofi"),
  );
}

async function replayIntoLake(file: string): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-book-series-" });
  await replaySession(root, file);
  return root;
}

async function compareSession(file: string, exchange: string) {
  const root = await replayIntoLake(file);
  const repo = await LakeRepository.open({ root });
  try {
    const instruments = await repo.instruments({ table: "book_snapshots" });
    assert.ok(instruments.length > 0);
    let rows = 0;
    // Each case is also rebuilt into the memory of the case before (`reuse`), across level
    // counts, clocks and windows: the result must equal the reference all the same.
    let previous: BookSeries | undefined;
    let reusedBuffers = 0;
    const served = SIDE_REPLAYS.served;
    for (const { symbol } of instruments) {
      const q: RangeQuery = { exchange, symbol };
      const cases: [RangeQuery, BookHistoryOptions][] = [
        [q, { levels: 10 }],
        [q, { levels: 3, imbalanceLevels: [3, 1, 2] }],
        [q, { levels: 5, every: 250_000 }],
      ];
      const all = await repo.bookChanges(q).polars();
      if (all.height > 10) {
        const ts = all.getColumn("ts").cast(pl.Int64).toArray().map(Number);
        const window = { ...q, start: ts[Math.floor(ts.length / 3)], end: ts.at(-1) };
        cases.push([window, { levels: 10 }], [window, { levels: 4, every: 100_000 }]);
      }
      for (const [query, options] of cases) {
        const expected = await previousFrame(repo, query, options);
        const series = await bookSeries(repo, query, options);
        const what = `${symbol} ${JSON.stringify(options)} ${query.start ?? ""}`;
        assert.equal(series.rows, expected.height, what);
        assertFramesEqual(series.polars(), expected, what);
        assertFramesEqual(await bookHistory(repo, query, options), expected, `${what} history`);
        const arrow = series.arrow();
        assert.equal(arrow.numRows, expected.height, what);
        const spread = arrow.getChild("spread")!.toArray() as Float64Array;
        const want = expected.getColumn("spread").toArray();
        spread.forEach((v, i) => assert.ok(same(v, want[i]), `${what}: arrow spread[${i}]`));
        const ts = arrow.getChild("ts")!.data[0].values as BigInt64Array;
        const wantTs = expected.getColumn("ts").cast(pl.Int64).toArray();
        ts.forEach((v, i) => assert.equal(Number(v), Number(wantTs[i]), `${what}: arrow ts[${i}]`));
        rows += expected.height;
        if (previous !== undefined) {
          const old = previous.mid.buffer;
          const reused = await bookSeries(repo, query, { ...options, reuse: previous });
          assertFramesEqual(reused.polars(), expected, `${what} reusing`);
          if (old.byteLength >= reused.rows * 8) {
            assert.equal(reused.mid.buffer, old, `${what}: mid reuses the earlier buffer`);
            reusedBuffers++;
          }
          previous = reused;
        } else {
          previous = series;
        }
      }
    }
    assert.ok(rows > 1_000, `only ${rows} rows compared`);
    assert.ok(SIDE_REPLAYS.served > served, "no series had its ask side rebuilt on the worker");
    assert.ok(reusedBuffers > 0, "no case rebuilt into an earlier series' memory");
  } finally {
    await repo.close();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("bookSeries and bookHistory equal the previous frame path: Coinbase", async () => {
  await compareSession("coinbase-exchange-ws-20210417.txt", "coinbase");
});

Deno.test("bookSeries and bookHistory equal the previous frame path: Kraken (venue depth)", async () => {
  await compareSession("kraken-v1-book-ws-20210417.txt", "kraken");
});

Deno.test("bookSeries rejects bad options like bookHistory", async () => {
  const repo = await LakeRepository.open({ root: await Deno.makeTempDir() });
  try {
    const q = { exchange: "coinbase", symbol: "BTC-USD" };
    await assert.rejects(() => bookSeries(repo, q, { levels: 0 }), RangeError);
    await assert.rejects(() => bookSeries(repo, q, { every: -1 }), RangeError);
    await assert.rejects(() => bookSeries(repo, q, { reuse: {} as BookSeries }), TypeError);
  } finally {
    await repo.close();
  }
});
