/**
 * Trades exactly on bar edges, in every repository (memory, lake, buffer, unified; the
 * unified one both across its lake/buffer seam and with everything in both stores): a
 * trade at a bar's end opens the next bar, a query's `end` on a trade excludes it and its
 * `start` includes it, and an activity bar closes at the trade that brings its measure to
 * exactly the threshold. Expected bars are written out by hand from the trade table below
 * (sizes and prices chosen so every sum is exact in binary).
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { startPostgres } from "./support/postgres.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import { ParquetLake } from "../lib/lake/mod.ts";
import type { Bar, Trade } from "../lib/market/types.ts";
import {
  LakeRepository,
  type MarketDataRepository,
  MemoryRepository,
  PostgresRepository,
  UnifiedRepository,
} from "../lib/repositories/mod.ts";

const M = 60_000_000; // the bar interval: one minute
const DAY = 86_400_000_000;
/** 2024-08-08 12:00 UTC, minute-aligned: the recent pattern (in the buffer). */
const B = Date.UTC(2024, 7, 8, 12) * 1000;
/** A day earlier: the old pattern (only in the lake for the unified instrument). */
const A = B - DAY;

/**
 * The pattern at base `x`:
 *
 * | id | ts        | price | size | recvTs          |
 * | a  | x - 1     | 10    | 1    | x + 100         |
 * | b  | x         | 20    | 0.5  | x + 102         |
 * | c  | x         | 21    | 0.25 | x + 103         |
 * | d  | x + M - 1 | 22    | 0.25 | x + M + 103     |
 * | e  | x + M     | 30    | 2    | x + M + 105     |
 * | f  | x + 2M + 1| 40    | 1    | x + 2M + 107    |
 * | g  | x + 3M    | 50    | 0.5  | x + 3M + 107    |
 * | h  | x + 4M    | 60    | 1    | x + 4M + 108    | (only with `h`)
 */
function pattern(x: number, symbol: string, h: boolean): Trade[] {
  const rows: [string, number, number, number][] = [
    ["a", x - 1, 10, 1],
    ["b", x, 20, 0.5],
    ["c", x, 21, 0.25],
    ["d", x + M - 1, 22, 0.25],
    ["e", x + M, 30, 2],
    ["f", x + 2 * M + 1, 40, 1],
    ["g", x + 3 * M, 50, 0.5],
    ...(h ? [["h", x + 4 * M, 60, 1] as [string, number, number, number]] : []),
  ];
  return rows.map(([id, ts, price, size], i) => ({
    kind: "trade",
    exchange: "edge",
    symbol,
    id: `${x === A ? "A" : "B"}-${id}`,
    price,
    size,
    side: i % 2 ? "buy" : "sell",
    ts,
    recvTs: ts + 101 + i,
  }));
}

type Expected = [
  ts: number,
  open: number,
  high: number,
  low: number,
  close: number,
  volume: number,
  vwap: number,
  trades: number,
  recvTs: number,
];

/** The bars of the pattern at `x` (one-minute bars), by hand. */
function patternBars(x: number): Record<string, Expected> {
  return {
    a: [x - M, 10, 10, 10, 10, 1, 10, 1, x + 100],
    // b, c and d; e at x + M exactly opens the next bar. vwap = (10 + 5.25 + 5.5) / 1.
    bcd: [x, 20, 22, 20, 22, 1, 20.75, 3, x + M + 103],
    d: [x, 22, 22, 22, 22, 0.25, 22, 1, x + M + 103],
    e: [x + M, 30, 30, 30, 30, 2, 30, 1, x + M + 105],
    f: [x + 2 * M, 40, 40, 40, 40, 1, 40, 1, x + 2 * M + 107],
    g: [x + 3 * M, 50, 50, 50, 50, 0.5, 50, 1, x + 3 * M + 107],
    h: [x + 4 * M, 60, 60, 60, 60, 1, 60, 1, x + 4 * M + 108],
  };
}

const OLD = patternBars(A);
const NEW = patternBars(B);

/** Time-bar queries (besides exchange, symbol and interval) and their bars. */
const TIME_CASES: [string, { start?: number; end?: number }, Expected[]][] = [
  ["everything", {}, [
    OLD.a,
    OLD.bcd,
    OLD.e,
    OLD.f,
    OLD.g,
    NEW.a,
    NEW.bcd,
    NEW.e,
    NEW.f,
    NEW.g,
    NEW.h,
  ]],
  ["start and end on bar edges and on trades", { start: B, end: B + 3 * M }, [
    NEW.bcd,
    NEW.e,
    NEW.f,
  ]],
  ["start one microsecond into a bar", { start: B + 1 }, [NEW.d, NEW.e, NEW.f, NEW.g, NEW.h]],
  ["end on the next bar's first trade", { start: B - M, end: B + M }, [NEW.a, NEW.bcd]],
  ["end one microsecond after it", { start: B - M, end: B + M + 1 }, [NEW.a, NEW.bcd, NEW.e]],
  ["end one microsecond before a bar's last trade", { start: B, end: B + M - 1 }, [
    [B, 20, 21, 20, 21, 0.75, 15.25 / 0.75, 2, B + 103],
  ]],
  ["a fractional start rounds up", { start: B - 0.5, end: B + M }, [NEW.bcd]],
  ["a fractional end rounds up", { start: B - M, end: B - 0.5 }, [NEW.a]],
  ["the old day alone", { start: A - M, end: A + M }, [OLD.a, OLD.bcd]],
  ["the old day's end to the new day's start", { start: A + 3 * M, end: B }, [OLD.g, NEW.a]],
];

