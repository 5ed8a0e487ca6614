/**
 * `deno task bench research`: the research functions on a feature pipeline.
 *
 * `research_pipeline_10m` (ms): `BENCH_RESEARCH_ROWS` (default 10,000,000) synthetic trades
 * (seeded random walk on a 0.01 grid, a trade every 0 to 100 ms, 5% without a taker side)
 * written once to a Parquet file; then, each timed from reading that file to the finished
 * frames:
 *
 * 1. signed volume (venue side, tick rule where the side is `unknown`);
 * 2. 1-minute bars (OHLCV, VWAP, trade count, summed signed volume);
 * 3. realized variance per minute from trade-to-trade log returns;
 * 4. Kyle's lambda per hour (OLS of bar close change on bar signed volume);
 * 5. 5-minute forward log returns of the bar closes.
 *
 * Ours composes `lib/research`, with every argument and data check the functions make:
 * `timeBars` over `pl.scanParquet(file)` with its `signedVolume` and `realizedVariance`
 * options (the same values as `signedVolume` + `realizedVariance`, computed in the bar
 * pass), then `forwardReturns` and `kyleLambda` on the bars. `eager_ms` / `eager_cpu_ms`
 * are the same composition on the DataFrame `readParquet` returns (trades held in memory,
 * read included). Peers, in the same run over the same file: the same result hand-written
 * in DuckDB SQL (`duckdb-sql`: a bars table, then one query for the minutes and one for the
 * hours) and as hand-written lazy Polars (`polars`: one plan from the scan to the bars,
 * then the minutes and the hours). All results are compared (bars, signed volume, realized
 * variance, forward returns, lambdas) before any figure is printed; a mismatch throws.
 * Times are the best of `BENCH_RESEARCH_RUNS` (default 3) runs, the variants interleaved;
 * `ratio` = peer ms / our ms. `cpu_ms` / `peer_cpu_ms` are the best process CPU times (all
 * threads, user + system) of those runs: on a shared machine wall time moves with the
 * load, CPU time much less.
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";
import pl from "nodejs-polars";
import { forwardReturns, kyleLambda, timeBars } from "../lib/research/mod.ts";
import { SeededRandom } from "../lib/simulator/random.ts";
import { emit } from "./_figure.ts";

const MIN = 60_000_000;
const HOUR = 60 * MIN;
const round = (x: number) => Number(x.toPrecision(4));

/** The pipeline's result: per-minute features and per-hour lambdas, as plain columns. */
interface Features {
  ts: number[];
  close: number[];
  volume: number[];
  signedVolume: (number | null)[];
  rv: (number | null)[];
  fwd: (number | null)[];
  hours: number[];
  lambda: (number | null)[];
}

function synthetic(rows: number): pl.DataFrame {
  const r = new SeededRandom(42);
  const price = new Float64Array(rows);
  const size = new Float64Array(rows);
  const side = new Int8Array(rows);
  const ts = new Float64Array(rows);
  let p = 30_000;
  let t = Date.UTC(2024, 0, 1) * 1000;
  for (let i = 0; i < rows; i++) {
    const u = r.next();
    p = Math.round((p + (u < 0.3 ? -0.01 : u > 0.7 ? 0.01 : 0)) * 100) / 100;
    price[i] = p;
    size[i] = Math.floor(r.next() * 1000 + 1) / 1000;
    const v = r.next();
    side[i] = v < 0.05 ? 0 : v < 0.525 ? 1 : 2;
    t += Math.floor(r.next() * 100_000);
    ts[i] = t;
  }
  return pl.DataFrame([
    pl.Series("price", price, pl.Float64),
    pl.Series("size", size, pl.Float64),
    pl.Series("side_code", side, pl.Int8),
    pl.Series("ts", ts, pl.Float64).cast(pl.Int64).cast(pl.Datetime("us")),
  ]).select(
    pl.col("price"),
    pl.col("size"),
    pl.when(pl.col("side_code").eq(1)).then(pl.lit("buy"))
      .when(pl.col("side_code").eq(2)).then(pl.lit("sell"))
      .otherwise(pl.lit("unknown")).alias("side"),
    pl.col("ts"),
  );
}

