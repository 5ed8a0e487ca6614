/**
 * `deno task bench storage`: the hot buffer and the lake next to their peers, in one run.
 *
 * - `ingest`: trades/s into PostgreSQL through {@linkcode PostgresWriter} versus
 *   `psql \copy` (peer `psql-copy`) of the same rows as text into the same table, with the
 *   same primary key, in the same cluster.
 * - `export`: trades/s from PostgreSQL to the Parquet lake (the exporter over every table,
 *   with only trades in the buffer), and Parquet bytes per raw exchange JSON byte for the
 *   same trades.
 * - `export_<table>`: rows/s of quotes, book snapshots (50 levels a side) and book changes
 *   from PostgreSQL to the lake, one table at a time.
 * - `bars`: 1-minute OHLCV+VWAP over the trades, from the lake (DuckDB over Parquet) versus
 *   the same result computed by PostgreSQL (peer `postgres`).
 *
 * Sizes: `BENCH_STORAGE_ROWS` (default 1,000,000) for ingest, `BENCH_STORAGE_BAR_ROWS`
 * (default 10,000,000) for the trades export and the bars query, `BENCH_STORAGE_EVENT_ROWS`
 * (default 1,000,000) quotes, with a tenth as many book snapshots and half as many changes.
 * @module
 */
import postgres from "postgres";
import { emit } from "./_figure.ts";
import type { BookChange, BookSnapshot, Quote, Trade } from "../lib/market/types.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import { TimestampFormatter } from "../lib/buffer/_copy.ts";
import { startPostgres } from "../scripts/postgres_cluster.ts";
import { Exporter, type ExportKind } from "../lib/buffer/exporter.ts";
import { ParquetLake } from "../lib/lake/mod.ts";
import { LakeRepository, PostgresRepository } from "../lib/repositories/mod.ts";
import { replayFiles } from "../collectors/replay/replay.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import type pl from "nodejs-polars";

const round = (x: number, digits = 3) => Number(x.toPrecision(digits + 3));

/** Shape of the synthetic trades. */
interface SyntheticOptions {
  /** Symbols, used round-robin (default 10 USD pairs). */
  readonly symbols?: readonly string[];
  /** First trade time, microseconds (default 2024-08-08). */
  readonly start?: number;
  /** Mean spacing between trades, microseconds (default 100). */
  readonly spacing?: number;
}

/**
 * Deterministic synthetic trades shaped like a busy venue, in batches: increasing ids,
 * prices with cents (a random walk), sizes with 8 decimals, times `spacing` apart on average.
 */
export function* syntheticTradeBatches(
  count: number,
  batch: number,
  options: SyntheticOptions = {},
): Generator<Trade[]> {
  const symbols = options.symbols ??
    [
      "BTC-USD",
      "ETH-USD",
      "SOL-USD",
      "XRP-USD",
      "ADA-USD",
      "DOGE-USD",
      "LTC-USD",
      "DOT-USD",
      "AVAX-USD",
      "LINK-USD",
    ];
  const spacing = options.spacing ?? 100;
  let seed = 42;
  const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  const prices = symbols.map((_, i) => 100 * (i + 1));
  let ts = options.start ?? Date.UTC(2024, 7, 8) * 1000;
  for (let from = 0; from < count; from += batch) {
    const n = Math.min(batch, count - from);
    const out = new Array<Trade>(n);
    for (let k = 0; k < n; k++) {
      const i = from + k;
      const s = i % symbols.length;
      prices[s] = Math.max(1, Math.round((prices[s] + (rand() - 0.5) * 0.2) * 100) / 100);
      ts += Math.floor(spacing / 2 + rand() * spacing);
      out[k] = {
        kind: "trade",
        exchange: "coinbase",
        symbol: symbols[s],
        id: String(1_000_000_000 + i),
        price: prices[s],
        size: Math.round(rand() * 2e8) / 1e8 || 1e-8,
        side: rand() < 0.5 ? "buy" : "sell",
        ts,
        recvTs: ts + 1500 + Math.floor(rand() * 1000),
      };
    }
    yield out;
  }
}

/** All synthetic trades at once (for sizes that fit in memory). */
export function syntheticTrades(count: number, options: SyntheticOptions = {}): Trade[] {
  return [...syntheticTradeBatches(count, count, options)][0] ?? [];
}

