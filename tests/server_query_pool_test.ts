/**
 * The market-data routes through query workers (`server/query_pool.ts`): the same bytes as
 * on the server's own thread (JSON pages followed by cursor, NDJSON and Arrow streams, bars,
 * errors), the rows checked against DuckDB reading the lake's files; a cancelled stream
 * gives back its worker and its query slot; a crashed worker is a 500 (or an errored body)
 * for its request, and the pool goes on with a fresh worker.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import { tableFromIPC } from "apache-arrow";
import { LakeRepository } from "../lib/repositories/mod.ts";
import { createApp, StreamHub } from "../server/mod.ts";
import { QueryPool, type QueryPoolOptions } from "../server/query_pool.ts";
import { BIG_LAKE_START, writeBigLake } from "../bench/_big_lake.ts";

const Q = "exchange=coinbase&symbol=BTC-USD";
const DAY = 86_400_000_000;

async function withLake(
  days: number,
  perDay: number,
  body: (root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-pool-" });
  try {
    await writeBigLake({ root, days, perDay });
    await body(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** The app on its own thread and the app through a pool, over the same lake. */
async function apps(root: string, pool: Partial<QueryPoolOptions> = {}, maxQueries = 8) {
  const repository = await LakeRepository.open({ root });
  const queryPool = new QueryPool({ root, size: maxQueries, ...pool });
  const hub = new StreamHub();
  const direct = createApp({ repository, hub });
  const pooled = createApp({ repository, hub, queryPool, maxConcurrentQueries: maxQueries });
  const get = (app: typeof direct, path: string) => app(new Request(`http://localhost${path}`));
  return {
    queryPool,
    direct: (path: string) => get(direct, path),
    pooled: (path: string) => get(pooled, path),
    close: async () => {
      queryPool.close();
      await repository.close();
    },
  };
}

