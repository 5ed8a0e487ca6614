/**
 * `limit`, `order` and the cursor pushed down into the repositories: pages walked to the end
 * give every row once in order (checked against DuckDB reading the same files, or against
 * hand-built rows), `limit: 1` over a large lake opens only the first or last day and grows
 * RSS by well under 50 MB, and bad paging arguments are refused.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import type { MarketEvent, Quote, Trade } from "../lib/market/types.ts";
import { LakeRepository, MemoryRepository } from "../lib/repositories/mod.ts";
import type {
  ListQuery,
  MarketDataRepository,
  PagedResult,
} from "../lib/repositories/repository.ts";
import { BIG_LAKE_START, writeBigLake } from "../bench/_big_lake.ts";

const BTC = { exchange: "coinbase", symbol: "BTC-USD" } as const;

/** Every page of a query, walked through `next()`, and the page sizes. */
async function walk<Row>(first: PagedResult<Row>): Promise<{ rows: Row[]; sizes: number[] }> {
  const rows: Row[] = [];
  const sizes: number[] = [];
  let result: PagedResult<Row> | undefined = first;
  while (result !== undefined) {
    const page = await result.page();
    rows.push(...page.rows);
    sizes.push(page.rows.length);
    result = await result.next();
    assert.ok(sizes.length < 10_000, "paging ends");
  }
  return { rows, sizes };
}

