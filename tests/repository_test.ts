import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { ParquetLake } from "../lib/lake/mod.ts";
import type { Bar, Trade } from "../lib/market/types.ts";
import {
  BAR_COLUMNS,
  LakeRepository,
  type MarketDataRepository,
  MemoryRepository,
  TRADE_COLUMNS,
} from "../lib/repositories/mod.ts";
import {
  BINANCE_CAPTURE,
  readBinanceTrades,
  sortTrades,
  syntheticTrades,
} from "./support/lake_trades.ts";

/** 2024-03-09 00:00:00 UTC in microseconds. */
const MIDNIGHT = Date.UTC(2024, 2, 9) * 1000;
const MINUTE = 60_000_000;
const BTC = { exchange: "coinbase", symbol: "BTC-USD" } as const;

/**
 * Trades around midnight in three batches (so partitions hold several files and rows
 * arrive out of order), with same-time trades whose ids order differently as text than as
 * numbers ("10" < "9"), and a second instrument.
 */
function fixture(): Trade[][] {
  const btc = syntheticTrades({ start: MIDNIGHT - 30 * MINUTE, count: 900, step: 4_000_000 });
  const ties = ["9", "10", "11"].map((id, i) => ({
    ...btc[0],
    id: `tie-${id}`,
    price: 200 + i,
    ts: MIDNIGHT - MINUTE + 1, // three trades at the same time, alone in their second
  }));
  const edges = [MIDNIGHT - 1, MIDNIGHT, MIDNIGHT + 1].map((ts, i) => ({
    ...btc[0],
    id: `edge-${i}`,
    ts,
    recvTs: ts + 10,
  }));
  const eth = syntheticTrades({
    symbol: "ETH-USD",
    start: MIDNIGHT + 3 * MINUTE,
    count: 50,
    step: 2_000_000,
    seed: 7,
  });
  return [btc.slice(0, 400).reverse(), [...btc.slice(400), ...edges], [...ties, ...eth]];
}

async function withRepositories(
  fn: (repos: { lake: LakeRepository; memory: MemoryRepository; root: string }) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "repository_test_" });
  const writer = await ParquetLake.open({ root });
  const memory = new MemoryRepository();
  for (const batch of fixture()) {
    await writer.writeTrades(batch);
    memory.add(batch);
  }
  await writer.close();
  const lake = await LakeRepository.open({ root });
  try {
    await fn({ lake, memory, root });
  } finally {
    await lake.close();
    await memory.close();
    await Deno.remove(root, { recursive: true });
  }
}

/** Bars computed the plain way, independent of both repositories. */
function referenceBars(trades: readonly Trade[], interval: number): Bar[] {
  const groups = new Map<number, Trade[]>();
  for (const t of sortTrades(trades)) {
    const start = t.ts - (t.ts % interval);
    groups.set(start, [...(groups.get(start) ?? []), t]);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([ts, g]) => {
    const volume = g.reduce((s, t) => s + t.size, 0);
    return {
      kind: "bar",
      exchange: g[0].exchange,
      symbol: g[0].symbol,
      ts,
      recvTs: Math.max(...g.map((t) => t.recvTs)),
      interval,
      open: g[0].price,
      high: Math.max(...g.map((t) => t.price)),
      low: Math.min(...g.map((t) => t.price)),
      close: g[g.length - 1].price,
      volume,
      vwap: g.reduce((s, t) => s + t.price * t.size, 0) / volume,
      trades: g.length,
    };
  });
}

/** Equal bars, with sums (volume, vwap) equal up to rounding of the summation order. */
function assertBarsEqual(actual: readonly Bar[], expected: readonly Bar[]): void {
  assert.equal(actual.length, expected.length);
  const exact = (b: Bar) => ({ ...b, volume: 0, vwap: 0 });
  assert.deepEqual(actual.map(exact), expected.map(exact));
  for (let i = 0; i < actual.length; i++) {
    for (const key of ["volume", "vwap"] as const) {
      const a = actual[i][key];
      const e = expected[i][key];
      assert.ok(Math.abs(a - e) <= 1e-9 * Math.abs(e), `bar ${i} ${key}: ${a} vs ${e}`);
    }
  }
}

