/**
 * Book changes read straight from the lake's files (`lib/lake/parquet/decode.ts`,
 * `readBookChangeFiles`) against Polars reading the same files: the decoder's columns
 * against `pl.readParquet` of files with nulls, empty lists, several row groups and pages;
 * and `loadBookEvents` through the file reader against the Polars path on the recorded
 * Binance, Coinbase and Kraken sessions, whole and in windows, every array exactly. A file
 * another writer wrote (Polars) is not read here, and the load falls back to Polars.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { encodeParquet, type ParquetField } from "../lib/lake/parquet/mod.ts";
import { ownParquetFile, readList, readListPair, readNumbers } from "../lib/lake/parquet/decode.ts";
import { PHYSICAL } from "../lib/lake/parquet/schema.ts";
import { ParquetLake } from "../lib/lake/mod.ts";
import type { BookChange, BookSnapshot } from "../lib/market/types.ts";
import { LakeRepository } from "../lib/repositories/mod.ts";
import type { RangeQuery } from "../lib/repositories/repository.ts";
import type { BookEvents } from "../lib/research/_book_events.ts";
import { readBookChangeFiles } from "../lib/research/_book_files.ts";
import { type BookSource, loadBookEvents } from "../lib/research/_book_load.ts";
import { orderFor } from "../lib/research/_book_options.ts";
import { Scratch } from "../lib/research/_scratch.ts";
import { replaySession } from "./support/replay_sessions.ts";
import { withTempDir } from "./support/temp_dir.ts";

const FIELDS: ParquetField[] = [
  { name: "t", type: "timestamp_us", nullable: false },
  { name: "n", type: "int64" },
  { name: "d", type: "int32" },
  { name: "l", type: "list_double" },
  { name: "m", type: "list_double" },
  { name: "k", type: "list_double" },
];

/** `rows` rows: times, int64 with nulls, int32 with negatives, lists of 0 to 4 values. */
function columns(rows: number) {
  const t = Array.from({ length: rows }, (_, i) => 1_700_000_000_000_000 + i * 37);
  const n = Array.from({ length: rows }, (_, i) => (i % 7 === 3 ? null : i * 2 ** 33 - 5));
  const d = Int32Array.from({ length: rows }, (_, i) => (i * 2_654_435_761) | 0);
  const offsets = new Int32Array(rows + 1);
  for (let i = 0; i < rows; i++) offsets[i + 1] = offsets[i] + ((i * 5) % 9 > 4 ? 0 : i % 5);
  const values = Float64Array.from({ length: offsets[rows] }, (_, k) => k * 0.25 - 3);
  // `m`: lists as long as `l`'s row by row; `k`: as long but for one row in 50.
  const m = { offsets, values: values.map((v) => v * -2 + 0.125) };
  const kOffsets = new Int32Array(rows + 1);
  for (let i = 0; i < rows; i++) {
    kOffsets[i + 1] = kOffsets[i] + (offsets[i + 1] - offsets[i]) + (i % 50 === 7 ? 1 : 0);
  }
  const k = { offsets: kOffsets, values: new Float64Array(kOffsets[rows]).fill(1.5) };
  return { t, n, d, l: { offsets, values }, m, k };
}

