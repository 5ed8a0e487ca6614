/**
 * `deno task bench storage`: the hot buffer and the lake next to their peers, in one run.
 *
 * - `ingest`: trades/s into PostgreSQL through {@linkcode PostgresWriter} versus
 *   `psql \copy` (peer `psql-copy`) of the same rows as text into the same table, with the
 *   same primary key, in the same cluster.
 * - `export`: rows/s from PostgreSQL to the Parquet lake, and Parquet bytes per raw
 *   exchange JSON byte for the same trades.
 * - `bars`: 1-minute OHLCV+VWAP over the trades, from the lake (DuckDB over Parquet) versus
 *   the same result computed by PostgreSQL (peer `postgres`).
 *
 * Sizes: `BENCH_STORAGE_ROWS` (default 1,000,000) for ingest/export and
 * `BENCH_STORAGE_BAR_ROWS` (default 10,000,000) for the bars query.
 * @module
 */
import postgres from "postgres";
import type { Trade } from "../lib/market/types.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import { TimestampFormatter } from "../lib/buffer/_copy.ts";
import { startPostgres } from "../tests/support/postgres.ts";

/** One benchmark figure, printed as one JSON line. */
interface Figure {
  name: string;
  unit: string;
  value: number;
  peer?: string;
  peer_value?: number;
  ratio?: number;
  [extra: string]: unknown;
}

function emit(figure: Figure): void {
  console.log(JSON.stringify(figure));
}

const round = (x: number, digits = 3) => Number(x.toPrecision(digits + 3));

/**
 * Deterministic synthetic trades shaped like a busy venue: 10 symbols, increasing ids,
 * prices with cents, sizes with 8 decimals, a trade every ~100 µs.
 */
export function syntheticTrades(count: number, start = Date.UTC(2024, 7, 8) * 1000): Trade[] {
  const symbols = [
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
  const out = new Array<Trade>(count);
  let seed = 42;
  const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  const prices = symbols.map((_, i) => 100 * (i + 1));
  let ts = start;
  for (let i = 0; i < count; i++) {
    const s = i % symbols.length;
    prices[s] = Math.max(1, Math.round((prices[s] + (rand() - 0.5) * 0.2) * 100) / 100);
    ts += 50 + Math.floor(rand() * 100);
    out[i] = {
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
  return out;
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
      }\n`,
    );
  }
  return parts.join("");
}

const TRADE_COLUMNS = "exchange, symbol, id, price, size, side, ts, recv_ts";

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

/** Runs the storage group. */
export async function run(): Promise<void> {
  const rows = Number(Deno.env.get("BENCH_STORAGE_ROWS") ?? 1_000_000);
  await using pg = await startPostgres({
    settings: { shared_buffers: "512MB", max_wal_size: "8GB", checkpoint_timeout: "30min" },
  });
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  await migrate(sql);
  await sql.end();
  await benchIngest(pg.url, (args) => pg.psql(args), rows);
}

if (import.meta.main) await run();
