import assert from "node:assert/strict";
import { ParquetLake } from "../lib/lake/mod.ts";
import type { Bar, Trade } from "../lib/market/types.ts";
import {
  type ActivityBarQuery,
  type ActivityMeasure,
  LakeRepository,
  type MarketDataRepository,
  MemoryRepository,
} from "../lib/repositories/mod.ts";
import { sortTrades, syntheticTrades } from "./support/lake_trades.ts";

/** 2024-03-09 00:00:00 UTC in microseconds. */
const MIDNIGHT = Date.UTC(2024, 2, 9) * 1000;
const BTC = { exchange: "coinbase", symbol: "BTC-USD" } as const;

/** Five trades, one second apart; trade 2 is received last of its bar. */
function handMade(): Trade[] {
  const rows: [id: string, price: number, size: number, recvDelay: number][] = [
    ["1", 10, 1, 5],
    ["2", 12, 2, 9_000_000],
    ["3", 11, 1, 5],
    ["4", 9, 3, 5],
    ["5", 10, 0.5, 5],
  ];
  return rows.map(([id, price, size, recvDelay], i) => {
    const ts = MIDNIGHT + (i + 1) * 1_000_000;
    return { kind: "trade", ...BTC, id, price, size, side: "buy", ts, recvTs: ts + recvDelay };
  });
}

/** A bar of hand-made trades `from..to` (1-based ids) with its expected values. */
function expected(
  from: number,
  to: number,
  values: Pick<Bar, "open" | "high" | "low" | "close" | "volume" | "vwap">,
): Bar {
  const trades = handMade().slice(from - 1, to);
  return {
    kind: "bar",
    ...BTC,
    ts: trades[0].ts,
    recvTs: Math.max(...trades.map((t) => t.recvTs)),
    interval: 0,
    ...values,
    trades: to - from + 1,
  };
}

