import assert from "node:assert/strict";
import postgres from "postgres";
import { startPostgres } from "./support/postgres.ts";

Deno.test("throwaway PostgreSQL: start, query, kill, restart, stop cleans up", async () => {
  const pg = await startPostgres();
  let removed = false;
  try {
    assert.match(pg.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql`select current_setting('fsync') as fsync,
        current_setting('server_version_num')::int as version`;
      assert.equal(row.fsync, "off");
      assert.ok(row.version >= 150000 && row.version < 160000, `version ${row.version}`);
      await sql`create table t (x int)`;
      await sql`insert into t values (1), (2)`;
      await sql`checkpoint`;
    } finally {
      await sql.end();
    }
    assert.equal((await pg.psql(["-At", "-c", "select count(*) from t"])).trim(), "2");

    // The unix socket lives in the temporary directory.
    const entries = [...Deno.readDirSync(pg.socketDir)].map((e) => e.name);
    assert.ok(entries.includes(`.s.PGSQL.${pg.port}`), entries.join(","));

    await pg.kill();
    await assert.rejects(pg.psql(["-At", "-c", "select 1"]));
    await pg.restart();
    assert.equal((await pg.psql(["-At", "-c", "select count(*) from t"])).trim(), "2");

    await pg.shutdown();
    await assert.rejects(pg.psql(["-At", "-c", "select 1"]));
    await pg.restart();
    assert.equal((await pg.psql(["-At", "-c", "select sum(x) from t"])).trim(), "3");

    await pg.stop();
    removed = true;
    await assert.rejects(Deno.stat(pg.dataDir), Deno.errors.NotFound);
    await pg.stop(); // idempotent
  } finally {
    if (!removed) await pg.stop();
  }
});

Deno.test("throwaway PostgreSQL: two clusters run side by side on distinct ports", async () => {
  await using a = await startPostgres();
  await using b = await startPostgres({ settings: { work_mem: "8MB" } });
  assert.notEqual(a.port, b.port);
  assert.equal((await b.psql(["-At", "-c", "show work_mem"])).trim(), "8MB");
  assert.equal((await a.psql(["-At", "-c", "show work_mem"])).trim(), "4MB");
});
