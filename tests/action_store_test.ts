/**
 * The action log in both stores through the `actions` table: written by the lake and the
 * buffer writer, exported from the buffer to the lake, read back by the repositories byte
 * for byte, verified and replayed bit-identical; tampering in a store breaks the chain.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import postgres from "postgres";
import { actionLogRows, backtest, replay, verifyActionLog } from "../lib/backtest/mod.ts";
import {
  exportActions,
  Exporter,
  migrate,
  PostgresWriter,
  readBufferActions,
} from "../lib/buffer/mod.ts";
import { ParquetLake } from "../lib/lake/mod.ts";
import { LakeRepository, MemoryRepository, PostgresRepository } from "../lib/repositories/mod.ts";
import { actionLines, type ActionRow, actionRows } from "../lib/schema/mod.ts";
import { RUN } from "./support/backtest_run.ts";
import { startPostgres } from "./support/postgres.ts";

const result = await backtest({ ...RUN.config, strategy: RUN.strategy(), feed: RUN.feed() });
const LINES = result.log.lines();
const ROWS = actionLogRows(result.log);
const NAME = { source: ROWS[0].source, run: ROWS[0].run };

/** Rows of a DuckDB query. */
async function duck(sql: string): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    return (await con.runAndReadAll(sql)).getRowsJS().map((r) =>
      r.map((v) => (typeof v === "bigint" ? Number(v) : v))
    );
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/** The UTC days (YYYY-MM-DD) of the log's entries, from the JSON lines themselves. */
function daysOfLines(lines: readonly string[]): string[] {
  const days = new Set(
    lines.map((l) => new Date(Math.floor(JSON.parse(l).ts / 1000)).toISOString().slice(0, 10)),
  );
  return [...days].sort();
}

async function replayed(lines: readonly string[]): Promise<boolean> {
  const verdict = await replay(lines, { strategy: RUN.strategy(), feed: RUN.feed() });
  return verdict.identical;
}

Deno.test("rows of a log give its lines back byte for byte; the run id names the log", () => {
  assert.ok(LINES.length > 100, `a real run: ${LINES.length} entries`);
  assert.equal(ROWS.length, LINES.length);
  assert.equal(NAME.source, "backtest");
  assert.match(NAME.run, /^[A-Za-z0-9][A-Za-z0-9._-]*-[0-9a-f]{16}$/, "path-safe");
  assert.ok(NAME.run.endsWith(`-${result.log.head}`), "ends with the log's head hash");
  // The payload is the entry's data as text: parsing it gives the entry's data.
  const entries = result.log.entries();
  for (let i = 0; i < ROWS.length; i += 97) {
    assert.deepEqual(JSON.parse(ROWS[i].payload), entries[i].data);
    assert.equal(ROWS[i].seq, i + 1);
  }
  assert.equal(actionLines(ROWS).join("\n") + "\n", result.log.toJsonl());
  assert.throws(() => actionRows(['{"seq":1}'], NAME), SyntaxError);
});

