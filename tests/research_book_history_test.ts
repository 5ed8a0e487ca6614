/**
 * Books rebuilt from the lake (`lib/research/book_history.ts`): equal to the collector's own
 * books on the recorded Coinbase, Binance and Kraken sessions, and the order-flow imbalance
 * and microprice against hand-computed values.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { replayFiles } from "../collectors/replay/replay.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import type { BookKeeper } from "../lib/book/book_keeper.ts";
import { eventRow, LakeSink, ParquetLake } from "../lib/lake/mod.ts";
import type { EventSink } from "../lib/market/sink.ts";
import type { MarketEvent } from "../lib/market/types.ts";
import { LakeRepository } from "../lib/repositories/mod.ts";
import {
  bookHistory,
  bookHistoryFromEvents,
  ofiStep,
  quotesFromBooks,
} from "../lib/research/book_history.ts";
import { SHARED_DATA } from "./support/recorded.ts";
import { venueBookKeeper } from "../collectors/venues/mod.ts";

const LEVELS = 10;
/** Snapshot levels per side kept by the full-depth lake (more than any recorded book). */
const FULL_DEPTH = 100_000;

/** The collector's book, top levels per side, after the last book event of a frame. */
interface SeenBook {
  readonly symbol: string;
  /** `(ts, recv_ts, digest)` in the full-depth lake and in the 50-level lake. */
  readonly keys: { readonly full: string; readonly cut: string };
  readonly bids: readonly (readonly [number, number])[];
  readonly asks: readonly (readonly [number, number])[];
}

