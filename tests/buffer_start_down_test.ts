/**
 * Issue 12: with `DATABASE_URL` set and PostgreSQL down at start, the buffer still opens;
 * its writers spill, and once the server is up the schema is migrated and every spilled
 * row replayed, nothing lost and nothing twice. The stored rows are read back with SQL and
 * compared with the events written.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { openBufferFromEnv } from "../lib/buffer/from_env.ts";
import type { MarketEvent, Quote, Trade } from "../lib/market/types.ts";
import { startPostgres } from "./support/postgres.ts";
import { startFaultServer } from "./fakes/fault_server.ts";
import { coinbaseProtocol, loadCoinbaseSession } from "./fakes/coinbase_exchange_fake.ts";

const COLLECT = new URL("../collectors/main.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

const T0 = Date.UTC(2024, 7, 8, 12, 0, 0) * 1000;

function events(n: number): { trades: Trade[]; quotes: Quote[] } {
  const trades: Trade[] = [];
  const quotes: Quote[] = [];
  for (let i = 0; i < n; i++) {
    const ts = T0 + i * 10_007;
    trades.push({
      kind: "trade",
      exchange: "coinbase",
      symbol: i % 2 ? "ETH-USD" : "BTC-USD",
      id: String(1_000 + i),
      price: 100 + (i % 13) * 0.25,
      size: 0.5 + (i % 5),
      side: i % 2 ? "buy" : "sell",
      ts,
      recvTs: ts + 321,
    });
    if (i % 4 === 0) {
      quotes.push({
        kind: "quote",
        exchange: "coinbase",
        symbol: "BTC-USD",
        ts,
        recvTs: ts + 99,
        bidPrice: 99.5,
        bidSize: 1,
        askPrice: 100.5,
        askSize: 2,
      });
    }
  }
  return { trades, quotes };
}

Deno.test("buffer: PostgreSQL down at start: the writers spill, then migrate and replay everything once", async () => {
  const pg = await startPostgres();
  const spillRoot = await Deno.makeTempDir({ prefix: "alphapulse-spill-down-" });
  const logs: string[] = [];
  try {
    await pg.shutdown(); // a fresh cluster, never migrated, and down
    const buffer = await openBufferFromEnv({
      url: pg.url,
      spillRoot,
      gate: { retryMs: 50, maxRetryMs: 200, log: (m) => logs.push(m) },
    });
    assert.ok(buffer, "opened although the server is down");
    const writer = buffer.writer("coinbase", {
      batchRows: 500,
      retries: 1,
      backoffMs: 20,
      maxBackoffMs: 200,
      log: (m) => logs.push(m),
    });
    const { trades, quotes } = events(3_000);
    const all: MarketEvent[] = [...trades, ...quotes];
    writer.write(all.slice(0, 2_000));
    await writer.flush();
    writer.write(all.slice(1_500)); // overlaps: 500 events written twice
    await writer.flush();
    const stats = writer.stats();
    assert.equal(stats.available, false);
    assert.ok(stats.spilledRows > 0, "spilled while down");
    assert.equal(stats.droppedRows, 0, logs.join("\n"));
    assert.ok(
      [...Deno.readDirSync(`${spillRoot}/coinbase`)].some((e) => e.name.endsWith(".copy")),
    );

    await pg.restart();
    assert.ok(await writer.replay(), "spill replayed once the server is back");
    await writer.close();
    await buffer.close();
    assert.equal(writer.stats().droppedRows, 0, logs.join("\n"));
    assert.deepEqual(
      [...Deno.readDirSync(`${spillRoot}/coinbase`)].filter((e) => !e.isDirectory),
      [],
      "no segment left, none refused",
    );
    assert.ok(logs.some((m) => /not reachable/.test(m)), logs.join("\n"));
    assert.ok(logs.some((m) => /migrated; replaying/.test(m)), logs.join("\n"));

    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      const stored = await sql<{ symbol: string; id: string; price: number; size: number }[]>`
        select symbol, id, price, size from trades order by id::int`;
      assert.deepEqual(
        stored.map((r) => [r.symbol, r.id, r.price, r.size]),
        trades.map((t) => [t.symbol, t.id, t.price, t.size]),
      );
      const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from quotes`;
      assert.equal(n, quotes.length);
    } finally {
      await sql.end();
    }
  } finally {
    await pg.stop();
    await Deno.remove(spillRoot, { recursive: true });
  }
});

Deno.test("deno task collect with DATABASE_URL and PostgreSQL down: runs, spills, replays when it is up", async () => {
  const pg = await startPostgres();
  const work = await Deno.makeTempDir({ prefix: "alphapulse-collect-down-" });
  const session = await loadCoinbaseSession();
  const server = startFaultServer({ protocol: coinbaseProtocol(session) });
  try {
    await pg.shutdown();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        CONFIG,
        COLLECT,
        "--exchange",
        "coinbase",
        "--symbols",
        [...session.snapshots.keys()].join(","),
        "--url",
        server.url,
        "--lake",
        `${work}/lake`,
      ],
      cwd: work, // the spill goes to ./data/spill
      env: { DATABASE_URL: pg.url },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = child.output();
    await server.finished; // the whole session was sent while the database was down
    // The collector flushes on its own clock: wait until it has spilled, so the database comes
    // back only after the spill path really ran.
    await until(
      async () => {
        try {
          for await (const entry of Deno.readDir(`${work}/data/spill/coinbase`)) {
            if (entry.isFile) return true;
          }
        } catch { /* not created yet */ }
        return false;
      },
      "a spill segment written while PostgreSQL is down",
      60_000,
    );
    await pg.restart();
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      // Migrated and replayed by the running collector (its retries back off up to 30 s).
      await until(
        async () => {
          try {
            const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from trades`;
            return n >= session.trades.length;
          } catch {
            return false;
          }
        },
        "every trade in PostgreSQL",
        180_000,
      );
      child.kill("SIGTERM");
      const out = await output;
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      assert.match(stderr, /PostgreSQL is not reachable/);
      assert.match(stderr, /database unavailable .*spilling to data\/spill\/coinbase/);
      assert.match(stderr, /migrated; replaying the spill/);
      const stored = await sql<{ k: string }[]>`
        select symbol || '/' || id as k from trades order by k`;
      assert.deepEqual(stored.map((r) => r.k), [...session.trades].sort());
    } finally {
      await sql.end();
    }
  } finally {
    await server.shutdown();
    await pg.stop();
    await Deno.remove(work, { recursive: true });
  }
});

async function until(check: () => Promise<boolean>, what: string, limitMs: number) {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