async function withRepositories(
  trades: Trade[][],
  fn: (repos: MarketDataRepository[]) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "activity_bars_test_" });
  const writer = await ParquetLake.open({ root });
  const memory = new MemoryRepository();
  for (const batch of trades) {
    await writer.writeTrades(batch);
    memory.add(batch);
  }
  await writer.close();
  const lake = await LakeRepository.open({ root });
  try {
    await fn([memory, lake]);
  } finally {
    await lake.close();
    await memory.close();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("activity bars of hand-made trades, memory and lake", async (t) => {
  // Written in two batches, the later trades first (two files, out of order).
  const trades = handMade();
  await withRepositories([trades.slice(2), trades.slice(0, 2)], async (repos) => {
    const cases: [string, ActivityBarQuery, Bar[]][] = [
      ["ticks, 2 per bar, last incomplete", { ...BTC, by: "ticks", threshold: 2 }, [
        expected(1, 2, { open: 10, high: 12, low: 10, close: 12, volume: 3, vwap: 34 / 3 }),
        expected(3, 4, { open: 11, high: 11, low: 9, close: 9, volume: 4, vwap: 38 / 4 }),
        expected(5, 5, { open: 10, high: 10, low: 10, close: 10, volume: 0.5, vwap: 10 }),
      ]],
      ["volume 4: the closing trade belongs to its bar", { ...BTC, by: "volume", threshold: 4 }, [
        expected(1, 3, { open: 10, high: 12, low: 10, close: 11, volume: 4, vwap: 45 / 4 }),
        expected(4, 5, { open: 9, high: 10, low: 9, close: 10, volume: 3.5, vwap: 32 / 3.5 }),
      ]],
      ["dollars 34: reaching the threshold exactly closes", {
        ...BTC,
        by: "dollars",
        threshold: 34,
      }, [
        expected(1, 2, { open: 10, high: 12, low: 10, close: 12, volume: 3, vwap: 34 / 3 }),
        expected(3, 4, { open: 11, high: 11, low: 9, close: 9, volume: 4, vwap: 38 / 4 }),
        expected(5, 5, { open: 10, high: 10, low: 10, close: 10, volume: 0.5, vwap: 10 }),
      ]],
      // Summed from zero in each bar: with the excess carried over (cumulative sums), trades
      // 3, 4 and 5 would each close a bar.
      ["dollars 20: no carry-over of the excess", { ...BTC, by: "dollars", threshold: 20 }, [
        expected(1, 2, { open: 10, high: 12, low: 10, close: 12, volume: 3, vwap: 34 / 3 }),
        expected(3, 4, { open: 11, high: 11, low: 9, close: 9, volume: 4, vwap: 38 / 4 }),
        expected(5, 5, { open: 10, high: 10, low: 10, close: 10, volume: 0.5, vwap: 10 }),
      ]],
      ["ticks from the second trade on", {
        ...BTC,
        by: "ticks",
        threshold: 2,
        start: trades[1].ts,
      }, [
        expected(2, 3, { open: 12, high: 12, low: 11, close: 11, volume: 3, vwap: 35 / 3 }),
        expected(4, 5, { open: 9, high: 10, low: 9, close: 10, volume: 3.5, vwap: 32 / 3.5 }),
      ]],
      ["volume, one trade per bar before end", {
        ...BTC,
        by: "volume",
        threshold: 0.5,
        end: trades[2].ts,
      }, [
        expected(1, 1, { open: 10, high: 10, low: 10, close: 10, volume: 1, vwap: 10 }),
        expected(2, 2, { open: 12, high: 12, low: 12, close: 12, volume: 2, vwap: 12 }),
      ]],
      ["unknown instrument: no bars", {
        exchange: "kraken",
        symbol: "BTC-USD",
        by: "ticks",
        threshold: 1,
      }, []],
    ];
    for (const [name, query, bars] of cases) {
      await t.step(name, async () => {
        for (const repo of repos) {
          assert.deepEqual(await repo.activityBars(query).rows(), bars, repo.constructor.name);
        }
      });
    }
    await t.step("polars frame has the bar columns", async () => {
      const frame = await repos[1].activityBars({ ...BTC, by: "ticks", threshold: 2 }).polars();
      assert.deepEqual(frame.getColumn("trades").toArray(), [2, 2, 1]);
      assert.equal(frame.height, 3);
    });
  });
});

Deno.test("activity bars: lake and memory agree on random trades over two days", async () => {
  const trades = syntheticTrades({
    ...BTC,
    start: MIDNIGHT - 3_600_000_000,
    count: 3000,
    step: 2_000_000,
    seed: 11,
  });
  // Same-time trades whose ids sort differently as text than as numbers.
  const ties = ["9", "10", "11"].map((id, i) => ({
    ...trades[100],
    id: `tie-${id}`,
    price: 150 + i,
    size: 0.5 + i,
  }));
  const all = [...trades, ...ties];
  await withRepositories(
    [all.slice(1500).reverse(), all.slice(0, 1500)],
    async ([memory, lake]) => {
      const ordered = sortTrades(all);
      const measures: [ActivityMeasure, number][] = [["ticks", 7], ["volume", 250], [
        "dollars",
        25_000,
      ]];
      for (const [by, threshold] of measures) {
        const query = { ...BTC, by, threshold, start: MIDNIGHT - 1_800_000_000 };
        const [a, b] = await Promise.all([
          memory.activityBars(query).rows(),
          lake.activityBars(query).rows(),
        ]);
        assert.deepEqual(b, a, by);
        // Independent check: consecutive trades, every bar but the last closes exactly at the
        // trade that reaches the threshold.
        const inRange = ordered.filter((t) => t.ts >= query.start);
        assert.ok(a.length > 10, `${by}: ${a.length} bars`);
        let i = 0;
        for (const [k, bar] of a.entries()) {
          const members = inRange.slice(i, i + bar.trades);
          i += bar.trades;
          assert.equal(bar.ts, members[0].ts);
          assert.equal(bar.open, members[0].price);
          assert.equal(bar.close, members[members.length - 1].price);
          const measure = (m: Trade[]) =>
            by === "ticks"
              ? m.length
              : m.reduce((s, t) => s + (by === "volume" ? t.size : t.price * t.size), 0);
          // The last bar may be incomplete; every other one reaches the threshold.
          if (k < a.length - 1) assert.ok(measure(members) >= threshold, `${by} bar ${k} reaches`);
          assert.ok(
            measure(members.slice(0, -1)) < threshold,
            `${by} bar ${k} closes at first reach`,
          );
        }
        assert.equal(i, inRange.length, `${by}: every trade in exactly one bar`);
      }
    },
  );
});

Deno.test("activity bars: the query is checked when called", async () => {
  await withRepositories([handMade()], async (repos) => {
    const bad: [string, unknown, unknown][] = [
      ["zero", "volume", 0],
      ["negative", "dollars", -1],
      ["NaN", "ticks", NaN],
      ["infinite", "volume", Infinity],
      ["fractional ticks", "ticks", 2.5],
      ["not a number", "volume", "10"],
      ["unknown measure", "trades", 10],
    ];
    for (const repo of repos) {
      for (const [name, by, threshold] of bad) {
        assert.throws(
          () => repo.activityBars({ ...BTC, by, threshold } as unknown as ActivityBarQuery),
          RangeError,
          `${repo.constructor.name}: ${name}`,
        );
      }
      assert.throws(
        () =>
          repo.activityBars(
            { symbol: "X", by: "ticks", threshold: 1 } as unknown as ActivityBarQuery,
          ),
        TypeError,
      );
      // Fractional volume and dollar thresholds are fine.
      const bars = await repo.activityBars({ ...BTC, by: "volume", threshold: 0.25 }).rows();
      assert.equal(bars.length, 5);
    }
  });
});