/** COPY text of trades, the same text the writer produces. */
function tradesCopyText(trades: readonly Trade[]): string {
  const ts = new TimestampFormatter();
  const recv = new TimestampFormatter();
  const parts: string[] = [];
  for (const t of trades) {
    parts.push(
      `${t.exchange}\t${t.symbol}\t${t.id}\t${t.price}\t${t.size}\t${t.side}\t${ts.format(t.ts)}\t${
        recv.format(t.recvTs)
      }\t${t.backfilled === true ? "t" : "f"}\n`,
    );
  }
  return parts.join("");
}

const TRADE_COLUMNS = "exchange, symbol, id, price, size, side, ts, recv_ts, backfilled";

async function benchIngest(url: string, psql: (args: string[]) => Promise<string>, rows: number) {
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const trades = syntheticTrades(rows);
  const file = await Deno.makeTempFile({ suffix: ".copy" });
  const spillDir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(file, tradesCopyText(trades));
    await Deno.chmod(file, 0o644);
    const reset = async () => {
      await sql`truncate trades`;
      await sql`checkpoint`;
    };
    await sql`select buffer_ensure_partitions('trades', ${new Date(trades[0].ts / 1000)},
      ${new Date(trades[trades.length - 1].ts / 1000)})`;
    let best = { peer: Infinity, ours: Infinity };
    for (let round = 0; round < 2; round++) {
      await reset();
      let t0 = performance.now();
      await psql(["-c", `\\copy trades (${TRADE_COLUMNS}) from '${file}'`]);
      best.peer = Math.min(best.peer, performance.now() - t0);
      const [{ n: peerRows }] = await sql`select count(*)::int as n from trades`;
      if (peerRows !== rows) throw new Error(`psql copied ${peerRows} rows, expected ${rows}`);

      await reset();
      t0 = performance.now();
      const writer = new PostgresWriter({ url, spillDir, log: (m) => console.error(m) });
      for (let i = 0; i < trades.length; i += 1000) {
        writer.write(trades.slice(i, i + 1000));
        await writer.ready();
      }
      await writer.close();
      best.ours = Math.min(best.ours, performance.now() - t0);
      const [{ n: ourRows }] = await sql`select count(*)::int as n from trades`;
      if (ourRows !== rows) throw new Error(`writer stored ${ourRows} rows, expected ${rows}`);
    }
    const ours = rows / (best.ours / 1000);
    const peer = rows / (best.peer / 1000);
    emit({
      name: "storage/ingest_trades",
      unit: "rows/s",
      value: Math.round(ours),
      peer: "psql-copy",
      peer_value: Math.round(peer),
      ratio: round(ours / peer),
      rows,
    });
    best = { peer: Infinity, ours: Infinity };
  } finally {
    await Deno.remove(file).catch(() => {});
    await Deno.remove(spillDir, { recursive: true }).catch(() => {});
    await sql.end();
  }
}

/** Total size of the visible Parquet files under `dir`. */
async function parquetBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) total += await parquetBytes(path);
    else if (e.isFile && e.name.endsWith(".parquet")) total += (await Deno.stat(path)).size;
  }
  return total;
}

/**
 * Parquet bytes of the Binance session's trades (collector -> PostgreSQL -> export) per
 * byte of the same trades as the exchange sent them (the raw JSON trade messages).
 */
async function benchParquetVsJson(url: string, work: string): Promise<void> {
  const file = "../shared/data/binance-spot-btcusdt-20240808.gz";
  let jsonBytes = 0;
  let jsonTrades = 0;
  const lines = (await Deno.open(file)).readable
    .pipeThrough(new DecompressionStream("gzip"))
    .pipeThrough(new TextDecoderStream());
  let rest = "";
  const encoder = new TextEncoder();
  for await (const text of lines) {
    const parts = (rest + text).split("\n");
    rest = parts.pop()!;
    for (const line of parts) {
      const json = line.slice(line.indexOf(" ") + 1);
      if (json.includes('"e":"trade"')) {
        jsonBytes += encoder.encode(json).length;
        jsonTrades++;
      }
    }
  }
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const lakeRoot = `${work}/json-lake`;
  const lake = await ParquetLake.open({ root: lakeRoot });
  try {
    await sql`truncate trades`;
    await sql`delete from export_watermarks`;
    await replayFiles({
      files: [file],
      sinks: [new PostgresWriter({ sql, spillDir: `${work}/spill`, log: () => {} })],
      diagnostics: new FeedDiagnostics({ context: { task: "bench" }, log: () => {} }),
    });
    const exporter = new Exporter({ sql, lake, progress: false, log: () => {} });
    const report = await exporter.run();
    await exporter.close();
    if (report.rowsRead !== jsonTrades) {
      throw new Error(`exported ${report.rowsRead} trades, the session has ${jsonTrades}`);
    }
    const bytes = await parquetBytes(`${lakeRoot}/trades`); // the session's books are there too
    emit({
      name: "storage/parquet_bytes_per_json_byte",
      unit: "ratio",
      value: round(bytes / jsonBytes),
      target: 0.1,
      parquet_bytes: bytes,
      json_bytes: jsonBytes,
      trades: jsonTrades,
    });
  } finally {
    await lake.close();
    await sql.end();
  }
}

