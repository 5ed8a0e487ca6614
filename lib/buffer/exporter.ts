/**
 * The exporter: moves closed time ranges of every buffer table — trades, quotes, book
 * snapshots, book changes and the event log (feed statuses) — from the PostgreSQL buffer
 * to the Parquet lake (`LAKE/<table>/exchange=/symbol=/date=`, written by the lake's own
 * {@linkcode ParquetLake}: zstd, time-sorted, atomic temporary-file-then-rename, and
 * idempotent by trade id or by `(ts, recv_ts, digest)`), and records verified row counts per
 * table and day, without which the buffer's retention drops nothing.
 *
 * - **Resumable**: a watermark per table (`export_watermarks`) advances only after a range
 *   is in the lake; a killed run re-exports from the watermark, and the lake skips what it
 *   already holds, so nothing is duplicated.
 * - **Verified**: for every closed day, the rows per instrument in the buffer are counted
 *   and compared with the rows in the lake's partitions of that table; a day whose lake
 *   count is short (late rows, a replayed spill) is exported again and recounted. Only a
 *   day where every instrument's lake count covers its buffer count is marked verified
 *   (`export_days`, one row per table and day).
 * - **Bounded**: rows are read per instrument and day, in pages of at most `sliceRows` rows
 *   by key (`(ts, id)`, or `(ts, recv_ts, digest)`), through binary COPY, with no counting
 *   beforehand; event rows keep the digest the buffer stored.
 * - **Bars**: 1-minute OHLCV+VWAP bars of every exported range of trades are written to
 *   the buffer's `bars` table (the plain layout's replacement for a continuous aggregate).
 *
 * Run it once with `deno task export`, or on a schedule with `deno task export --every 1h`.
 * @module
 */
import postgres from "postgres";
import { DuckDBInstance } from "@duckdb/node-api";
import { nowMicros, parseDuration } from "../market/time.ts";
import { parseArgs, runMain } from "../cli/args.ts";
import { databaseUrl, defaultLakeRoot } from "../config.ts";
import {
  EVENT_KINDS,
  type EventKind,
  type EventRow,
  listPartitions,
  ParquetLake,
} from "../lake/mod.ts";
import {
  type BufferTradeColumnsWithIntegerIds,
  readTrades,
  sqlLiteral,
  timestampLiteral,
} from "./trade_reader.ts";
import { readEventRows } from "./event_reader.ts";
import { waitingLock } from "../cli/lake_lock.ts";

const HOUR = 3_600_000_000;
const DAY = 24 * HOUR;
const MINUTE = 60_000_000;

/** A buffer table the exporter moves to the lake (the lake's table of the same name). */
export type ExportKind = "trades" | EventKind;

/** Every {@linkcode ExportKind}, in the order the exporter works through them. */
export const EXPORT_KINDS: readonly ExportKind[] = Object.freeze(["trades", ...EVENT_KINDS]);

/** Tables partitioned by day in the plain layout (`event_log` is a plain table). */
const PARTITIONED: ReadonlySet<ExportKind> = new Set([
  "trades",
  "quotes",
  "book_snapshots",
  "book_changes",
]);

/**
 * Default rows per read slice: book snapshots carry up to 4 x 50 levels (about 2 KB as JS
 * arrays), book changes a few levels, the rest a few scalars.
 */
const DEFAULT_SLICE_ROWS: Readonly<Record<ExportKind, number>> = {
  trades: 250_000,
  quotes: 250_000,
  book_snapshots: 20_000,
  book_changes: 100_000,
  event_log: 250_000,
};

