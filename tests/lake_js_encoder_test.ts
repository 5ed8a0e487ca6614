/**
 * The lake's default encoder (`lib/lake/_js_encoder.ts`, no Polars) against the Polars
 * encoder: the same input written into two lakes, one opened with `polarsEncoder`, gives
 * files of the same Parquet schema and, read by DuckDB and by Polars, the same values in the
 * same order, which are the values the test computes from its input. Files of both encoders
 * in one partition read as one table.
 * (Bars are written by `bar_store.ts` with Polars, not through the encoder.)
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import {
  getDefaultEncoder,
  jsEncoder,
  LakeSink,
  type ParquetEncoder,
  ParquetLake,
  polarsEncoder,
} from "../lib/lake/mod.ts";
import { lakeFileFields } from "../lib/lake/parquet/mod.ts";
import type { ActionRow } from "../lib/schema/action_rows.ts";
import type { TableName } from "../lib/schema/tables.ts";
import type {
  BookChange,
  BookSnapshot,
  FeedStatus,
  MarketEvent,
  PriceLevel,
  Quote,
  TakerSide,
  Trade,
} from "../lib/market/types.ts";
import { duckColumns, duckRows, type Plain, polarsColumns } from "./support/parquet_tables.ts";
import { withTempDir } from "./support/temp_dir.ts";

const T0 = Date.UTC(2024, 2, 9, 23) * 1000;
/** One row every 97 seconds: 200 rows span two UTC days. */
const STEP = 97_000_000;
const SIDES: readonly TakerSide[] = ["buy", "sell", "unknown"];
const OURS = "AlphaPulse parquet writer";

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("lake_js_encoder_test_", fn);

/** The Parquet files of `table` in the lake at `root`, by path. */
async function lakeFiles(root: string, table: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`);
      else if (e.name.endsWith(".parquet") && !e.name.startsWith(".")) files.push(`${d}/${e.name}`);
    }
  };
  try {
    await walk(`${root}/${table}`);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return files.sort();
}

const SCHEMA_SQL = (path: string) =>
  `SELECT name, type, type_length, repetition_type, num_children, converted_type, scale,
     precision, field_id, logical_type FROM parquet_schema('${path}')`;

async function createdBy(path: string): Promise<string> {
  const rows = await duckRows(`SELECT created_by FROM parquet_file_metadata('${path}')`);
  return String(rows[0][0]);
}

/** Rows of columns (as {@linkcode duckColumns} gives them), each a tuple. */
function rowsOf(columns: Record<string, Plain[]>, names: readonly string[]): Plain[][] {
  const n = columns[names[0]].length;
  return Array.from({ length: n }, (_, i) => names.map((name) => columns[name][i]));
}

const byText = (rows: Plain[][]) =>
  rows.map((r) => JSON.stringify(r)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * Checks the lakes at `ours` (default encoder) and `theirs` (Polars) hold the same files of
 * `table`: same partitions, schema, values in order (DuckDB and Polars); and that every row
 * of `expected` (file columns but `digest`, by name) is stored once.
 */
async function assertSameTable(
  ours: string,
  theirs: string,
  table: TableName,
  expected: Record<string, Plain>[],
): Promise<void> {
  const fields = lakeFileFields(table);
  const a = await lakeFiles(ours, table);
  const b = await lakeFiles(theirs, table);
  const partition = (root: string, path: string) => path.slice(root.length, path.lastIndexOf("/"));
  assert.deepEqual(a.map((p) => partition(ours, p)), b.map((p) => partition(theirs, p)));
  assert.ok(a.length > 0, `${table}: no file`);
  const names = fields.map((f) => f.name).filter((n) => n !== "digest");
  const stored: Plain[][] = [];
  for (let i = 0; i < a.length; i++) {
    assert.equal(await createdBy(a[i]), OURS, `${a[i]}: written by our encoder`);
    assert.match(await createdBy(b[i]), /polars/i, `${b[i]}: written by Polars`);
    assert.deepEqual(await duckRows(SCHEMA_SQL(a[i])), await duckRows(SCHEMA_SQL(b[i])));
    const duckOurs = await duckColumns(a[i], fields);
    assert.deepEqual(duckOurs, await duckColumns(b[i], fields), `${table}: DuckDB values`);
    assert.deepEqual(polarsColumns(a[i], fields), duckOurs, `${table}: Polars values`);
    assert.equal(
      String(pl.readParquet(a[i]).schema),
      String(pl.readParquet(b[i]).schema),
      `${table}: Polars schema`,
    );
    stored.push(...rowsOf(duckOurs, names));
  }
  const want = expected.map((row) => names.map((n) => row[n]));
  assert.deepEqual(byText(stored), byText(want), `${table}: the input's rows`);
}

