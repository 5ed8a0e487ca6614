/**
 * A large trade lake written straight to Parquet by DuckDB (not through the collector), in
 * the lake's layout: `ROOT/trades/exchange=E/symbol=S/date=YYYY-MM-DD/part-0.parquet`, each
 * file sorted by `(ts, id)`. Ten million trades take a few seconds. Used by the paging tests
 * and the server benchmark.
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";

/** Options of {@linkcode writeBigLake}. */
export interface BigLakeOptions {
  readonly root: string;
  readonly exchange?: string;
  readonly symbol?: string;
  /** Days (partitions), from 2024-01-01. */
  readonly days: number;
  /** Trades per day (a multiple of 3: trades come in threes sharing one `ts`). */
  readonly perDay: number;
}

/** Microseconds of 2024-01-01T00:00:00Z (1,704,067,200 s). */
export const BIG_LAKE_START = 1_704_067_200_000_000;
const DAY = 86_400_000_000;

/**
 * Writes the lake. Trade `i` (0-based over the whole lake) has id `1000000000 + i` (ids of
 * one width, so text order is number order), price `100 + (i % 1000) / 100`, size
 * `1 + i % 7`, and shares its `ts` with the two trades next to it (three per time step), so
 * a cursor has to break ties by id.
 */
export async function writeBigLake(options: BigLakeOptions): Promise<void> {
  const { root, days, perDay } = options;
  const exchange = options.exchange ?? "coinbase";
  const symbol = options.symbol ?? "BTC-USD";
  const step = Math.floor(DAY / (perDay / 3));
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    for (let d = 0; d < days; d++) {
      const date = new Date((BIG_LAKE_START + d * DAY) / 1000).toISOString().slice(0, 10);
      const dir = `${root}/trades/exchange=${exchange}/symbol=${symbol}/date=${date}`;
      await Deno.mkdir(dir, { recursive: true });
      const first = d * perDay;
      const dayStart = BIG_LAKE_START + d * DAY;
      await con.run(
        `COPY (
          SELECT CAST(1000000000 + i AS VARCHAR) AS id,
                 100 + (i % 1000) / 100 AS price,
                 CAST(1 + i % 7 AS DOUBLE) AS size,
                 CASE WHEN i % 2 = 0 THEN 'buy' ELSE 'sell' END AS side,
                 make_timestamp(CAST(${dayStart} + ((i - ${first}) // 3) * ${step} AS BIGINT)) AS ts,
                 make_timestamp(CAST(${dayStart} + ((i - ${first}) // 3) * ${step} + 5 AS BIGINT))
                   AS recv_ts
          FROM range(${first}, ${first + perDay}) t(i) ORDER BY ts, id
        ) TO '${dir}/part-0.parquet' (FORMAT parquet)`,
      );
    }
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}
