/**
 * The exporter's questions to the buffer (`lib/buffer/exporter.ts`): watermarks, the days
 * and instruments with rows, row counts, the days whose verification is missing or out of
 * date; and its progress bar.
 * @module
 */
import type postgres from "postgres";
import { TABLES } from "../schema/tables.ts";
import { timestampLiteral } from "./_table_query.ts";
import type { ExportKind } from "./_table_pages.ts";

const DAY = 86_400_000_000;

/** Rows of one instrument. */
export interface InstrumentCount {
  exchange: string;
  symbol: string;
  rows: number;
}

/** The exporter's queries over one buffer connection. */
export class ExportQueries {
  readonly #sql: postgres.Sql;

  constructor(sql: postgres.Sql) {
    this.#sql = sql;
  }

  async setWatermark(kind: ExportKind, micros: number): Promise<void> {
    await this.#sql`insert into export_watermarks (kind, watermark, updated_at)
      values (${kind}, ${new Date(micros / 1000)}, now())
      on conflict (kind) do update set watermark = greatest(export_watermarks.watermark,
        excluded.watermark), updated_at = excluded.updated_at`;
  }
  /**
   * The instruments with rows in `[start, end)`, without counting rows: a skip scan of the
   * primary key `(exchange, symbol, ...)`, one index probe per instrument.
   */
  async instruments(
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
  async daysWithRows(kind: ExportKind, start: number, end: number): Promise<number[]> {
    const first = Math.floor(start / DAY) * DAY;
    const parts = TABLES[kind].bufferPartitioned
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
  /** The table's watermark, or the start of its first day when it has none yet. */
  async watermark(kind: ExportKind): Promise<number | undefined> {
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
  async instrumentCounts(
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
  /**
   * Closed days below `watermarkDay`, other than the `done` ones (verified by this run),
   * whose verification is missing or out of date: their rows in the buffer differ from the
   * verified count (late rows since the export).
   */
  async daysToVerify(
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
    if (!TABLES[kind].bufferPartitioned) {
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

/**
 * A progress bar on stderr over `tasks` instrument-days of every table (fraction by time
 * covered); draws nothing for 0 tasks.
 */
export function progressBar(
  tasks: number,
): (rows: number, tasksDone: number, kind?: ExportKind, finish?: boolean) => void {
  if (tasks === 0) return () => {};
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
