/**
 * `deno task bench lake`: the Parquet lake writer and the lake repository.
 *
 * - `lake_write`: rows/s of `ParquetLake.writeTrades` for `BENCH_LAKE_ROWS` (default
 *   1,000,000) synthetic trades into a fresh lake (validation, de-duplication, zstd
 *   Parquet, atomic rename), next to the same rows as a Polars DataFrame built from columns
 *   and written with `writeParquet` (peer `polars-writeParquet`, no validation or
 *   de-duplication).
 * - `lake_rewrite`: rows/s of replaying the same trades into the same lake (all skipped).
 * - `lake_flush_1k`: ms to write 1,000 new trades into a partition that already holds
 *   those trades (a collector's flush: the stored-id check must not read the whole day).
 * - `lake_bars_1m`: ms for 1-minute OHLCV+VWAP bars over those trades (DuckDB), next to
 *   the same bars from Polars over the same files (peer `polars-group_by`).
 * - `lake_trades_polars`, `lake_trades_arrow`: ms to load all those trades as a Polars
 *   DataFrame / an Arrow table through `LakeRepository.trades()`.
 * - `lake_volume_bars`: ms for volume bars over those trades (`activityBars`).
 * - `lake_write_quotes`, `lake_write_book_snapshots`, `lake_write_book_changes`: rows/s of
 *   `ParquetLake.writeEvents` for as many quotes as trades, for a tenth as many 50-level
 *   book snapshots, and for a fifth as many book changes of one bid and one ask level
 *   (digest, validation, de-duplication, Parquet). Wall-clock figures: in a large write the
 *   book digests are shared with a worker thread (`lib/lake/digest_pool.ts`) and pages of
 *   64 KiB or more are zstd-compressed on another (`lib/lake/parquet/zstd_pool.ts`), so
 *   they depend on a second core being free (compare CPU time on a loaded machine).
 * - `lake_quotes_polars`, `lake_book_snapshots_polars`, `lake_book_changes_polars`: ms to
 *   load them back as Polars DataFrames through `LakeRepository.quotes()` /
 *   `bookSnapshots()` / `bookChanges()`.
 *
 * Times are the best of three runs (writes each into a fresh lake).
 * @module
 */
import pl from "nodejs-polars";
import { ParquetLake } from "../lib/lake/mod.ts";
import type {
  BookChange,
  BookSnapshot,
  PriceLevel,
  Quote,
  TakerSide,
  Trade,
} from "../lib/market/types.ts";
import { LakeRepository } from "../lib/repositories/mod.ts";
import { emit } from "./_figure.ts";

const round = (x: number) => Number(x.toPrecision(4));

/** One instrument, increasing ids, a trade every 150 ms (1M trades span two UTC days). */
function syntheticTrades(count: number): Trade[] {
  const start = Date.UTC(2024, 7, 8, 12) * 1000;
  const sides: TakerSide[] = ["buy", "sell"];
  let seed = 7;
  const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  let price = 60_000;
  const out = new Array<Trade>(count);
  for (let i = 0; i < count; i++) {
    price = Math.round((price + (rand() - 0.5) * 5) * 100) / 100;
    const ts = start + i * 150_000;
    out[i] = {
      kind: "trade",
      exchange: "coinbase",
      symbol: "BTC-USD",
      id: String(700_000_000 + i),
      price,
      size: Math.round(rand() * 1e8) / 1e8 + 1e-8,
      side: sides[i & 1],
      ts,
      recvTs: ts + 800,
    };
  }
  return out;
}

/** Quotes around each trade's price: one per trade. */
function quotesOf(trades: readonly Trade[]): Quote[] {
  return trades.map((t) => ({
    kind: "quote",
    exchange: t.exchange,
    symbol: t.symbol,
    ts: t.ts,
    recvTs: t.recvTs,
    bidPrice: t.price - 0.01,
    bidSize: t.size,
    askPrice: t.price + 0.01,
    askSize: t.size * 2,
  }));
}