/**
 * `rows` trades of one instrument over about a week: ingest, export to the lake (rows/s),
 * then 1-minute OHLCV+VWAP bars from the lake versus from PostgreSQL.
 */
async function benchExportAndBars(url: string, work: string, rows: number): Promise<void> {
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const lakeRoot = `${work}/bars-lake`;
  const lake = await ParquetLake.open({ root: lakeRoot });
  const lakeRepo = new LakeRepository({ root: lakeRoot });
  const pgRepo = new PostgresRepository({ sql });
  try {
    // Only trades in the buffer (the session of the JSON figure left books and quotes).
    await sql`truncate trades, quotes, book_snapshots, book_changes, event_log, bars`;
    await sql`delete from export_watermarks`;
    await sql`delete from export_days`;
    const week = 7 * 86_400_000_000;
    const writer = new PostgresWriter({
      sql,
      spillDir: `${work}/spill`,
      log: (m) => console.error(m),
    });
    let t0 = performance.now();
    for (
      const batch of syntheticTradeBatches(rows, 10_000, {
        symbols: ["BTC-USD"],
        spacing: week / rows,
      })
    ) {
      writer.write(batch);
      await writer.ready();
    }
    await writer.close();
    const ingestMs = performance.now() - t0;
    emit({
      name: "storage/ingest_trades_large",
      unit: "rows/s",
      value: Math.round(rows / (ingestMs / 1000)),
      rows,
    });
    await sql`vacuum analyze trades`;

    const exporter = new Exporter({ sql, lake, progress: false, log: (m) => console.error(m) });
    t0 = performance.now();
    const report = await exporter.run();
    const exportMs = performance.now() - t0;
    await exporter.close();
    if (report.rowsRead !== rows || report.unverifiedDays.length) {
      throw new Error(`export read ${report.rowsRead} of ${rows} rows`);
    }
    emit({
      name: "storage/export_postgres_to_parquet",
      unit: "rows/s",
      value: Math.round(rows / (exportMs / 1000)),
      target: 500_000,
      rows,
      seconds: round(exportMs / 1000),
    });
    await lake.compact();

    const q = { exchange: "coinbase", symbol: "BTC-USD", interval: 60_000_000 };
    const time = async (f: () => Promise<unknown>, runs: number) => {
      let best = Infinity;
      let result: unknown;
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        result = await f();
        best = Math.min(best, performance.now() - t);
      }
      return { best, result };
    };
    const ours = await time(() => lakeRepo.bars(q).polars(), 3);
    const peer = await time(() => pgRepo.bars(q).polars(), 2);
    const a = ours.result as pl.DataFrame;
    const b = peer.result as pl.DataFrame;
    if (a.height !== b.height || a.getColumn("trades").sum() !== b.getColumn("trades").sum()) {
      throw new Error(`bars differ: lake ${a.height} bars, postgres ${b.height}`);
    }
    const closeDiff = a.getColumn("close").sub(b.getColumn("close")).abs().max();
    if (closeDiff !== 0) throw new Error(`bar closes differ by up to ${closeDiff}`);
    emit({
      name: "storage/bars_1m_vwap",
      unit: "ms",
      value: round(ours.best),
      peer: "postgres",
      peer_value: round(peer.best),
      ratio: round(peer.best / ours.best),
      rows,
      bars: a.height,
      target_ms: 1000,
      target_ratio: 10,
    });
  } finally {
    await lakeRepo.close();
    await lake.close();
    await sql.end();
  }
}

/**
 * Deterministic quotes, book snapshots (`depth` levels a side) and book changes (1 to 3
 * levels) of one instrument, `count` quotes `spacing` apart, a snapshot every tenth quote
 * and a change every second one.
 */
