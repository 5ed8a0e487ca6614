/**
 * The one bar kernel (`lib/market/bars.ts`): hand-computed time, tick, volume and dollar
 * bars, the same bars when trades arrive in pages, and the SQL pushdowns (DuckDB over the
 * lake, PostgreSQL) giving the kernel's bars on the same cases, a zero-volume bar
 * (VWAP NaN) included.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { DuckDBInstance } from "@duckdb/node-api";
import { startPostgres } from "./support/postgres.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { BarKernel, type BarRule, type BarSeries, computeBars } from "../lib/market/bars.ts";
import { LakeRepository, PostgresRepository } from "../lib/repositories/mod.ts";
import type { Bar } from "../lib/market/types.ts";

const T = Date.UTC(2024, 2, 9, 12) * 1000;
const S = 1_000_000;
const MINUTE = 60 * S;

/**
 * Shared cases: seven trades in `(ts, id)` order; trades 3 and 4 share a time (id order
 * decides), trades 3, 5 and 6 have size 0, so the second minute has zero volume. (The
 * stores refuse size-0 trades; SQL and Parquet written by other tools may hold them.)
 */
const TRADES = [
  { id: "1", price: 10, size: 1, ts: T },
  { id: "2", price: 12, size: 3, ts: T + 20 * S },
  { id: "3", price: 11, size: 0, ts: T + 40 * S },
  { id: "4", price: 9, size: 1, ts: T + 40 * S },
  { id: "5", price: 20, size: 0, ts: T + 65 * S },
  { id: "6", price: 21, size: 0, ts: T + 70 * S },
  { id: "7", price: 5, size: 2, ts: T + 185 * S },
].map((t) => ({ ...t, recvTs: t.ts + 1_000 }));

const COLUMNS = {
  price: TRADES.map((t) => t.price),
  size: TRADES.map((t) => t.size),
  ts: TRADES.map((t) => t.ts),
  recvTs: TRADES.map((t) => t.recvTs),
};

type Row = [
  ts: number,
  o: number,
  h: number,
  l: number,
  c: number,
  v: number,
  vwap: number,
  n: number,
  recv: number,
];

/** Bars worked out by hand from {@linkcode TRADES}. */
const EXPECTED: Record<string, { rule: BarRule; bars: Row[] }> = {
  "1-minute": {
    rule: { by: "time", interval: MINUTE },
    bars: [
      // 10*1 + 12*3 + 11*0 + 9*1 = 55 over 5
      [T, 10, 12, 9, 9, 5, 11, 4, T + 40 * S + 1_000],
      // no size: VWAP NaN
      [T + MINUTE, 20, 21, 20, 21, 0, NaN, 2, T + 70 * S + 1_000],
      [T + 3 * MINUTE, 5, 5, 5, 5, 2, 5, 1, T + 185 * S + 1_000],
    ],
  },
  "3 ticks": {
    rule: { by: "ticks", threshold: 3 },
    bars: [
      [T, 10, 12, 10, 11, 4, 46 / 4, 3, T + 40 * S + 1_000],
      [T + 40 * S, 9, 21, 9, 21, 1, 9, 3, T + 70 * S + 1_000],
      [T + 185 * S, 5, 5, 5, 5, 2, 5, 1, T + 185 * S + 1_000],
    ],
  },
  "volume 4": {
    rule: { by: "volume", threshold: 4 },
    bars: [
      [T, 10, 12, 10, 12, 4, 46 / 4, 2, T + 20 * S + 1_000],
      // incomplete last bar: 0 + 1 + 0 + 0 + 2 = 3 < 4; 9 + 10 = 19 over 3
      [T + 40 * S, 11, 21, 5, 5, 3, 19 / 3, 5, T + 185 * S + 1_000],
    ],
  },
  "dollars 50": {
    rule: { by: "dollars", threshold: 50 },
    bars: [
      [T, 10, 12, 9, 9, 5, 11, 4, T + 40 * S + 1_000],
      [T + 65 * S, 20, 21, 5, 5, 2, 5, 3, T + 185 * S + 1_000],
    ],
  },
};

function rowsOf(b: BarSeries): Row[] {
  return Array.from({ length: b.ts.length }, (_, i) =>
    [
      b.ts[i],
      b.open[i],
      b.high[i],
      b.low[i],
      b.close[i],
      b.volume[i],
      b.vwap[i],
      b.trades[i],
      b.recvTs[i],
    ] as Row);
}

function barRows(bars: readonly Bar[]): Row[] {
  return bars.map((b) => [
    b.ts,
    b.open,
    b.high,
    b.low,
    b.close,
    b.volume,
    b.vwap,
    b.trades,
    b.recvTs,
  ]);
}