/** A 50-level book around every tenth trade's price. */
function snapshotsOf(trades: readonly Trade[]): BookSnapshot[] {
  const out: BookSnapshot[] = [];
  for (let i = 0; i < trades.length; i += 10) {
    const t = trades[i];
    const side = (sign: number): PriceLevel[] =>
      Array.from({ length: 50 }, (_, k) => [
        Math.round((t.price + sign * (k + 1) * 0.5) * 100) / 100,
        (k % 7) + 0.25,
      ]);
    out.push({
      kind: "book_snapshot",
      exchange: t.exchange,
      symbol: t.symbol,
      ts: t.ts,
      recvTs: t.recvTs,
      bids: side(-1),
      asks: side(1),
      sequence: i,
    });
  }
  return out;
}

/** A change of one bid and one ask level at every fifth trade's price. */
function changesOf(trades: readonly Trade[]): BookChange[] {
  const out: BookChange[] = [];
  for (let i = 0; i < trades.length; i += 5) {
    const t = trades[i];
    out.push({
      kind: "book_change",
      exchange: t.exchange,
      symbol: t.symbol,
      ts: t.ts,
      recvTs: t.recvTs,
      bids: [[Math.round((t.price - 0.5) * 100) / 100, t.size]],
      asks: [[Math.round((t.price + 0.5) * 100) / 100, (i % 7) * 0.125]],
      sequence: i,
    });
  }
  return out;
}

async function best(runs: number, fn: () => Promise<unknown>): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

/** The same rows the lake stores, written by Polars from columns (the peer). */
function polarsWrite(trades: readonly Trade[], path: string): void {
  const n = trades.length;
  const id = new Array<string>(n);
  const side = new Array<string>(n);
  const price = new Float64Array(n);
  const size = new Float64Array(n);
  const ts = new Float64Array(n);
  const recv = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = trades[i];
    id[i] = t.id;
    side[i] = t.side;
    price[i] = t.price;
    size[i] = t.size;
    ts[i] = t.ts;
    recv[i] = t.recvTs;
  }
  const micros = (name: string, v: Float64Array) =>
    pl.Series(name, v, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us"));
  pl.DataFrame([
    pl.Series("id", id, pl.Utf8),
    pl.Series("price", price, pl.Float64),
    pl.Series("size", size, pl.Float64),
    pl.Series("side", side, pl.Utf8),
    micros("ts", ts),
    micros("recv_ts", recv),
  ]).sort("ts").writeParquet(path, { compression: "zstd" });
}

