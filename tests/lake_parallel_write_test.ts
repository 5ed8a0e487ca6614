import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { splitEvents } from "../lib/lake/_split_events.ts";
import { BookColumns } from "../lib/lake/book_columns.ts";
import {
  computeDigests,
  digestStream,
  PARALLEL_MIN_ROWS,
  parallelDigestJobs,
  startDigestWorker,
} from "../lib/lake/digest_pool.ts";
import { encodeParquet, type ParquetField, writeParquetFile } from "../lib/lake/parquet/mod.ts";
import { zstdPool } from "../lib/lake/parquet/zstd_pool.ts";
import { bookText, digestOf, storedBookLevels } from "../lib/market/event_digest.ts";
import type { BookChange, BookSnapshot, PriceLevel } from "../lib/market/types.ts";
import { withTempDir } from "./support/temp_dir.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !ready(); i++) await sleep(50);
  assert.ok(ready(), "the worker did not start");
}

Deno.test("writeParquetFile with the zstd worker writes encodeParquet's bytes; Polars reads the values back", async () => {
  await until(() => zstdPool(3) !== undefined);
  const pool = zstdPool(3)!;
  const rows = 4_000;
  const offsets = new Int32Array(rows + 1);
  const values = new Float64Array(rows * 40);
  const ts = new Float64Array(rows);
  let expectedSum = 0;
  for (let i = 0; i < rows; i++) {
    offsets[i + 1] = offsets[i] + (i % 5 === 0 ? 0 : 40 - (i % 3)); // some empty lists
    for (let k = offsets[i]; k < offsets[i + 1]; k++) {
      values[k] = Math.round((60_000 + Math.sin(i) * 30 + (k - offsets[i]) * 0.5) * 100) / 100;
      expectedSum += values[k];
    }
    ts[i] = 1_720_000_000_000_000 + i * 1_000;
  }
  const schema: ParquetField[] = [
    { name: "ts", type: "timestamp_us" },
    { name: "prices", type: "list_double" },
  ];
  const columns = { ts, prices: { offsets, values: values.subarray(0, offsets[rows]) } };
  const options = { pageSize: 128 * 1024 };
  await withTempDir("parallel_zstd_test_", async (dir) => {
    const before = pool.submitted;
    const path = `${dir}/pooled.parquet`;
    await writeParquetFile(path, schema, columns, options);
    assert.ok(pool.submitted > before, "no page went to the worker");
    const pooled = await Deno.readFile(path);
    assert.deepEqual(pooled, encodeParquet(schema, columns, options));
    const df = pl.readParquet(path);
    assert.equal(df.height, rows);
    const lengths = df.getColumn("prices").list.lengths().toArray();
    assert.deepEqual(
      lengths.map(Number),
      Array.from({ length: rows }, (_, i) => offsets[i + 1] - offsets[i]),
    );
    const sum = df.select(pl.col("prices").explode().sum()).getColumn("prices").get(0);
    assert.ok(Math.abs(sum - expectedSum) < 1e-6 * expectedSum);
  });
});

Deno.test("pages of several chunks and row groups in flight at once: encodeParquet's bytes, Polars reads them", async () => {
  await until(() => zstdPool(3) !== undefined);
  const pool = zstdPool(3)!;
  const rows = 9_000;
  const offsets = new Int32Array(rows + 1);
  const values = new Float64Array(rows * 30);
  const sizes = new Float64Array(rows * 30);
  const ts = new Float64Array(rows);
  let expectedSum = 0;
  for (let i = 0; i < rows; i++) {
    offsets[i + 1] = offsets[i] + 30 - (i % 4);
    for (let k = offsets[i]; k < offsets[i + 1]; k++) {
      values[k] = Math.round((60_000 + Math.sin(i * 0.1) * 30 + (k - offsets[i])) * 100) / 100;
      sizes[k] = (k % 13) + 0.5;
      expectedSum += values[k];
    }
    ts[i] = 1_720_000_000_000_000 + i * 1_000;
  }
  const schema: ParquetField[] = [
    { name: "ts", type: "timestamp_us" },
    { name: "prices", type: "list_double" },
    { name: "sizes", type: "list_double" },
  ];
  const end = offsets[rows];
  const columns = {
    ts,
    prices: { offsets, values: values.subarray(0, end) },
    sizes: { offsets, values: sizes.subarray(0, end) },
  };
  // Three row groups, each list chunk of several pooled pages.
  const options = { pageSize: 96 * 1024, rowGroupSize: 4_000 };
  await withTempDir("parallel_chunks_test_", async (dir) => {
    const before = pool.submitted;
    const path = `${dir}/chunks.parquet`;
    await writeParquetFile(path, schema, columns, options);
    assert.ok(pool.submitted >= before + 6, "too few pages went to the worker");
    assert.deepEqual(await Deno.readFile(path), encodeParquet(schema, columns, options));
    const df = pl.readParquet(path);
    assert.equal(df.height, rows);
    assert.deepEqual(df.getColumn("ts").cast(pl.Int64).toArray().map(Number).slice(-2), [
      ts[rows - 2],
      ts[rows - 1],
    ]);
    const sum = df.select(pl.col("prices").explode().sum()).getColumn("prices").get(0);
    assert.ok(Math.abs(sum - expectedSum) < 1e-6 * expectedSum);
    const count = df.select(pl.col("sizes").explode().count()).getColumn("sizes").get(0);
    assert.equal(Number(count), end);
  });
});