function* syntheticBookBatches(
  count: number,
  batch: number,
  depth: number,
  spacing: number,
): Generator<(Quote | BookSnapshot | BookChange)[]> {
  let seed = 7;
  const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  const header = { exchange: "coinbase", symbol: "BTC-USD" };
  let mid = 60_000;
  let ts = Date.UTC(2024, 7, 8) * 1000;
  for (let from = 0; from < count; from += batch) {
    const out: (Quote | BookSnapshot | BookChange)[] = [];
    for (let i = from; i < Math.min(count, from + batch); i++) {
      ts += spacing;
      mid = Math.max(1_000, Math.round((mid + (rand() - 0.5) * 2) * 100) / 100);
      const size = () => Math.round(rand() * 1e8) / 1e8 || 1e-8;
      const level = (k: number, side: 1 | -1) =>
        [Math.round((mid + side * (k + 1) * 0.01) * 100) / 100, size()] as const;
      const times = { ...header, ts, recvTs: ts + 700 };
      out.push({
        ...times,
        kind: "quote",
        bidPrice: level(0, -1)[0],
        bidSize: size(),
        askPrice: level(0, 1)[0],
        askSize: size(),
      });
      if (i % 2 === 0) {
        const n = 1 + (i % 3);
        out.push({
          ...times,
          kind: "book_change",
          bids: Array.from({ length: n }, (_, k) => level(k, -1)),
          asks: Array.from({ length: n }, (_, k) => level(k + 1, 1)),
          sequence: i,
        });
      }
      if (i % 10 === 0) {
        out.push({
          ...times,
          kind: "book_snapshot",
          bids: Array.from({ length: depth }, (_, k) => level(k, -1)),
          asks: Array.from({ length: depth }, (_, k) => level(k, 1)),
          sequence: i,
        });
      }
    }
    yield out;
  }
}

/** Rows/s of exporting quotes, book snapshots and book changes, one table at a time. */
async function benchExportEvents(url: string, work: string, quotes: number): Promise<void> {
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const lake = await ParquetLake.open({ root: `${work}/events-lake` });
  try {
    await sql`truncate trades, quotes, book_snapshots, book_changes, event_log, bars`;
    await sql`delete from export_watermarks`;
    await sql`delete from export_days`;
    const writer = new PostgresWriter({
      sql,
      spillDir: `${work}/spill`,
      log: (m) => console.error(m),
    });
    // Two days of quotes.
    for (const batch of syntheticBookBatches(quotes, 10_000, 50, 2 * 86_400_000_000 / quotes)) {
      writer.write(batch);
      await writer.ready();
    }
    await writer.close();
    await sql`vacuum analyze`;
    for (const kind of ["quotes", "book_snapshots", "book_changes"] as ExportKind[]) {
      const exporter = new Exporter({ sql, lake, kinds: [kind], progress: false, log: () => {} });
      const t0 = performance.now();
      const report = await exporter.run();
      const ms = performance.now() - t0;
      await exporter.close();
      const k = report.kinds[kind]!;
      const [{ n }] = await sql.unsafe(`select count(*)::int as n from ${kind}`);
      if (k.rowsRead !== n || k.rowsWritten !== n || k.unverifiedDays.length) {
        throw new Error(`export of ${kind}: read ${k.rowsRead}, wrote ${k.rowsWritten} of ${n}`);
      }
      emit({
        name: `storage/export_${kind}`,
        unit: "rows/s",
        value: Math.round(n / (ms / 1000)),
        rows: n,
        seconds: round(ms / 1000),
      });
    }
  } finally {
    await lake.close();
    await sql.end();
  }
}

/** Runs the storage group. */
export async function run(): Promise<void> {
  const rows = Number(Deno.env.get("BENCH_STORAGE_ROWS") ?? 1_000_000);
  const barRows = Number(Deno.env.get("BENCH_STORAGE_BAR_ROWS") ?? 10_000_000);
  const eventRows = Number(Deno.env.get("BENCH_STORAGE_EVENT_ROWS") ?? 1_000_000);
  await using pg = await startPostgres({
    settings: {
      shared_buffers: "1GB",
      work_mem: "256MB",
      max_wal_size: "8GB",
      checkpoint_timeout: "30min",
      max_parallel_workers_per_gather: "2",
    },
  });
  const work = await Deno.makeTempDir({ prefix: "alphapulse-bench-storage-" });
  try {
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    await migrate(sql);
    await sql.end();
    await benchIngest(pg.url, (args) => pg.psql(args), rows);
    await benchParquetVsJson(pg.url, work);
    await benchExportAndBars(pg.url, work, barRows);
    await benchExportEvents(pg.url, work, eventRows);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) await run();