/** run() for bench/main.ts. */
export async function run(): Promise<void> {
  const rows = Number(Deno.env.get("BENCH_LAKE_ROWS") ?? 1_000_000);
  const trades = syntheticTrades(rows);
  const dir = await Deno.makeTempDir({ prefix: "bench_lake_" });
  try {
    // Warm both paths (JIT, native libraries) on a small batch first.
    const warm = await ParquetLake.open({ root: `${dir}/warm` });
    await warm.writeTrades(trades.slice(0, 10_000));
    await warm.close();
    polarsWrite(trades.slice(0, 10_000), `${dir}/warm.parquet`);

    let written = 0;
    let attempt = 0;
    const writeMs = await best(3, async () => {
      const root = `${dir}/lake${attempt++}`;
      const lake = await ParquetLake.open({ root });
      written = await lake.writeTrades(trades);
      await lake.close();
    });
    if (written !== rows) throw new Error(`lake wrote ${written} of ${rows} rows`);
    const peerMs = await best(3, () => Promise.resolve(polarsWrite(trades, `${dir}/peer.parquet`)));
    emit({
      name: "lake_write",
      unit: "rows/s",
      value: round(rows / (writeMs / 1000)),
      peer: "polars-writeParquet",
      peer_value: round(rows / (peerMs / 1000)),
      ratio: round(peerMs / writeMs),
      rows,
    });

    const rewriteMs = await best(3, async () => {
      const lake = await ParquetLake.open({ root: `${dir}/lake0` });
      const again = await lake.writeTrades(trades);
      await lake.close();
      if (again !== 0) throw new Error(`replay wrote ${again} rows`);
    });
    emit({ name: "lake_rewrite", unit: "rows/s", value: round(rows / (rewriteMs / 1000)), rows });

    let batch = 0;
    const flushMs = await best(3, async () => {
      const lake = await ParquetLake.open({ root: `${dir}/lake1`, autoCompactFiles: Infinity });
      const last = trades[trades.length - 1];
      const fresh = Array.from({ length: 1_000 }, (_, i) => ({
        ...last,
        id: String(800_000_000 + batch * 1_000 + i),
        ts: last.ts - 1_000 + i,
      }));
      batch++;
      const n = await lake.writeTrades(fresh);
      await lake.close();
      if (n !== 1_000) throw new Error(`flush wrote ${n} of 1000 rows`);
    });
    emit({ name: "lake_flush_1k", unit: "ms", value: round(flushMs), stored_rows: rows });

    const repo = await LakeRepository.open({ root: `${dir}/lake0` });
    const q = { exchange: "coinbase", symbol: "BTC-USD" };
    let barCount = 0;
    const barsMs = await best(3, async () => {
      barCount = (await repo.bars({ ...q, interval: 60_000_000 }).rows()).length;
    });
    const glob = `${dir}/lake0/trades/exchange=coinbase/symbol=BTC-USD/*/*.parquet`;
    let peerBars = 0;
    const peerBarsMs = await best(3, async () => {
      const df = await pl.scanParquet(glob)
        .sort(["ts", "id"])
        .withColumns(pl.col("ts").dt.truncate("1m").alias("bucket"))
        .groupBy("bucket")
        .agg(
          pl.col("price").first().alias("open"),
          pl.col("price").max().alias("high"),
          pl.col("price").min().alias("low"),
          pl.col("price").last().alias("close"),
          pl.col("size").sum().alias("volume"),
          pl.col("price").mul(pl.col("size")).sum().div(pl.col("size").sum()).alias("vwap"),
          pl.len().alias("trades"),
        )
        .sort("bucket")
        .collect();
      peerBars = df.height;
    });
    if (peerBars !== barCount) throw new Error(`bars differ: ${barCount} vs ${peerBars}`);
    emit({
      name: "lake_bars_1m",
      unit: "ms",
      value: round(barsMs),
      peer: "polars-group_by",
      peer_value: round(peerBarsMs),
      ratio: round(peerBarsMs / barsMs),
      rows,
      bars: barCount,
    });

    let height = 0;
    const polarsMs = await best(3, async () => {
      height = (await repo.trades(q).polars()).height;
    });
    if (height !== rows) throw new Error(`polars read ${height} of ${rows} rows`);
    emit({ name: "lake_trades_polars", unit: "ms", value: round(polarsMs), rows });

    const arrowMs = await best(3, async () => {
      height = (await repo.trades(q).arrow()).numRows;
    });
    if (height !== rows) throw new Error(`arrow read ${height} of ${rows} rows`);
    emit({ name: "lake_trades_arrow", unit: "ms", value: round(arrowMs), rows });

    let volumeBars = 0;
    const volumeMs = await best(3, async () => {
      volumeBars = (await repo.activityBars({ ...q, by: "volume", threshold: 50 }).rows()).length;
    });
    emit({ name: "lake_volume_bars", unit: "ms", value: round(volumeMs), rows, bars: volumeBars });

    for (
      const [kind, events] of [
        ["quotes", quotesOf(trades)],
        ["book_snapshots", snapshotsOf(trades)],
        ["book_changes", changesOf(trades)],
      ] as const
    ) {
      let stored = 0;
      const writeEventsMs = await best(3, async () => {
        const lake = await ParquetLake.open({ root: `${dir}/events${attempt++}` });
        stored = await lake.writeEvents(events);
        await lake.close();
      });
      if (stored !== events.length) throw new Error(`${kind}: ${stored} of ${events.length}`);
      emit({
        name: `lake_write_${kind}`,
        unit: "rows/s",
        value: round(events.length / (writeEventsMs / 1000)),
        rows: events.length,
      });
      const eventRepo = await LakeRepository.open({ root: `${dir}/events${attempt - 1}` });
      let read = 0;
      const readMs = await best(3, async () => {
        read = (await (kind === "quotes"
          ? eventRepo.quotes(q).polars()
          : kind === "book_snapshots"
          ? eventRepo.bookSnapshots(q).polars()
          : eventRepo.bookChanges(q).polars())).height;
      });
      await eventRepo.close();
      if (read !== events.length) throw new Error(`${kind}: read ${read} of ${events.length}`);
      emit({ name: `lake_${kind}_polars`, unit: "ms", value: round(readMs), rows: read });
    }
    await repo.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await run();
