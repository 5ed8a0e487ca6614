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
 *   the buffer's `bars` table (the plain layout's replacement for a continuous aggregate)
 *   and to the lake's `bars` table.
 * - **Action logs**: copied run by run (`action_export.ts`).
 *
 * Run it once with `deno task export`, or on a schedule with `deno task export --every 1h`
 * (the program is `scripts/export.ts`).
 * @module
 */
import type postgres from "postgres";
import { nowMicros } from "../market/time.ts";
import type { BarKernel } from "../market/bars.ts";
import { ExportQueries, type InstrumentCount, progressBar } from "./_export_queries.ts";
import type { ParquetLake } from "../lake/mod.ts";
import { TABLES } from "../schema/tables.ts";
import type { BufferTradeColumnsWithIntegerIds } from "./trade_reader.ts";
import type { KeyValues } from "./_table_query.ts";
import { EXPORT_KINDS, type ExportKind, TABLE_PAGES } from "./_table_pages.ts";
import { type ActionExportReport, exportActions } from "./action_export.ts";
import { type TradeTimes, writeExportBars } from "./_export_bars.ts";

const HOUR = 3_600_000_000;
const DAY = 24 * HOUR;
const MINUTE = 60_000_000;

export { EXPORT_KINDS, type ExportKind };

/** Default rows per read slice, per table (see `sliceRows` in `lib/schema/tables.ts`). */
const DEFAULT_SLICE_ROWS = Object.fromEntries(
  EXPORT_KINDS.map((kind) => [kind, TABLES[kind].sliceRows]),
) as Readonly<Record<ExportKind, number>>;

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
  /** Also copy the action logs of runs to the lake (`action_export.ts`; default true). */
  readonly actions?: boolean;
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
  /** The action logs copied (absent when `actions` is false). */
  readonly actions?: ActionExportReport;
  /** Wall time of the run, milliseconds. */
  readonly millis: number;
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

/** One page (at most `sliceRows` rows) of a task. */
interface Page {
  readonly task: ExportTask;
  /** The rows as {@linkcode TABLE_PAGES} of the task's table reads them. */
  readonly data: unknown;
  readonly rows: number;
  /** Where the next page starts; `undefined` when this page ends the task. */
  readonly next: KeyValues | undefined;
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

/** Counts `rows` read of a task whose whole day this run exports (verified without recount). */
function countKnown(state: KindState, task: ExportTask, rows: number): void {
  const counts = state.known.get(task.day) ?? new Map<string, InstrumentCount>();
  const key = `${task.exchange}\u0000${task.symbol}`;
  const c = counts.get(key) ?? { exchange: task.exchange, symbol: task.symbol, rows: 0 };
  c.rows += rows;
  counts.set(key, c);
  state.known.set(task.day, counts);
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
  readonly #actions: boolean;
  readonly #log: (message: string) => void;
  readonly #now: () => number;
  readonly #sliceRows: Readonly<Record<ExportKind, number>>;
  readonly #queries: ExportQueries;

  constructor(options: ExporterOptions) {
    if (!options?.sql || !options.lake) throw new TypeError("Exporter needs sql and lake");
    this.#sql = options.sql;
    this.#queries = new ExportQueries(options.sql);
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
    this.#actions = options.actions ?? true;
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
    const { states, plan } = await this.#planAll(closedEnd);
    await this.#copyPlan(plan, states, closedEnd);
    for (const [kind, state] of states) {
      if (state.watermark === undefined) continue;
      if (state.watermark < closedEnd) {
        await this.#queries.setWatermark(kind, closedEnd);
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
    const actions = this.#actions
      ? { actions: await exportActions({ sql: this.#sql, lake: this.#lake }) }
      : {};
    return {
      ...(kinds.trades ?? report("trades")),
      kinds,
      ...actions,
      millis: performance.now() - t0,
    };
  }

  /** Each table's state from its watermark, and the tasks of the ranges closed since. */
  async #planAll(
    closedEnd: number,
  ): Promise<{ states: Map<ExportKind, KindState>; plan: ExportTask[] }> {
    const states = new Map<ExportKind, KindState>();
    const plan: ExportTask[] = [];
    for (const kind of this.#kinds) {
      const initial = await this.#queries.watermark(kind);
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
    return { states, plan };
  }

  /**
   * Copies the plan's pages to the lake, moving each table's watermark past a day once its
   * last page is written.
   */
  async #copyPlan(
    plan: readonly ExportTask[],
    states: Map<ExportKind, KindState>,
    closedEnd: number,
  ): Promise<void> {
    const progress = progressBar(this.#progress ? plan.length : 0);
    // Pages are read by key (no counting beforehand), and reading the next page overlaps
    // with writing the current one (PostgreSQL, this thread's decoding and the lake's
    // writer threads work at the same time).
    let i = 0;
    let pending = plan.length ? this.#readPage(plan[0]) : undefined;
    let bars: BarKernel | undefined;
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
        const within = page.next
          ? (Number(page.next.ts) - task.start) / (task.end - task.start)
          : 0;
        progress(n.read, i + within, task.kind);
        if (state.initial !== undefined && task.day >= state.initial) {
          if (task.day + DAY <= closedEnd) countKnown(state, task, n.read);
        }
        const following = plan[i];
        if (!page.next && (following?.kind !== task.kind || following.day !== task.day)) {
          await this.#queries.setWatermark(
            task.kind,
            task.end === task.day + DAY ? task.end : closedEnd,
          );
        }
      }
    } finally {
      pending?.catch(() => {});
    }
    progress(0, plan.length, undefined, true);
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
    for (const day of await this.#queries.daysToVerify(kind, watermarkDay, done)) {
      const ok = await this.#verifyDay(kind, day);
      (ok ? state.verifiedDays : state.unverifiedDays).push(dayText(day));
    }
  }

  /** What to export: one task per instrument and UTC day with rows in `[start, end)`. */
  async #plan(kind: ExportKind, start: number, end: number): Promise<ExportTask[]> {
    const tasks: ExportTask[] = [];
    for (const day of await this.#queries.daysWithRows(kind, start, end)) {
      const from = Math.max(start, day);
      const to = Math.min(end, day + DAY);
      for (const c of await this.#queries.instruments(kind, from, to)) {
        tasks.push({ kind, exchange: c.exchange, symbol: c.symbol, day, start: from, end: to });
      }
    }
    return tasks;
  }

  /** Releases the exporter's DuckDB connection (used for lake counts). */
  async close(): Promise<void> {
    // Lake counts belong to the lake's catalog, closed with the lake: nothing to release.
  }

  /** Reads the page of a task's rows after `after` (from the start without it). */
  async #readPage(task: ExportTask, after?: KeyValues): Promise<Page> {
    const limit = this.#sliceRows[task.kind];
    const pages = TABLE_PAGES[task.kind];
    const data = await pages.read(this.#sql, {
      exchange: task.exchange,
      symbol: task.symbol,
      start: task.start,
      end: task.end,
      after,
      limit,
    });
    const n = pages.size(data);
    return { task, data, rows: n, next: n < limit ? undefined : pages.lastKey(data) };
  }