Deno.test("trades read back identical through rows, polars and arrow", async () => {
  await withRepositories(async ({ lake, memory }) => {
    const all = fixture().flat();
    for (const q of [BTC, { exchange: "coinbase", symbol: "ETH-USD" }]) {
      const expected = sortTrades(all.filter((t) => t.symbol === q.symbol));
      for (const repo of [lake, memory] as MarketDataRepository[]) {
        const result = repo.trades(q);
        assert.deepEqual(await result.rows(), expected);

        const df = await result.polars();
        assert.deepEqual(df.columns, [...TRADE_COLUMNS]);
        assert.equal(String(df.getColumn("ts").dtype), String(pl.Datetime("us")));
        assert.deepEqual(df.getColumn("id").toArray(), expected.map((t) => t.id));
        assert.deepEqual([...df.getColumn("price").toTypedArray()], expected.map((t) => t.price));
        assert.deepEqual(
          [...df.getColumn("recv_ts").cast(pl.Int64).cast(pl.Float64).toTypedArray()],
          expected.map((t) => t.recvTs),
        );

        const table = await result.arrow();
        assert.deepEqual(table.schema.fields.map((f) => f.name), [...TRADE_COLUMNS]);
        assert.equal(table.numRows, expected.length);
        const ts = table.getChild("ts")!;
        const side = table.getChild("side")!;
        const size = table.getChild("size")!;
        for (const i of [0, Math.floor(expected.length / 2), expected.length - 1]) {
          // Arrow JS reads microsecond timestamps as fractional milliseconds.
          assert.equal(Math.round(Number(ts.get(i)) * 1000), expected[i].ts);
          assert.equal(side.get(i), expected[i].side);
          assert.equal(size.get(i), expected[i].size);
        }
      }
    }
  });
});

Deno.test("range boundaries: start inclusive, end exclusive, across a date boundary", async () => {
  await withRepositories(async ({ lake, memory }) => {
    const all = sortTrades(fixture().flat().filter((t) => t.symbol === BTC.symbol));
    const ranges = [
      { start: MIDNIGHT, end: MIDNIGHT + 1 }, // exactly the midnight trade
      { start: MIDNIGHT - 1, end: MIDNIGHT }, // exactly the last trade of the day before
      { start: MIDNIGHT - 1, end: MIDNIGHT + 2 },
      { start: MIDNIGHT - 10 * MINUTE, end: MIDNIGHT + 10 * MINUTE },
      { start: MIDNIGHT - 0.5, end: MIDNIGHT + 0.5 }, // fractional bounds
      { start: MIDNIGHT },
      { end: MIDNIGHT },
      { start: MIDNIGHT + 1, end: MIDNIGHT + 1 },
      { start: MIDNIGHT + 5, end: MIDNIGHT - 5 },
    ];
    for (const range of ranges) {
      const expected = all.filter((t) =>
        (range.start === undefined || t.ts >= range.start) &&
        (range.end === undefined || t.ts < range.end)
      );
      for (const repo of [lake, memory] as MarketDataRepository[]) {
        const rows = await repo.trades({ ...BTC, ...range }).rows();
        assert.deepEqual(rows, expected, JSON.stringify(range));
      }
    }
    const midnight = await lake.trades({ ...BTC, start: MIDNIGHT, end: MIDNIGHT + 1 }).rows();
    assert.ok(midnight.some((t) => t.id === "edge-1"));
    assert.ok(midnight.every((t) => t.ts === MIDNIGHT));
  });
});

Deno.test("bars from the lake equal MemoryRepository's and a plain computation", async () => {
  await withRepositories(async ({ lake, memory }) => {
    const all = fixture().flat();
    const btc = all.filter((t) => t.symbol === BTC.symbol);
    for (const interval of [1_000_000, MINUTE, 7 * MINUTE, 3_600_000_000]) {
      const expected = referenceBars(btc, interval);
      const fromLake = await lake.bars({ ...BTC, interval }).rows();
      assertBarsEqual(fromLake, expected);
      assertBarsEqual(await memory.bars({ ...BTC, interval }).rows(), expected);
    }
    // Ties at one time: open/close follow id text order ("tie-10" < "tie-11" < "tie-9").
    const [tieBar] = await lake.bars({
      ...BTC,
      interval: 1_000_000,
      start: MIDNIGHT - MINUTE + 1,
      end: MIDNIGHT - MINUTE + 2,
    }).rows();
    assert.deepEqual([tieBar.open, tieBar.close, tieBar.trades], [201, 200, 3]);

    // A range cuts bars at its bounds, the same way in both repositories.
    const q = { ...BTC, interval: MINUTE, start: MIDNIGHT - 90e6, end: MIDNIGHT + 30e6 };
    const inRange = btc.filter((t) => t.ts >= q.start && t.ts < q.end);
    assertBarsEqual(await lake.bars(q).rows(), referenceBars(inRange, MINUTE));
    assertBarsEqual(await memory.bars(q).rows(), referenceBars(inRange, MINUTE));

    const df = await lake.bars({ ...BTC, interval: MINUTE }).polars();
    assert.deepEqual(df.columns, [...BAR_COLUMNS]);
    const table = await lake.bars({ ...BTC, interval: MINUTE }).arrow();
    assert.deepEqual(table.schema.fields.map((f) => f.name), [...BAR_COLUMNS]);
    assert.equal(table.numRows, referenceBars(btc, MINUTE).length);
    assert.equal(table.getChild("trades")!.get(0), referenceBars(btc, MINUTE)[0].trades);
  });
});

