/**
 * The TimescaleDB layout's SQL, run in-process on PGlite built with TimescaleDB (the
 * extension is not packaged for the PostgreSQL 15 on these machines; the plain layout is
 * tested against a real server in the other buffer tests).
 */
import assert from "node:assert/strict";
import { PGlite } from "pglite-timescaledb";
import { timescaledb } from "pglite-timescaledb/timescaledb";
import { MIGRATIONS } from "../lib/buffer/migrations.ts";

Deno.test("TimescaleDB layout: hypertables, compression, 1-minute aggregate, guarded retention", async () => {
  const db = await PGlite.create({ extensions: { timescaledb } });
  try {
    // As `migrate` runs it: each migration in one transaction.
    for (const m of MIGRATIONS) await db.exec(`begin;\n${m.timescale ?? m.plain}\ncommit;`);

    const hypertables = await db.query<{ hypertable_name: string; compression_enabled: boolean }>(
      `select hypertable_name, compression_enabled from timescaledb_information.hypertables
       where hypertable_name in ('trades', 'book_changes', 'book_snapshots', 'quotes')
       order by 1`,
    );
    assert.deepEqual(hypertables.rows.map((r) => [r.hypertable_name, r.compression_enabled]), [
      ["book_changes", true],
      ["book_snapshots", true],
      ["quotes", true],
      ["trades", true],
    ]);
    const chunk = await db.query<{ i: string }>(
      `select time_interval::text as i from timescaledb_information.dimensions
       where hypertable_name = 'trades'`,
    );
    assert.equal(chunk.rows[0].i, "1 day");
    const segment = await db.query<{ attname: string }>(
      `select attname from timescaledb_information.compression_settings
       where hypertable_name = 'trades' and segmentby_column_index is not null
       order by segmentby_column_index`,
    );
    assert.deepEqual(segment.rows.map((r) => r.attname), ["exchange", "symbol"]);
    const jobs = await db.query<{ proc_name: string; config: { retain?: string } | null }>(
      `select proc_name, config from timescaledb_information.jobs
       where proc_name = 'buffer_retention_job'`,
    );
    assert.equal(jobs.rows[0].config?.retain, "7 days");

    // Two old days of trades; a re-sent row is refused by the idempotency key.
    await db.exec(`insert into trades values
      ('x', 'A-B', '1', 10, 1, 'buy',  '2024-08-08 10:00:00.5Z', '2024-08-08 10:00:00.6Z'),
      ('x', 'A-B', '2', 12, 1, 'sell', '2024-08-08 10:00:30Z',   '2024-08-08 10:00:30Z'),
      ('x', 'A-B', '3', 11, 2, 'buy',  '2024-08-08 10:00:59Z',   '2024-08-08 10:00:59Z'),
      ('x', 'A-B', '4', 20, 1, 'buy',  '2024-08-09 10:00:00Z',   '2024-08-09 10:00:00Z')`);
    await assert.rejects(
      db.exec(`insert into trades values
        ('x', 'A-B', '1', 10, 1, 'buy', '2024-08-08 10:00:00.5Z', '2024-08-08 10:00:00.6Z')`),
      /duplicate key/,
    );
    const again = await db.query(
      `insert into trades values
        ('x', 'A-B', '1', 10, 1, 'buy', '2024-08-08 10:00:00.5Z', '2024-08-08 10:00:00.6Z')
       on conflict do nothing`,
    );
    assert.equal(again.affectedRows, 0);

    // Migration 4 marks backfilled trades; rows stored without the mark read as false, and
    // the key is unchanged (the same trade backfilled is the one stored row).
    await db.exec(`insert into trades values
      ('x', 'A-B', '5', 20, 1, 'buy', '2024-08-09 11:00Z', '2024-08-09 11:00Z', true)`);
    const backfilledAgain = await db.query(
      `insert into trades values
        ('x', 'A-B', '1', 10, 1, 'buy', '2024-08-08 10:00:00.5Z', '2024-08-08 10:00:00.6Z', true)
       on conflict do nothing`,
    );
    assert.equal(backfilledAgain.affectedRows, 0);
    const marks = await db.query<{ id: string; backfilled: boolean }>(
      `select id, backfilled from trades order by id`,
    );
    assert.deepEqual(marks.rows.map((r) => [r.id, r.backfilled]), [
      ["1", false],
      ["2", false],
      ["3", false],
      ["4", false],
      ["5", true],
    ]);
    await db.exec(`delete from trades where id = '5'`);

    await db.exec(`call refresh_continuous_aggregate('bars_1m', null, null)`);
    const bars = await db.query<Record<string, number | string>>(
      `select open, high, low, close, volume, vwap, trades from bars_1m
       where ts = '2024-08-08 10:00Z'`,
    );
    assert.deepEqual({ ...bars.rows[0], trades: Number(bars.rows[0].trades) }, {
      open: 10,
      high: 12,
      low: 10,
      close: 11,
      volume: 4,
      vwap: (10 + 12 + 22) / 4,
      trades: 3,
    });

    // Retention: nothing without a verified export; then only up to the verified day.
    const drop = async () =>
      (await db.query<{ p: string }>(`select buffer_drop_expired(interval '7 days') as p`))
        .rows.length;
    assert.equal(await drop(), 0);
    await db.exec(`insert into export_days values ('trades', '2024-08-08', 3, 3, now()),
      ('trades', '2024-08-09', 1, 0, null)`);
    assert.equal(await drop(), 1);
    const left = await db.query<{ id: string }>(`select id from trades order by id`);
    assert.deepEqual(left.rows.map((r) => r.id), ["4"]);

    // The event log (a plain table in both layouts): an expired day's rows are deleted only
    // once verified, and only while they are exactly the verified rows.
    await db.exec(`insert into event_log values
      ('x', 'A-B', '2024-08-08 10:00Z', '2024-08-08 10:00Z', 1, 'gap', 'a'),
      ('x', 'A-B', '2024-08-08 11:00Z', '2024-08-08 11:00Z', 2, 'reset', 'b'),
      ('x', 'A-B', '2024-08-09 10:00Z', '2024-08-09 10:00Z', 3, 'gap', 'c')`);
    const dropped = async (retain = "7 days") =>
      (await db.query<{ p: string }>(`select buffer_drop_expired(interval '${retain}') as p`))
        .rows.map((r) => r.p);
    assert.deepEqual(await dropped(), []);
    await db.exec(`insert into export_days values ('event_log', '2024-08-08', 1, 1, now()),
      ('event_log', '2024-08-09', 1, 1, null)`);
    assert.deepEqual(await dropped(), [], "a row that arrived after the export keeps the day");
    await db.exec(`update export_days set buffer_rows = 2, lake_rows = 2
      where kind = 'event_log' and day = '2024-08-08'`);
    assert.deepEqual(await dropped("100000 days"), [], "verified but not expired: kept");
    assert.deepEqual(await dropped(), ["event_log_p20240808"]);
    const log = await db.query<{ digest: number }>(`select digest from event_log`);
    assert.deepEqual(log.rows.map((r) => r.digest), [3]);
  } finally {
    await db.close();
  }
});

