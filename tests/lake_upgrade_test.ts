/**
 * `upgradeLake` (`deno task lake:repair --upgrade`) brings trades files written before the
 * `backfilled` column up to the current schema. Checked with DuckDB, reading the files
 * themselves: every row is there once, in its file's order, old rows with `backfilled =
 * false` (the column's `absent` value, set by hand here), the column typed as in a file the
 * lake writes now; a plain glob (no `union_by_name`) binds; a second run rewrites nothing;
 * an upgrade interrupted before its rename leaves the old file readable once and its
 * temporary file is removed by the next run.
 */
import assert from "node:assert/strict";
import { duck } from "./support/duck.ts";
import pl from "nodejs-polars";
import { LakeLockedError, ParquetLake } from "../lib/lake/mod.ts";
import { upgradeLake } from "../lib/lake/upgrade.ts";
import type { Trade } from "../lib/market/types.ts";

const T0 = Date.UTC(2024, 7, 8, 10) * 1000;
const DAY = 86_400_000_000;
const PREFIX = "trades/exchange=kraken/symbol=BTC-USD";
const DIR1 = `${PREFIX}/date=2024-08-08`;
const DIR2 = `${PREFIX}/date=2024-08-09`;
const REPAIR = new URL("../scripts/lake_repair.ts", import.meta.url).pathname;
/** Rows of the big old file: more than one row group of the lake's files (131,072). */
const BIG = 200_000;