/** DuckDB's ids of the lake's trades in `(ts, id)` order, optionally in a range. */
async function duckIds(root: string, where = ""): Promise<string[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    const reader = await con.runAndReadAll(
      `SELECT id FROM read_parquet('${root}/trades/*/*/*/*.parquet') ${where} ORDER BY ts, id`,
    );
    return reader.getRows().map((r) => String(r[0]));
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** Trades by hand: three per time, ids not in time order, so ties are broken by id text. */
function handTrades(): Trade[] {
  const out: Trade[] = [];
  for (let i = 0; i < 20; i++) {
    out.push({
      kind: "trade",
      ...BTC,
      id: String(100 - i), // descending ids: "100", "99", ... (text order: "100" < "81" < "99")
      price: 100 + i,
      size: 1,
      side: "buy",
      ts: BIG_LAKE_START + Math.floor(i / 3) * 1_000_000,
      recvTs: BIG_LAKE_START + Math.floor(i / 3) * 1_000_000 + 7,
    });
  }
  return out;
}

/** The hand trades' ids in `(ts, id)` order, by hand. */
function handOrder(trades: readonly Trade[]): string[] {
  return [...trades].sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((t) => t.id);
}

Deno.test("memory repository: pages of 4 walked forwards and backwards give every trade once", async () => {
  const trades = handTrades();
  const repo = new MemoryRepository(trades);
  const order = handOrder(trades);
  for (const limit of [1, 4, 7, 20, 50]) {
    const asc = await walk(repo.trades({ ...BTC, limit }));
    assert.deepEqual(asc.rows.map((t) => t.id), order, `asc ${limit}`);
    assert.ok(asc.sizes.every((n) => n <= limit));
    const desc = await walk(repo.trades({ ...BTC, limit, order: "desc" }));
    assert.deepEqual(desc.rows.map((t) => t.id), [...order].reverse(), `desc ${limit}`);
  }
  // A cursor inside a run of equal times: the page after the 2nd trade starts at the 3rd.
  const first = await repo.trades({ ...BTC, limit: 2 }).page();
  const rest = await repo.trades({ ...BTC, limit: 3, cursor: first.cursor }).rows();
  assert.deepEqual(rest.map((t) => t.id), order.slice(2, 5));
  // Without a limit there is one page and no cursor.
  const all = await repo.trades({ ...BTC, order: "desc" }).page();
  assert.equal(all.rows.length, 20);
  assert.equal(all.cursor, undefined);
});

Deno.test("memory repository: quotes sharing ts and recvTs are paged by digest", async () => {
  const at = { ...BTC, ts: BIG_LAKE_START, recvTs: BIG_LAKE_START + 1 };
  const quotes: MarketEvent[] = Array.from({ length: 9 }, (_, i) => ({
    kind: "quote",
    ...at,
    ts: at.ts + (i % 2) * 1_000,
    bidPrice: 100 + i,
    bidSize: 1,
    askPrice: 200 + i,
    askSize: 1,
  }));
  const repo = new MemoryRepository(quotes);
  const whole = (await repo.quotes(BTC).rows()).map((q) => q.bidPrice);
  assert.equal(whole.length, 9);
  // The same 9 quotes in pages of 2, either way.
  const asc = await walk(repo.quotes({ ...BTC, limit: 2 }));
  assert.deepEqual(asc.rows.map((q: Quote) => q.bidPrice), whole);
  const desc = await walk(repo.quotes({ ...BTC, limit: 2, order: "desc" }));
  assert.deepEqual(desc.rows.map((q: Quote) => q.bidPrice), [...whole].reverse());
  // Even ts first (by hand): 100, 102, ..., 108 at ts, then the odd ones 1 ms later.
  assert.deepEqual([...whole.slice(0, 5)].sort(), [100, 102, 104, 106, 108]);
});

Deno.test("paging arguments are checked", () => {
  const repo = new MemoryRepository(handTrades());
  const cases: [ListQuery, RegExp][] = [
    [{ ...BTC, limit: 0 }, /limit/],
    [{ ...BTC, limit: 2.5 }, /limit/],
    [{ ...BTC, order: "up" as "asc" }, /order/],
    [{ ...BTC, cursor: "not a cursor" }, /cursor/],
  ];
  for (const [query, message] of cases) assert.throws(() => repo.trades(query), message);
});

Deno.test("a trades cursor is refused for quotes and for the other order", async () => {
  const repo = new MemoryRepository(handTrades());
  const { cursor } = await repo.trades({ ...BTC, limit: 2 }).page();
  assert.ok(cursor);
  assert.throws(() => repo.quotes({ ...BTC, cursor }), /cursor: a cursor of trades/);
  assert.throws(() => repo.trades({ ...BTC, order: "desc", cursor }), /order asc/);
});

Deno.test("lake repository: pages match DuckDB's (ts, id) order across days, with ranges", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-paging-" });
  try {
    await writeBigLake({ root, days: 3, perDay: 30 });
    const lake = await LakeRepository.open({ root });
    try {
      const all = await duckIds(root);
      assert.equal(all.length, 90);
      for (const limit of [1, 7, 30, 100]) {
        const asc = await walk(lake.trades({ ...BTC, limit }));
        assert.deepEqual(asc.rows.map((t) => t.id), all, `asc ${limit}`);
        const desc = await walk(lake.trades({ ...BTC, limit, order: "desc" }));
        assert.deepEqual(desc.rows.map((t) => t.id), [...all].reverse(), `desc ${limit}`);
      }
      // A range cutting the first and the last day.
      const start = BIG_LAKE_START + 43_200_000_000;
      const end = BIG_LAKE_START + 2 * 86_400_000_000 + 43_200_000_000;
      const inRange = await duckIds(
        root,
        `WHERE ts >= make_timestamp(${start}::BIGINT) AND ts < make_timestamp(${end}::BIGINT)`,
      );
      const ranged = await walk(lake.trades({ ...BTC, start, end, limit: 4, order: "desc" }));
      assert.deepEqual(ranged.rows.map((t) => t.id), [...inRange].reverse());
      // A page of 20 from the half day left of the first day (15 trades) and the next day.
      const spanning = await lake.trades({ ...BTC, start, end, limit: 20 }).rows();
      assert.deepEqual(spanning.map((t) => t.id), inRange.slice(0, 20));
      // Polars and Arrow give the page too.
      const frame = await lake.trades({ ...BTC, limit: 5, order: "desc" }).polars();
      assert.deepEqual(frame.getColumn("id").toArray(), [...all].reverse().slice(0, 5));
      const table = await lake.trades({ ...BTC, limit: 5 }).arrow();
      assert.equal(table.numRows, 5);
    } finally {
      await lake.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("limit=1 on a 1.2M-trade lake reads one day, the right row, and little memory", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-big-" });
  try {
    const days = 8;
    await writeBigLake({ root, days, perDay: 150_000 });
    // DuckDB, independently: the first and the last trade by (ts, id).
    const instance = await DuckDBInstance.create(":memory:");
    const con = await instance.connect();
    const ends = (await con.runAndReadAll(
      `SELECT arg_min(id, (ts, id)), arg_max(id, (ts, id)), count(*)
       FROM read_parquet('${root}/trades/*/*/*/*.parquet')`,
    )).getRows()[0];
    con.closeSync();
    instance.closeSync();
    assert.equal(Number(ends[2]), 1_200_000);
    // Every middle day's file made unreadable: a read that opens it fails.
    for await (const day of Deno.readDir(`${root}/trades/exchange=coinbase/symbol=BTC-USD`)) {
      if (day.name === "date=2024-01-01" || day.name === "date=2024-01-08") continue;
      await Deno.writeTextFile(
        `${root}/trades/exchange=coinbase/symbol=BTC-USD/${day.name}/part-0.parquet`,
        "not parquet",
      );
    }
    const lake = await LakeRepository.open({ root });
    try {
      await assert.rejects(() => lake.trades(BTC).rows(), "the whole range opens the bad files");
      const repo: MarketDataRepository = lake;
      // Warm up the libraries once so RSS measures the query, not the first load.
      await repo.trades({ ...BTC, limit: 1 }).rows();
      const rssBefore = Deno.memoryUsage().rss;
      const before = lake.partitionsRead;
      const [first] = await repo.trades({ ...BTC, limit: 1 }).rows();
      const [last] = await repo.trades({ ...BTC, limit: 1, order: "desc" }).rows();
      const growth = Deno.memoryUsage().rss - rssBefore;
      assert.equal(first.id, String(ends[0]));
      assert.equal(last.id, String(ends[1]));
      assert.equal(lake.partitionsRead - before, 2, "one day each");
      assert.ok(growth < 50 * 1024 * 1024, `RSS grew ${(growth / 1048576).toFixed(1)} MB`);
    } finally {
      await lake.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
