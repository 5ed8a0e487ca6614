/**
 * The lake's `bars` table: OHLCV bars, stored next to the event tables. This is the one write path of bars: imported ones, and bar
 * events given to `ParquetLake.writeBars` / `writeEvents` (collected venue bars, the
 * exporter's 1-minute bars), which hold the lake's writer lock and call it:
 *
 * ```text
 * ROOT/bars/exchange=<exchange>/symbol=<symbol>/year=<YYYY>/part-<unique>.parquet
 * ```
 *
 * Bars are partitioned by the UTC **year** of `ts`, not the day: daily bars would otherwise
 * give one folder per row. Columns are the schema's (`TABLES.bars`): `interval_us BIGINT,
 * ts TIMESTAMP, recv_ts TIMESTAMP, open, high, low, close, volume DOUBLE, vwap DOUBLE (NULL
 * when unknown), trades BIGINT (0 when unknown)`, each file sorted by `(interval_us, ts)`.
 *
 * A write is idempotent (key `(interval_us, ts)` per instrument; a new bar replaces a stored
 * one with the same key) and all-or-nothing per partition: every partition's merged file is
 * written under a hidden temporary name first, and only when all are written are they renamed
 * into place and the files they replace removed.
 * @module
 */
import pl from "nodejs-polars";
import { isStorableSymbol, isValidExchange, symbolDir } from "../schema/instrument.ts";
import { listPartitionFiles, PARQUET_OPTIONS, removeIfExists, uniqueName } from "./_files.ts";
import { recoverPartition } from "./compactor.ts";
import { BARS_DIR } from "./layout.ts";

/** The folder under the lake root that holds bars. */
export { BARS_DIR };

/** One bar to store. Times are microseconds since the epoch. */
export interface StoredBar {
  /** Bar open time. */
  readonly ts: number;
  /** When the bar was received (stored `recv_ts`); default its close, `ts + intervalUs`. */
  readonly recvTs?: number;
  /** Bar length in microseconds (> 0). */
  readonly intervalUs: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  /** Volume-weighted average price, `NaN` or `undefined` when unknown (stored NULL). */
  readonly vwap?: number;
  /** Number of trades, 0 when unknown. */
  readonly trades?: number;
}

/** What {@linkcode writeBars} did. */
export interface BarWriteReport {
  /** Bars given. */
  readonly bars: number;
  /** Bars whose key was not stored before. */
  readonly added: number;
  /** Bars that replaced a stored bar with the same key. */
  readonly replaced: number;
  /** Year partitions rewritten. */
  readonly partitions: number;
}

/** `ROOT/bars/exchange=X/symbol=Y`. */
export function barsInstrumentDir(root: string, exchange: string, symbol: string): string {
  return `${root.replace(/\/+$/, "")}/${BARS_DIR}/exchange=${exchange}/symbol=${symbolDir(symbol)}`;
}

const YEAR_US = (ts: number) => new Date(Math.floor(ts / 1000)).getUTCFullYear();

function frameOf(bars: readonly StoredBar[]): pl.DataFrame {
  const int = (values: number[]) => pl.Series("v", values, pl.Float64).cast(pl.Int64);
  const time = (values: number[]) => int(values).cast(pl.Datetime("us"));
  return pl.DataFrame({
    interval_us: int(bars.map((b) => b.intervalUs)),
    ts: time(bars.map((b) => b.ts)),
    recv_ts: time(bars.map((b) => b.recvTs ?? b.ts + b.intervalUs)),
    open: pl.Series("open", bars.map((b) => b.open), pl.Float64),
    high: pl.Series("high", bars.map((b) => b.high), pl.Float64),
    low: pl.Series("low", bars.map((b) => b.low), pl.Float64),
    close: pl.Series("close", bars.map((b) => b.close), pl.Float64),
    volume: pl.Series("volume", bars.map((b) => b.volume), pl.Float64),
    vwap: pl.Series(
      "vwap",
      bars.map((b) => (b.vwap === undefined || Number.isNaN(b.vwap) ? null : b.vwap)),
      pl.Float64,
    ),
    trades: int(bars.map((b) => b.trades ?? 0)),
  });
}

/**
 * Stores `bars` of one instrument in the lake at `root` (see the module doc). The caller
 * holds the lake's writer lock and has validated the bars.
 * @throws {TypeError} for an exchange or symbol that cannot name a lake folder.
 */
export async function writeBars(
  root: string,
  options: { exchange: string; symbol: string; bars: readonly StoredBar[] },
): Promise<BarWriteReport> {
  const { exchange, symbol, bars } = options;
  if (!isValidExchange(exchange)) throw new TypeError(`writeBars: bad exchange "${exchange}"`);
  if (!isStorableSymbol(symbol, false)) throw new TypeError(`writeBars: bad symbol "${symbol}"`);
  const byYear = new Map<number, StoredBar[]>();
  for (const bar of bars) {
    const year = YEAR_US(bar.ts);
    const list = byYear.get(year) ?? byYear.set(year, []).get(year)!;
    list.push(bar);
  }
  const base = barsInstrumentDir(root, exchange, symbol);
  const staged: { dir: string; temp: string; final: string; old: string[] }[] = [];
  let added = 0;
  try {
    for (const [year, list] of [...byYear].sort((a, b) => a[0] - b[0])) {
      const dir = `${base}/year=${year}`;
      await Deno.mkdir(dir, { recursive: true });
      await recoverPartition(dir); // a compaction or repair a crash interrupted
      const old = (await listPartitionFiles(dir)).map((f) => f.path);
      const fresh = frameOf(list);
      let merged = fresh;
      if (old.length > 0) {
        const stored = pl.concat(old.map((p) => pl.readParquet(p)), { how: "vertical" })
          .select(...fresh.columns);
        const kept = stored.join(fresh.select("interval_us", "ts"), {
          on: ["interval_us", "ts"],
          how: "anti",
        });
        added += fresh.height - (stored.height - kept.height);
        merged = pl.concat([kept, fresh], { how: "vertical" });
      } else {
        added += fresh.height;
      }
      merged = merged.sort(["interval_us", "ts"]);
      const name = `part-${uniqueName()}.parquet`;
      const temp = `${dir}/.${name}.tmp`;
      staged.push({ dir, temp, final: `${dir}/${name}`, old });
      merged.writeParquet(temp, PARQUET_OPTIONS);
    }
  } catch (error) {
    for (const s of staged) await removeIfExists(s.temp);
    throw error;
  }
  for (const s of staged) await Deno.rename(s.temp, s.final);
  for (const s of staged) for (const path of s.old) await removeIfExists(path);
  return { bars: bars.length, added, replaced: bars.length - added, partitions: staged.length };
}
