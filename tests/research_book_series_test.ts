/**
 * `bookSeries` (typed-array columns, derived columns computed in JavaScript) against
 * `bookHistory`'s frame (derived columns computed by Polars expressions) on recorded
 * sessions replayed into a lake: every row, every column, exactly (NaN equal to NaN).
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { replayFiles } from "../collectors/replay/replay.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { LakeSink, ParquetLake } from "../lib/lake/mod.ts";
import { LakeRepository } from "../lib/repositories/mod.ts";
import type { RangeQuery } from "../lib/repositories/repository.ts";
import { bookHistory, type BookHistoryOptions } from "../lib/research/book_history.ts";
import { bookSeries } from "../lib/research/book_series.ts";
import { SHARED_DATA } from "./support/recorded.ts";

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

async function replayIntoLake(file: string): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-book-series-" });
  const lake = await ParquetLake.open({ root });
  await replayFiles({
    files: [new URL(file, SHARED_DATA).pathname],
    sinks: [new LakeSink(lake)],
    diagnostics: new FeedDiagnostics({ log: () => {} }),
  });
  await lake.close();
  return root;
}

async function compareSession(file: string, exchange: string) {
  const root = await replayIntoLake(file);
  const repo = await LakeRepository.open({ root });
  try {
    const instruments = await repo.instruments({ table: "book_snapshots" });
    assert.ok(instruments.length > 0);
    let rows = 0;
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
        const expected = await bookHistory(repo, query, options);
        const series = await bookSeries(repo, query, options);
        const what = `${symbol} ${JSON.stringify(options)} ${query.start ?? ""}`;
        assert.equal(series.rows, expected.height, what);
        assertFramesEqual(series.polars(), expected, what);
        const arrow = series.arrow();
        assert.equal(arrow.numRows, expected.height, what);
        const spread = arrow.getChild("spread")!.toArray() as Float64Array;
        const want = expected.getColumn("spread").toArray();
        spread.forEach((v, i) => assert.ok(same(v, want[i]), `${what}: arrow spread[${i}]`));
        const ts = arrow.getChild("ts")!.data[0].values as BigInt64Array;
        const wantTs = expected.getColumn("ts").cast(pl.Int64).toArray();
        ts.forEach((v, i) => assert.equal(Number(v), Number(wantTs[i]), `${what}: arrow ts[${i}]`));
        rows += expected.height;
      }
    }
    assert.ok(rows > 1_000, `only ${rows} rows compared`);
  } finally {
    await repo.close();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("bookSeries equals bookHistory's frame: Coinbase", async () => {
  await compareSession("coinbase-exchange-ws-20210417.txt", "coinbase");
});

Deno.test("bookSeries equals bookHistory's frame: Kraken (truncated venue depth)", async () => {
  await compareSession("kraken-v1-book-ws-20210417.txt", "kraken");
});

Deno.test("bookSeries rejects bad options like bookHistory", async () => {
  const repo = await LakeRepository.open({ root: await Deno.makeTempDir() });
  try {
    const q = { exchange: "coinbase", symbol: "BTC-USD" };
    await assert.rejects(() => bookSeries(repo, q, { levels: 0 }), RangeError);
    await assert.rejects(() => bookSeries(repo, q, { every: -1 }), RangeError);
  } finally {
    await repo.close();
  }
});