/** Options of {@linkcode Exporter}. */
export interface ExporterOptions {
  /** The buffer (an npm:postgres client; not closed by the exporter). */
  readonly sql: postgres.Sql;
  /** The lake to write (not closed by the exporter). */
  readonly lake: ParquetLake;
  /** Tables to export (default {@linkcode EXPORT_KINDS}, all of them). */
  readonly kinds?: readonly ExportKind[];
  /** A range is closed once it ended at least this long ago, microseconds (default 5 min). */
  readonly lag?: number;
  /** Show a progress bar on stderr (default: when stderr is a terminal). */
  readonly progress?: boolean;
  /** Write 1-minute bars of exported trades into the buffer's `bars` table (default true). */
  readonly bars?: boolean;
  /** Where messages go (default `console.error`). */
  readonly log?: (message: string) => void;
  /**
   * Rows read from the buffer at a time (one page, in key order): one number for every
   * table, or per table (defaults: 250,000; book snapshots 20,000; book changes 100,000).
   */
  readonly sliceRows?: number | Readonly<Partial<Record<ExportKind, number>>>;
  /** Wall clock in microseconds (tests). */
  readonly now?: () => number;
}

/** What one {@linkcode Exporter.run} did for one table. */
export interface KindExportReport {
  /** Rows read from the buffer and handed to the lake. */
  readonly rowsRead: number;
  /** Rows newly stored in the lake (the rest were there already). */
  readonly rowsWritten: number;
  /** The table's watermark after the run, microseconds (`undefined`: the table is empty). */
  readonly watermark: number | undefined;
  /** Days (`YYYY-MM-DD`) verified by this run. */
  readonly verifiedDays: readonly string[];
  /** Days whose lake count is still short of the buffer's (kept from retention). */
  readonly unverifiedDays: readonly string[];
}

/**
 * What one {@linkcode Exporter.run} did. The top-level row and day fields are the trades'
 * (as before other tables were exported); `kinds` has every exported table's.
 */
export interface ExportReport extends KindExportReport {
  /** Per table (only the tables the exporter was asked to export). */
  readonly kinds: Readonly<Partial<Record<ExportKind, KindExportReport>>>;
  /** Wall time of the run, milliseconds. */
  readonly millis: number;
}

interface InstrumentCount {
  exchange: string;
  symbol: string;
  rows: number;
}

/** One instrument's rows of one table in `[start, end)` within one UTC day (`day`, µs). */
interface ExportTask {
  kind: ExportKind;
  exchange: string;
  symbol: string;
  day: number;
  start: number;
  end: number;
}

/** Rows of one page of a task as read from the buffer. */
type TaskRows =
  | { readonly kind: "trades"; readonly columns: BufferTradeColumnsWithIntegerIds }
  | { readonly kind: EventKind; readonly rows: EventRow[] };

/** The key of a task's last row read: the next page starts after it. */
type PageKey =
  | { readonly ts: number; readonly id: string }
  | { readonly ts: number; readonly recvTs: number; readonly digest: number };

/** One page (at most `sliceRows` rows) of a task. */
interface Page {
  readonly task: ExportTask;
  readonly data: TaskRows;
  readonly rows: number;
  /** Where the next page starts; `undefined` when this page ends the task. */
  readonly next: PageKey | undefined;
}

/** The 1-minute bar still open at the end of a page (its minute may go on in the next). */
interface OpenBar {
  bucket: number;
  recv: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  notional: number;
  count: number;
}

interface KindState {
  initial: number | undefined;
  watermark: number | undefined;
  rowsRead: number;
  rowsWritten: number;
  verifiedDays: string[];
  unverifiedDays: string[];
  /** Rows read per instrument of days this run exported completely. */
  known: Map<number, Map<string, InstrumentCount>>;
}

const dayText = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10);

/** Moves closed ranges of every buffer table to the lake (see the module docs). */
export class Exporter {
  readonly #sql: postgres.Sql;
  readonly #lake: ParquetLake;
  readonly #kinds: readonly ExportKind[];
  readonly #lag: number;
  readonly #progress: boolean;
  readonly #bars: boolean;
  readonly #log: (message: string) => void;
  readonly #now: () => number;
  readonly #sliceRows: Readonly<Record<ExportKind, number>>;
  #duck: Promise<import("@duckdb/node-api").DuckDBConnection> | undefined;
  #duckInstance: DuckDBInstance | undefined;