Deno.test("decoder: numbers and lists equal Polars' reading of the same file", async () => {
  await withTempDir("alphapulse-decode-", async (dir) => {
    for (
      const options of [
        {},
        { rowGroupSize: 97, pageSize: 64 },
        { compression: "uncompressed" as const, rowGroupSize: 250 },
      ]
    ) {
      const rows = 1_000;
      const bytes = encodeParquet(FIELDS, columns(rows), options);
      const path = `${dir}/f.parquet`;
      await Deno.writeFile(path, bytes);
      const ref = pl.readParquet(path);
      const file = ownParquetFile(bytes);
      assert.ok(file, "our own file is read");
      const t = new Float64Array(rows);
      assert.equal(readNumbers(file, "t", PHYSICAL.INT64, t, 0), rows);
      assert.deepEqual([...t], ref.getColumn("t").cast(pl.Int64).toArray().map(Number));
      const n = new Float64Array(rows);
      assert.equal(readNumbers(file, "n", PHYSICAL.INT64, n, 0), undefined, "nulls refused");
      assert.equal(readNumbers(file, "n", PHYSICAL.INT64, n, 0, NaN), rows);
      const refN = ref.getColumn("n").toArray() as (number | bigint | null)[];
      assert.deepEqual([...n], refN.map((v) => (v === null ? NaN : Number(v))));
      const d = new Int32Array(rows);
      assert.equal(readNumbers(file, "d", PHYSICAL.INT32, d, 0), rows);
      assert.deepEqual([...d], ref.getColumn("d").toArray());
      const offsets = new Int32Array(rows + 1);
      const values = new Float64Array(10_000);
      const got = readList(file, "l", { offsets, values, row: 0, value: 0 });
      const lists = ref.getColumn("l").toArray() as unknown as number[][];
      const flat = lists.flat();
      assert.deepEqual(got, [rows, flat.length]);
      assert.deepEqual([...values.subarray(0, flat.length)], flat);
      assert.deepEqual(
        [...offsets.subarray(1)],
        lists.map((_, i) => lists.slice(0, i + 1).reduce((s, l) => s + l.length, 0)),
      );
      // Two columns of equal list lengths at once: `m`'s values at `l`'s offsets.
      const pairOffsets = new Int32Array(rows + 3).fill(-1);
      const [first, second] = [new Float64Array(10_000), new Float64Array(10_000)];
      const target = { offsets: pairOffsets, values: first, row: 2, value: 5 };
      assert.deepEqual(readListPair(file, ["l", "m"], target, second), [rows, flat.length]);
      const mFlat = (ref.getColumn("m").toArray() as unknown as number[][]).flat();
      assert.deepEqual([...first.subarray(5, 5 + flat.length)], flat);
      assert.deepEqual([...second.subarray(5, 5 + mFlat.length)], mFlat);
      assert.deepEqual([...pairOffsets.subarray(2)], [...offsets].map((o) => o + 5));
      assert.equal(readListPair(file, ["l", "k"], target, second), undefined, "lengths differ");
      assert.equal(readListPair(file, ["l", "t"], target, second), undefined, "not a list");
      assert.equal(readList(file, "t", { offsets, values, row: 0, value: 0 }), undefined);
      assert.equal(readNumbers(file, "l", PHYSICAL.INT64, t, 0), undefined);
      assert.equal(readNumbers(file, "nope", PHYSICAL.INT64, t, 0), undefined);
      // Polars' own file of the same frame: not ours, not read.
      ref.writeParquet(path, { compression: "zstd" });
      assert.equal(ownParquetFile(await Deno.readFile(path)), undefined);
      const other = encodeParquet(FIELDS, columns(10), { ...options, createdBy: "someone" });
      assert.equal(ownParquetFile(other), undefined);
    }
  });
});

/** The repository without its file list: `loadBookEvents` reads through Polars. */
function polarsOnly(repo: LakeRepository): BookSource {
  return {
    bookSnapshots: (q) => repo.bookSnapshots(q),
    bookChanges: (q) => repo.bookChanges(q),
    statuses: (q) => repo.statuses(q),
  };
}

function assertEventsEqual(a: BookEvents, b: BookEvents, what: string) {
  assert.equal(a.length, b.length, `${what}: length`);
  for (const k of ["kind", "ts", "recvTs", "digest"] as const) {
    assert.deepEqual([...a[k]], [...b[k]], `${what}: ${k}`);
  }
  for (const kind of ["snapshots", "changes"] as const) {
    for (const [k, v] of Object.entries(b[kind])) {
      const got = a[kind][k as keyof BookEvents["changes"]];
      assert.deepEqual([...got], [...v], `${what}: ${kind}.${k}`);
    }
  }
}

async function compareReads(file: string, exchange: string) {
  await withTempDir("alphapulse-book-files-", async (root) => {
    await replaySession(root, file);
    const repo = await LakeRepository.open({ root });
    try {
      const instruments = await repo.instruments({ table: "book_snapshots" });
      assert.ok(instruments.length > 0);
      for (const { symbol } of instruments) {
        const all = await repo.bookChanges({ exchange, symbol }).polars();
        const ts = all.getColumn("ts").cast(pl.Int64).toArray().map(Number);
        const [lo, hi] = [ts[Math.floor(ts.length / 3)], ts[Math.floor((2 * ts.length) / 3)]];
        const queries: RangeQuery[] = [
          { exchange, symbol },
          { exchange, symbol, start: lo, end: hi },
          { exchange, symbol, start: hi },
          { exchange, symbol, end: lo + 0.5 },
        ];
        for (const q of queries) {
          const order = orderFor(q);
          // The file reader does read these files (no silent fallback).
          const direct = await readBookChangeFiles(await repo.bookChangeFiles(q), q, {
            sequence: order === "sequence",
            scratch: new Scratch(),
            key: "c",
          });
          // A bound of a fraction of a microsecond is left to Polars (its cast rounds).
          assert.equal(direct !== undefined, q.end !== lo + 0.5, `${symbol}: read from files`);
          const fast = await loadBookEvents(repo, q, order);
          const slow = await loadBookEvents(polarsOnly(repo), q, order);
          assert.ok(slow.changes.bidOffsets.length > 1 || q.start === hi);
          assertEventsEqual(fast, slow, `${exchange} ${symbol} ${q.start}..${q.end}`);
        }
      }
    } finally {
      await repo.close();
    }
  });
}

Deno.test("file reader equals Polars on recorded sessions: Coinbase", async () => {
  await compareReads("coinbase-exchange-ws-20210417.txt", "coinbase");
});