Deno.test("the lake stores a log by source, run and day; reads it back; replays it", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-actions-" });
  try {
    const lake = await ParquetLake.open({ root });
    try {
      assert.equal(await lake.writeActions(ROWS), ROWS.length);
      assert.equal(await lake.writeActions(ROWS.slice(0, 50)), 0, "idempotent");
      assert.equal(lake.lastWrite.duplicates, 50);
      const bad: ActionRow[] = [
        { ...ROWS[0], run: "a/b" },
        { ...ROWS[0], prev: "xyz" },
        { ...ROWS[0], payload: "[1]" },
        { ...ROWS[0], ts: 1.5 },
      ];
      assert.equal(await lake.writeActions(bad), 0);
      assert.deepEqual(lake.lastWrite.rejectedBy, { symbol: 1, action: 2, ts: 1 });
    } finally {
      await lake.close();
    }
    const partitions = await duck(
      `SELECT DISTINCT exchange, symbol, CAST(date AS VARCHAR) FROM read_parquet(
         '${root}/actions/*/*/*/*.parquet', hive_partitioning = true) ORDER BY 3`,
    );
    assert.deepEqual(
      partitions,
      daysOfLines(LINES).map((d) => [NAME.source, NAME.run, d]),
    );
    const [[count, distinct]] = await duck(
      `SELECT count(*), count(DISTINCT seq) FROM read_parquet('${root}/actions/**/*.parquet')`,
    );
    assert.deepEqual([count, distinct], [LINES.length, LINES.length]);

    const repo = new LakeRepository({ root });
    try {
      const lines = await repo.actionLog(NAME);
      assert.deepEqual(lines, LINES);
      assert.deepEqual(verifyActionLog(lines), { ok: true, entries: LINES.length });
      assert.ok(await replayed(lines), "replayed bit-identical from the lake");
      assert.deepEqual(await repo.actionLog({ ...NAME, run: "nope" }), []);
    } finally {
      await repo.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the memory repository holds a log like the lake: same rules, same lines back", async () => {
  const repo = new MemoryRepository();
  // Out of order and in two writes: lines still come back in seq order.
  const first = repo.writeActions([...ROWS.slice(100)].reverse());
  assert.deepEqual(first, { stored: ROWS.length - 100, duplicates: 0, rejectedBy: {} });
  assert.equal(repo.writeActions(ROWS).stored, 100, "idempotent on (source, run, seq)");
  const bad: ActionRow[] = [
    { ...ROWS[0], run: "a/b" },
    { ...ROWS[0], prev: "xyz" },
    { ...ROWS[0], payload: "[1]" },
    { ...ROWS[0], ts: 1.5 },
  ];
  // The same reasons the lake gives for the same rows (the test above).
  assert.deepEqual(repo.writeActions(bad), {
    stored: 0,
    duplicates: 0,
    rejectedBy: { symbol: 1, action: 2, ts: 1 },
  });
  const lines = await repo.actionLog(NAME);
  assert.deepEqual(lines, LINES);
  assert.deepEqual(verifyActionLog(lines), { ok: true, entries: LINES.length });
  assert.ok(await replayed(lines), "replayed bit-identical from memory");
  assert.deepEqual(await repo.actionLog({ ...NAME, run: "nope" }), []);
  // A later change to a written row does not reach the stored log.
  const rows = ROWS.map((r) => ({ ...r }));
  const other = new MemoryRepository();
  other.writeActions(rows);
  (rows[0] as { payload: string }).payload = "{}";
  assert.deepEqual(await other.actionLog(NAME), LINES);
  assert.throws(() => repo.writeActions("x" as unknown as ActionRow[]), TypeError);
});

Deno.test("the buffer stores a log, the exporter moves it to the lake, both read it back", async (t) => {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  const root = await Deno.makeTempDir({ prefix: "alphapulse-actions-" });
  try {
    await migrate(sql);
    await t.step("the writer stores it once, however often it is sent", async () => {
      const writer = new PostgresWriter({ sql, spillDir: `${root}/spill`, log: () => {} });
      writer.writeActions(ROWS.slice(0, 300));
      await writer.flush();
      writer.writeActions(ROWS); // the first 300 again: the slow path keeps them once
      writer.writeActions([{ ...ROWS[0], hash: "nothex" }]);
      await writer.flush();
      assert.deepEqual(writer.stats().rejectedBy, { action: 1 });
      await writer.close();
      const [{ n }] = await sql`select count(*)::int as n from actions`;
      assert.equal(n, ROWS.length);
    });

    await t.step("read back from the buffer: the same bytes, verified, replayed", async () => {
      const repo = new PostgresRepository({ sql });
      const lines = await repo.actionLog(NAME);
      assert.equal(lines.join("\n") + "\n", result.log.toJsonl());
      assert.deepEqual(verifyActionLog(lines), { ok: true, entries: LINES.length });
      assert.ok(await replayed(lines), "replayed bit-identical from the buffer");
      const page = await readBufferActions(sql, { ...NAME, afterSeq: 10, limit: 5 });
      assert.deepEqual(page.map((r) => r.seq), [11, 12, 13, 14, 15]);
    });

    await t.step("the exporter copies it to the lake, resuming a partial copy", async () => {
      const lake = await ParquetLake.open({ root: `${root}/lake` });
      try {
        await lake.writeActions(ROWS.slice(0, 120)); // an earlier, interrupted export
        const report = await exportActions({ sql, lake, sliceRows: 200 });
        assert.equal(report.runs, 1);
        assert.equal(report.rowsRead, ROWS.length - 120);
        assert.equal(report.rowsWritten, ROWS.length - 120);
        assert.deepEqual(report.verifiedRuns, [`${NAME.source}/${NAME.run}`]);
        const again = await exportActions({ sql, lake });
        assert.equal(again.rowsRead, 0, "nothing left to export");
      } finally {
        await lake.close();
      }
      const repo = new LakeRepository({ root: `${root}/lake` });
      try {
        assert.deepEqual(await repo.actionLog(NAME), LINES);
      } finally {
        await repo.close();
      }
    });

    await t.step("Exporter.run copies the action logs too", async () => {
      const lake = await ParquetLake.open({ root: `${root}/lake2` });
      try {
        const report = await new Exporter({ sql, lake, progress: false, log: () => {} }).run();
        assert.equal(report.actions?.rowsWritten, ROWS.length);
        assert.deepEqual(report.actions?.unverifiedRuns, []);
      } finally {
        await lake.close();
      }
      const repo = new LakeRepository({ root: `${root}/lake2` });
      try {
        assert.deepEqual(await repo.actionLog(NAME), LINES);
      } finally {
        await repo.close();
      }
    });

    await t.step("an entry edited in the store breaks the chain at that line", async () => {
      // The first fill's order id gets a leading 1 (a space would break only the stop's SHA-256)
      await sql`update actions set payload = replace(payload, '"id":', '"id":1')
        where seq = (select min(seq) from actions where action = 'fill')`;
      const [{ seq }] = await sql`select min(seq)::int as seq from actions where action = 'fill'`;
      const lines = await new PostgresRepository({ sql }).actionLog(NAME);
      const check = verifyActionLog(lines);
      assert.equal(check.ok, false);
      assert.equal(check.badLine, seq);
    });
  } finally {
    await sql.end();
    await Deno.remove(root, { recursive: true });
  }
});
