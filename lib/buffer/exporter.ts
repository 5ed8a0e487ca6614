/**
 * The exporter: moves closed time ranges of trades from the PostgreSQL buffer to the
 * Parquet lake (`LAKE/trades/exchange=/symbol=/date=`, written by the lake's own
 * {@linkcode ParquetLake}: zstd, time-sorted, atomic temporary-file-then-rename, and
 * idempotent by trade id), and records verified row counts per day, without which the
 * buffer's retention drops nothing.
 *
 * - **Resumable**: a watermark per table (`export_watermarks`) advances only after a range
 *   is in the lake; a killed run re-exports from the watermark, and the lake skips what it
 *   already holds, so nothing is duplicated.
 * - **Verified**: for every closed day, the rows per instrument in the buffer are counted
 *   and compared with the rows in the lake's partitions; a day whose lake count is short
 *   (late rows, a replayed spill) is exported again and recounted. Only a day where every
 *   instrument's lake count covers its buffer count is marked verified (`export_days`).
 * - **Bars**: 1-minute OHLCV+VWAP bars of every exported range are written to the
 *   buffer's `bars` table (the plain layout's replacement for a continuous aggregate).
 *
 * Run it once with `deno task export`, or on a schedule with `deno task export --every 1h`.
 * @module
 */
import postgres from "postgres";
import { DuckDBInstance } from "@duckdb/node-api";
import { nowMicros, parseDuration } from "../market/time.ts";
import { databaseUrl, defaultLakeRoot } from "../config.ts";
import { listTradePartitions, ParquetLake } from "../lake/mod.ts";
import {
  type BufferTradeColumnsWithIntegerIds,
  readTrades,
  sqlLiteral,
  timestampLiteral,
} from "./trade_reader.ts";

const HOUR = 3_600_000_000;
const DAY = 24 * HOUR;
const MINUTE = 60_000_000;

/** Options of {@linkcode Exporter}. */
export interface ExporterOptions {
  /** The buffer (an npm:postgres client; not closed by the exporter). */
  readonly sql: postgres.Sql;
  /** The lake to write (not closed by the exporter). */
  readonly lake: ParquetLake;
  /** A range is closed once it ended at least this long ago, microseconds (default 5 min). */
  readonly lag?: number;
  /** Show a progress bar on stderr (default: when stderr is a terminal). */
  readonly progress?: boolean;
  /** Write 1-minute bars of exported ranges into the buffer's `bars` table (default true). */
  readonly bars?: boolean;
  /** Where messages go (default `console.error`). */
  readonly log?: (message: string) => void;
  /** Rows of one instrument-day above which it is exported in time slices (default 250,000). */
  readonly sliceRows?: number;
  /** Wall clock in microseconds (tests). */
  readonly now?: () => number;
}

/** What one {@linkcode Exporter.run} did. */
export interface ExportReport {
  /** Trades read from the buffer and handed to the lake. */
  readonly rowsRead: number;
  /** Trades newly stored in the lake (the rest were there already). */
  readonly rowsWritten: number;
  /** The watermark after the run, microseconds (`undefined` when the buffer is empty). */
  readonly watermark: number | undefined;
  /** Days (`YYYY-MM-DD`) verified by this run. */
  readonly verifiedDays: readonly string[];
  /** Days whose lake count is still short of the buffer's (kept from retention). */
  readonly unverifiedDays: readonly string[];
  /** Wall time of the run, milliseconds. */
  readonly millis: number;
}

interface InstrumentCount {
  exchange: string;
  symbol: string;
  rows: number;
}

/** One instrument's rows of one UTC day (`day` is the day's start, microseconds). */
interface ExportTask extends InstrumentCount {
  day: number;
  start: number;
  end: number;
}

const dayText = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10);

/** Moves closed ranges of trades from the buffer to the lake (see the module docs). */
export class Exporter {
  readonly #sql: postgres.Sql;
  readonly #lake: ParquetLake;
  readonly #lag: number;
  readonly #progress: boolean;
  readonly #bars: boolean;
  readonly #log: (message: string) => void;
  readonly #now: () => number;
  readonly #sliceRows: number;
  #duck: Promise<import("@duckdb/node-api").DuckDBConnection> | undefined;
  #duckInstance: DuckDBInstance | undefined;