function nums(frame: pl.DataFrame, name: string): (number | null)[] {
  let s = frame.getColumn(name);
  if (s.dtype.variant === "Datetime") s = s.cast(pl.Int64);
  return (s.toArray() as (number | bigint | null)[]).map((v) => (v === null ? null : Number(v)));
}

function features(minutes: pl.DataFrame, hours: pl.DataFrame): Features {
  return {
    ts: nums(minutes, "ts") as number[],
    close: nums(minutes, "close") as number[],
    volume: nums(minutes, "volume") as number[],
    signedVolume: nums(minutes, "signed_volume"),
    rv: nums(minutes, "realized_variance"),
    fwd: nums(minutes, "fwd_5m"),
    hours: nums(hours, "ts") as number[],
    lambda: nums(hours, "lambda"),
  };
}

/**
 * Ours: the research functions, composed, on a lazy scan of the file (`eager`: on the
 * DataFrame `readParquet` returns, as a notebook holding trades in memory would).
 */
function ours(file: string, eager = false): Features {
  const trades = eager
    ? pl.readParquet(file, { columns: ["price", "size", "side", "ts"] })
    : pl.scanParquet(file);
  const bars = timeBars(trades, { every: "1m", signedVolume: true, realizedVariance: true });
  const minutes = forwardReturns(bars, { horizons: ["5m"], price: "close" });
  const hours = kyleLambda(bars, { every: "1h", price: "close" });
  return features(minutes, hours);
}

/** Peer: one hand-written lazy Polars plan. */
function polarsPeer(file: string): Features {
  const t = pl.col("ts").cast(pl.Int64);
  const d = pl.col("price").diff(1, "ignore");
  const tick = pl.when(d.eq(0)).then(pl.lit(null)).otherwise(d.div(d.abs())).cast(pl.Float64)
    .forwardFill();
  const sign = pl.when(pl.col("side").eq(pl.lit("buy"))).then(pl.lit(1))
    .when(pl.col("side").eq(pl.lit("sell"))).then(pl.lit(-1)).otherwise(tick).cast(pl.Float64);
  const r = pl.col("price").div(pl.col("price").shift(1)).log();
  const bars = pl.scanParquet(file)
    .select(
      t.sub(t.rem(pl.lit(MIN).cast(pl.Int64))).alias("ts"),
      pl.col("price"),
      pl.col("size"),
      sign.mul(pl.col("size")).alias("sv"),
      r.alias("r"),
    )
    .groupBy("ts")
    .agg(
      pl.col("price").last().alias("close"),
      pl.col("price").first().alias("open"),
      pl.col("price").max().alias("high"),
      pl.col("price").min().alias("low"),
      pl.col("size").sum().alias("volume"),
      pl.col("price").mul(pl.col("size")).sum().div(pl.col("size").sum()).alias("vwap"),
      pl.len().alias("trades"),
      pl.col("sv").sum().alias("signed_volume"),
      pl.col("r").pow(2).sum().alias("rv"),
      pl.col("r").count().alias("n"),
    )
    .sort("ts")
    .withColumns(
      pl.when(pl.col("n").eq(0)).then(pl.lit(null)).otherwise(pl.col("rv")).alias(
        "realized_variance",
      ),
    )
    .collectSync();
  const last = Number(bars.getColumn("ts").max());
  const future = bars.lazy().select(pl.col("ts").alias("tf"), pl.col("close").alias("cf"));
  const minutes = bars.lazy()
    .withColumns(pl.col("ts").add(pl.lit(5 * MIN).cast(pl.Int64)).alias("k"))
    .joinAsof(future, { leftOn: "k", rightOn: "tf", strategy: "backward" })
    .withColumns(
      pl.when(pl.col("k").gt(pl.lit(last).cast(pl.Int64))).then(pl.lit(null))
        .otherwise(pl.col("cf").div(pl.col("close")).log()).alias("fwd_5m"),
    )
    .collectSync();
  const dy = pl.col("close").diff(1, "ignore");
  const hours = bars.lazy()
    .select(
      pl.col("ts").sub(pl.col("ts").rem(pl.lit(HOUR).cast(pl.Int64))).alias("h"),
      pl.when(dy.isNull()).then(pl.lit(null)).otherwise(pl.col("signed_volume")).alias("x"),
      dy.alias("y"),
    )
    .withColumns(
      pl.col("x").sub(pl.col("x").mean().over("h")).alias("dx"),
      pl.col("y").sub(pl.col("y").mean().over("h")).alias("dy"),
    )
    .groupBy("h")
    .agg(
      pl.col("dx").mul(pl.col("dy")).sum().div(pl.col("dx").pow(2).sum()).alias("lambda"),
      pl.col("x").count().alias("n"),
    )
    .sort("h")
    .select(
      pl.col("h").alias("ts"),
      pl.when(pl.col("n").lt(2)).then(pl.lit(null)).otherwise(pl.col("lambda")).alias("lambda"),
    )
    .collectSync();
  return features(minutes, hours);
}

