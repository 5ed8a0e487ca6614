/**
 * Lake files of trades written before the `backfilled` column existed still read (as not
 * backfilled) next to new files that hold it: through the lake repository, after a repair
 * of duplicates and after compaction. A trade stored live and then written again as
 * backfilled stays one row, the one stored first. The expected marks are set by hand.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { ParquetLake } from "../lib/lake/parquet_lake.ts";
import { repairLake } from "../lib/lake/repair.ts";
import { LakeRepository } from "../lib/repositories/lake_repository.ts";
import type { Trade } from "../lib/market/types.ts";

const T0 = Date.UTC(2024, 7, 8, 10) * 1000;
const DIR = "trades/exchange=kraken/symbol=BTC-USD/date=2024-08-08";
/** Trade ids from this one on are a day later (the next partition). */
const NEXT_DAY = 1_000;
const DAY = 86_400_000_000;
const DIR2 = "trades/exchange=kraken/symbol=BTC-USD/date=2024-08-09";

/** A trade's time: the id in microseconds after T0, ids from `NEXT_DAY` on a day later. */
function tsOf(id: number): number {
  return T0 + id + (id >= NEXT_DAY ? DAY : 0);
}

/** A trades file as the lake wrote it before `backfilled`: the six original columns. */
function oldFile(path: string, ids: string[]): void {
  const micros = (name: string, values: number[]) =>
    pl.Series(name, values, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us"));
  pl.DataFrame([
    pl.Series("id", ids, pl.Utf8),
    pl.Series("price", ids.map((id) => 100 + Number(id)), pl.Float64),
    pl.Series("size", ids.map(() => 1), pl.Float64),
    pl.Series("side", ids.map(() => "buy"), pl.Utf8),
    micros("ts", ids.map((id) => tsOf(Number(id)))),
    micros("recv_ts", ids.map((id) => tsOf(Number(id)) + 5)),
  ]).writeParquet(path, { compression: "zstd" });
}

function trade(id: number, backfilled: boolean): Trade {
  return {
    kind: "trade",
    exchange: "kraken",
    symbol: "BTC-USD",
    id: String(id),
    price: 100 + id,
    size: 1,
    side: "buy",
    ts: tsOf(id),
    recvTs: tsOf(id) + 5,
    ...(backfilled ? { backfilled: true } : {}),
  };
}

/** `[id, backfilled]` of the stored trades, through the repository's three outputs. */
async function marks(root: string): Promise<[string, boolean][]> {
  const repo = await LakeRepository.open({ root });
  try {
    const result = repo.trades({ exchange: "kraken", symbol: "BTC-USD" });
    const frame = await result.polars();
    assert.ok(frame.getColumn("backfilled").dtype.equals(pl.Bool));
    const fromFrame = frame.getColumn("backfilled").toArray() as boolean[];
    const rows = await result.rows();
    assert.deepEqual(rows.map((t) => t.backfilled === true), fromFrame, "rows() = polars()");
    const arrow = [...(await result.arrow()).getChild("backfilled")!].map(Boolean);
    assert.deepEqual(arrow, fromFrame, "arrow() = polars()");
    return rows.map((t, i) => [t.id, fromFrame[i]]);
  } finally {
    await repo.close();
  }
}

/** `[id, backfilled]` of the stored trades through the lake's DuckDB SQL view. */
async function sqlMarks(root: string): Promise<[string, boolean][]> {
  const repo = await LakeRepository.open({ root });
  try {
    const rows = await repo.sql(
      "SELECT id, backfilled FROM trades ORDER BY ts, id",
    ).rows();
    return rows.map((r) => [String(r.id), r.backfilled as boolean]);
  } finally {
    await repo.close();
  }
}

Deno.test("trades files without `backfilled` read as not backfilled, through repair and compaction", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-old-trades-" });
  try {
    await Deno.mkdir(`${root}/${DIR}`, { recursive: true });
    // Two old files (named before any new one); trade 2 is in both (a duplicate to repair).
    oldFile(`${root}/${DIR}/part-000000000-a.parquet`, ["1", "2", "3"]);
    oldFile(`${root}/${DIR}/part-000000001-b.parquet`, ["2"]);
    // The next day: one old file, which the repair leaves alone (no duplicate).
    await Deno.mkdir(`${root}/${DIR2}`, { recursive: true });
    oldFile(`${root}/${DIR2}/part-000000000-c.parquet`, [String(NEXT_DAY)]);

    // Only old files: every trade reads as not backfilled.
    const onlyOld: [string, boolean][] = [["1", false], ["2", false], ["2", false], ["3", false], [
      String(NEXT_DAY),
      false,
    ]];
    assert.deepEqual(await marks(root), onlyOld, "only old files");
    assert.deepEqual(await sqlMarks(root), onlyOld, "only old files, through DuckDB SQL");

    const lake = await ParquetLake.open({ root, autoCompactFiles: Infinity });
    try {
      // Trade 3, stored live in an old file, comes again backfilled: one row, the first.
      const written = await lake.writeTrades([trade(3, true), trade(4, true), trade(5, false)]);
      assert.equal(written, 2);
    } finally {
      await lake.close();
    }
    const expected: [string, boolean][] = [
      ["1", false],
      ["2", false],
      ["2", false],
      ["3", false],
      ["4", true],
      ["5", false],
      [String(NEXT_DAY), false],
    ];
    assert.deepEqual(await marks(root), expected, "old and new files read together");
    assert.deepEqual(await sqlMarks(root), expected, "through DuckDB SQL too");

    const repaired = await repairLake({ root, kinds: ["trades"] });
    assert.equal(repaired.partitions.reduce((s, p) => s + p.duplicates, 0), 1);
    expected.splice(1, 1);
    assert.deepEqual(await marks(root), expected, "after the repair");

    const again = await ParquetLake.open({ root });
    try {
      await again.writeTrades([trade(6, true), trade(NEXT_DAY + 1, true)]);
      // Day 1: the repaired file and a new one; day 2: an old file and a new one.
      const report = await again.compact();
      assert.equal(report.partitions, 2);
    } finally {
      await again.close();
    }
    expected.splice(5, 0, ["6", true]);
    expected.push([String(NEXT_DAY + 1), true]);
    assert.deepEqual(await marks(root), expected, "after compaction");
    assert.deepEqual(await sqlMarks(root), expected, "after compaction, through DuckDB SQL");
    // The merged files hold the column themselves now (read without the repository).
    const column = (dir: string) => {
      const files = [...Deno.readDirSync(`${root}/${dir}`)].filter((e) =>
        e.name.endsWith(".parquet")
      );
      assert.equal(files.length, 1);
      return pl.readParquet(`${root}/${dir}/${files[0].name}`).getColumn("backfilled").toArray();
    };
    assert.deepEqual(column(DIR), [false, false, false, true, false, true]);
    assert.deepEqual(column(DIR2), [false, true]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an old trades file after new ones (DuckDB binds on the first file) reads too", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-old-trades-" });
  try {
    const lake = await ParquetLake.open({ root });
    try {
      assert.equal(await lake.writeTrades([trade(1, true), trade(2, false)]), 2);
    } finally {
      await lake.close();
    }
    await Deno.mkdir(`${root}/${DIR2}`, { recursive: true });
    oldFile(`${root}/${DIR2}/part-000000000-c.parquet`, [String(NEXT_DAY)]);
    const expected: [string, boolean][] = [["1", true], ["2", false], [String(NEXT_DAY), false]];
    assert.deepEqual(await marks(root), expected);
    assert.deepEqual(await sqlMarks(root), expected);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