  constructor(options: ExporterOptions) {
    if (!options?.sql || !options.lake) throw new TypeError("Exporter needs sql and lake");
    this.#sql = options.sql;
    this.#lake = options.lake;
    const kinds = options.kinds ?? EXPORT_KINDS;
    for (const kind of kinds) {
      if (!EXPORT_KINDS.includes(kind)) throw new TypeError(`Exporter: unknown table ${kind}`);
    }
    this.#kinds = EXPORT_KINDS.filter((k) => kinds.includes(k));
    this.#lag = options.lag ?? 5 * MINUTE;
    if (!(this.#lag >= 0)) throw new RangeError(`lag must be >= 0, got ${this.#lag}`);
    this.#progress = options.progress ?? Deno.stderr.isTerminal();
    this.#bars = options.bars ?? true;
    this.#log = options.log ?? ((m) => console.error(m));
    this.#now = options.now ?? nowMicros;
    const slice = options.sliceRows;
    const sliceRows = { ...DEFAULT_SLICE_ROWS };
    for (const kind of EXPORT_KINDS) {
      const value = typeof slice === "number" ? slice : slice?.[kind];
      if (value === undefined) continue;
      if (!(Number.isSafeInteger(value) && value >= 1)) {
        throw new RangeError(`sliceRows must be an integer >= 1, got ${value} (${kind})`);
      }
      sliceRows[kind] = value;
    }
    this.#sliceRows = sliceRows;
  }

  /** Exports every closed range after each table's watermark, then verifies closed days. */
  async run(): Promise<ExportReport> {
    const t0 = performance.now();
    const closedEnd = Math.floor((this.#now() - this.#lag) / HOUR) * HOUR;
    const states = new Map<ExportKind, KindState>();
    const plan: ExportTask[] = [];
    for (const kind of this.#kinds) {
      const initial = await this.#watermark(kind);
      states.set(kind, {
        initial,
        watermark: initial,
        rowsRead: 0,
        rowsWritten: 0,
        verifiedDays: [],
        unverifiedDays: [],
        known: new Map(),
      });
      if (initial !== undefined && initial < closedEnd) {
        plan.push(...await this.#plan(kind, initial, closedEnd));
      }
    }
    const progress = this.#progressBar(plan.length);
    // Pages are read by key (no counting beforehand), and reading the next page overlaps
    // with writing the current one (PostgreSQL, this thread's decoding and the lake's
    // writer threads work at the same time).
    let i = 0;
    let pending = plan.length ? this.#readPage(plan[0]) : undefined;
    let bars: OpenBar | undefined;
    try {
      while (pending) {
        const page = await pending;
        const task = page.task;
        const state = states.get(task.kind)!;
        if (page.next) pending = this.#readPage(task, page.next);
        else pending = ++i < plan.length ? this.#readPage(plan[i]) : undefined;
        const n = await this.#write(page, bars);
        bars = n.bars;
        state.rowsRead += n.read;
        state.rowsWritten += n.written;
        const within = page.next ? (page.next.ts - task.start) / (task.end - task.start) : 0;
        progress(n.read, i + within, task.kind);
        const whole = state.initial !== undefined && task.day >= state.initial &&
          task.day + DAY <= closedEnd;
        if (whole) {
          const counts = state.known.get(task.day) ?? new Map<string, InstrumentCount>();
          const key = `${task.exchange}\u0000${task.symbol}`;
          const c = counts.get(key) ?? { exchange: task.exchange, symbol: task.symbol, rows: 0 };
          c.rows += n.read;
          counts.set(key, c);
          state.known.set(task.day, counts);
        }
        const following = plan[i];
        if (!page.next && (following?.kind !== task.kind || following.day !== task.day)) {
          await this.#setWatermark(task.kind, task.end === task.day + DAY ? task.end : closedEnd);
        }
      }
    } finally {
      pending?.catch(() => {});
    }
    progress(0, plan.length, undefined, true);
    for (const [kind, state] of states) {
      if (state.watermark === undefined) continue;
      if (state.watermark < closedEnd) {
        await this.#setWatermark(kind, closedEnd);
        state.watermark = closedEnd;
      }
      await this.#verifyKind(kind, state);
    }
    const report = (kind: ExportKind): KindExportReport => {
      const s = states.get(kind);
      return {
        rowsRead: s?.rowsRead ?? 0,
        rowsWritten: s?.rowsWritten ?? 0,
        watermark: s?.watermark,
        verifiedDays: (s?.verifiedDays ?? []).sort(),
        unverifiedDays: (s?.unverifiedDays ?? []).sort(),
      };
    };
    const kinds: Partial<Record<ExportKind, KindExportReport>> = {};
    for (const kind of this.#kinds) kinds[kind] = report(kind);
    return { ...(kinds.trades ?? report("trades")), kinds, millis: performance.now() - t0 };
  }

  /** Verifies the closed days of one table below its watermark. */
  async #verifyKind(kind: ExportKind, state: KindState): Promise<void> {
    const watermarkDay = Math.floor(state.watermark! / DAY);
    for (const [dayStart, counts] of state.known) {
      if (dayStart / DAY >= watermarkDay) continue;
      const ok = await this.#verifyDay(kind, dayStart / DAY, [...counts.values()]);
      (ok ? state.verifiedDays : state.unverifiedDays).push(dayText(dayStart / DAY));
    }
    const done = new Set([...state.known.keys()].map((d) => d / DAY));
    for (const day of await this.#daysToVerify(kind, watermarkDay, done)) {
      const ok = await this.#verifyDay(kind, day);
      (ok ? state.verifiedDays : state.unverifiedDays).push(dayText(day));
    }
  }

  async #setWatermark(kind: ExportKind, micros: number): Promise<void> {
    await this.#sql`insert into export_watermarks (kind, watermark, updated_at)
      values (${kind}, ${new Date(micros / 1000)}, now())
      on conflict (kind) do update set watermark = greatest(export_watermarks.watermark,
        excluded.watermark), updated_at = excluded.updated_at`;
  }

  /** What to export: one task per instrument and UTC day with rows in `[start, end)`. */
  async #plan(kind: ExportKind, start: number, end: number): Promise<ExportTask[]> {
    const tasks: ExportTask[] = [];
    for (const day of await this.#daysWithRows(kind, start, end)) {
      const from = Math.max(start, day);
      const to = Math.min(end, day + DAY);
      for (const c of await this.#instruments(kind, from, to)) {
        tasks.push({ kind, exchange: c.exchange, symbol: c.symbol, day, start: from, end: to });
      }
    }
    return tasks;
  }

  /**
   * The instruments with rows in `[start, end)`, without counting rows: a skip scan of the
   * primary key `(exchange, symbol, ...)`, one index probe per instrument.
   */
  async #instruments(
    kind: ExportKind,
    start: number,
    end: number,
  ): Promise<{ exchange: string; symbol: string }[]> {
    return await this.#sql.unsafe<{ exchange: string; symbol: string }[]>(
      `${instrumentsQuery(kind, start, end)} select exchange, symbol from i`,
    );
  }

  /**
   * Starts of the UTC days in `[start, end)` that may hold rows: the daily partitions
   * (plain layout), or days found by probing `min(ts)` (TimescaleDB, which indexes `ts`,
   * and the event log, a plain table with an index on `ts`).
   */
  async #daysWithRows(kind: ExportKind, start: number, end: number): Promise<number[]> {
    const first = Math.floor(start / DAY) * DAY;
    const parts = PARTITIONED.has(kind)
      ? await this.#sql<{ day: Date }[]>`select day from buffer_partitions(${kind})`
        .catch(() => undefined)
      : undefined;
    if (parts) {
      return parts.map((p) => p.day.getTime() * 1000).filter((d) => d >= first && d < end);
    }
    const days: number[] = [];
    let from = start;
    while (from < end) {
      const [row] = await this.#sql.unsafe<{ t: number | null }[]>(
        `select (extract(epoch from min(ts)) * 1000000)::float8 as t from ${kind}
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

  /** The table's watermark, or the start of its first day when it has none yet. */
  async #watermark(kind: ExportKind): Promise<number | undefined> {
    const [row] = await this.#sql<{ w: number | null }[]>`
      select (extract(epoch from watermark) * 1000000)::float8 as w
      from export_watermarks where kind = ${kind}`;
    if (row?.w != null) return row.w;
    // The first time of each instrument, by index: `min(ts)` over the table would read
    // every row (the primary key leads with exchange and symbol).
    const [first] = await this.#sql.unsafe<{ w: number | null }[]>(
      `${instrumentsQuery(kind)}
       select (extract(epoch from min(f.ts)) * 1000000)::float8 as w from i cross join lateral (
         select t.ts from ${kind} t where t.exchange = i.exchange and t.symbol = i.symbol
         order by t.ts limit 1) f`,
    );
    return first?.w == null ? undefined : Math.floor(first.w / DAY) * DAY;
  }

  async #instrumentCounts(
    kind: ExportKind,
    start: number,
    end: number,
  ): Promise<InstrumentCount[]> {
    return await this.#sql.unsafe<InstrumentCount[]>(
      `select exchange, symbol, count(*)::float8 as rows from ${kind}
       where ts >= ${timestampLiteral(start)} and ts < ${timestampLiteral(end)}
       group by exchange, symbol order by exchange, symbol`,
    );
  }

  /** Reads the page of a task's rows after `after` (from the start without it). */
  async #readPage(task: ExportTask, after?: PageKey): Promise<Page> {
    const limit = this.#sliceRows[task.kind];
    const range = {
      exchange: task.exchange,
      symbol: task.symbol,
      start: task.start,
      end: task.end,
      limit,
    };
    if (task.kind === "trades") {
      const columns = await readTrades(this.#sql, {
        ...range,
        after: after as { ts: number; id: string } | undefined,
        expectedRows: limit,
        integerIds: true,
      });
      const n = columns.id.length;
      const next = n < limit ? undefined : { ts: columns.ts[n - 1], id: String(columns.id[n - 1]) };
      return { task, data: { kind: "trades", columns }, rows: n, next };
    }
    const rows = await readEventRows(this.#sql, task.kind, {
      ...range,
      after: after as { ts: number; recvTs: number; digest: number } | undefined,
    });
    const last = rows[rows.length - 1];
    const next = rows.length < limit
      ? undefined
      : { ts: last.ts, recvTs: last.recvTs, digest: last.digest };
    return { task, data: { kind: task.kind, rows }, rows: rows.length, next };
  }

  /**
   * Writes one page to the lake, and for trades its 1-minute bars to the buffer; `bars` is
   * the bar left open by the task's previous page, and the one this page leaves open is
   * returned (closed when the page ends its task).
   */
  async #write(
    page: Page,
    bars: OpenBar | undefined,
  ): Promise<{ read: number; written: number; bars: OpenBar | undefined }> {
    const { task, data } = page;
    if (data.kind !== "trades") {
      const n = data.rows.length;
      const written = n === 0 ? 0 : await this.#lake.writeEventRows(data.kind, data.rows);
      return { read: n, written, bars: undefined };
    }
    const columns = data.columns;
    const n = columns.id.length;
    // The bars go to PostgreSQL while the lake writes the file.
    const [written, open] = await Promise.all([
      n === 0 ? 0 : this.#lake.writeTradeColumns({
        ...columns,
        exchange: task.exchange,
        symbol: task.symbol,
      }),
      this.#bars ? this.#writeBars(task, columns, bars, page.next === undefined) : undefined,
    ]);
    return { read: n, written, bars: open };
  }

  /** Exports one instrument's rows of a table in `[start, end)` (within one UTC day). */
  async #exportInstrument(
    kind: ExportKind,
    c: InstrumentCount,
    start: number,
    end: number,
  ): Promise<{ read: number; written: number }> {
    const day = Math.floor(start / DAY) * DAY;
    const task: ExportTask = { kind, exchange: c.exchange, symbol: c.symbol, day, start, end };
    const total = { read: 0, written: 0 };
    let bars: OpenBar | undefined;
    let after: PageKey | undefined;
    do {
      const page = await this.#readPage(task, after);
      const n = await this.#write(page, bars);
      bars = n.bars;
      total.read += n.read;
      total.written += n.written;
      after = page.next;
    } while (after);
    return total;
  }

  /**
   * Upserts the 1-minute bars of trades sorted by time into `bars`, continuing `open` (the
   * previous page's last bar); unless `final`, the last bar stays open and is returned.
   */
  async #writeBars(
    c: { exchange: string; symbol: string },
    t: { price: Float64Array; size: Float64Array; ts: Float64Array; recvTs: Float64Array },
    open: OpenBar | undefined,
    final: boolean,
  ): Promise<OpenBar | undefined> {
    const bars: OpenBar[] = [];
    let bar = open;
    const n = t.ts.length;
    for (let i = 0; i < n; i++) {
      const ts = t.ts[i];
      const p = t.price[i];
      if (bar === undefined || ts >= bar.bucket + MINUTE) {
        if (bar) bars.push(bar);
        bar = {
          bucket: Math.floor(ts / MINUTE) * MINUTE,
          recv: -Infinity,
          open: p,
          high: p,
          low: p,
          close: p,
          volume: 0,
          notional: 0,
          count: 0,
        };
      }
      if (p > bar.high) bar.high = p;
      if (p < bar.low) bar.low = p;
      bar.close = p;
      bar.volume += t.size[i];
      bar.notional += p * t.size[i];
      bar.count++;
      if (t.recvTs[i] > bar.recv) bar.recv = t.recvTs[i];
    }
    if (bar && final) bars.push(bar);
    // One statement per 5,000 bars; bars of a re-exported range replace the old ones.
    for (let k = 0; k < bars.length; k += 5_000) {
      const values = bars.slice(k, k + 5_000).map((b) =>
        `(${sqlLiteral(c.exchange)}, ${sqlLiteral(c.symbol)}, ${MINUTE}, ${
          timestampLiteral(b.bucket)
        }, ${timestampLiteral(b.recv)}, ${b.open}, ${b.high}, ${b.low}, ${b.close}, ${b.volume}, ${
          b.volume > 0 ? b.notional / b.volume : "null"
        }, ${b.count})`
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
    return final ? undefined : bar;
  }

  /**
   * Closed days below `watermarkDay`, other than the `done` ones (verified by this run),
   * whose verification is missing or out of date: their rows in the buffer differ from the
   * verified count (late rows since the export).
   */
  async #daysToVerify(
    kind: ExportKind,
    watermarkDay: number,
    done: ReadonlySet<number>,
  ): Promise<number[]> {
    const recorded = new Map<number, { rows: number; verified: boolean }>();
    for (
      const r of await this.#sql<{ day: Date; buffer_rows: number; verified: boolean }[]>`
        select day, buffer_rows::float8 as buffer_rows, verified_at is not null as verified
        from export_days where kind = ${kind}`
    ) {
      recorded.set(Math.round(r.day.getTime() / 86_400_000), {
        rows: r.buffer_rows,
        verified: r.verified,
      });
    }
    const out: number[] = [];
    if (!PARTITIONED.has(kind)) {
      // The event log: rows per day in one pass (the verified days retention has emptied
      // have no rows left, so they are not listed).
      const days = await this.#sql.unsafe<{ day: Date; n: number }[]>(
        `select (ts at time zone 'UTC')::date as day, count(*)::float8 as n from ${kind}
         where ts < ${timestampLiteral(watermarkDay * DAY)} group by 1 order by 1`,
      );
      for (const d of days) {
        const day = Math.round(d.day.getTime() / 86_400_000);
        if (done.has(day)) continue;
        const rec = recorded.get(day);
        if (!(rec?.verified && rec.rows === d.n)) out.push(day);
      }
      return out;
    }
    const parts = await this.#sql<{ partition: string; day: Date }[]>`
      select partition, day from buffer_partitions(${kind})`.catch(() => []);
    for (const p of parts) {
      const day = Math.floor(p.day.getTime() / 86_400_000);
      if (day >= watermarkDay || done.has(day)) continue;
      const rec = recorded.get(day);
      if (rec?.verified) {
        const [{ n }] = await this.#sql.unsafe<{ n: number }[]>(
          `select count(*)::float8 as n from ${p.partition}`,
        );
        if (n === rec.rows) continue;
      }
      // Never exported and empty: recorded as a verified zero-row day, which lets retention
      // drop the empty partition.
      out.push(day);
    }
    return out;
  }

  /**
   * Compares buffer and lake counts per instrument for one table and day (buffer counts
   * taken now, or the ones this run exported); re-exports what is short.
   */
  async #verifyDay(
    kind: ExportKind,
    day: number,
    known?: readonly InstrumentCount[],
  ): Promise<boolean> {
    const start = day * DAY;
    const end = start + DAY;
    let bufferRows = 0;
    let lakeRows = 0;
    let ok = true;
    for (const c of known ?? await this.#instrumentCounts(kind, start, end)) {
      let inLake = await this.#lakeCount(kind, c.exchange, c.symbol, start, end);
      if (inLake < c.rows) {
        this.#log(
          `export: ${kind} ${c.exchange} ${c.symbol} ${dayText(day)}: lake has ${inLake} of ` +
            `${c.rows} rows; exporting the day again`,
        );
        await this.#exportInstrument(kind, c, start, end);
        inLake = await this.#lakeCount(kind, c.exchange, c.symbol, start, end);
      }
      if (inLake < c.rows) ok = false;
      bufferRows += c.rows;
      lakeRows += Math.min(inLake, c.rows);
    }
    await this.#sql`insert into export_days (kind, day, buffer_rows, lake_rows, verified_at)
      values (${kind}, ${dayText(day)}, ${bufferRows}, ${lakeRows},
        ${ok ? this.#sql`now()` : null})
      on conflict (kind, day) do update set buffer_rows = excluded.buffer_rows,
        lake_rows = excluded.lake_rows, verified_at = excluded.verified_at`;
    if (!ok) this.#log(`export: ${kind} ${dayText(day)} not verified: the lake is short of rows`);
    return ok;
  }

  async #lakeCount(
    kind: ExportKind,
    exchange: string,
    symbol: string,
    start: number,
    end: number,
  ): Promise<number> {
    const partitions = await listPartitions(this.#lake.root, kind, {
      exchange,
      symbol,
      start,
      end,
    });
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

  /** A progress bar over `tasks` instrument-days of every table (fraction by time covered). */
  #progressBar(
    tasks: number,
  ): (rows: number, tasksDone: number, kind?: ExportKind, finish?: boolean) => void {
    if (!this.#progress || tasks === 0) return () => {};
    const started = performance.now();
    let done = 0;
    let current = "";
    const encoder = new TextEncoder();
    return (rows, tasksDone, kind, finish = false) => {
      done += rows;
      if (kind) current = kind;
      const fraction = Math.min(1, tasksDone / tasks);
      const width = 30;
      const filled = Math.round(fraction * width);
      const rate = done / Math.max(0.001, (performance.now() - started) / 1000);
      const line = `\rexport [${"#".repeat(filled)}${".".repeat(width - filled)}] ` +
        `${(fraction * 100).toFixed(0).padStart(3)}% ${done} rows ` +
        `${Math.round(rate)} rows/s ${current.padEnd(14)}` + (finish ? "\n" : "");
      Deno.stderr.writeSync(encoder.encode(line));
    };
  }
}

/**
 * `with recursive i (exchange, symbol)`: the instruments of a table with rows in
 * `[start, end)` (any time without them), by a skip scan of the primary key `(exchange,
 * symbol, ts, ...)`: one index probe per instrument instead of reading every row.
 */
function instrumentsQuery(kind: ExportKind, start?: number, end?: number): string {
  const range = start === undefined || end === undefined
    ? "true"
    : `ts >= ${timestampLiteral(start)} and ts < ${timestampLiteral(end)}`;
  return `with recursive i as (
      (select exchange, symbol from ${kind} where ${range} order by exchange, symbol limit 1)
      union all
      select n.exchange, n.symbol from i cross join lateral (
        select t.exchange, t.symbol from ${kind} t
        where (t.exchange, t.symbol) > (i.exchange, i.symbol) and ${range}
        order by t.exchange, t.symbol limit 1) n
    )`;
}

/** The JSON line `deno task export` prints per run. */
function reportJson(r: ExportReport): Record<string, unknown> {
  const iso = (micros: number | undefined) =>
    micros === undefined ? null : new Date(micros / 1000).toISOString();
  const kinds: Record<string, unknown> = {};
  let rowsRead = 0;
  let rowsWritten = 0;
  const unverified = new Set<string>();
  for (const [kind, k] of Object.entries(r.kinds)) {
    rowsRead += k.rowsRead;
    rowsWritten += k.rowsWritten;
    for (const day of k.unverifiedDays) unverified.add(day);
    kinds[kind] = {
      rows_read: k.rowsRead,
      rows_written: k.rowsWritten,
      watermark: iso(k.watermark),
      verified_days: k.verifiedDays,
      unverified_days: k.unverifiedDays,
    };
  }
  return {
    rows_read: rowsRead,
    rows_written: rowsWritten,
    unverified_days: [...unverified].sort(),
    seconds: Number((r.millis / 1000).toFixed(3)),
    kinds,
  };
}

const USAGE =
  `usage: deno task export [--lake DIR] [--every 1h] [--lag 5m] [--retain 7d | --retain off] [--lock-wait 5m]

Moves closed ranges of every buffer table to the lake (DATABASE_URL), verifies them, then
drops the buffer's expired days that are verified (\`buffer_drop_expired\`), unless
--retain off. Prints one JSON line per run. Waits up to --lock-wait for another writer of the
lake to finish (one writer per lake), then exits 75.`;

/** `deno task export`: once, or every `--every`, until interrupted. */
async function main(args: readonly string[]): Promise<void> {
  const { values } = parseArgs(args, {
    lake: { type: "string" },
    every: { type: "string" },
    lag: { type: "string" },
    retain: { type: "string", default: "7d" },
    "lock-wait": { type: "string", default: "5m" },
    help: { type: "boolean", short: "h" },
  }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const url = databaseUrl();
  if (!url) {
    throw new SyntaxError(
      "DATABASE_URL is not set: collectors write the lake directly, nothing to export",
    );
  }
  const duration = (name: string) => {
    const text = values[name] as string | undefined;
    if (text === undefined) return undefined;
    try {
      return parseDuration(text);
    } catch (error) {
      throw new RangeError(`--${name}: ${(error as Error).message}`);
    }
  };
  const periodMicros = duration("every");
  const lag = duration("lag");
  const retain = values.retain === "off" ? undefined : duration("retain");
  const root = (values.lake as string | undefined) ?? defaultLakeRoot();
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const lake = await ParquetLake.open({
    root,
    lock: waitingLock("export", values["lock-wait"] as string),
  });
  const exporter = new Exporter({ sql, lake, lag });
  try {
    while (true) {
      const line = reportJson(await exporter.run());
      if (retain !== undefined) {
        // Drops only days that ended more than `retain` ago and that this or an earlier
        // run verified, still holding exactly the verified rows (see migrations.ts).
        const dropped = await sql<{ p: string }[]>`
          select buffer_drop_expired(${`${Math.round(retain / 1e6)} seconds`}::interval) as p`;
        line.retention_dropped = dropped.map((r) => r.p);
      }
      console.log(JSON.stringify(line));
      if (periodMicros === undefined) break;
      await new Promise((res) => setTimeout(res, periodMicros / 1000));
    }
  } finally {
    await exporter.close();
    await lake.close();
    await sql.end();
  }
}

if (import.meta.main) await runMain(() => main(Deno.args));