/** Peer: the same result as one hand-written DuckDB SQL query per output. */
async function duckdbPeer(file: string, connection: DuckConnection): Promise<Features> {
  const path = file.replaceAll("'", "''");
  await connection.run(`
    CREATE OR REPLACE TEMP TABLE bars AS
    WITH t AS (
      SELECT price, size, side, epoch_us(ts) AS t, file_row_number AS rn
      FROM read_parquet('${path}', file_row_number = true)
    ), s AS (
      SELECT *, price - lag(price) OVER (ORDER BY rn) AS d,
             ln(price / lag(price) OVER (ORDER BY rn)) AS r
      FROM t
    ), g AS (
      SELECT *, CASE side WHEN 'buy' THEN 1 WHEN 'sell' THEN -1 ELSE
               last_value(CASE WHEN d > 0 THEN 1 WHEN d < 0 THEN -1 END IGNORE NULLS)
                 OVER (ORDER BY rn ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) END AS sign
      FROM s
    )
    SELECT t - t % ${MIN} AS ts, first(price ORDER BY rn) AS open, max(price) AS high,
           min(price) AS low, last(price ORDER BY rn) AS close, sum(size) AS volume,
           sum(price * size) / sum(size) AS vwap, count(*) AS trades,
           sum(sign * size) AS signed_volume, sum(r * r) AS realized_variance
    FROM g GROUP BY ALL ORDER BY ts`);
  const minutes = await connection.columns(`
    SELECT a.ts::DOUBLE, a.close, a.volume, a.signed_volume, a.realized_variance,
           CASE WHEN a.ts + ${5 * MIN} > (SELECT max(ts) FROM bars) THEN NULL
                ELSE ln(b.close / a.close) END AS fwd_5m
    FROM bars a ASOF LEFT JOIN bars b ON b.ts <= a.ts + ${5 * MIN}
    ORDER BY a.ts`);
  const hours = await connection.columns(`
    SELECT (ts - ts % ${HOUR})::DOUBLE AS h,
           CASE WHEN regr_count(y, x) < 2 THEN NULL ELSE regr_slope(y, x) END AS lambda
    FROM (SELECT ts, signed_volume AS x, close - lag(close) OVER (ORDER BY ts) AS y FROM bars)
    GROUP BY h ORDER BY h`);
  return {
    ts: minutes[0] as number[],
    close: minutes[1] as number[],
    volume: minutes[2] as number[],
    signedVolume: minutes[3],
    rv: minutes[4],
    fwd: minutes[5],
    hours: hours[0] as number[],
    lambda: hours[1],
  };
}

interface DuckConnection {
  run(sql: string): Promise<unknown>;
  columns(sql: string): Promise<(number | null)[][]>;
}

