// A worker thread of the lake's writes that stalls, dies on an error or ends silently in
// the middle of a write: the write completes on the calling thread, within the deadline,
// with the bytes / digests computed without any worker, and the worker is replaced.
import assert from "node:assert/strict";
import { splitEvents } from "../lib/lake/_split_events.ts";
import { BookColumns } from "../lib/lake/book_columns.ts";
import {
  abandonedDigestWorkers,
  computeDigests,
  injectDigestFault,
  parallelDigestJobs,
  startDigestWorker,
} from "../lib/lake/digest_pool.ts";
import { encodeParquet, type ParquetField, writeParquetFile } from "../lib/lake/parquet/mod.ts";
import { zstdPool } from "../lib/lake/parquet/zstd_pool.ts";
import {
  abandonedWorkers,
  workerAbandonLimit,
  type WorkerFault,
  workerStallMs,
} from "../lib/lake/parquet/_workers.ts";
import { bookText, digestOf, storedBookLevels } from "../lib/market/event_digest.ts";
import type { BookSnapshot } from "../lib/market/types.ts";
import { withTempDir } from "./support/temp_dir.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The deadline the tests use (the default is 2,000 ms). */
const STALL_MS = 300;
const FAULTS: WorkerFault[] = ["stall", "throw", "exit"];
// Each fault test abandons a worker: more than the process's default limit (tested last).
workerAbandonLimit(1_000);

async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !ready(); i++) await sleep(50);
  assert.ok(ready(), "the worker did not start");
}

/** Columns whose pages are large enough for the zstd worker. */
function parquetInput() {
  const rows = 6_000;
  const offsets = new Int32Array(rows + 1);
  const values = new Float64Array(rows * 40);
  const ts = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    offsets[i + 1] = offsets[i] + (i % 7 === 0 ? 0 : 40 - (i % 3));
    for (let k = offsets[i]; k < offsets[i + 1]; k++) {
      values[k] = Math.round((60_000 + Math.cos(i) * 40 + (k - offsets[i]) * 0.5) * 100) / 100;
    }
    ts[i] = 1_720_000_000_000_000 + i * 1_000;
  }
  const schema: ParquetField[] = [
    { name: "ts", type: "timestamp_us" },
    { name: "prices", type: "list_double" },
  ];
  const columns = { ts, prices: { offsets, values: values.subarray(0, offsets[rows]) } };
  return { schema, columns, options: { pageSize: 128 * 1024 } };
}

for (const fault of FAULTS) {
  Deno.test(`zstd worker ${fault}: writeParquetFile completes here with the same bytes`, async () => {
    const { schema, columns, options } = parquetInput();
    // Bytes made on this thread alone (encodeParquet never uses the worker).
    const expected = encodeParquet(schema, columns, options);
    await until(() => zstdPool(3) !== undefined);
    const pool = zstdPool(3)!;
    const previous = workerStallMs();
    workerStallMs(STALL_MS);
    try {
      pool.injectFault(fault);
      const submitted = pool.submitted;
      await withTempDir("zstd_fallback_test_", async (dir) => {
        await writeParquetFile(`${dir}/a.parquet`, schema, columns, options);
        assert.ok(pool.submitted > submitted, "no page went to the worker");
        assert.ok(pool.abandoned, "the worker was not abandoned");
        assert.deepEqual(await Deno.readFile(`${dir}/a.parquet`), expected);
        pool.injectFault("none"); // a stalled worker resumes, in its old slots
        // A new worker, with new slots, takes the next write's pages.
        await until(() => zstdPool(3) !== undefined);
        const fresh = zstdPool(3)!;
        assert.notEqual(fresh, pool);
        await writeParquetFile(`${dir}/b.parquet`, schema, columns, options);
        assert.ok(fresh.submitted > 0 && !fresh.abandoned);
        assert.deepEqual(await Deno.readFile(`${dir}/b.parquet`), expected);
      });
    } finally {
      pool.injectFault("none");
      workerStallMs(previous);
    }
  });
}

