/**
 * The exporter's 1-minute bars of exported trades: into the buffer's `bars` table and the
 * lake's.
 * @module
 */
import type postgres from "postgres";
import { BarKernel } from "../market/bars.ts";
import type { ParquetLake } from "../lake/parquet_lake.ts";
import { sqlLiteral, timestampLiteral } from "./_table_query.ts";

const MINUTE = 60_000_000;

/** The trade columns bars are made of, sorted by time. */
export interface TradeTimes {
  readonly price: Float64Array;
  readonly size: Float64Array;
  readonly ts: Float64Array;
  readonly recvTs: Float64Array;
}

/**
 * Upserts the 1-minute bars of trades sorted by time into `bars`, continuing `open` (the
 * bar kernel of the task's previous pages, `lib/market/bars.ts`); unless `final`, the last
 * bar stays open in the kernel, which is returned.
 */
export async function writeExportBars(
  to: { readonly sql: postgres.Sql; readonly lake: ParquetLake },
  c: { exchange: string; symbol: string },
  t: TradeTimes,
  open: BarKernel | undefined,
  final: boolean,
): Promise<BarKernel | undefined> {
  const kernel = open ?? new BarKernel({ by: "time", interval: MINUTE });
  kernel.add(t);
  const closed = final ? kernel.finish() : kernel.takeClosed();
  const bars = Array.from({ length: closed.ts.length }, (_, i) => ({
    bucket: closed.ts[i],
    recv: closed.recvTs[i],
    open: closed.open[i],
    high: closed.high[i],
    low: closed.low[i],
    close: closed.close[i],
    volume: closed.volume[i],
    vwap: closed.vwap[i],
    count: closed.trades[i],
  }));
  // Both stores keep the latest version of a bar: the lake's `bars` (`bar_store.ts`, newest
  // wins) and the buffer's (a re-exported range replaces its bars).
  await to.lake.writeBars(bars.map((b) => ({
    kind: "bar" as const,
    exchange: c.exchange,
    symbol: c.symbol,
    ts: b.bucket,
    recvTs: b.recv,
    interval: MINUTE,
    open: b.open,
    high: b.high,
    low: b.low,
    close: b.close,
    volume: b.volume,
    vwap: b.vwap,
    trades: b.count,
  })));
  // One statement per 5,000 bars; bars of a re-exported range replace the old ones.
  for (let k = 0; k < bars.length; k += 5_000) {
    const values = bars.slice(k, k + 5_000).map((b) =>
      `(${sqlLiteral(c.exchange)}, ${sqlLiteral(c.symbol)}, ${MINUTE}, ${
        timestampLiteral(b.bucket)
      }, ${timestampLiteral(b.recv)}, ${b.open}, ${b.high}, ${b.low}, ${b.close}, ${b.volume}, ${
        Number.isNaN(b.vwap) ? "null" : b.vwap
      }, ${b.count})`
    ).join(",\n");
    await to.sql.unsafe(
      `insert into bars (exchange, symbol, interval_us, ts, recv_ts, open, high, low, close,
         volume, vwap, trades) values ${values}
       on conflict (exchange, symbol, interval_us, ts) do update set
         recv_ts = excluded.recv_ts, open = excluded.open, high = excluded.high,
         low = excluded.low, close = excluded.close, volume = excluded.volume,
         vwap = excluded.vwap, trades = excluded.trades`,
    );
  }
  return final ? undefined : kernel;
}
