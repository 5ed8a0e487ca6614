import assert from "node:assert/strict";
import { startPostgres } from "./support/postgres.ts";
import { openBufferFromEnv } from "../lib/buffer/from_env.ts";
import type { Trade } from "../lib/market/types.ts";

Deno.test("openBufferFromEnv: no URL is the embedded default, a URL migrates and writes", async () => {
  const saved = Deno.env.get("DATABASE_URL");
  Deno.env.delete("DATABASE_URL");
  try {
    assert.equal(await openBufferFromEnv(), undefined);
  } finally {
    if (saved !== undefined) Deno.env.set("DATABASE_URL", saved);
  }
  await using pg = await startPostgres();
  const spillRoot = await Deno.makeTempDir();
  const buffer = await openBufferFromEnv({ url: pg.url, spillRoot });
  assert.ok(buffer);
  try {
    const [{ n: versions }] = await buffer.sql`select count(*)::int as n from schema_migrations`;
    assert.ok(versions >= 1);
    const writer = buffer.writer("coinbase");
    const t: Trade = {
      kind: "trade",
      exchange: "coinbase",
      symbol: "BTC-USD",
      id: "1",
      price: 1,
      size: 1,
      side: "buy",
      ts: Date.UTC(2024, 0, 1) * 1000,
      recvTs: Date.UTC(2024, 0, 1) * 1000 + 1,
    };
    writer.write([t]);
    await writer.close();
    const [{ n }] = await buffer.sql`select count(*)::int as n from trades`;
    assert.equal(n, 1);
    assert.throws(() => buffer.writer("../x"), TypeError);
  } finally {
    await buffer.close();
    await Deno.remove(spillRoot, { recursive: true });
  }
});