/** DuckDB's ids of the lake's trades in `(ts, id)` order. */
async function duckIds(root: string): Promise<string[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    const reader = await con.runAndReadAll(
      `SELECT id FROM read_parquet('${root}/trades/**/*.parquet') ORDER BY ts, id`,
    );
    return reader.getRows().map((r) => String(r[0]));
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

async function bytesOf(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

Deno.test("query pool: the same status, headers and bytes as the direct path", async () => {
  await withLake(2, 15_000, async (root) => {
    const { direct, pooled, close } = await apps(root);
    try {
      const ids = await duckIds(root);
      const end = BIG_LAKE_START + 2 * DAY;
      const paths = [
        `/api/trades?${Q}&format=ndjson`,
        `/api/trades?${Q}&format=arrow&order=desc`,
        `/api/trades?${Q}&format=ndjson&limit=12345&start=${BIG_LAKE_START + DAY / 2}`,
        `/api/bars?${Q}&interval=1m&end=${end}`,
        `/api/bars?${Q}&by=ticks&threshold=1000`,
        `/api/instruments`,
        `/api/trades?${Q}&cursor=not-a-cursor`,
        `/api/trades?${Q}&limit=0`,
      ];
      for (const path of paths) {
        const [a, b] = [await direct(path), await pooled(path)];
        assert.equal(b.status, a.status, path);
        assert.equal(b.headers.get("content-type"), a.headers.get("content-type"), path);
        assert.deepEqual(await bytesOf(b), await bytesOf(a), path);
      }
      // JSON pages followed by cursor: same pages, and every trade once in DuckDB's order.
      const seen: string[] = [];
      let path: string | undefined = `/api/trades?${Q}&limit=7000`;
      while (path !== undefined) {
        const a: Response = await direct(path);
        const b: Response = await pooled(path);
        assert.equal(b.headers.get("x-next-cursor"), a.headers.get("x-next-cursor"));
        const bytes = await bytesOf(b);
        assert.deepEqual(bytes, await bytesOf(a));
        seen.push(...JSON.parse(new TextDecoder().decode(bytes)).map((t: { id: string }) => t.id));
        const cursor = b.headers.get("x-next-cursor");
        path = cursor ? `/api/trades?${Q}&limit=7000&cursor=${cursor}` : undefined;
      }
      assert.deepEqual(seen, ids);
      // The streams, independently of the direct path.
      const ndjson = await (await pooled(`/api/trades?${Q}&format=ndjson`)).text();
      assert.deepEqual(ndjson.trim().split("\n").map((l) => JSON.parse(l).id), ids);
      const arrow = tableFromIPC(await bytesOf(await pooled(`/api/trades?${Q}&format=arrow`)));
      assert.deepEqual([...arrow.getChild("id")!].map(String), ids);
    } finally {
      await close();
    }
  });
});

/** Polls `done` between macrotasks (no clock involved) until it holds. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) await new Promise((r) => setTimeout(r, 1));
  assert.ok(done(), what);
}

Deno.test("query pool: a cancelled stream gives back its worker and its query slot", async () => {
  await withLake(1, 60_000, async (root) => {
    const { queryPool, pooled, close } = await apps(root, { size: 1 }, 1);
    try {
      await queryPool.start();
      assert.equal(queryPool.workers, 1);
      assert.equal(queryPool.busy, 0);
      const res = await pooled(`/api/trades?${Q}&format=ndjson`);
      const reader = res.body!.getReader();
      assert.equal((await reader.read()).done, false);
      assert.equal(queryPool.busy, 1);
      const refused = await pooled(`/api/trades?${Q}&limit=1`);
      assert.equal(refused.status, 503);
      assert.ok(refused.headers.get("retry-after"));
      await refused.body?.cancel();
      await reader.cancel();
      await until(() => queryPool.busy === 0, "the worker is given back");
      const next = await pooled(`/api/trades?${Q}&limit=2`);
      assert.equal(next.status, 200);
      assert.deepEqual((await next.json()).map((t: { id: string }) => t.id), [
        "1000000000",
        "1000000001",
      ]);
      assert.equal(queryPool.workers, 1); // the same worker served it
      assert.equal(queryPool.crashes, 0);
    } finally {
      await close();
    }
  });
});

Deno.test("query pool: a crashed worker fails its request only; the pool recovers", async () => {
  await withLake(1, 30_000, async (root) => {
    const workerUrl = new URL("./support/crashing_query_worker.ts", import.meta.url);
    const { queryPool, direct, pooled, close } = await apps(root, { size: 2, workerUrl }, 2);
    try {
      const early = await pooled(`/api/trades?${Q}&limit=5&crash=early`);
      assert.equal(early.status, 500);
      assert.deepEqual(await early.json(), { error: "internal server error" });
      assert.equal(queryPool.crashes, 1);

      const late = await pooled(`/api/trades?${Q}&format=ndjson&crash=late`);
      assert.equal(late.status, 200);
      await assert.rejects(() => late.arrayBuffer());
      assert.equal(queryPool.crashes, 2);

      // Both slots are free again, and fresh workers answer exactly like the direct path.
      const path = `/api/trades?${Q}&format=arrow`;
      const [a, b, c] = await Promise.all([pooled(path), pooled(path), direct(path)]);
      const expected = await bytesOf(c);
      assert.deepEqual(await bytesOf(a), expected);
      assert.deepEqual(await bytesOf(b), expected);
      assert.equal(queryPool.busy, 0);
      assert.equal(queryPool.workers, 2);
    } finally {
      await close();
    }
  });
});

Deno.test("query pool: a hung worker is a 504 past the deadline, terminated and replaced", async () => {
  await withLake(1, 30_000, async (root) => {
    const workerUrl = new URL("./support/hanging_query_worker.ts", import.meta.url);
    const { queryPool, direct, pooled, close } = await apps(
      root,
      { size: 2, workerUrl, timeoutMs: 5_000 },
      2,
    );
    try {
      await queryPool.start();
      // Both workers warmed up (a first query opens the lake), so only a hang meets the deadline.
      const warm = `/api/trades?${Q}&limit=1`;
      for (const res of await Promise.all([pooled(warm), pooled(warm)])) {
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
      // One worker hangs before its head; the other keeps answering meanwhile.
      const path = `/api/trades?${Q}&limit=50`;
      const [early, ok] = await Promise.all([pooled(`${path}&hang=early`), pooled(path)]);
      assert.equal(ok.status, 200);
      assert.deepEqual(await bytesOf(ok), await bytesOf(await direct(path)));
      assert.equal(early.status, 504);
      assert.equal(early.headers.get("content-type"), "application/json; charset=utf-8");
      assert.match((await early.json()).error, /took longer than 5 s .* was stopped/);
      assert.equal(queryPool.timeouts, 1);
      assert.equal(queryPool.crashes, 0);
      assert.equal(queryPool.workers, 2, "the hung worker was replaced");

      // A worker that hangs in the middle of its body: the body errors.
      const late = await pooled(`/api/trades?${Q}&format=ndjson&hang=late`);
      assert.equal(late.status, 200);
      await assert.rejects(() => late.arrayBuffer(), /took longer than/);
      assert.equal(queryPool.timeouts, 2);

      // Both query slots are free again and fresh workers answer like the direct path.
      const arrow = `/api/trades?${Q}&format=arrow`;
      const [a, b, c] = await Promise.all([pooled(arrow), pooled(arrow), direct(arrow)]);
      const expected = await bytesOf(c);
      assert.deepEqual(await bytesOf(a), expected);
      assert.deepEqual(await bytesOf(b), expected);
      assert.equal(queryPool.busy, 0);
      assert.equal(queryPool.workers, 2);
      assert.equal(queryPool.timeouts, 2);
    } finally {
      await close();
    }
  });
});

Deno.test("query pool: a deadline must be a positive number", () => {
  assert.throws(() => new QueryPool({ root: "/nowhere", timeoutMs: 0 }), RangeError);
  assert.throws(() => new QueryPool({ root: "/nowhere", timeoutMs: Number.NaN }), RangeError);
});