/** A sink that copies the collector's (the keeper's) books as each frame reaches the sinks. */
class BookWitness implements EventSink {
  readonly seen: SeenBook[] = [];
  keeper: BookKeeper | undefined;
  write(events: readonly MarketEvent[]): void {
    const last = new Map<string, SeenBook["keys"]>();
    for (const e of events) {
      if (e.kind !== "book_snapshot" && e.kind !== "book_change") continue;
      const key = (depth: number) => keyOf(e.ts, e.recvTs, eventRow(e, { depth }).digest);
      last.set(e.symbol, { full: key(FULL_DEPTH), cut: key(50) });
    }
    for (const [symbol, keys] of last) {
      const book = this.keeper?.book(symbol);
      if (book === undefined) continue;
      const { bids, asks } = book.top(LEVELS);
      this.seen.push({ symbol, keys, bids, asks });
    }
  }
  flush(): Promise<number> {
    return Promise.resolve(0);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function keyOf(ts: number, recvTs: number, digest: number): string {
  return `${ts}/${recvTs}/${digest}`;
}

/** Rows of a rebuilt frame by `(ts, recv_ts, digest)`. */
function rowsByKey(frame: pl.DataFrame): Map<string, number> {
  const micros = (c: string) => frame.getColumn(c).cast(pl.Int64).toArray().map(Number);
  const [ts, recv] = [micros("ts"), micros("recv_ts")];
  const digest = frame.getColumn("digest").toArray() as number[];
  const out = new Map<string, number>();
  ts.forEach((t, i) => out.set(keyOf(t, recv[i], digest[i]), i));
  return out;
}

/** The level columns of a rebuilt frame as arrays: `[side][k - 1]` is [prices, sizes]. */
function levelColumns(frame: pl.DataFrame) {
  const column = (name: string) => frame.getColumn(name).toTypedArray() as Float64Array;
  const side = (s: string) =>
    Array.from({ length: LEVELS }, (_, k) => [
      column(`${s}_price_${k + 1}`),
      column(`${s}_size_${k + 1}`),
    ]);
  return { bid: side("bid"), ask: side("ask") };
}

/** Levels that the store cannot know (NaN price and size) and levels compared. */
interface Tally {
  unknown: number;
  compared: number;
  books: number;
}

/**
 * Compares one rebuilt row with a book, level by level: each level must be equal, or (only
 * with `allowUnknown`) NaN price and NaN size: unknown, never a wrong number.
 */
function compareRow(
  columns: ReturnType<typeof levelColumns>,
  row: number,
  book: Pick<SeenBook, "bids" | "asks">,
  allowUnknown: boolean,
  tally: Tally,
): void {
  for (const side of ["bid", "ask"] as const) {
    const kept = side === "bid" ? book.bids : book.asks;
    for (let k = 0; k < LEVELS; k++) {
      const got = [columns[side][k][0][row], columns[side][k][1][row]];
      const want = kept[k] ?? [NaN, 0];
      if (allowUnknown && Number.isNaN(got[0]) && Number.isNaN(got[1])) {
        tally.unknown++;
        continue;
      }
      assert.deepEqual(got, [...want], `${side} level ${k + 1} at row ${row}`);
      tally.compared++;
    }
  }
  tally.books++;
}

/**
 * Quotes derived from the rebuilt books: at every book the collector kept, the latest quote
 * equals its best bid and ask; consecutive quotes differ.
 */
async function checkDerivedQuotes(
  repo: LakeRepository,
  exchange: string,
  instruments: readonly { readonly symbol: string }[],
  witness: BookWitness,
): Promise<void> {
  for (const { symbol } of instruments) {
    const q = { exchange, symbol };
    const events = rowsByKey(await bookHistory(repo, q, { levels: 1, storedDepth: FULL_DEPTH }));
    const quotes = await quotesFromBooks(repo, q, { storedDepth: FULL_DEPTH });
    const columns = ["bid_price", "bid_size", "ask_price", "ask_size"].map((c) =>
      quotes.getColumn(c).toTypedArray() as Float64Array
    );
    const quoteAt = new Map<number, number>(); // event row -> quote row
    for (const [key, row] of rowsByKey(quotes)) quoteAt.set(events.get(key)!, row);
    const quoteOf = (i: number) => columns.map((c) => c[i]);
    for (let i = 1; i < quotes.height; i++) {
      assert.notDeepEqual(quoteOf(i), quoteOf(i - 1), "a quote without a change");
    }
    let latest = -1;
    let eventRow = 0;
    for (const seen of witness.seen.filter((s) => s.symbol === symbol)) {
      const target = events.get(seen.keys.full)!;
      for (; eventRow <= target; eventRow++) latest = quoteAt.get(eventRow) ?? latest;
      const best = [...(seen.bids[0] ?? [NaN, 0]), ...(seen.asks[0] ?? [NaN, 0])];
      assert.deepEqual(quoteOf(latest), best);
    }
  }
}

/**
 * Replays a recorded session through the collector code into two lakes (snapshots stored
 * at full depth, and cut at the default 50 levels) while a sink copies the collector's books;
 * then rebuilds every instrument from each lake and compares.
 */
async function replayAndCompare(t: Deno.TestContext, file: string, exchange: string) {
  const full = await Deno.makeTempDir({ prefix: "alphapulse-books-" });
  const cut = await Deno.makeTempDir({ prefix: "alphapulse-books-" });
  try {
    const witness = new BookWitness();
    const lakes = [
      await ParquetLake.open({ root: full, bookDepth: FULL_DEPTH }),
      await ParquetLake.open({ root: cut }),
    ];
    const summary = await replayFiles({
      files: [new URL(file, SHARED_DATA).pathname],
      sinks: [...lakes.map((lake) => new LakeSink(lake)), witness],
      books: (venue) => (witness.keeper = venueBookKeeper(venue)),
      diagnostics: new FeedDiagnostics({ log: () => {} }),
    });
    for (const lake of lakes) await lake.close();
    assert.equal(summary.gaps, 0);
    assert.ok(witness.seen.length > 1_000, `only ${witness.seen.length} books seen`);
    const results: Record<string, Tally> = {};
    for (
      const [name, root, storedDepth] of [["full", full, FULL_DEPTH], ["cut", cut, 50]] as const
    ) {
      const tally: Tally = { unknown: 0, compared: 0, books: 0 };
      results[name] = tally;
      const repo = await LakeRepository.open({ root });
      try {
        const instruments = await repo.instruments({ table: "book_snapshots" });
        assert.ok(instruments.length > 0);
        let storedChanges = 0;
        for (const { symbol } of instruments) {
          const q = { exchange, symbol };
          const frame = await bookHistory(repo, q, { levels: LEVELS, storedDepth });
          const rows = rowsByKey(frame);
          const columns = levelColumns(frame);
          storedChanges += (await repo.bookChanges(q).polars()).height;
          for (const seen of witness.seen.filter((s) => s.symbol === symbol)) {
            const row = rows.get(seen.keys[name]);
            assert.ok(row !== undefined, `no rebuilt row for ${seen.keys[name]}`);
            compareRow(columns, row, seen, name === "cut", tally);
          }
          // At every stored snapshot the rebuilt book is that snapshot.
          const snapshots = await repo.bookSnapshots({ ...q, depth: LEVELS }).rows();
          const digests = (await repo.bookSnapshots(q).polars()).getColumn("digest").toArray();
          assert.ok(snapshots.length > 0);
          snapshots.forEach((s, i) => {
            const row = rows.get(keyOf(s.ts, s.recvTs, digests[i] as number));
            assert.ok(row !== undefined, "no rebuilt row for a stored snapshot");
            compareRow(columns, row, s, false, { unknown: 0, compared: 0, books: 0 });
          });
        }
        assert.equal(storedChanges, summary.book_updates);
        if (name === "full") await checkDerivedQuotes(repo, exchange, instruments, witness);
      } finally {
        await repo.close();
      }
      assert.equal(tally.books, witness.seen.length);
    }
    await t.step(`full-depth snapshots: ${results.full.books} books, all levels equal`, () => {
      assert.equal(results.full.unknown, 0);
      assert.equal(results.full.compared, results.full.books * 2 * LEVELS);
    });
    await t.step(
      `50-level snapshots: ${results.cut.unknown} of ${
        results.cut.books * 2 * LEVELS
      } levels unknown, the rest equal`,
      () =>
        assert.equal(results.cut.compared + results.cut.unknown, results.cut.books * 2 * LEVELS),
    );
    return results;
  } finally {
    await Deno.remove(full, { recursive: true });
    await Deno.remove(cut, { recursive: true });
  }
}

Deno.test("the book rebuilt from the lake equals the collector's: Coinbase", async (t) => {
  await replayAndCompare(t, "coinbase-exchange-ws-20210417.txt", "coinbase");
});

Deno.test("the book rebuilt from the lake equals the collector's: Binance", async (t) => {
  await replayAndCompare(t, "binance-spot-btcusdt-20240808.gz", "binance");
});

Deno.test("the book rebuilt from the lake equals the collector's: Kraken", async (t) => {
  await replayAndCompare(t, "kraken-v1-book-ws-20210417.txt", "kraken");
});

/** A hand-built sequence; every expected value below is worked out by hand in comments. */
function handBuilt(): MarketEvent[] {
  const h = (t: number) => ({ exchange: "test", symbol: "X-Y", ts: t * 1e6, recvTs: t * 1e6 });
  return [
    { ...h(1), kind: "book_snapshot", bids: [[100, 2], [99, 1]], asks: [[101, 3], [102, 4]] },
    { ...h(2), kind: "book_change", bids: [[100, 5]], asks: [] },
    { ...h(3), kind: "book_change", bids: [], asks: [[100.5, 1]] },
    { ...h(4), kind: "book_change", bids: [[100, 0]], asks: [] },
    { ...h(5), kind: "book_change", bids: [[100.2, 2]], asks: [] },
    { ...h(6), kind: "status", status: "reset", reason: "test" },
    { ...h(7), kind: "book_change", bids: [[97, 1]], asks: [] },
    { ...h(8), kind: "book_snapshot", bids: [[98, 1]], asks: [[99, 1]] },
    { ...h(9), kind: "book_change", bids: [], asks: [[99, 3]] },
  ];
}

Deno.test("order-flow imbalance and microprice against hand-computed values", () => {
  const frame = bookHistoryFromEvents(handBuilt(), { levels: 2 });
  const col = (c: string) => [...(frame.getColumn(c).toTypedArray() as Float64Array)];
  // e_n = [b >= pb] bs - [b <= pb] pbs - [a <= pa] as + [a >= pa] pas
  // t2: bid 100 size 2 -> 5, ask unchanged 101 x 3:     5 - 2 - 3 + 3 = 3
  // t3: ask improves to 100.5 x 1, bid unchanged 100 x 5: 5 - 5 - 1 + 0 = -1
  // t4: bid 100 deleted -> 99 x 1, ask unchanged:        0 - 5 - 1 + 1 = -5
  // t5: bid improves to 100.2 x 2:                         2 - 0 - 1 + 1 = 2
  // t7: no book (reset at t6); t8 snapshot: not order flow
  // t9: ask 99 size 1 -> 3, bid unchanged 98 x 1:          1 - 1 - 3 + 1 = -2
  assert.deepEqual(col("ofi"), [NaN, 3, -1, -5, 2, NaN, NaN, -2]);
  assert.equal(frame.height, 8); // the reset is not a row
  // t5: bid 100.2 x 2, ask 100.5 x 1: microprice (100.2 * 1 + 100.5 * 2) / 3 = 100.4
  const at5 = 4;
  assert.ok(Math.abs(col("microprice")[at5] - 100.4) < 1e-12);
  assert.ok(Math.abs(col("mid")[at5] - 100.35) < 1e-12);
  assert.ok(Math.abs(col("spread")[at5] - 0.3) < 1e-12);
  // imbalance_1 = (2 - 1) / 3; imbalance_2 = ((2 + 1) - (1 + 3)) / 7
  assert.ok(Math.abs(col("imbalance_1")[at5] - 1 / 3) < 1e-15);
  assert.ok(Math.abs(col("imbalance_2")[at5] + 1 / 7) < 1e-15);
  // t1: bid 100 x 2, ask 101 x 3: microprice (100 * 3 + 101 * 2) / 5 = 100.4
  assert.ok(Math.abs(col("microprice")[0] - 100.4) < 1e-12);
  // t7: no valid book: every level unknown
  assert.deepEqual([col("bid_price_1")[5], col("bid_size_1")[5]], [NaN, NaN]);
  // t8: a one-level book: level 2 absent (NaN price, size 0)
  assert.deepEqual([col("bid_price_2")[6], col("bid_size_2")[6]], [NaN, 0]);
  assert.equal(col("imbalance_2")[7], (1 - 3) / (1 + 3));
});

Deno.test("clock sampling: the book as of each tick, OFI summed over the interval", () => {
  const frame = bookHistoryFromEvents(handBuilt(), { levels: 1, every: 4e6 });
  const col = (c: string) => [...(frame.getColumn(c).toTypedArray() as Float64Array)];
  // Ticks at 4 s and 8 s (the first multiple of 4 s at or after the first event, up to the last).
  assert.deepEqual(frame.getColumn("ts").cast(pl.Int64).toArray().map(Number), [4e6, 8e6]);
  // 4 s: events at 1..4 s; OFI 3 - 1 - 5 = -3; bid 99 x 1 after the delete, ask 100.5 x 1.
  // 8 s: events at 5, 7, 8 s (the reset is not counted); OFI 2; the snapshot at 8 s.
  assert.deepEqual(col("ofi"), [-3, 2]);
  assert.deepEqual(col("events"), [4, 3]);
  assert.deepEqual(col("bid_price_1"), [99, 98]);
  assert.deepEqual(col("ask_price_1"), [100.5, 99]);
  // A window: rows only in [5 s, 8 s), the book still built from the start.
  const window = bookHistoryFromEvents(handBuilt(), { levels: 1, start: 5e6, end: 8e6 });
  assert.deepEqual(window.getColumn("bid_price_1").toArray(), [100.2, NaN]);
});

Deno.test("bad options are rejected with the option's name", () => {
  assert.throws(() => bookHistoryFromEvents([], { levels: 0 }), /levels/);
  assert.throws(() => bookHistoryFromEvents([], { every: -1 }), RangeError);
  assert.throws(() => bookHistoryFromEvents([], { every: "1s" as unknown as number }), TypeError);
  assert.throws(() => bookHistoryFromEvents([], { imbalanceLevels: [3], levels: 2 }), /imbalance/);
  assert.equal(bookHistoryFromEvents([], {}).height, 0);
  assert.equal(ofiStep(NaN, 1, 101, 1, 100, 1, 101, 1), NaN);
});

Deno.test("bookChanges and statuses read back; a stored reset empties the rebuilt book", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-books-" });
  const base = Date.UTC(2024, 7, 8) * 1000;
  const h = (t: number) => ({
    exchange: "coinbase",
    symbol: "BTC-USD",
    ts: base + t * 1e6,
    recvTs: base + t * 1e6 + 10,
  });
  const events: MarketEvent[] = [
    { ...h(1), kind: "book_snapshot", bids: [[100, 1]], asks: [[101, 1]] },
    { ...h(2), kind: "book_change", bids: [[100, 2]], asks: [], sequence: 7 },
    { ...h(3), kind: "status", status: "reset", reason: "checksum mismatch" },
    { ...h(4), kind: "book_change", bids: [[99, 5]], asks: [] },
    { ...h(5), kind: "book_snapshot", bids: [[98, 1]], asks: [[99, 2]] },
    { ...h(6), kind: "book_change", bids: [], asks: [[99, 0], [99.5, 1]] },
  ];
  try {
    const lake = await ParquetLake.open({ root });
    await lake.writeEvents(events);
    await lake.close();
    const repo = await LakeRepository.open({ root });
    try {
      const q = { exchange: "coinbase", symbol: "BTC-USD" };
      const changes = await repo.bookChanges(q).rows();
      assert.deepEqual(
        changes.map((c) => [c.ts, c.bids, c.asks, c.sequence]),
        [
          [h(2).ts, [[100, 2]], [], 7],
          [h(4).ts, [[99, 5]], [], undefined],
          [h(6).ts, [], [[99, 0], [99.5, 1]], undefined],
        ],
      );
      const table = await repo.bookChanges(q).arrow();
      assert.equal(table.numRows, 3);
      assert.deepEqual([...table.getChild("ask_prices")!.get(2)!], [99, 99.5]);
      const statuses = await repo.statuses(q).rows();
      assert.deepEqual(statuses.map((s) => [s.ts, s.status, s.reason]), [
        [h(3).ts, "reset", "checksum mismatch"],
      ]);
      const frame = await bookHistory(repo, q, { levels: 1 });
      const col = (c: string) => [...(frame.getColumn(c).toTypedArray() as Float64Array)];
      // t1 100 x 1 | t2 100 x 2 | t3 reset | t4 no book | t5 snapshot 98 x 1 / 99 x 2 | t6 ask 99.5 x 1
      assert.deepEqual(col("bid_price_1"), [100, 100, NaN, 98, 98]);
      assert.deepEqual(col("bid_size_1"), [1, 2, NaN, 1, 1]);
      assert.deepEqual(col("ask_price_1"), [101, 101, NaN, 99, 99.5]);
      // With a start after the reset, the rebuild starts at the snapshot before it.
      const late = await bookHistory(repo, { ...q, start: h(6).ts }, { levels: 1 });
      assert.deepEqual(late.getColumn("ask_price_1").toArray(), [99.5]);
      assert.deepEqual(late.getColumn("bid_price_1").toArray(), [98]);
    } finally {
      await repo.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