async function duck(): Promise<DuckConnection & { close(): void }> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  return {
    run: (sql) => con.run(sql),
    async columns(sql) {
      const reader = await con.runAndReadAll(sql);
      return reader.getColumnsJS().map((c) =>
        c.map((v) => (v === null ? null : Number(v as number | bigint)))
      );
    },
    close() {
      con.closeSync();
      instance.closeSync();
    },
  };
}

function agree(a: Features, b: Features, peer: string): void {
  const near = (x: number | null, y: number | null, tol: number) =>
    (x === null && y === null) ||
    (x !== null && y !== null && Math.abs(x - y) <= tol * Math.max(Math.abs(y), 1e-12));
  const check = (
    name: string,
    x: readonly (number | null)[],
    y: readonly (number | null)[],
    tol: number,
  ) => {
    if (x.length !== y.length) {
      throw new Error(`${peer}: ${name} has ${y.length} rows, ours ${x.length}`);
    }
    for (let i = 0; i < x.length; i++) {
      if (!near(x[i], y[i], tol)) throw new Error(`${peer}: ${name}[${i}] ${y[i]} vs ours ${x[i]}`);
    }
  };
  check("ts", a.ts, b.ts, 0);
  check("close", a.close, b.close, 0);
  check("volume", a.volume, b.volume, 1e-9);
  check("signed_volume", a.signedVolume, b.signedVolume, 1e-9);
  check("realized_variance", a.rv, b.rv, 1e-9);
  check("fwd_5m", a.fwd, b.fwd, 1e-9);
  check("hours", a.hours, b.hours, 0);
  check("lambda", a.lambda, b.lambda, 1e-6);
}

/** CPU time of this process (all threads, user + system), ms; NaN where /proc is absent. */
function cpuMs(): number {
  try {
    const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return NaN;
  }
}

interface Timed<T> {
  ms: number;
  cpu: number;
  out: T;
}

/**
 * Runs every variant `runs` times, interleaved (a, b, c, a, b, c, ...) so that a change in
 * the machine's load falls on all of them alike; keeps each one's best wall and CPU time.
 */
async function interleaved<T>(
  runs: number,
  variants: readonly (() => T | Promise<T>)[],
): Promise<Timed<T>[]> {
  const out: Timed<T>[] = variants.map(() => ({ ms: Infinity, cpu: Infinity, out: undefined! }));
  for (let r = 0; r < runs; r++) {
    for (let v = 0; v < variants.length; v++) {
      const c0 = cpuMs();
      const t0 = performance.now();
      out[v].out = await variants[v]();
      out[v].ms = Math.min(out[v].ms, performance.now() - t0);
      out[v].cpu = Math.min(out[v].cpu, cpuMs() - c0);
    }
  }
  return out;
}

export async function run(): Promise<void> {
  const rows = Number(Deno.env.get("BENCH_RESEARCH_ROWS") ?? 10_000_000);
  const runs = Number(Deno.env.get("BENCH_RESEARCH_RUNS") ?? 3);
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-bench-research-" });
  const file = `${dir}/trades.parquet`;
  const connection = await duck();
  try {
    synthetic(rows).writeParquet(file);
    const [mine, eager, polars, duckdb] = await interleaved<Features>(runs, [
      () => ours(file),
      () => ours(file, true),
      () => polarsPeer(file),
      () => duckdbPeer(file, connection),
    ]);
    agree(mine.out, eager.out, "ours on a DataFrame");
    agree(mine.out, polars.out, "polars");
    agree(mine.out, duckdb.out, "duckdb-sql");
    const extra = { rows, bars: mine.out.ts.length, hours: mine.out.hours.length };
    for (const [peer, other] of [["duckdb-sql", duckdb], ["polars", polars]] as const) {
      emit({
        name: "research_pipeline_10m",
        unit: "ms",
        value: round(mine.ms),
        peer,
        peer_value: round(other.ms),
        ratio: round(other.ms / mine.ms),
        cpu_ms: round(mine.cpu),
        peer_cpu_ms: round(other.cpu),
        eager_ms: round(eager.ms),
        eager_cpu_ms: round(eager.cpu),
        ...extra,
      });
    }
  } finally {
    connection.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await run();