/** Equal, with VWAPs compared to 12 significant digits (sums may round differently). */
function assertBars(actual: Row[], expected: Row[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: bar count`);
  for (let i = 0; i < expected.length; i++) {
    const a = [...actual[i]];
    const e = [...expected[i]];
    const [va, ve] = [a[6], e[6]];
    a[6] = e[6] = 0;
    assert.deepEqual(a, e, `${label}: bar ${i}`);
    if (Number.isNaN(ve)) assert.ok(Number.isNaN(va), `${label}: bar ${i} vwap NaN, got ${va}`);
    else assert.ok(Math.abs(va - ve) <= 1e-12 * Math.abs(ve), `${label}: bar ${i} vwap ${va}`);
  }
}

Deno.test("bar kernel: time, tick, volume and dollar bars by hand, whole or in pages", () => {
  for (const [label, { rule, bars }] of Object.entries(EXPECTED)) {
    assertBars(rowsOf(computeBars(rule, COLUMNS)), bars, label);
    // Every split into pages (an open bar carried across them) gives the same bars.
    for (let cut = 0; cut <= TRADES.length; cut++) {
      for (let cut2 = cut; cut2 <= TRADES.length; cut2++) {
        const kernel = new BarKernel(rule);
        const rows: Row[] = [];
        for (const [from, to] of [[0, cut], [cut, cut2], [cut2, TRADES.length]]) {
          kernel.add(COLUMNS, from, to);
          rows.push(...rowsOf(kernel.takeClosed()));
        }
        rows.push(...rowsOf(kernel.finish()));
        assertBars(rows, bars, `${label} pages at ${cut}, ${cut2}`);
      }
    }
  }
  assert.equal(new BarKernel({ by: "ticks", threshold: 2 }).interval, 0);
  assert.throws(() => new BarKernel({ by: "time", interval: 0 }), RangeError);
  assert.throws(() => new BarKernel({ by: "volume", threshold: NaN }), RangeError);
});

Deno.test("bar pushdowns: DuckDB over the lake and PostgreSQL give the kernel's time bars", async () => {
  const kernel = rowsOf(computeBars({ by: "time", interval: MINUTE }, COLUMNS));
  assertBars(kernel, EXPECTED["1-minute"].bars, "kernel");
  const query = { exchange: "coinbase", symbol: "BTC-USD", interval: MINUTE };

  // The lake: a Parquet file written by another tool (DuckDB), size-0 trades included.
  const root = await Deno.makeTempDir({ prefix: "alphapulse-bars-" });
  try {
    const dir = `${root}/trades/exchange=coinbase/symbol=BTC-USD/date=2024-03-09`;
    await Deno.mkdir(dir, { recursive: true });
    const instance = await DuckDBInstance.create(":memory:");
    const con = await instance.connect();
    const values = TRADES.map((t) =>
      `('${t.id}', ${t.price}::DOUBLE, ${t.size}::DOUBLE, 'buy', make_timestamp(${t.ts}::BIGINT),
        make_timestamp(${t.recvTs}::BIGINT))`
    ).join(", ");
    await con.run(
      `COPY (SELECT * FROM (VALUES ${values}) t(id, price, size, side, ts, recv_ts) ORDER BY ts, id)
       TO '${dir}/part-0.parquet' (FORMAT parquet)`,
    );
    con.closeSync();
    instance.closeSync();
    const lake = await LakeRepository.open({ root });
    assertBars(barRows(await lake.bars(query).rows()), kernel, "lake (DuckDB)");
  } finally {
    await Deno.remove(root, { recursive: true });
  }

  // PostgreSQL: rows inserted by SQL (not through the writer, which refuses size 0).
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  try {
    await migrate(sql);
    await sql`select buffer_ensure_partitions('trades', ${new Date(T / 1000)}, ${new Date(
      T / 1000,
    )})`;
    for (const t of TRADES) {
      await sql`insert into trades (exchange, symbol, id, price, size, side, ts, recv_ts)
        values ('coinbase', 'BTC-USD', ${t.id}, ${t.price}, ${t.size}, 'buy',
          'epoch'::timestamptz + ${t.ts}::bigint * interval '1 microsecond',
          'epoch'::timestamptz + ${t.recvTs}::bigint * interval '1 microsecond')`;
    }
    const repo = new PostgresRepository({ sql });
    assertBars(barRows(await repo.bars(query).rows()), kernel, "PostgreSQL");
  } finally {
    await sql.end();
  }
});
