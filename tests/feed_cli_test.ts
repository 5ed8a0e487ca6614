/**
 * Issue 9: the programs are thin callers of one `assembleFeed` (`collectors/runtime/feed.ts`),
 * so `serve --exchange` with `DATABASE_URL` stores the feed in the PostgreSQL buffer exactly
 * as `collect` does. A recorded Coinbase session is played by a local fake venue to each
 * program in turn, each with its own database of one throwaway cluster; the trades read
 * back with SQL are compared with the session's own trade list (the venue's raw data), and
 * the lake, not the store then, stays without trades. The run's start, with its
 * configuration, is in the buffer's action log (issue 11).
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { startPostgres } from "./support/postgres.ts";
import { listBufferRuns, readBufferActions } from "../lib/buffer/action_reader.ts";
import { verifyActionLog } from "../lib/backtest/action_log.ts";
import { actionLines } from "../lib/schema/action_rows.ts";
import { startFaultServer } from "./fakes/fault_server.ts";
import { coinbaseProtocol, loadCoinbaseSession } from "./fakes/coinbase_exchange_fake.ts";

const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const PROGRAMS = {
  serve: new URL("../server/main.ts", import.meta.url).pathname,
  collect: new URL("../collectors/main.ts", import.meta.url).pathname,
};

async function until(check: () => Promise<boolean>, what: string, limitMs: number) {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

for (const program of ["serve", "collect"] as const) {
  Deno.test(`${program} --exchange with DATABASE_URL stores the trades in PostgreSQL`, async () => {
    const pg = await startPostgres();
    const work = await Deno.makeTempDir({ prefix: `alphapulse-feed-${program}-` });
    const session = await loadCoinbaseSession();
    const venue = startFaultServer({ protocol: coinbaseProtocol(session) });
    const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${program}_db`);
    const url = pg.url.replace(/\/postgres$/, `/${program}_db`);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const args = [
        "--exchange",
        "coinbase",
        "--symbols",
        [...session.snapshots.keys()].join(","),
        "--url",
        venue.url,
        "--lake",
        `${work}/lake`,
        ...(program === "serve" ? ["--port", "0"] : ["--no-backfill"]),
      ];
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", CONFIG, PROGRAMS[program], ...args],
        cwd: work, // a spill, if any, goes to ./data/spill
        env: { DATABASE_URL: url },
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = child.output();
      await venue.finished;
      await until(
        async () => {
          try {
            const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from trades`;
            return n >= session.trades.length;
          } catch {
            return false; // not migrated yet
          }
        },
        "every trade of the session in PostgreSQL",
        120_000,
      );
      child.kill("SIGTERM");
      const out = await output;
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      if (program === "serve") assert.match(stdout, /into the PostgreSQL buffer and \/ws/);
      else assert.match(stderr, /"store":"buffer"/);
      const stored = await sql<{ k: string }[]>`
        select symbol || '/' || id as k from trades where exchange = 'coinbase' order by k`;
      assert.deepEqual(stored.map((r) => r.k), [...session.trades].sort());
      let lakeTrades = false;
      try {
        Deno.statSync(`${work}/lake/trades`);
        lakeTrades = true;
      } catch { /* absent: the buffer was the store */ }
      assert.equal(lakeTrades, false, "the buffer, not the lake, took the trades");
      // Issue 11: the run's start, with its configuration, is in the buffer's action log.
      const runs = await listBufferRuns(sql, "coinbase");
      assert.equal(runs.length, 1);
      const rows = await readBufferActions(sql, runs[0]);
      assert.deepEqual(verifyActionLog(actionLines(rows)), { ok: true, entries: rows.length });
      assert.equal(rows[0].action, "start");
      const config = JSON.parse(rows[0].payload);
      assert.deepEqual(config.symbols, [...session.snapshots.keys()]);
      assert.equal(config.url, venue.url);
      assert.equal(config.store, "buffer");
    } finally {
      await sql.end();
      await admin.end();
      await venue.shutdown();
      await pg.stop();
      await Deno.remove(work, { recursive: true });
    }
  });
}