/** Writes the same input into a default lake and a Polars lake under `dir`. */
async function writeBoth(
  dir: string,
  write: (lake: ParquetLake) => Promise<unknown>,
): Promise<{ ours: string; theirs: string }> {
  const ours = `${dir}/ours`;
  const theirs = `${dir}/theirs`;
  for (const [root, encoder] of [[ours, undefined], [theirs, polarsEncoder]] as const) {
    const lake = await ParquetLake.open({ root, encoder, autoCompactFiles: Infinity });
    await write(lake);
    await lake.close();
  }
  return { ours, theirs };
}

const us = (v: number) => String(v);

function trades(count: number): { events: Trade[]; expected: Record<string, Plain>[] } {
  const events: Trade[] = [];
  for (let i = 0; i < count; i++) {
    const symbol = i % 3 === 0 ? "ETH-USD" : "BTC-USD";
    const ts = T0 + i * STEP;
    events.push({
      kind: "trade",
      exchange: "coinbase",
      symbol,
      // Numeric ids on BTC-USD, text ids (non-ASCII too) on ETH-USD.
      id: symbol === "BTC-USD" ? String(9_007_199_254_740_000 - i) : `é-${i}`,
      price: 60_000 + (i % 17) * 0.25,
      size: 0.001 * (i + 1),
      side: SIDES[i % 3],
      ts,
      recvTs: ts + 5,
    });
  }
  const expected = events.map((t) => ({
    id: t.id,
    price: t.price,
    size: t.size,
    side: t.side,
    ts: us(t.ts),
    recv_ts: us(t.recvTs),
    backfilled: false,
  }));
  return { events, expected };
}

function levels(count: number, from: number, step: number): PriceLevel[] {
  return Array.from({ length: count }, (_, k) => [from + k * step, 1 + k * 0.5] as PriceLevel);
}

/** Quotes, snapshots (0 to 50 levels), changes (one side empty), statuses; expected rows. */
function marketEvents(count: number): {
  events: MarketEvent[];
  expected: Record<string, Record<string, Plain>[]>;
} {
  const events: MarketEvent[] = [];
  const expected: Record<string, Record<string, Plain>[]> = {
    quotes: [],
    book_snapshots: [],
    book_changes: [],
    event_log: [],
  };
  const prices = (l: readonly PriceLevel[]) => l.map((x) => x[0]);
  const sizes = (l: readonly PriceLevel[]) => l.map((x) => x[1]);
  for (let i = 0; i < count; i++) {
    const ts = T0 + i * STEP;
    const base = { exchange: "kraken", symbol: i % 2 ? "XBT-USD" : "ETH-USD", ts, recvTs: ts + 3 };
    const header = { ts: us(ts), recv_ts: us(ts + 3) };
    const q: Quote = {
      kind: "quote",
      ...base,
      bidPrice: 100 + i,
      bidSize: i * 0.5,
      askPrice: 101 + i,
      askSize: 2,
    };
    events.push(q);
    expected.quotes.push({
      ...header,
      bid_price: q.bidPrice,
      bid_size: q.bidSize,
      ask_price: q.askPrice,
      ask_size: q.askSize,
    });
    const bids = levels(i % 51, 100, -0.5);
    const asks = levels((i * 7) % 51, 101, 0.5);
    const snapshot: BookSnapshot = {
      kind: "book_snapshot",
      ...base,
      bids,
      asks,
      ...(i % 4 ? { sequence: 1000 + i } : {}),
      ...(i % 5 ? { checksum: 2 ** 32 - i } : {}),
    };
    events.push(snapshot);
    expected.book_snapshots.push({
      ...header,
      bid_prices: prices(bids),
      bid_sizes: sizes(bids),
      ask_prices: prices(asks),
      ask_sizes: sizes(asks),
      sequence: i % 4 ? String(1000 + i) : null,
      checksum: i % 5 ? String(2 ** 32 - i) : null,
    });
    const changeBids = i % 3 === 0 ? [] : levels(1 + (i % 2), 99, -1);
    const changeAsks = i % 3 === 1 ? [] : [[102, i % 2 ? 0 : 3] as PriceLevel];
    const change: BookChange = {
      kind: "book_change",
      ...base,
      bids: changeBids,
      asks: changeAsks,
      ...(i % 2 ? { firstSequence: 500 + i, sequence: 501 + i } : {}),
      ...(i % 6 ? {} : { checksum: i }),
    };
    events.push(change);
    expected.book_changes.push({
      ...header,
      bid_prices: prices(changeBids),
      bid_sizes: sizes(changeBids),
      ask_prices: prices(changeAsks),
      ask_sizes: sizes(changeAsks),
      first_sequence: i % 2 ? String(500 + i) : null,
      sequence: i % 2 ? String(501 + i) : null,
      checksum: i % 6 ? null : String(i),
    });
    if (i % 10 === 0) {
      const status: FeedStatus = {
        kind: "status",
        ...base,
        status: i % 20 ? "gap" : "connected",
        reason: i % 20 ? `trade_id gap ${i} -> ${i + 3} 日本` : "",
      };
      events.push(status);
      expected.event_log.push({ ...header, status: status.status, reason: status.reason });
    }
  }
  return { events, expected };
}