/** Activity bars over the new pattern (a .. h), by hand. */
const ACTIVITY_CASES: [string, "ticks" | "volume" | "dollars", number, Expected[]][] = [
  ["3 trades", "ticks", 3, [
    [B - 1, 10, 21, 10, 21, 1.75, 25.25 / 1.75, 3, B + 103],
    [B + M - 1, 22, 40, 22, 40, 3.25, 105.5 / 3.25, 3, B + 2 * M + 107],
    [B + 3 * M, 50, 60, 50, 60, 1.5, 85 / 1.5, 2, B + 4 * M + 108],
  ]],
  // Sizes 1 | 0.5 + 0.25 = 0.75 exactly | 0.25 + 2 | 1 | 0.5 + 1.
  ["volume 0.75", "volume", 0.75, [
    [B - 1, 10, 10, 10, 10, 1, 10, 1, B + 100],
    [B, 20, 21, 20, 21, 0.75, 15.25 / 0.75, 2, B + 103],
    [B + M - 1, 22, 30, 22, 30, 2.25, 65.5 / 2.25, 2, B + M + 105],
    [B + 2 * M + 1, 40, 40, 40, 40, 1, 40, 1, B + 2 * M + 107],
    [B + 3 * M, 50, 60, 50, 60, 1.5, 85 / 1.5, 2, B + 4 * M + 108],
  ]],
  // Notionals 10 + 10 | 5.25 + 5.5 = 10.75 exactly | 60 | 40 | 25 | 60.
  ["dollars 10.75", "dollars", 10.75, [
    [B - 1, 10, 20, 10, 20, 1.5, 20 / 1.5, 2, B + 102],
    [B, 21, 22, 21, 22, 0.5, 10.75 / 0.5, 2, B + M + 103],
    [B + M, 30, 30, 30, 30, 2, 30, 1, B + M + 105],
    [B + 2 * M + 1, 40, 40, 40, 40, 1, 40, 1, B + 2 * M + 107],
    [B + 3 * M, 50, 50, 50, 50, 0.5, 50, 1, B + 3 * M + 107],
    [B + 4 * M, 60, 60, 60, 60, 1, 60, 1, B + 4 * M + 108],
  ]],
];

const project = (b: Bar): Expected => [
  b.ts,
  b.open,
  b.high,
  b.low,
  b.close,
  b.volume,
  b.vwap,
  b.trades,
  b.recvTs,
];

Deno.test("bar edges in every repository: time bars, query bounds and activity thresholds", async (t) => {
  // "EDGE-P": every trade in every store. "EDGE-U": the old pattern and most of the new one
  // in the lake (as if exported), the new one and `h` in the buffer, so the unified
  // repository reads the old day from the lake and the new one across its seam.
  const all = [...pattern(A, "EDGE-P", false), ...pattern(B, "EDGE-P", true)];
  // The buffer's first trade (B - 1) is not in the lake yet: its bar must come from the
  // buffer side of the seam.
  const uLake = [...pattern(A, "EDGE-U", false), ...pattern(B, "EDGE-U", false)]
    .filter((x) => x.id !== "B-a");
  const uBuffer = pattern(B, "EDGE-U", true);

  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 3, onnotice: () => {} });
  const root = await Deno.makeTempDir({ prefix: "alphapulse-bar-edges-" });
  const repos: [string, MarketDataRepository, string][] = [];
  try {
    await migrate(sql);
    const writer = new PostgresWriter({ sql, spillDir: `${root}/spill`, log: () => {} });
    writer.write([...all, ...uBuffer]);
    await writer.close();
    assert.equal(writer.stats().persisted, all.length + uBuffer.length);
    const lake = await ParquetLake.open({ root: `${root}/lake` });
    await lake.writeTrades([...all, ...uLake]);
    await lake.close();

    const lakeRepo = await LakeRepository.open({ root: `${root}/lake` });
    repos.push(
      ["memory", new MemoryRepository(all), "EDGE-P"],
      ["lake", lakeRepo, "EDGE-P"],
      ["postgres", new PostgresRepository({ sql }), "EDGE-P"],
      ["unified across the seam", new UnifiedRepository({ lake: lakeRepo, sql }), "EDGE-U"],
      ["unified, all in both", new UnifiedRepository({ lake: lakeRepo, sql }), "EDGE-P"],
    );

    for (const [name, repo, symbol] of repos) {
      await t.step(name, async () => {
        const q = { exchange: "edge", symbol };
        for (const [label, range, want] of TIME_CASES) {
          const bars = await repo.bars({ ...q, ...range, interval: M }).rows();
          assert.deepEqual(bars.map(project), want, `${name}: ${label}`);
          for (const b of bars) assert.equal(b.interval, M);
        }
        // The trades themselves: start inclusive, end exclusive, on exact trade times.
        const ids = async (start: number, end: number) =>
          (await repo.trades({ ...q, start, end }).rows()).map((x) => x.id.slice(2));
        assert.deepEqual(await ids(B, B + M), ["b", "c", "d"], name);
        assert.deepEqual(await ids(B - 1, B + M + 1), ["a", "b", "c", "d", "e"], name);
        assert.deepEqual(await ids(B + 1, B + M - 1), [], name);
        for (const [label, by, threshold, want] of ACTIVITY_CASES) {
          const bars = await repo.activityBars({
            ...q,
            start: B - M,
            end: B + 5 * M,
            by,
            threshold,
          })
            .rows();
          assert.deepEqual(bars.map(project), want, `${name}: ${label}`);
          for (const b of bars) assert.equal(b.interval, 0);
        }
      });
    }
  } finally {
    for (const [name, repo] of repos) if (name !== "lake") await repo.close();
    await repos.find(([name]) => name === "lake")?.[1].close();
    await sql.end();
    await pg.stop();
    await Deno.remove(root, { recursive: true });
  }
});
