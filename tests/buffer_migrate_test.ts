import assert from "node:assert/strict";
import postgres from "postgres";
import { startPostgres } from "./support/postgres.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { MIGRATIONS } from "../lib/buffer/migrations.ts";

Deno.test("buffer migrations: idempotent, plain layout, partitions and guarded retention", async (t) => {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  try {
    await t.step("first run applies, concurrent and later runs apply nothing", async () => {
      const [a, b] = await Promise.all([migrate(sql), migrate(sql)]);
      assert.equal(a.layout, "plain"); // timescaledb is not packaged on these machines
      assert.deepEqual([...a.applied, ...b.applied].sort(), [1, 2, 3, 4]);
      const again = await migrate(sql);
      assert.deepEqual(again.applied, []);
      const rows = await sql`select version, layout from schema_migrations order by version`;
      assert.deepEqual(rows.map((r) => [r.version, r.layout]), [
        [1, "plain"],
        [2, "plain"],
        [3, "plain"],
        [4, "plain"],
      ]);
      await assert.rejects(migrate(sql, { layout: "timescale" }), /already has the plain layout/);
    });

    await t.step("tables, keys and partitions exist", async () => {
      const tables = await sql<{ relname: string }[]>`select relname from pg_class
        where relname in ('trades','book_changes','book_snapshots','quotes','bars','event_log',
                          'actions')
          and relkind in ('r','p') order by relname`;
      assert.deepEqual(tables.map((r) => r.relname), [
        "actions",
        "bars",
        "book_changes",
        "book_snapshots",
        "event_log",
        "quotes",
        "trades",
      ]);
      const [{ n }] = await sql`select count(*)::int as n from buffer_partitions('trades')`;
      assert.ok(n >= 3, `partitions created ahead: ${n}`);
      const [{ created }] = await sql`select buffer_ensure_partitions('trades',
        '2021-04-16 23:00Z', '2021-04-17 01:00Z') as created`;
      assert.equal(created, 2);
      const [{ again }] = await sql`select buffer_ensure_partitions('trades',
        '2021-04-16 23:00Z', '2021-04-17 01:00Z') as again`;
      assert.equal(again, 0);
      await sql`insert into trades values
        ('x', 'A-B', '1', 1, 1, 'buy', '2021-04-17 10:00Z', '2021-04-17 10:00Z')`;
      await assert.rejects(
        sql`insert into trades values
          ('x', 'A-B', '1', 2, 2, 'buy', '2021-04-17 10:00Z', '2021-04-17 10:00:01Z')`,
        (e: { code?: string }) => e.code === "23505",
      );
    });

    await t.step("retention drops a day only after a verified export of all its rows", async () => {
      const drop = async () =>
        (await sql`select buffer_drop_expired(interval '7 days') as p`).map((r) => r.p);
      // 2021-04-17 is long past retention, but nothing was exported: kept.
      assert.deepEqual(await drop(), []);
      await sql`insert into export_days values ('trades', '2021-04-17', 1, 1, null)`;
      assert.deepEqual(await drop(), [], "unverified export keeps the day");
      await sql`insert into trades values
        ('x', 'A-B', '2', 1, 1, 'buy', '2021-04-17 11:00Z', '2021-04-17 11:00Z')`;
      await sql`update export_days set verified_at = now() where day = '2021-04-17'`;
      assert.deepEqual(await drop(), [], "a row that arrived after the export keeps the day");
      await sql`update export_days set buffer_rows = 2, lake_rows = 2 where day = '2021-04-17'`;
      assert.deepEqual(await drop(), ["trades_p20210417"]);
      const [{ n }] = await sql`select count(*)::int as n from trades`;
      assert.equal(n, 0);
      // The empty, unexported day before stays too (nothing verified it).
      const parts = await sql`select partition from buffer_partitions('trades')`;
      assert.ok(parts.some((p) => p.partition === "trades_p20210416"));
    });
  } finally {
    await sql.end();
  }
});

Deno.test("buffer migration 4: trades stored before read as not backfilled, the key unchanged", async () => {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  try {
    const before = MIGRATIONS.filter((m) => m.version < 4);
    assert.deepEqual((await migrate(sql, { migrations: before })).applied, [1, 2, 3]);
    await sql`select buffer_ensure_partitions('trades', '2021-04-17 00:00Z', '2021-04-18 00:00Z')`;
    await sql`insert into trades values
      ('x', 'A-B', '1', 1, 1, 'buy', '2021-04-17 10:00Z', '2021-04-17 10:00Z'),
      ('x', 'A-B', '2', 1, 1, 'buy', '2021-04-18 10:00Z', '2021-04-18 10:00Z')`;
    assert.deepEqual((await migrate(sql)).applied, [4]);
    // Applied again (the statement is guarded): nothing changes.
    await sql.unsafe(MIGRATIONS.find((m) => m.version === 4)!.plain);
    await sql`insert into trades values
      ('x', 'A-B', '3', 1, 1, 'buy', '2021-04-17 11:00Z', '2021-04-17 11:00Z', true)`;
    // The same trade again, backfilled: the key is (exchange, symbol, ts, id), so one row.
    await assert.rejects(
      sql`insert into trades values
        ('x', 'A-B', '1', 1, 1, 'buy', '2021-04-17 10:00Z', '2021-04-17 10:00Z', true)`,
      (e: { code?: string }) => e.code === "23505",
    );
    const rows = await sql<{ id: string; backfilled: boolean; part: string }[]>`
      select id, backfilled, tableoid::regclass::text as part from trades order by id`;
    assert.deepEqual(rows.map((r) => [r.id, r.backfilled, r.part]), [
      ["1", false, "trades_p20210417"],
      ["2", false, "trades_p20210418"],
      ["3", true, "trades_p20210417"],
    ]);
    const [column] = await sql<{ is_nullable: string; column_default: string }[]>`
      select is_nullable, column_default from information_schema.columns
      where table_name = 'trades_p20210418' and column_name = 'backfilled'`;
    assert.deepEqual(column, { is_nullable: "NO", column_default: "false" });
  } finally {
    await sql.end();
  }
});

Deno.test("deno task db:migrate applies the schema from DATABASE_URL", async () => {
  await using pg = await startPostgres();
  const run = async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/migrate.ts"],
      env: { DATABASE_URL: pg.url },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout);
  };
  assert.match(await run(), /applied migrations 1, 2, 3, 4 \(plain layout\)/);
  assert.match(await run(), /schema is current \(plain layout\)/);
});
