/**
 * The query pool over the PostgreSQL buffer and the unified repository (a throwaway cluster):
 * the same status, headers and bytes as the repository on the server's own thread, and every
 * trade written once, in `(ts, id)` order.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import type { Trade } from "../lib/market/types.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import { LakeRepository, PostgresRepository, UnifiedRepository } from "../lib/repositories/mod.ts";
import { createApp, QueryPool, StreamHub } from "../server/mod.ts";
import { startPostgres } from "./support/postgres.ts";

const Q = "exchange=coinbase&symbol=BTC-USD";
const N = 25_000;

/** Trades an hour ago, one per millisecond, ids in the order of their times. */
function trades(): Trade[] {
  const t0 = (Date.now() - 3_600_000) * 1000;
  return Array.from({ length: N }, (_, i) => ({
    kind: "trade",
    exchange: "coinbase",
    symbol: "BTC-USD",
    ts: t0 + i * 1000,
    recvTs: t0 + i * 1000 + 7,
    id: String(1_000_000_000 + i),
    price: 60_000 + (i % 977) / 100,
    size: 0.01 + (i % 13) / 1000,
    side: i % 2 ? "buy" : "sell",
  }));
}

Deno.test("query pool over the buffer and the unified repository: the direct path's bytes", async () => {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-pool-buffer-" });
  const lake = new LakeRepository({ root: `${dir}/lake` });
  const pools: QueryPool[] = [];
  try {
    await migrate(sql);
    const written = trades();
    const writer = new PostgresWriter({ sql, spillDir: `${dir}/spill`, log: () => {} });
    writer.write(written);
    await writer.close();
    const ids = written.map((t) => t.id);
    const hub = new StreamHub();
    for (
      const [kind, repository] of [
        ["buffer", new PostgresRepository({ sql })],
        ["unified", new UnifiedRepository({ lake, sql })],
      ] as const
    ) {
      const queryPool = new QueryPool({ kind, root: `${dir}/lake`, databaseUrl: pg.url, size: 2 });
      pools.push(queryPool);
      await queryPool.start();
      const direct = createApp({ repository, hub });
      const pooled = createApp({ repository, hub, queryPool, maxConcurrentQueries: 2 });
      const get = (app: typeof direct, path: string) => app(new Request(`http://localhost${path}`));
      for (
        const path of [
          `/api/trades?${Q}&limit=5000`,
          `/api/trades?${Q}&format=ndjson&order=desc`,
          `/api/bars?${Q}&interval=1m`,
          `/api/instruments`,
          `/api/trades?${Q}&limit=0`,
        ]
      ) {
        const [a, b] = [await get(direct, path), await get(pooled, path)];
        assert.equal(b.status, a.status, `${kind} ${path}`);
        assert.equal(b.headers.get("content-type"), a.headers.get("content-type"), path);
        assert.deepEqual(
          new Uint8Array(await b.arrayBuffer()),
          new Uint8Array(await a.arrayBuffer()),
          `${kind} ${path}`,
        );
      }
      const ndjson = await (await get(pooled, `/api/trades?${Q}&format=ndjson`)).text();
      assert.deepEqual(ndjson.trim().split("\n").map((l) => JSON.parse(l).id), ids, kind);
      assert.equal(queryPool.crashes, 0);
    }
  } finally {
    for (const pool of pools) pool.close();
    await lake.close();
    await sql.end();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("query pool: buffer and unified pools need a database URL", () => {
  assert.throws(() => new QueryPool({ kind: "buffer", root: "" }), TypeError);
  assert.throws(() => new QueryPool({ kind: "unified", root: "/x" }), TypeError);
});