/** Snapshots of 50 levels a side with missing and present optionals. */
function snapshots(count: number): BookSnapshot[] {
  const sizes = [1e-7, 0.3, 123456789012345, 2 ** 53 - 1, 0.1 + 0.2, 1e21, 7];
  return Array.from({ length: count }, (_, i) => {
    const ts = 1_720_000_000_000_000 + i * 1_000;
    const side = (sign: number) =>
      Array.from({ length: 50 - (i % 9) }, (_, k): [number, number] => [
        Math.round((50_000 + sign * (k + 1) * 0.37 + i * 0.01) * 1e4) / 1e4,
        sizes[(i + k) % sizes.length],
      ]);
    return {
      kind: "book_snapshot",
      exchange: "x",
      symbol: "Y",
      ts,
      recvTs: ts + 5,
      bids: side(-1),
      asks: side(1),
      ...(i % 3 === 0 ? {} : { sequence: i * 1_000_003 }),
      ...(i % 5 === 0 ? { checksum: -(i % 7) } : {}),
    };
  });
}

/** Book columns of `events` with their digests: by computeDigests, or while split. */
const DIGEST_PATHS = {
  computeDigests(events: BookSnapshot[], depth: number): BookColumns {
    const columns = new BookColumns("book_snapshots", depth);
    columns.reserve(events.length, 1 << 20, 1 << 20); // levels in shared memory
    for (const e of events) assert.equal(columns.appendChecked(e, Infinity, true), undefined);
    computeDigests(columns, 0);
    return columns;
  },
  splitEvents(events: BookSnapshot[], depth: number): BookColumns {
    const split = splitEvents(events, {
      depth,
      latest: Number.MAX_SAFE_INTEGER,
      ignored: () => assert.fail("ignored"),
      rejected: () => assert.fail("rejected"),
    });
    return split.books.get("book_snapshots")!;
  },
};

for (const [path, digested] of Object.entries(DIGEST_PATHS)) {
  for (const fault of FAULTS) {
    Deno.test(`digest worker ${fault}: ${path} completes here with the same digests`, async () => {
      const depth = 50;
      const events = snapshots(20_000);
      // Each digest from the event's canonical text, without the columns' code.
      const expected = events.map((e) =>
        digestOf(bookText(storedBookLevels(e, depth), [e.sequence, e.checksum]))
      );
      await until(startDigestWorker);
      const previous = workerStallMs();
      workerStallMs(STALL_MS);
      try {
        const clear = injectDigestFault(fault);
        assert.ok(clear !== undefined);
        const jobs = parallelDigestJobs();
        const abandoned = abandonedDigestWorkers();
        const columns = digested(events, depth);
        assert.equal(abandonedDigestWorkers(), abandoned + 1, "the worker was not abandoned");
        assert.equal(parallelDigestJobs(), jobs);
        assert.deepEqual(Array.from(columns.digest.view()), expected);
        columns.release();
        clear(); // a stalled worker resumes, in its old shared memory
        // A new worker, with new shared memory, shares the next batch.
        await until(startDigestWorker);
        const again = digested(events, depth);
        assert.equal(parallelDigestJobs(), jobs + 1, "the new worker did not share the job");
        assert.deepEqual(Array.from(again.digest.view()), expected);
        again.release();
      } finally {
        workerStallMs(previous);
      }
    });
  }
}

Deno.test("past the abandon limit no new worker starts and the writes run here", async () => {
  const depth = 50;
  const events = snapshots(20_000);
  const expected = events.map((e) =>
    digestOf(bookText(storedBookLevels(e, depth), [e.sequence, e.checksum]))
  );
  await until(startDigestWorker);
  const previousLimit = workerAbandonLimit();
  // One more abandoned worker reaches the limit.
  workerAbandonLimit(abandonedWorkers() + 1);
  const clear = injectDigestFault("exit");
  assert.ok(clear !== undefined);
  try {
    const jobs = parallelDigestJobs();
    const first = DIGEST_PATHS.computeDigests(events, depth);
    assert.deepEqual(Array.from(first.digest.view()), expected);
    first.release();
    clear();
    for (let i = 0; i < 10; i++) {
      assert.equal(startDigestWorker(), false, "a worker started past the limit");
      assert.equal(zstdPool(7), undefined, "a zstd pool started past the limit");
      await sleep(50);
    }
    const again = DIGEST_PATHS.computeDigests(events, depth);
    assert.equal(parallelDigestJobs(), jobs, "no worker shared a job");
    assert.deepEqual(Array.from(again.digest.view()), expected);
    again.release();
  } finally {
    clear();
    workerAbandonLimit(previousLimit);
  }
});
