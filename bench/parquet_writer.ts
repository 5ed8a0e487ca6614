/**
 * `deno task bench parquet_writer`: the Polars-free Parquet writer (`lib/lake/parquet`).
 *
 * - `lake_parquet_encode_book_snapshots`: rows/s of `encodeParquet` for `BENCH_PQ_ROWS`
 *   (default 100,000) 50-level book snapshots held in `BookColumns`, handed over as the
 *   lake's default encoder hands them (`lakeFileColumns(bookColumnsFrame(..))`: zstd level 3,
 *   one row group), next to Polars (peer `polars`: the same columns made into a frame as the
 *   lake's Polars encoder does, `polarsFrame(bookColumnsFrame(..))`, then `writeParquet` with
 *   the lake's `PARQUET_OPTIONS` into memory). `polars_write_only_rows_s` is Polars'
 *   `writeParquet` alone on the frame already built.
 *
 * Each figure is the best of three runs after a warm-up run; `loadavg` is the one-minute
 * load average when the figure was taken.
 * @module
 */
import { BookColumns } from "../lib/lake/book_columns.ts";
import { bookColumnsFrame } from "../lib/lake/_event_frame.ts";
import { polarsFrame } from "../lib/lake/_polars_table.ts";
import { PARQUET_OPTIONS } from "../lib/lake/_files.ts";
import { encodeParquet } from "../lib/lake/parquet/mod.ts";
import { lakeFileColumns } from "../lib/lake/_js_encoder.ts";
import { emit } from "./_figure.ts";

const round = (x: number) => Number(x.toPrecision(4));

/** `rows` 50-level snapshots of one instrument around a random walk (cents, repeating sizes). */
export function benchSnapshots(rows: number): BookColumns {
  const columns = new BookColumns("book_snapshots", 50);
  const start = Date.UTC(2024, 7, 8, 12) * 1000;
  let seed = 7;
  const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  let price = 60_000;
  for (let i = 0; i < rows; i++) {
    price = Math.round((price + (rand() - 0.5) * 5) * 100) / 100;
    const side = (sign: number): [number, number][] =>
      Array.from({ length: 50 }, (_, k) => [
        Math.round((price + sign * (k + 1) * 0.5) * 100) / 100,
        (k % 7) + 0.25,
      ]);
    columns.append({
      kind: "book_snapshot",
      exchange: "coinbase",
      symbol: "BTC-USD",
      ts: start + i * 1_500_000,
      recvTs: start + i * 1_500_000 + 800,
      bids: side(-1),
      asks: side(1),
      sequence: i,
    });
  }
  return columns;
}

/** The best time of `runs` runs of `fn` after one warm-up run, in ms. */
function best(runs: number, fn: () => unknown): number {
  fn();
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

const loadavg = () => Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);

export function run(): Promise<void> {
  const rows = Number(Deno.env.get("BENCH_PQ_ROWS") ?? 100_000);
  const book = benchSnapshots(rows);
  const table = lakeFileColumns(bookColumnsFrame(book), "book_snapshots");
  let ours = 0;
  const oursMs = best(3, () => {
    ours = encodeParquet(table.fields, table.columns).length;
  });
  let theirs = 0;
  const polarsMs = best(3, () => {
    const frame = polarsFrame(bookColumnsFrame(book));
    theirs = frame.writeParquet(PARQUET_OPTIONS).length;
  });
  const frame = polarsFrame(bookColumnsFrame(book));
  const writeOnlyMs = best(3, () => frame.writeParquet(PARQUET_OPTIONS));
  const value = round(rows / (oursMs / 1000));
  const peer = round(rows / (polarsMs / 1000));
  emit({
    name: "lake_parquet_encode_book_snapshots",
    unit: "rows/s",
    value,
    peer: "polars",
    peer_value: peer,
    ratio: round(value / peer),
    rows,
    bytes: ours,
    peer_bytes: theirs,
    polars_write_only_rows_s: round(rows / (writeOnlyMs / 1000)),
    loadavg: loadavg(),
  });
  return Promise.resolve();
}

if (import.meta.main) await run();
