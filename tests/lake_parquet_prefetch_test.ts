// Pages decompressed ahead on a second thread (`unzstd_pool.ts`) decode to the same arrays
// as pages decompressed by the reader, also when the worker stalls, dies or ends silently.
import assert from "node:assert/strict";
import { encodeParquet, type ParquetField } from "../lib/lake/parquet/mod.ts";
import {
  ownParquetFile,
  pagePrefetch,
  prefetchPages,
  readListPair,
  readNumbers,
} from "../lib/lake/parquet/decode.ts";
import { PHYSICAL } from "../lib/lake/parquet/schema.ts";
import { unzstdPool } from "../lib/lake/parquet/unzstd_pool.ts";
import {
  abandonedWorkers,
  workerAbandonLimit,
  type WorkerFault,
  workerStallMs,
} from "../lib/lake/parquet/_workers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROWS = 20_000;
// Each fault test abandons a worker.
workerAbandonLimit(1_000);

/** A book-like file (times, digests, price and size lists) of many small zstd pages. */
function input() {
  const ts = new Float64Array(ROWS);
  const digest = new Int32Array(ROWS);
  const offsets = new Int32Array(ROWS + 1);
  for (let i = 0; i < ROWS; i++) offsets[i + 1] = offsets[i] + (i % 11 === 0 ? 0 : 1 + (i % 4));
  const prices = new Float64Array(offsets[ROWS]);
  const sizes = new Float64Array(offsets[ROWS]);
  let seed = 7;
  const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  for (let i = 0; i < ROWS; i++) {
    ts[i] = 1_720_000_000_000_000 + i * 997;
    digest[i] = (i * 2_654_435_761) | 0;
    for (let k = offsets[i]; k < offsets[i + 1]; k++) {
      prices[k] = Math.round((60_000 + rand() * 20) * 100) / 100;
      sizes[k] = Math.round(rand() * 1e6) / 1e5;
    }
  }
  const schema: ParquetField[] = [
    { name: "ts", type: "timestamp_us" },
    { name: "digest", type: "int32" },
    { name: "bid_prices", type: "list_double" },
    { name: "bid_sizes", type: "list_double" },
  ];
  const columns = {
    ts,
    digest,
    bid_prices: { offsets, values: prices },
    bid_sizes: { offsets, values: sizes },
  };
  const bytes = encodeParquet(schema, columns, { pageSize: 8 * 1024 });
  return { bytes, ts, digest, offsets, prices, sizes };
}

const DATA = input();

type Order = Parameters<typeof prefetchPages>[1];
const ORDER: Order = ["ts", "digest", ["bid_prices", "bid_sizes"]];

/** Decodes the file as `readBookChangeFiles` does, with the pages of `order` prefetched. */
function decode(order: Order = ORDER) {
  const file = ownParquetFile(DATA.bytes)!;
  const ts = new Float64Array(ROWS);
  const digest = new Int32Array(ROWS);
  const offsets = new Int32Array(ROWS + 1);
  const prices = new Float64Array(DATA.prices.length);
  const sizes = new Float64Array(DATA.sizes.length);
  using _pages = prefetchPages(file, order);
  assert.equal(readNumbers(file, "ts", PHYSICAL.INT64, ts, 0), ROWS);
  assert.equal(readNumbers(file, "digest", PHYSICAL.INT32, digest, 0), ROWS);
  const target = { offsets, values: prices, row: 0, value: 0 };
  assert.deepEqual(readListPair(file, ["bid_prices", "bid_sizes"], target, sizes), [
    ROWS,
    DATA.prices.length,
  ]);
  return { ts, digest, offsets, prices, sizes };
}

/** The columns written (the data, not a decode of it). */
function assertWritten(got: ReturnType<typeof decode>): void {
  assert.deepEqual(got.ts, DATA.ts);
  assert.deepEqual(got.digest, DATA.digest);
  assert.deepEqual(got.offsets, DATA.offsets);
  assert.deepEqual(got.prices, DATA.prices);
  assert.deepEqual(got.sizes, DATA.sizes);
}

async function readyPool() {
  pagePrefetch({ enabled: true, minBytes: 0 });
  for (let i = 0; i < 600 && !unzstdPool()?.ready; i++) await sleep(50);
  const pool = unzstdPool()!;
  assert.ok(pool.ready, "the worker did not start");
  return pool;
}

Deno.test("prefetched pages decode to the arrays the reader alone decodes", async () => {
  assert.ok(DATA.bytes.length > 200_000, "a file of many pages");
  pagePrefetch({ enabled: false });
  const alone = decode();
  assertWritten(alone);
  const pool = await readyPool();
  try {
    const served = pool.served;
    const ahead = decode();
    assert.ok(pool.served > served, `pages made by the worker: ${pool.served - served}`);
    assert.deepEqual(ahead, alone);
    // Again (the ring and input reused), then pages listed in another order than asked.
    assert.deepEqual(decode(), alone);
    assert.deepEqual(decode(["digest", "bid_sizes", "ts", "bid_prices"]), alone);
    assert.deepEqual(decode([["bid_prices", "bid_sizes"], "ts"]), alone);
  } finally {
    pagePrefetch({ enabled: true, minBytes: 4 << 20 });
  }
});

Deno.test("a file under minBytes is decoded without the worker", async () => {
  const pool = await readyPool();
  try {
    pagePrefetch({ minBytes: DATA.bytes.length });
    const served = pool.served;
    assertWritten(decode());
    assert.equal(pool.served, served);
  } finally {
    pagePrefetch({ enabled: true, minBytes: 4 << 20 });
  }
});

for (const fault of ["stall", "throw", "exit"] as WorkerFault[]) {
  Deno.test(`unzstd worker ${fault}: the reader decodes the same arrays itself`, async () => {
    const pool = await readyPool();
    const previous = workerStallMs();
    const abandoned = abandonedWorkers();
    workerStallMs(300);
    try {
      pool.injectFault(fault);
      const served = pool.served;
      // Until the worker claims a page (the reader may claim them all first) and the next
      // job, waiting for the page it holds (or seeing it dead), gives it up.
      for (let i = 0; i < 50 && !pool.abandoned; i++) assertWritten(decode());
      assert.ok(pool.abandoned, "the worker was not abandoned");
      assert.equal(abandonedWorkers(), abandoned + 1);
      assert.ok(pool.served - served < 5, "pages served by a faulty worker");
      pool.injectFault("none");
      const fresh = await readyPool();
      assert.notEqual(fresh, pool);
      const before = fresh.served;
      assertWritten(decode());
      assert.ok(fresh.served > before);
    } finally {
      pool.injectFault("none");
      workerStallMs(previous);
      pagePrefetch({ enabled: true, minBytes: 4 << 20 });
    }
  });
}