Deno.test("instruments lists each instrument with count and time span", async () => {
  await withRepositories(async ({ lake, memory }) => {
    const all = fixture().flat();
    const summary = (symbol: string) => {
      const ts = all.filter((t) => t.symbol === symbol).map((t) => t.ts);
      return {
        exchange: "coinbase",
        symbol,
        trades: ts.length,
        rows: ts.length,
        first: Math.min(...ts),
        last: Math.max(...ts),
      };
    };
    const expected = [summary("BTC-USD"), summary("ETH-USD")];
    assert.deepEqual(await lake.instruments(), expected);
    assert.deepEqual(await memory.instruments(), expected);
  });
});

Deno.test("queries prune partitions by path", async () => {
  await withRepositories(async ({ lake, root }) => {
    // A broken file in the day before midnight and one under another symbol: queries that
    // do not touch them must not open them.
    const dayBefore = `${root}/trades/exchange=coinbase/symbol=BTC-USD/date=2024-03-08`;
    await Deno.writeTextFile(`${dayBefore}/part-broken.parquet`, "not parquet");
    await Deno.writeTextFile(
      `${root}/trades/exchange=coinbase/symbol=ETH-USD/date=2024-03-09/part-broken.parquet`,
      "not parquet",
    );
    const q = { ...BTC, start: MIDNIGHT };
    const expected = fixture().flat().filter((t) => t.symbol === BTC.symbol && t.ts >= MIDNIGHT);
    assert.deepEqual(await lake.trades(q).rows(), sortTrades(expected));
    assertBarsEqual(
      await lake.bars({ ...q, interval: MINUTE }).rows(),
      referenceBars(expected, MINUTE),
    );
    await assert.rejects(() => lake.trades({ ...BTC, start: MIDNIGHT - 1 }).rows());
    await assert.rejects(() => lake.bars({ ...BTC, interval: MINUTE }).rows());
  });
});

Deno.test("empty lake, unknown instrument and bad arguments", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "repository_empty_test_" });
  const empty = await LakeRepository.open({ root: `${root}/missing` });
  const memory = new MemoryRepository();
  try {
    for (const repo of [empty, memory] as MarketDataRepository[]) {
      await t.step(`${repo.constructor.name}: empty results`, async () => {
        assert.deepEqual(await repo.instruments(), []);
        for (const q of [BTC, { exchange: "nowhere", symbol: "NO/SUCH" }]) {
          assert.deepEqual(await repo.trades(q).rows(), []);
          const df = await repo.trades(q).polars();
          assert.deepEqual([df.height, df.columns], [0, [...TRADE_COLUMNS]]);
          assert.equal((await repo.trades(q).arrow()).numRows, 0);
          assert.deepEqual(await repo.bars({ ...q, interval: MINUTE }).rows(), []);
          const bars = await repo.bars({ ...q, interval: MINUTE }).polars();
          assert.deepEqual([bars.height, bars.columns], [0, [...BAR_COLUMNS]]);
        }
      });
      await t.step(`${repo.constructor.name}: bad arguments throw`, () => {
        assert.throws(() => repo.trades({ exchange: 1, symbol: "X" } as never), TypeError);
        assert.throws(() => repo.trades({ ...BTC, start: NaN }), RangeError);
        assert.throws(() => repo.bars({ ...BTC, interval: 0 }), RangeError);
        assert.throws(() => repo.bars({ ...BTC, interval: 1.5 }), RangeError);
      });
    }
    await empty.close();
    await assert.rejects(() => empty.trades(BTC).rows(), /closed/);
  } finally {
    await empty.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("MemoryRepository applies the lake's validation and de-duplication", () => {
  const [a, b] = syntheticTrades({ start: MIDNIGHT, count: 2 });
  const repo = new MemoryRepository();
  assert.deepEqual(repo.add([b, a, { ...a, price: 5 }, { ...a, id: "x", size: -1 }]), {
    added: 2,
    duplicates: 1,
    rejected: 1,
    rejectedBy: { size: 1 },
    ignored: 0,
  });
});

Deno.test("real Binance trades: stored once, read back identical, bars agree", async () => {
  const trades = await readBinanceTrades(BINANCE_CAPTURE);
  assert.equal(trades.length, 9_757);
  const root = await Deno.makeTempDir({ prefix: "repository_binance_test_" });
  const writer = await ParquetLake.open({ root });
  const repo = await LakeRepository.open({ root });
  try {
    // Flushed in collector-sized batches, then the whole capture replayed.
    let written = 0;
    for (let i = 0; i < trades.length; i += 1_000) {
      written += await writer.writeTrades(trades.slice(i, i + 1_000));
    }
    assert.equal(written, trades.length);
    assert.equal(await writer.writeTrades(trades), 0);

    const q = { exchange: "binance", symbol: "BTC-USDT" };
    assert.deepEqual(await repo.trades(q).rows(), sortTrades(trades));
    const memory = new MemoryRepository(trades);
    for (const interval of [1_000_000, MINUTE]) {
      const expected = referenceBars(trades, interval);
      assertBarsEqual(await repo.bars({ ...q, interval }).rows(), expected);
      assertBarsEqual(await memory.bars({ ...q, interval }).rows(), expected);
    }
  } finally {
    await writer.close();
    await repo.close();
    await Deno.remove(root, { recursive: true });
  }
});
