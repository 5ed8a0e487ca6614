/**
 * Deterministic synthetic trades for the lake and repository tests.
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";
import type { TakerSide, Trade } from "../../lib/market/types.ts";
import { LAKE_KINDS, listAllPartitions } from "../../lib/lake/mod.ts";

/** Options of {@linkcode syntheticTrades}. */
export interface SyntheticTradeOptions {
  readonly exchange?: string;
  readonly symbol?: string;
  /** First trade time, microseconds. */
  readonly start: number;
  readonly count: number;
  /** Microseconds between trades (default 1 s). */
  readonly step?: number;
  /** First id (numeric ids count up from here). */
  readonly firstId?: number;
  /** Seed of the price walk. */
  readonly seed?: number;
}

/** A seeded random walk of trades with increasing numeric ids. */
export function syntheticTrades(options: SyntheticTradeOptions): Trade[] {
  const { start, count } = options;
  const step = options.step ?? 1_000_000;
  const firstId = options.firstId ?? 1;
  const random = seededRandom(options.seed ?? 1);
  const sides: TakerSide[] = ["buy", "sell", "unknown"];
  let price = 100;
  const out: Trade[] = [];
  for (let i = 0; i < count; i++) {
    price = Math.max(1, Math.round((price + (random() - 0.5)) * 100) / 100);
    const ts = start + i * step;
    out.push({
      kind: "trade",
      exchange: options.exchange ?? "coinbase",
      symbol: options.symbol ?? "BTC-USD",
      id: String(firstId + i),
      price,
      size: Math.round(random() * 1e6) / 1e4 + 0.0001,
      side: sides[Math.floor(random() * 3)],
      ts,
      recvTs: ts + 1 + Math.floor(random() * 5000),
    });
  }
  return out;
}

/** Mulberry32: a tiny deterministic generator in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Trades ordered as every repository returns them: by `ts`, then id as text. */
export function sortTrades(trades: readonly Trade[]): Trade[] {
  return [...trades].sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Every file under `dir` (relative paths), sorted; the lake's writer lock files aside. */
export async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (prefix === "" && e.name.startsWith(".writer.lock")) continue; // writer_lock.ts
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await listTree(`${dir}/${e.name}`, rel));
    else out.push(rel);
  }
  return out.sort();
}

/** The recorded Binance BTCUSDT session (see `shared/data/README.md`). */
export const BINANCE_CAPTURE = new URL(
  "../../../shared/data/binance-spot-btcusdt-20240808.gz",
  import.meta.url,
);

/**
 * The trades of an hftbacktest Binance capture (`LOCAL_TS_NS {json}` lines, gzip), decoded
 * here with no venue adapter: `t` id, `p` price, `q` size, `T` trade time (ms), `m` buyer
 * is maker (so the taker sold).
 */
export async function readBinanceTrades(url: URL): Promise<Trade[]> {
  const bytes = await Deno.readFile(url);
  const text = await new Response(
    new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")),
  ).text();
  const out: Trade[] = [];
  for (const line of text.split("\n")) {
    if (!line.includes('"e":"trade"')) continue;
    const space = line.indexOf(" ");
    const recvTs = Math.floor(Number(line.slice(0, space)) / 1000);
    const d = JSON.parse(line.slice(space + 1)).data;
    out.push({
      kind: "trade",
      exchange: "binance",
      symbol: "BTC-USDT",
      id: String(d.t),
      price: Number(d.p),
      size: Number(d.q),
      side: d.m ? "sell" : "buy",
      ts: d.T * 1000,
      recvTs,
    });
  }
  return out;
}

/**
 * Rows per lake table (`trades`, `quotes`, ..., and `bars` from their `year=` folders) counted
 * by DuckDB; tables without files are left out.
 */
export async function lakeRowCounts(root: string): Promise<Record<string, number>> {
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  const out: Record<string, number> = {};
  try {
    for (const kind of LAKE_KINDS) {
      const files = (await listAllPartitions(root, kind)).flatMap((p) => p.files);
      if (files.length === 0) continue;
      const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(", ");
      const reader = await conn.runAndReadAll(
        `SELECT count(*)::DOUBLE FROM read_parquet([${list}])`,
      );
      out[kind] = Number(reader.getRows()[0][0]);
    }
    const bars = `${root}/bars/exchange=*/symbol=*/year=*/*.parquet`.replaceAll("'", "''");
    const found = await conn.runAndReadAll(`SELECT count(*)::DOUBLE FROM glob('${bars}')`);
    if (Number(found.getRows()[0][0]) > 0) {
      const reader = await conn.runAndReadAll(
        `SELECT count(*)::DOUBLE FROM read_parquet('${bars}')`,
      );
      out.bars = Number(reader.getRows()[0][0]);
    }
  } finally {
    conn.closeSync();
    db.closeSync();
  }
  return out;
}