  /**
   * Writes one page to the lake, and for trades its 1-minute bars to the buffer; `bars` is
   * the bar left open by the task's previous page, and the one this page leaves open is
   * returned (closed when the page ends its task).
   */
  async #write(
    page: Page,
    bars: BarKernel | undefined,
  ): Promise<{ read: number; written: number; bars: BarKernel | undefined }> {
    const { task, data, rows: n } = page;
    const write = n === 0 ? 0 : TABLE_PAGES[task.kind].write(this.#lake, {
      exchange: task.exchange,
      symbol: task.symbol,
    }, data);
    if (task.kind !== "trades" || !this.#bars) {
      return { read: n, written: await write, bars: undefined };
    }
    // The bars go to PostgreSQL while the lake writes the file.
    const columns = data as BufferTradeColumnsWithIntegerIds;
    const [written, open] = await Promise.all([
      write,
      this.#writeBars(task, columns, bars, page.next === undefined),
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
    let bars: BarKernel | undefined;
    let after: KeyValues | undefined;
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

  /** See {@linkcode writeExportBars}; nothing when the exporter writes no bars. */
  #writeBars(
    c: { exchange: string; symbol: string },
    t: TradeTimes,
    open: BarKernel | undefined,
    final: boolean,
  ): Promise<BarKernel | undefined> {
    return writeExportBars({ sql: this.#sql, lake: this.#lake }, c, t, open, final);
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
    for (const c of known ?? await this.#queries.instrumentCounts(kind, start, end)) {
      let inLake = await this.#lake.catalog.countRows(kind, {
        exchange: c.exchange,
        symbol: c.symbol,
        start,
        end,
      });
      if (inLake < c.rows) {
        this.#log(
          `export: ${kind} ${c.exchange} ${c.symbol} ${dayText(day)}: lake has ${inLake} of ` +
            `${c.rows} rows; exporting the day again`,
        );
        await this.#exportInstrument(kind, c, start, end);
        inLake = await this.#lake.catalog.countRows(kind, {
          exchange: c.exchange,
          symbol: c.symbol,
          start,
          end,
        });
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
}