  constructor(options: ExporterOptions) {
    if (!options?.sql || !options.lake) throw new TypeError("Exporter needs sql and lake");
    this.#sql = options.sql;
    this.#lake = options.lake;
    this.#lag = options.lag ?? 5 * MINUTE;
    if (!(this.#lag >= 0)) throw new RangeError(`lag must be >= 0, got ${this.#lag}`);
    this.#progress = options.progress ?? Deno.stderr.isTerminal();
    this.#bars = options.bars ?? true;
    this.#log = options.log ?? ((m) => console.error(m));
    this.#now = options.now ?? nowMicros;
    this.#sliceRows = options.sliceRows ?? 250_000;
    if (!(this.#sliceRows >= 1)) throw new RangeError(`sliceRows must be >= 1`);
  }

  /** Exports every closed range after the watermark, then verifies closed days. */
  async run(): Promise<ExportReport> {
    const t0 = performance.now();
    const closedEnd = Math.floor((this.#now() - this.#lag) / HOUR) * HOUR;
    const initial = await this.#watermark();
    let watermark = initial;
    let rowsRead = 0;
    let rowsWritten = 0;
    const verifiedDays: string[] = [];
    const unverifiedDays: string[] = [];
    /** Rows read per instrument of days this run exported completely. */
    const known = new Map<number, Map<string, InstrumentCount>>();
    const whole = (day: number) =>
      initial !== undefined && day >= initial && day + DAY <= closedEnd;
    if (watermark !== undefined && watermark < closedEnd) {
      const plan = await this.#plan(watermark, closedEnd);
      const progress = this.#progressBar(plan.reduce((n, t) => n + t.rows, 0));
      // Reading the next range overlaps with writing the current one (PostgreSQL, this
      // thread's decoding and DuckDB's writer threads work at the same time).
      let next = plan.length ? this.#read(plan[0]) : undefined;
      for (let i = 0; i < plan.length; i++) {
        const task = plan[i];
        const columns = await next!;
        next = i + 1 < plan.length ? this.#read(plan[i + 1]) : undefined;
        const n = await this.#write(task, columns);
        rowsRead += n.read;
        rowsWritten += n.written;
        progress(n.read);
        if (whole(task.day)) {
          const counts = known.get(task.day) ?? new Map<string, InstrumentCount>();
          const key = `${task.exchange}\u0000${task.symbol}`;
          const c = counts.get(key) ?? { exchange: task.exchange, symbol: task.symbol, rows: 0 };
          c.rows += n.read;
          counts.set(key, c);
          known.set(task.day, counts);
        }
        if (i + 1 === plan.length || plan[i + 1].day !== task.day) {
          await this.#setWatermark(task.end === task.day + DAY ? task.end : closedEnd);
        }
      }
      await next?.catch(() => {});
      await this.#setWatermark(closedEnd);
      watermark = closedEnd;
      progress(0, true);
    }
    if (watermark !== undefined) {
      const watermarkDay = Math.floor(watermark / DAY);
      for (const [dayStart, counts] of known) {
        if (dayStart / DAY >= watermarkDay) continue;
        const ok = await this.#verifyDay(dayStart / DAY, [...counts.values()]);
        (ok ? verifiedDays : unverifiedDays).push(dayText(dayStart / DAY));
      }
      const done = new Set([...known.keys()].map((d) => d / DAY));
      for (const day of await this.#daysToVerify(watermarkDay)) {
        if (done.has(day)) continue;
        const ok = await this.#verifyDay(day);
        (ok ? verifiedDays : unverifiedDays).push(dayText(day));
      }
    }
    verifiedDays.sort();
    unverifiedDays.sort();
    return {
      rowsRead,
      rowsWritten,
      watermark,
      verifiedDays,
      unverifiedDays,
      millis: performance.now() - t0,
    };
  }

  async #setWatermark(micros: number): Promise<void> {
    await this.#sql`insert into export_watermarks (kind, watermark, updated_at)
      values ('trades', ${new Date(micros / 1000)}, now())
      on conflict (kind) do update set watermark = greatest(export_watermarks.watermark,
        excluded.watermark), updated_at = excluded.updated_at`;
  }

  /** What to export: one task per instrument and UTC day with rows in `[start, end)`. */
  async #plan(start: number, end: number): Promise<ExportTask[]> {
    const tasks: ExportTask[] = [];
    for (const day of await this.#daysWithRows(start, end)) {
      const from = Math.max(start, day);
      const to = Math.min(end, day + DAY);
      for (const c of await this.#instrumentCounts(from, to)) {
        // Large instrument-days go in time slices: bounded memory, and reading the next
        // slice overlaps with writing this one.
        const slices = Math.ceil(c.rows / this.#sliceRows);
        const width = Math.ceil((to - from) / slices);
        for (let k = 0; k < slices; k++) {
          const sliceStart = from + k * width;
          const sliceEnd = k === slices - 1 ? to : Math.min(to, sliceStart + width);
          if (sliceStart >= sliceEnd) break;
          tasks.push({
            ...c,
            rows: Math.ceil(c.rows / slices),
            day,
            start: sliceStart,
            end: sliceEnd,
          });
        }
      }
    }
    return tasks;
  }

  /**
   * Starts of the UTC days in `[start, end)` that may hold rows: the daily partitions
   * (plain layout), or days found by probing `min(ts)` (TimescaleDB, which indexes `ts`).
   */
  async #daysWithRows(start: number, end: number): Promise<number[]> {
    const first = Math.floor(start / DAY) * DAY;
    const parts = await this.#sql<{ day: Date }[]>`select day from buffer_partitions('trades')`
      .catch(() => undefined);
    if (parts) {
      return parts.map((p) => p.day.getTime() * 1000).filter((d) => d >= first && d < end);
    }
    const days: number[] = [];
    let from = start;
    while (from < end) {
      const [row] = await this.#sql.unsafe<{ t: number | null }[]>(
        `select (extract(epoch from min(ts)) * 1000000)::float8 as t from trades
         where ts >= ${timestampLiteral(from)} and ts < ${timestampLiteral(end)}`,
      );
      if (row?.t == null) break;
      const day = Math.floor(row.t / DAY) * DAY;
      days.push(day);
      from = day + DAY;
    }
    return days;
  }

  /** Releases the exporter's DuckDB connection (used for lake counts). */
  async close(): Promise<void> {
    if (this.#duck) (await this.#duck).closeSync();
    this.#duckInstance?.closeSync();
    this.#duck = undefined;
  }

  async #watermark(): Promise<number | undefined> {
    const [row] = await this.#sql<{ w: number | null }[]>`
      select (extract(epoch from watermark) * 1000000)::float8 as w
      from export_watermarks where kind = 'trades'`;
    if (row?.w != null) return row.w;
    const [first] = await this.#sql<{ w: number | null }[]>`
      select (extract(epoch from min(ts)) * 1000000)::float8 as w from trades`;
    return first?.w == null ? undefined : Math.floor(first.w / DAY) * DAY;
  }

  async #instrumentCounts(start: number, end: number): Promise<InstrumentCount[]> {
    return await this.#sql.unsafe<InstrumentCount[]>(
      `select exchange, symbol, count(*)::float8 as rows from trades
       where ts >= ${timestampLiteral(start)} and ts < ${timestampLiteral(end)}
       group by exchange, symbol order by exchange, symbol`,
    );
  }

  /** Reads one task's trades from the buffer. */
  #read(task: ExportTask): Promise<BufferTradeColumnsWithIntegerIds> {
    return readTrades(this.#sql, { ...task, expectedRows: task.rows, integerIds: true });
  }

  /** Writes one task's trades to the lake (and its bars to the buffer). */
  async #write(
    c: { exchange: string; symbol: string },
    columns: BufferTradeColumnsWithIntegerIds,
  ): Promise<{ read: number; written: number }> {
    const n = columns.id.length;
    if (n === 0) return { read: 0, written: 0 };
    // The bars go to PostgreSQL while the lake writes the file.
    const [written] = await Promise.all([
      this.#lake.writeTradeColumns({ ...columns, exchange: c.exchange, symbol: c.symbol }),
      this.#bars ? this.#writeBars(c, columns) : undefined,
    ]);
    return { read: n, written };
  }

  /** Exports one instrument's trades in `[start, end)` (within one UTC day). */
  async #exportInstrument(
    c: InstrumentCount,
    start: number,
    end: number,
  ): Promise<{ read: number; written: number }> {
    const day = Math.floor(start / DAY) * DAY;
    return await this.#write(c, await this.#read({ ...c, day, start, end }));
  }

  /** 1-minute bars of rows sorted by time, upserted into `bars`. */
  async #writeBars(
    c: { exchange: string; symbol: string },
    t: { price: Float64Array; size: Float64Array; ts: Float64Array; recvTs: Float64Array },
  ): Promise<void> {
    const rows: (string | number | null)[][] = [];
    let i = 0;
    const n = t.ts.length;
    while (i < n) {
      const bucket = Math.floor(t.ts[i] / MINUTE) * MINUTE;
      const open = t.price[i];
      let high = open, low = open, close = open, volume = 0, notional = 0, count = 0;
      let recv = -Infinity;
      for (; i < n && t.ts[i] < bucket + MINUTE; i++) {
        const p = t.price[i];
        if (p > high) high = p;
        if (p < low) low = p;
        close = p;
        volume += t.size[i];
        notional += p * t.size[i];
        count++;
        if (t.recvTs[i] > recv) recv = t.recvTs[i];
      }
      rows.push([
        bucket,
        recv,
        open,
        high,
        low,
        close,
        volume,
        volume > 0 ? notional / volume : null,
        count,
      ]);
    }
    // One statement per 5,000 bars; bars of a re-exported range replace the old ones.
    for (let k = 0; k < rows.length; k += 5_000) {
      const values = rows.slice(k, k + 5_000).map((r) =>
        `(${sqlLiteral(c.exchange)}, ${sqlLiteral(c.symbol)}, ${MINUTE}, ${
          timestampLiteral(r[0] as number)
        }, ${timestampLiteral(r[1] as number)}, ${r.slice(2).map((v) => v ?? "null").join(", ")})`
      ).join(",\n");
      await this.#sql.unsafe(
        `insert into bars (exchange, symbol, interval_us, ts, recv_ts, open, high, low, close,
           volume, vwap, trades) values ${values}
         on conflict (exchange, symbol, interval_us, ts) do update set
           recv_ts = excluded.recv_ts, open = excluded.open, high = excluded.high,
           low = excluded.low, close = excluded.close, volume = excluded.volume,
           vwap = excluded.vwap, trades = excluded.trades`,
      );
    }
  }

  /** Closed days below `watermarkDay` that have no current verification. */
  async #daysToVerify(watermarkDay: number): Promise<number[]> {
    const parts = await this.#sql<{ partition: string; day: Date }[]>`
      select partition, day from buffer_partitions('trades')`.catch(() => []);
    const out: number[] = [];
    for (const p of parts) {
      const day = Math.floor(p.day.getTime() / 86_400_000);
      if (day >= watermarkDay) continue;
      const [rec] = await this.#sql<{ buffer_rows: string; verified: boolean }[]>`
        select buffer_rows, verified_at is not null as verified from export_days
        where kind = 'trades' and day = ${dayText(day)}`;
      if (rec?.verified) {
        const [{ n }] = await this.#sql.unsafe<{ n: string }[]>(
          `select count(*) as n from ${p.partition}`,
        );
        if (n === rec.buffer_rows) continue;
      } else if (!rec) {
        // Never exported and empty: nothing to verify (retention drops empty days only
        // once verified, which a zero-row record allows).
      }
      out.push(day);
    }
    return out;
  }

  /**
   * Compares buffer and lake counts per instrument for one day (buffer counts taken now,
   * or the ones this run exported); re-exports what is short.
   */
  async #verifyDay(day: number, known?: readonly InstrumentCount[]): Promise<boolean> {
    const start = day * DAY;
    const end = start + DAY;
    let bufferRows = 0;
    let lakeRows = 0;
    let ok = true;
    for (const c of known ?? await this.#instrumentCounts(start, end)) {
      let inLake = await this.#lakeCount(c.exchange, c.symbol, start, end);
      if (inLake < c.rows) {
        this.#log(
          `export: ${c.exchange} ${c.symbol} ${dayText(day)}: lake has ${inLake} of ` +
            `${c.rows} rows; exporting the day again`,
        );
        await this.#exportInstrument(c, start, end);
        inLake = await this.#lakeCount(c.exchange, c.symbol, start, end);
      }
      if (inLake < c.rows) ok = false;
      bufferRows += c.rows;
      lakeRows += Math.min(inLake, c.rows);
    }
    await this.#sql`insert into export_days (kind, day, buffer_rows, lake_rows, verified_at)
      values ('trades', ${dayText(day)}, ${bufferRows}, ${lakeRows},
        ${ok ? this.#sql`now()` : null})
      on conflict (kind, day) do update set buffer_rows = excluded.buffer_rows,
        lake_rows = excluded.lake_rows, verified_at = excluded.verified_at`;
    if (!ok) this.#log(`export: ${dayText(day)} not verified: the lake is short of rows`);
    return ok;
  }

  async #lakeCount(exchange: string, symbol: string, start: number, end: number) {
    const partitions = await listTradePartitions(this.#lake.root, { exchange, symbol, start, end });
    const files = partitions.flatMap((p) => p.files);
    if (files.length === 0) return 0;
    const duck = await (this.#duck ??= DuckDBInstance.create(":memory:").then((instance) => {
      this.#duckInstance = instance;
      return instance.connect();
    }));
    const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(", ");
    const reader = await duck.runAndReadAll(
      `select count(*)::double from read_parquet([${list}], hive_partitioning = false)`,
    );
    return Number(reader.getRows()[0][0]);
  }

  #progressBar(total: number): (rows: number, finish?: boolean) => void {
    if (!this.#progress || total === 0) return () => {};
    const started = performance.now();
    let done = 0;
    const encoder = new TextEncoder();
    return (rows, finish = false) => {
      done += rows;
      const fraction = Math.min(1, done / total);
      const width = 30;
      const filled = Math.round(fraction * width);
      const rate = done / Math.max(0.001, (performance.now() - started) / 1000);
      const line = `\rexport [${"#".repeat(filled)}${".".repeat(width - filled)}] ` +
        `${(fraction * 100).toFixed(0).padStart(3)}% ${done}/${total} rows ` +
        `${Math.round(rate)} rows/s` + (finish ? "\n" : "");
      Deno.stderr.writeSync(encoder.encode(line));
    };
  }
}

/** Parses `--flag value` and `--flag=value` arguments. */
function flag(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return undefined;
}

async function main(args: readonly string[]): Promise<number> {
  const url = databaseUrl();
  if (!url) {
    console.error("DATABASE_URL is not set: collectors write the lake directly, nothing to export");
    return 2;
  }
  const root = flag(args, "lake") ?? defaultLakeRoot();
  const every = flag(args, "every");
  const lagText = flag(args, "lag");
  const periodMicros = every ? parseDuration(every) : undefined;
  const lag = lagText ? parseDuration(lagText) : undefined;
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const lake = await ParquetLake.open({ root });
  const exporter = new Exporter({ sql, lake, lag });
  try {
    while (true) {
      const r = await exporter.run();
      console.log(JSON.stringify({
        rows_read: r.rowsRead,
        rows_written: r.rowsWritten,
        watermark: r.watermark === undefined ? null : new Date(r.watermark / 1000).toISOString(),
        verified_days: r.verifiedDays,
        unverified_days: r.unverifiedDays,
        seconds: Number((r.millis / 1000).toFixed(3)),
      }));
      if (periodMicros === undefined) break;
      await new Promise((res) => setTimeout(res, periodMicros / 1000));
    }
  } finally {
    await exporter.close();
    await lake.close();
    await sql.end();
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