Deno.test("TimescaleDB layout: migration 4 adds backfilled to trades with compressed chunks", async () => {
  const db = await PGlite.create({ extensions: { timescaledb } });
  try {
    for (const m of MIGRATIONS.filter((m) => m.version < 4)) {
      await db.exec(`begin;\n${m.timescale ?? m.plain}\ncommit;`);
    }
    await db.exec(`insert into trades values
      ('x', 'A-B', '1', 10, 1, 'buy', '2024-08-08 10:00Z', '2024-08-08 10:00Z'),
      ('x', 'A-B', '2', 11, 1, 'sell', '2024-08-09 10:00Z', '2024-08-09 10:00Z')`);
    const compressed = await db.query(
      `select compress_chunk(c) from show_chunks('trades') c`,
    );
    assert.equal(compressed.rows.length, 2, "both days' chunks compressed");
    const v4 = MIGRATIONS.find((m) => m.version === 4)!;
    await db.exec(`begin;\n${v4.timescale ?? v4.plain}\ncommit;`);
    await db.exec(`insert into trades values
      ('x', 'A-B', '3', 12, 1, 'buy', '2024-08-09 11:00Z', '2024-08-09 11:00Z', true)`);
    const rows = await db.query<{ id: string; backfilled: boolean }>(
      `select id, backfilled from trades order by id`,
    );
    assert.deepEqual(rows.rows.map((r) => [r.id, r.backfilled]), [
      ["1", false],
      ["2", false],
      ["3", true],
    ]);
    // The continuous aggregate over trades still refreshes.
    await db.exec(`call refresh_continuous_aggregate('bars_1m', null, null)`);
    const bars = await db.query<{ n: number }>(`select count(*)::int as n from bars_1m`);
    assert.equal(bars.rows[0].n, 3);
  } finally {
    await db.close();
  }
});