Deno.test("file reader equals Polars on recorded sessions: Binance (sequence order)", async () => {
  await compareReads("binance-spot-btcusdt-20240808.gz", "binance");
});

Deno.test("file reader equals Polars on recorded sessions: Kraken", async () => {
  await compareReads("kraken-v1-book-ws-20210417.txt", "kraken");
});

Deno.test("a book change file of another writer is read through Polars", async () => {
  await withTempDir("alphapulse-book-files-", async (root) => {
    await replaySession(root, "kraken-v1-book-ws-20210417.txt");
    const repo = await LakeRepository.open({ root });
    try {
      const [{ symbol }] = await repo.instruments({ table: "book_snapshots" });
      const q = { exchange: "kraken", symbol };
      const before = await loadBookEvents(repo, q, "receive");
      const [[path]] = await repo.bookChangeFiles(q);
      // The same rows rewritten by Polars.
      const frame = pl.readParquet(path);
      await Deno.remove(path);
      frame.writeParquet(path, { compression: "zstd" });
      const parts = await repo.bookChangeFiles(q);
      const scratch = new Scratch();
      const o = { sequence: false, scratch, key: "c" };
      assert.equal(await readBookChangeFiles(parts, q, o), undefined);
      const after = await loadBookEvents(repo, q, "receive");
      assert.ok(after.length > 0);
      assertEventsEqual(after, before, "Polars-written file");
    } finally {
      await repo.close();
    }
  });
});

Deno.test("a day of several files (a writer's batches) is read from the files; files whose rows interleave through Polars", async () => {
  const instrument = { exchange: "coinbase", symbol: "BTC-USD" } as const;
  const t0 = Date.UTC(2024, 7, 8, 12) * 1_000;
  const change = (i: number, side: "bids" | "asks"): BookChange => ({
    kind: "book_change",
    ...instrument,
    ts: t0 + i * 1_000,
    recvTs: t0 + i * 1_000 + 7,
    bids: side === "bids" ? [[100 - (i % 5) * 0.5, i % 3]] : [],
    asks: side === "asks" ? [[101 + (i % 4) * 0.5, (i * 7) % 5]] : [],
  });
  const snapshot: BookSnapshot = {
    kind: "book_snapshot",
    ...instrument,
    ts: t0,
    recvTs: t0,
    bids: [[100, 1], [99.5, 2]],
    asks: [[101, 1], [101.5, 3]],
  };
  const batches = {
    // The second file's rows all come after the first's.
    ordered: [[...range(1, 60)], [...range(60, 120)]],
    // Even rows in one file, odd in the other: only a sort puts them in order.
    interleaved: [
      [...range(1, 120)].filter((i) => i % 2 === 0),
      [
        ...range(1, 120),
      ].filter((i) => i % 2 === 1),
    ],
  };
  for (const [name, [first, second]] of Object.entries(batches)) {
    await withTempDir("alphapulse-book-files-", async (root) => {
      // Two files of the lake's own writer in one day: the first batch (and the snapshot)
      // written here, the second written alone elsewhere and moved in after it.
      await withTempDir("alphapulse-book-files-other-", async (other) => {
        for (const [at, rows] of [[root, first], [other, second]] as const) {
          const lake = await ParquetLake.open({ root: at });
          const changes = rows.map((i) => change(i, i % 3 === 0 ? "asks" : "bids"));
          await lake.writeEvents(at === root ? [snapshot, ...changes] : changes);
          await lake.close();
        }
        const repo = await LakeRepository.open({ root: other });
        const [[moved]] = await repo.bookChangeFiles(instrument);
        await repo.close();
        const day = moved.slice(other.length, moved.lastIndexOf("/"));
        await Deno.rename(moved, `${root}${day}/part-zzzzzzzz.parquet`);
      });
      const repo = await LakeRepository.open({ root });
      try {
        const parts = await repo.bookChangeFiles(instrument);
        assert.deepEqual(parts.map((files) => files.length), [2], `${name}: one day, two files`);
        const o = { sequence: false, scratch: new Scratch(), key: "c" };
        const direct = await readBookChangeFiles(parts, instrument, o);
        assert.equal(direct !== undefined, name === "ordered", `${name}: read from the files`);
        const queries: RangeQuery[] = [instrument, {
          ...instrument,
          start: t0 + 30_500,
          end: t0 + 90_000,
        }];
        for (const q of queries) {
          const fast = await loadBookEvents(repo, q, "receive");
          const slow = await loadBookEvents(polarsOnly(repo), q, "receive");
          assert.ok(slow.changes.bidOffsets.length > 20, `${name}: rows read`);
          assertEventsEqual(fast, slow, `${name} ${q.start}..${q.end}`);
        }
      } finally {
        await repo.close();
      }
    });
  }
});

function* range(from: number, to: number): Generator<number> {
  for (let i = from; i < to; i++) yield i;
}