Deno.test("js encoder: the lake's default encoder is ours, not Polars'", () => {
  assert.equal(getDefaultEncoder(), jsEncoder);
  assert.notEqual(getDefaultEncoder(), polarsEncoder);
});

Deno.test("js encoder: trades (numeric and text ids, every side) read back as Polars wrote them", async () => {
  await withDir(async (dir) => {
    const { events, expected } = trades(200);
    // Repeated rows are stored once (the first), as the Polars lake does.
    const { ours, theirs } = await writeBoth(
      dir,
      (lake) => lake.writeTrades([...events, ...events.slice(0, 9)]),
    );
    await assertSameTable(ours, theirs, "trades", expected);
  });
});

Deno.test("js encoder: trade columns with numeric ids and backfilled flags", async () => {
  await withDir(async (dir) => {
    const n = 150;
    const ts = Float64Array.from({ length: n }, (_, i) => T0 + i * STEP);
    const id = Float64Array.from({ length: n }, (_, i) => i * 1_000_003 + (i % 2 ? 0 : 2 ** 52));
    const columns = {
      exchange: "binance",
      symbol: "BTCUSDT",
      id,
      price: Float64Array.from({ length: n }, (_, i) => 1 + i / 8),
      size: Float64Array.from({ length: n }, (_, i) => 0.5 + i),
      side: Array.from({ length: n }, (_, i) => SIDES[(i * 5) % 3]),
      ts,
      recvTs: ts.map((t) => t + 1),
      backfilled: Uint8Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 1 : 0)),
    };
    const { ours, theirs } = await writeBoth(dir, (lake) => lake.writeTradeColumns(columns));
    const expected = Array.from({ length: n }, (_, i) => ({
      id: String(id[i]),
      price: columns.price[i],
      size: columns.size[i],
      side: columns.side[i],
      ts: us(ts[i]),
      recv_ts: us(ts[i] + 1),
      backfilled: i % 4 === 0,
    }));
    await assertSameTable(ours, theirs, "trades", expected);
  });
});

Deno.test("js encoder: quotes, book snapshots, book changes and statuses read back as Polars wrote them", async () => {
  await withDir(async (dir) => {
    const { events, expected } = marketEvents(200);
    const { ours, theirs } = await writeBoth(dir, (lake) => lake.writeEvents(events));
    for (const table of ["quotes", "book_snapshots", "book_changes", "event_log"] as const) {
      await assertSameTable(ours, theirs, table, expected[table]);
    }
  });
});

Deno.test("js encoder: action rows read back as Polars wrote them", async () => {
  await withDir(async (dir) => {
    const actions: ActionRow[] = Array.from({ length: 80 }, (_, i) => ({
      source: "backtest",
      run: "run-1",
      seq: i + 1,
      ts: T0 + i * STEP * 10,
      action: i % 2 ? "order" : "fill",
      payload: JSON.stringify({ i, note: "é" }),
      prev: i.toString(16).padStart(16, "0"),
      hash: (i + 1).toString(16).padStart(16, "0"),
    }));
    const { ours, theirs } = await writeBoth(dir, (lake) => lake.writeActions(actions));
    await assertSameTable(
      ours,
      theirs,
      "actions",
      actions.map((a) => ({
        seq: String(a.seq),
        ts: us(a.ts),
        action: a.action,
        payload: a.payload,
        prev: a.prev,
        hash: a.hash,
      })),
    );
  });
});