/** Book events with the texts a digest must get right: exponents, -0, big integers, nulls. */
function bookEvents(count: number): (BookSnapshot | BookChange)[] {
  const out: (BookSnapshot | BookChange)[] = [];
  const sizes = [1e-7, 0.000001, 123456789012345, 2 ** 53 - 1, 0.1 + 0.2, 1e21, 7, 0.25];
  for (let i = 0; i < count; i++) {
    const ts = 1_720_000_000_000_000 + i * 1_000;
    const level = (k: number, sign: number): PriceLevel => [
      Math.round((50_000 + sign * (k + 1) * 0.37 + i * 0.01) * 1e4) / 1e4,
      sizes[(i + k) % sizes.length],
    ];
    const side = (n: number, sign: number) => Array.from({ length: n }, (_, k) => level(k, sign));
    if (i % 2 === 0) {
      const bids = side(i % 11, -1);
      if (i % 4 === 0) bids.reverse(); // out of order: sorted by the columns
      out.push({
        kind: "book_snapshot",
        exchange: "x",
        symbol: "Y",
        ts,
        recvTs: ts + 5,
        bids,
        asks: side(60 - (i % 20), 1), // some beyond the depth
        ...(i % 3 === 0 ? {} : { sequence: i * 1_000_003 }),
        ...(i % 5 === 0 ? { checksum: -(i % 7) } : {}),
      });
    } else {
      out.push({
        kind: "book_change",
        exchange: "x",
        symbol: "Y",
        ts,
        recvTs: ts + 5,
        bids: i % 3 === 0 ? [] : [[100.5, i % 4 === 1 ? 0 : 2.5]],
        asks: side(i % 4, 1),
        ...(i % 3 === 1 ? { firstSequence: i } : {}),
        ...(i % 2 === 1 ? { sequence: i + 1 } : {}),
        ...(i % 9 === 0 ? { checksum: 2 ** 31 - 1 } : {}),
      });
    }
  }
  return out;
}

Deno.test("digests shared with the worker equal the digest of each event's canonical text", async () => {
  await until(startDigestWorker);
  const depth = 25;
  const events = bookEvents(4 * PARALLEL_MIN_ROWS);
  for (const kind of ["book_snapshots", "book_changes"] as const) {
    const chosen = events.filter((e) =>
      (e.kind === "book_snapshot") === (kind === "book_snapshots")
    );
    const columns = new BookColumns(kind, depth);
    columns.reserve(chosen.length, 1 << 17, 1 << 17); // levels in shared memory
    for (const e of chosen) assert.equal(columns.appendChecked(e, Infinity, true), undefined);
    const jobs = parallelDigestJobs();
    computeDigests(columns, 0);
    assert.equal(parallelDigestJobs(), jobs + 1, "the worker did not share the job");
    const digests = columns.digest.view();
    chosen.forEach((e, i) => {
      const optionals = e.kind === "book_snapshot"
        ? [e.sequence, e.checksum]
        : [e.firstSequence, e.sequence, e.checksum];
      const expected = digestOf(bookText(storedBookLevels(e, depth), optionals));
      assert.equal(digests[i], expected, `row ${i} of ${kind}`);
    });
    columns.release();
  }
});

/** The digest of `e`'s canonical text (independent of the columns' code). */
function expectedDigest(e: BookSnapshot | BookChange, depth: number): number {
  const optionals = e.kind === "book_snapshot"
    ? [e.sequence, e.checksum]
    : [e.firstSequence, e.sequence, e.checksum];
  return digestOf(bookText(storedBookLevels(e, depth), optionals));
}

Deno.test("splitEvents shares the digests with the worker while it copies the rows", async () => {
  await until(startDigestWorker);
  const depth = 25;
  // Enough snapshots for shared level arrays (the changes' levels are too few: this thread).
  const events = bookEvents(64 * PARALLEL_MIN_ROWS + 77);
  const jobs = parallelDigestJobs();
  const { books } = splitEvents(events, {
    depth,
    latest: Number.MAX_SAFE_INTEGER,
    ignored: () => assert.fail("ignored"),
    rejected: () => assert.fail("rejected"),
  });
  assert.equal(parallelDigestJobs(), jobs + 1, "the worker did not share the snapshots' job");
  for (const kind of ["book_snapshots", "book_changes"] as const) {
    const chosen = events.filter((e) =>
      (e.kind === "book_snapshot") === (kind === "book_snapshots")
    );
    const columns = books.get(kind)!;
    assert.equal(columns.length, chosen.length);
    const digests = columns.digest.view();
    chosen.forEach((e, i) => assert.equal(digests[i], expectedDigest(e, depth), `row ${i}`));
    columns.release();
  }
});

Deno.test("a digest stream whose level arrays grow: the rows after it are digested here", async () => {
  await until(startDigestWorker);
  const depth = 60;
  const events = bookEvents(8 * PARALLEL_MIN_ROWS).filter((e) => e.kind === "book_snapshot");
  const columns = new BookColumns("book_snapshots", depth);
  // Shared level arrays too small for the rows: they grow (new arrays) while streaming.
  columns.reserve(events.length, 1 << 17, 1 << 17);
  const before = columns.askPrices.values;
  const stream = digestStream(columns, 0, events.length);
  assert.ok(stream !== undefined);
  for (const e of events) {
    assert.equal(columns.appendChecked(e, Infinity, true), undefined);
    stream.advance();
  }
  assert.notEqual(columns.askPrices.values, before, "the level arrays did not grow");
  stream.finish();
  const digests = columns.digest.view();
  events.forEach((e, i) => assert.equal(digests[i], expectedDigest(e, depth), `row ${i}`));
  columns.release();
});

Deno.test("a process that wrote through both workers exits by itself", async () => {
  const script = new URL("./fixtures/parallel_write_exit.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script.pathname],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(new TextDecoder().decode(out.stdout), /wrote 4000 parallel=true/);
});