/** A trades file as the lake wrote it before `backfilled`: the six original columns. */
function oldFile(path: string, ids: number[], day: number): void {
  const micros = (name: string, values: number[]) =>
    pl.Series(name, values, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us"));
  // Ids in descending time order for half of them: the upgrade must keep the file's order.
  pl.DataFrame([
    pl.Series("id", ids.map(String), pl.Utf8),
    pl.Series("price", ids.map((id) => 100 + id / 8), pl.Float64),
    pl.Series("size", ids.map((id) => 1 + (id % 3)), pl.Float64),
    pl.Series("side", ids.map((id) => (id % 2 === 0 ? "buy" : "sell")), pl.Utf8),
    micros("ts", ids.map((id) => T0 + day * DAY + id)),
    micros("recv_ts", ids.map((id) => T0 + day * DAY + id + 5)),
  ]).writeParquet(path, { compression: "zstd" });
}

function trade(id: number, day: number, backfilled: boolean): Trade {
  return {
    kind: "trade",
    exchange: "kraken",
    symbol: "BTC-USD",
    id: String(id),
    price: 100 + id / 8,
    size: 1 + (id % 3),
    side: id % 2 === 0 ? "buy" : "sell",
    ts: T0 + day * DAY + id,
    recvTs: T0 + day * DAY + id + 5,
    ...(backfilled ? { backfilled: true } : {}),
  };
}

/** Every entry of a folder (hidden ones too), sorted. */
function entries(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/** `[name, type]` of a Parquet file's columns, as DuckDB reads them. */
async function described(path: string): Promise<string[][]> {
  const rows = await duck(
    `DESCRIBE SELECT * FROM read_parquet('${path}', hive_partitioning = false)`,
  );
  return rows.map((r) => [String(r.column_name), String(r.column_type)]);
}

/** The plain glob of the trades table (no `union_by_name`), as the lake's SQL view. */
const plain = (root: string) =>
  `read_parquet('${root}/trades/exchange=*/symbol=*/date=*/*.parquet', hive_partitioning = true)`;

/**
 * A lake with, on day 1, a file the lake writes now (ids 1-3, trade 2 backfilled) and then
 * an old file (ids 10-14), and on day 2 a big old file (ids 0..BIG-1, in reverse order).
 */
async function oldLake(root: string): Promise<void> {
  const lake = await ParquetLake.open({ root, autoCompactFiles: Infinity });
  try {
    const written = await lake.writeTrades([
      trade(1, 0, false),
      trade(2, 0, true),
      trade(3, 0, false),
    ]);
    assert.equal(written, 3);
  } finally {
    await lake.close();
  }
  // Named after the lake's file (`part-<time>`): DuckDB binds the plain glob on the new file.
  oldFile(`${root}/${DIR1}/part-zzzzzzzzz-old.parquet`, [10, 11, 12, 13, 14], 0);
  await Deno.mkdir(`${root}/${DIR2}`, { recursive: true });
  const big = Array.from({ length: BIG }, (_, i) => BIG - 1 - i);
  oldFile(`${root}/${DIR2}/part-000000000-big.parquet`, big, 1);
}

Deno.test("upgradeLake rewrites old trades files with backfilled = false, once, in place", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-upgrade-" });
  try {
    await oldLake(root);
    const [newFile] = entries(`${root}/${DIR1}`).filter((n) => n !== "part-zzzzzzzzz-old.parquet");
    const oldPath = `${root}/${DIR1}/part-zzzzzzzzz-old.parquet`;
    const bigPath = `${root}/${DIR2}/part-000000000-big.parquet`;
    // Before: the plain glob does not bind over files of two schemas.
    await assert.rejects(
      () => duck(`SELECT count(backfilled) FROM ${plain(root)}`),
      /schema mismatch/i,
    );
    const bigIdsBefore = await duck(
      `SELECT id FROM read_parquet('${bigPath}', file_row_number = true) ORDER BY file_row_number`,
    );

    const dry = await upgradeLake({ root, dryRun: true });
    assert.deepEqual(dry.byKind, { trades: { files: 2, rows: 5 + BIG } });
    assert.deepEqual((await described(oldPath)).map(([n]) => n).includes("backfilled"), false);

    const report = await upgradeLake({ root });
    assert.deepEqual(report.byKind, { trades: { files: 2, rows: 5 + BIG } });
    assert.deepEqual(
      report.files.map((f) => [f.folder, f.file, f.rows, f.added]),
      [
        ["date=2024-08-08", "part-zzzzzzzzz-old.parquet", 5, ["backfilled"]],
        ["date=2024-08-09", "part-000000000-big.parquet", BIG, ["backfilled"]],
      ],
    );
    assert.equal(report.filesChecked, 3);
    assert.equal(report.partitionsChecked, 2);
    // The same file names, no temporary file left.
    assert.deepEqual(entries(`${root}/${DIR1}`), [newFile, "part-zzzzzzzzz-old.parquet"].sort());
    assert.deepEqual(entries(`${root}/${DIR2}`), ["part-000000000-big.parquet"]);

    // Column names and types as in the file the lake wrote now.
    const current = await described(`${root}/${DIR1}/${newFile}`);
    assert.deepEqual(current.at(-1), ["backfilled", "BOOLEAN"]);
    assert.deepEqual(await described(oldPath), current);
    assert.deepEqual(await described(bigPath), current);

    // The plain glob binds; every row once, with the expected marks.
    const counts = await duck(
      `SELECT date::VARCHAR AS date, count(*) AS n, count(DISTINCT id) AS ids,
        count(*) FILTER (WHERE backfilled) AS yes, count(*) FILTER (WHERE NOT backfilled) AS no
       FROM ${plain(root)} GROUP BY date ORDER BY date`,
    );
    assert.deepEqual(counts, [
      { date: "2024-08-08", n: 8, ids: 8, yes: 1, no: 7 },
      { date: "2024-08-09", n: BIG, ids: BIG, yes: 0, no: BIG },
    ]);
    const day1 = await duck(
      `SELECT id, price, size, side, epoch_us(ts) - ${T0} AS t, epoch_us(recv_ts) - epoch_us(ts)
       AS lag, backfilled FROM ${plain(root)} WHERE date = DATE '2024-08-08' ORDER BY ts`,
    );
    assert.deepEqual(
      day1.map((r) => [r.id, r.price, r.size, r.side, r.t, r.lag, r.backfilled]),
      [1, 2, 3, 10, 11, 12, 13, 14].map((id) => [
        String(id),
        100 + id / 8,
        1 + (id % 3),
        id % 2 === 0 ? "buy" : "sell",
        id,
        5,
        id === 2,
      ]),
    );
    // The big file's rows in the order they were (reverse ids), values intact.
    const bigIdsAfter = await duck(
      `SELECT id FROM read_parquet('${bigPath}', file_row_number = true) ORDER BY file_row_number`,
    );
    assert.deepEqual(bigIdsAfter, bigIdsBefore);
    const [sums] = await duck(
      `SELECT sum(id::BIGINT) AS ids, sum(epoch_us(ts) - ${T0 + DAY}) AS t
       FROM read_parquet('${bigPath}')`,
    );
    assert.deepEqual(sums, { ids: BIG * (BIG - 1) / 2, t: BIG * (BIG - 1) / 2 });

    // Idempotent: nothing left to do.
    const again = await upgradeLake({ root });
    assert.deepEqual(again.files, []);
    assert.deepEqual(again.byKind, {});
    assert.equal(again.filesChecked, 3);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an upgrade interrupted before its rename leaves the old rows once; the next run cleans up", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-upgrade-" });
  try {
    await Deno.mkdir(`${root}/${DIR1}`, { recursive: true });
    const name = "part-000000000-old.parquet";
    oldFile(`${root}/${DIR1}/${name}`, [5, 6, 7], 0);
    const side = `${root}/side.tmp`;
    let temporary = "";
    await assert.rejects(
      () =>
        upgradeLake({
          root,
          beforeRename: async (temp) => {
            temporary = temp;
            await Deno.copyFile(temp, side); // the complete new file, as a kill would leave it
            throw new Error("killed before the rename");
          },
        }),
      /killed before the rename/,
    );
    assert.equal(temporary, `${root}/${DIR1}/.upgrade-${name}.tmp`);
    // A killed process leaves its temporary file behind.
    await Deno.rename(side, temporary);
    assert.deepEqual(entries(`${root}/${DIR1}`), [`.upgrade-${name}.tmp`, name]);
    const read = () =>
      duck(`SELECT id FROM read_parquet('${root}/trades/*/*/*/*.parquet') ORDER BY id`);
    assert.deepEqual(await read(), [{ id: "5" }, { id: "6" }, { id: "7" }]);
    const files = await described(`${root}/${DIR1}/${name}`);
    assert.equal(files.some(([n]) => n === "backfilled"), false, "the old file is untouched");

    // The lake's writer lock keeps an upgrade out while another writer works.
    const writer = await ParquetLake.open({ root });
    try {
      await assert.rejects(() => upgradeLake({ root }), LakeLockedError);
    } finally {
      await writer.close();
    }

    const report = await upgradeLake({ root });
    assert.equal(report.tempsRemoved, 1);
    assert.deepEqual(report.byKind, { trades: { files: 1, rows: 3 } });
    assert.deepEqual(entries(`${root}/${DIR1}`), [name]);
    const after = await duck(
      `SELECT id, backfilled FROM ${plain(root)} ORDER BY id`,
    );
    assert.deepEqual(after, [
      { id: "5", backfilled: false },
      { id: "6", backfilled: false },
      { id: "7", backfilled: false },
    ]);
    assert.equal((await upgradeLake({ root })).tempsRemoved, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("lake:repair --upgrade reports what it rewrote; --dry-run exits 1 while files lack a column", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-upgrade-" });
  try {
    await Deno.mkdir(`${root}/${DIR1}`, { recursive: true });
    oldFile(`${root}/${DIR1}/part-000000000-a.parquet`, [1, 2], 0);
    oldFile(`${root}/${DIR1}/part-000000001-b.parquet`, [3, 4, 5], 0);
    const run = async (...flags: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", REPAIR, "--lake", root, "--upgrade", ...flags],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
      return { code: out.code, json: JSON.parse(lines.at(-1)!) };
    };
    const dry = await run("--dry-run");
    assert.equal(dry.code, 1);
    assert.equal(dry.json.files_to_rewrite, 2);
    assert.equal(dry.json.rows_to_rewrite, 5);
    const done = await run();
    assert.equal(done.code, 0);
    assert.deepEqual(
      [done.json.mode, done.json.files_rewritten, done.json.rows_rewritten],
      ["upgrade", 2, 5],
    );
    assert.deepEqual(done.json.by_table, { trades: { files: 2, rows: 5 } });
    const [count] = await duck(
      `SELECT count(*) AS n, count(*) FILTER (WHERE backfilled = false) AS f FROM ${plain(root)}`,
    );
    assert.deepEqual(count, { n: 5, f: 5 });
    const second = await run("--dry-run");
    assert.equal(second.code, 0);
    assert.equal(second.json.files_to_rewrite, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