Deno.test("js encoder: events through LakeSink read back as through the Polars encoder", async () => {
  await withDir(async (dir) => {
    const market = marketEvents(150);
    const trade = trades(150);
    const all = [...market.events, ...trade.events];
    const { ours, theirs } = await writeBoth(dir, async (lake) => {
      const sink = new LakeSink(lake);
      // Two flushes: the second partition files follow the first's.
      sink.write(all.slice(0, 300));
      await sink.flush();
      sink.write(all.slice(300));
      await sink.flush();
      await sink.close();
    });
    await assertSameTable(ours, theirs, "trades", trade.expected);
    for (const table of ["quotes", "book_snapshots", "book_changes", "event_log"] as const) {
      await assertSameTable(ours, theirs, table, market.expected[table]);
    }
  });
});

Deno.test("js encoder: more rows than a row group: row groups of 131,072 rows, values equal", async () => {
  await withDir(async (dir) => {
    const n = 140_000;
    const ts = Float64Array.from({ length: n }, (_, i) => T0 + i * 1000);
    const id = Float64Array.from({ length: n }, (_, i) => 10 * i);
    const columns = {
      exchange: "binance",
      symbol: "BTCUSDT",
      id,
      price: Float64Array.from({ length: n }, (_, i) => 100 + (i % 1000) / 100),
      size: Float64Array.from({ length: n }, (_, i) => 1 + (i % 7)),
      side: Array.from({ length: n }, (_, i) => SIDES[i % 2]),
      ts,
      recvTs: ts,
    };
    const { ours, theirs } = await writeBoth(dir, (lake) => lake.writeTradeColumns(columns));
    const [a] = await lakeFiles(ours, "trades");
    const [b] = await lakeFiles(theirs, "trades");
    const groups = await duckRows(
      `SELECT row_group_id, row_group_num_rows FROM parquet_metadata('${a}')
       GROUP BY ALL ORDER BY row_group_id`,
    );
    assert.deepEqual(groups, [["0", "131072"], ["1", String(n - 131_072)]]);
    const sql = (path: string) =>
      `SELECT count(*), sum(hash(id, price, size, side, ts, recv_ts, backfilled) % 1000003),
         sum(CAST(id AS BIGINT)) FROM read_parquet('${path}')`;
    assert.deepEqual(await duckRows(sql(a)), await duckRows(sql(b)));
    const idSum = (n - 1) * n / 2 * 10;
    assert.deepEqual((await duckRows(sql(a)))[0][2], String(idSum));
    assert.deepEqual(await duckRows(`SELECT id FROM read_parquet('${a}') LIMIT 3`), [["0"], [
      "10",
    ], ["20"]]);
  });
});

Deno.test("js encoder: files of both encoders in one partition read as one table", async () => {
  await withDir(async (dir) => {
    const root = `${dir}/lake`;
    let encoder: ParquetEncoder = polarsEncoder;
    const lake = await ParquetLake.open({
      root,
      encoder: (table, target) => encoder(table, target),
      autoCompactFiles: Infinity,
    });
    const { events, expected } = trades(60);
    const market = marketEvents(60);
    await lake.writeTrades(events.slice(0, 30));
    await lake.writeEvents(market.events.slice(0, 100));
    encoder = jsEncoder;
    await lake.writeTrades(events.slice(30));
    await lake.writeEvents(market.events.slice(100));
    await lake.close();
    for (const table of ["trades", "book_snapshots"] as const) {
      const files = await lakeFiles(root, table);
      const writers = new Set(await Promise.all(files.map(createdBy)));
      assert.equal(writers.has(OURS), true, `${table}: a file of ours`);
      assert.equal([...writers].some((w) => /polars/i.test(w)), true, `${table}: a Polars file`);
      const glob = `read_parquet('${root}/${table}/**/*.parquet', hive_partitioning = true)`;
      const described = await duckRows(
        `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM ${glob})`,
      );
      assert.ok(described.length > 0);
      const scanned = await pl.scanParquet(`${root}/${table}/**/*.parquet`).collect();
      if (table === "trades") {
        const got = await duckRows(
          `SELECT id, side, CAST(epoch_us(ts) AS VARCHAR) FROM ${glob} ORDER BY ts`,
        );
        assert.deepEqual(got, expected.map((r) => [r.id, r.side, r.ts]));
        assert.deepEqual(scanned.sort("ts").getColumn("id").toArray(), expected.map((r) => r.id));
      } else {
        const want = market.expected.book_snapshots;
        const got = await duckRows(
          `SELECT CAST(epoch_us(ts) AS VARCHAR), bid_prices, CAST(sequence AS VARCHAR)
           FROM ${glob} ORDER BY ts`,
        );
        assert.deepEqual(
          got.map((r) => [r[0], (r[1] as number[]).map(Number), r[2]]),
          want.map((r) => [r.ts, r.bid_prices, r.sequence]),
        );
        assert.equal(scanned.height, want.length);
      }
    }
  });
});
