/**
 * The `backfilled` mark is stored: a collector fed by the fake Binance server (which holds
 * trades back: items missed while disconnected, one dropped trade) writes to the lake and
 * to the PostgreSQL buffer, and the exporter copies the buffer into a second lake. Read
 * back through the repositories, exactly the trades the server held back are
 * `backfilled = true` in each store, every other trade false. Which trades were held back
 * comes from the fake server's own record of the faults it carried out (`injected`) and the
 * recorded session, not from the collector or the backfill code.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import postgres from "postgres";
import { Collector } from "../collectors/runtime/collector.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { ParquetLake } from "../lib/lake/parquet_lake.ts";
import { LakeSink } from "../lib/lake/lake_sink.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { Exporter } from "../lib/buffer/exporter.ts";
import { LakeRepository } from "../lib/repositories/lake_repository.ts";
import { PostgresRepository } from "../lib/repositories/postgres_repository.ts";
import type { QueryResult } from "../lib/repositories/repository.ts";
import type { Trade } from "../lib/market/types.ts";
import { type ScheduledFault, startFaultServer } from "./fakes/fault_server.ts";
import { binanceProtocol, loadBinanceSession } from "./fakes/binance_fake.ts";
import { settled } from "./support/checking_sink.ts";
import { startPostgres } from "./support/postgres.ts";

/** Ids of the trades the server held back, from its record of the faults it carried out. */
function heldBackIds(
  items: readonly { readonly data: Record<string, unknown> }[],
  injected: readonly { kind: string; cursor: number; detail?: string }[],
): Set<string> {
  const held = new Set<number>();
  for (const f of injected) {
    if (f.kind === "disconnect") {
      // The cursor after the missed items: `detail` is "N items missed".
      const missed = Number(/^(\d+) items missed/.exec(f.detail ?? "")?.[1] ?? 0);
      for (let i = f.cursor - missed; i < f.cursor; i++) held.add(i);
    } else if (f.kind === "gap") {
      held.add(f.cursor); // the dropped item's index
    }
  }
  const ids = new Set<string>();
  for (const i of held) {
    const d = items[i].data;
    if (d.e === "trade") ids.add(String(d.t));
  }
  return ids;
}

/** `id -> backfilled` of the trades a result holds, from `rows()`, `polars()` and `arrow()`. */
async function marks(result: QueryResult<Trade>): Promise<Map<string, boolean>> {
  const rows = await result.rows();
  const frame = await result.polars();
  const table = await result.arrow();
  assert.ok(frame.getColumn("backfilled").dtype.equals(pl.Bool), "a Bool column");
  assert.deepEqual(
    frame.getColumn("backfilled").toArray(),
    rows.map((t) => t.backfilled === true),
    "polars() = rows()",
  );
  const arrow = table.getChild("backfilled")!;
  assert.equal(String(arrow.type), "Bool");
  assert.deepEqual([...arrow].map(Boolean), rows.map((t) => t.backfilled === true), "arrow()");
  return new Map(rows.map((t) => [t.id, t.backfilled === true]));
}

function assertMarks(name: string, got: Map<string, boolean>, all: string[], held: Set<string>) {
  assert.equal(got.size, all.length, `${name}: every trade stored once`);
  const wrong = all.filter((id) => got.get(id) !== held.has(id));
  assert.deepEqual(wrong, [], `${name}: backfilled exactly for the held-back trades`);
}

Deno.test("backfilled trades are marked in the lake, the buffer and the exported lake; no other", async () => {
  const session = await loadBinanceSession();
  const n = session.items.length;
  const faults: ScheduledFault[] = [
    { at: Math.floor(n * 0.1), kind: "disconnect", missed: 200 },
    { at: Math.floor(n * 0.4), kind: "gap", what: "trade" },
    { at: Math.floor(n * 0.7), kind: "disconnect", missed: 300 },
  ];
  const server = startFaultServer({ protocol: binanceProtocol(session), faults, path: "/stream" });
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-backfill-" });
  const lake = await ParquetLake.open({ root: `${dir}/lake` });
  const exported = await ParquetLake.open({ root: `${dir}/exported` });
  await migrate(sql);
  const writer = new PostgresWriter({ sql, spillDir: `${dir}/spill`, log: () => {} });
  const collector = new Collector({
    exchange: "binance",
    url: server.url,
    symbols: ["BTC-USDT"],
    sinks: [new LakeSink(lake, { kinds: ["trade"] }), writer],
    diagnostics: new FeedDiagnostics({ log: () => {}, context: { exchange: "binance" } }),
    connection: { log: () => {}, watchdogMs: 10_000, backoff: { initialMs: 5, maxMs: 40 } },
    flushEveryMs: 50,
    queue: { capacity: 100_000, flushAt: 2_000 },
    backfill: { baseUrl: server.httpUrl, delayMs: 0 },
    restUrl: server.httpUrl,
  });
  try {
    collector.start();
    await server.finished;
    const progress = () => {
      const s = collector.summary();
      return s.trades + (s.trades_backfilled ?? 0) + s.book_updates + s.snapshots;
    };
    await settled(progress);
    await collector.backfiller!.idle();
    await settled(progress);
    const summary = await collector.stop();
    assert.equal(summary.trades_lost, 0, "every held-back trade came back");

    const all = session.items.filter((it) => it.data.e === "trade").map((it) => String(it.data.t));
    const held = heldBackIds(session.items, server.injected);
    // As scheduled: the trades among the missed items of both disconnects, and the dropped one.
    const scheduled = session.items.filter((it, i) =>
      it.data.e === "trade" &&
      ((i >= Math.floor(n * 0.1) && i < Math.floor(n * 0.1) + 200) ||
        (i >= Math.floor(n * 0.7) && i < Math.floor(n * 0.7) + 300))
    ).length;
    assert.ok(scheduled >= 20, `missed: ${scheduled}`);
    assert.equal(held.size, scheduled + 1);

    const q = { exchange: "binance", symbol: "BTC-USDT" };
    const lakeRepo = await LakeRepository.open({ root: `${dir}/lake` });
    const bufferRepo = new PostgresRepository({ sql });
    try {
      assertMarks("lake", await marks(lakeRepo.trades(q)), all, held);
      assertMarks("buffer", await marks(bufferRepo.trades(q)), all, held);
    } finally {
      await lakeRepo.close();
    }

    // The exporter copies the mark from the buffer to the lake.
    const exporter = new Exporter({
      sql,
      lake: exported,
      kinds: ["trades"],
      bars: false,
      progress: false,
      now: () => Date.now() * 1000 + 86_400_000_000,
      log: () => {},
    });
    const report = await exporter.run();
    assert.equal(report.rowsWritten, all.length);
    const exportedRepo = await LakeRepository.open({ root: `${dir}/exported` });
    try {
      assertMarks("exported lake", await marks(exportedRepo.trades(q)), all, held);
    } finally {
      await exportedRepo.close();
    }
  } finally {
    await collector.stop();
    await server.shutdown();
    await lake.close();
    await exported.close();
    await sql.end();
    await Deno.remove(dir, { recursive: true });
  }
});
