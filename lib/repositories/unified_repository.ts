/**
 * `UnifiedRepository`: history from the Parquet lake, the last days from the PostgreSQL
 * buffer, each trade, quote and book snapshot exactly once.
 *
 * The seam is the start of the oldest bar-aligned time the buffer still holds for the
 * instrument in the table read (retention drops older days once they are exported and
 * verified). Before the seam only the lake has rows; from the seam on, rows can be in both
 * (exported but not yet dropped) or only in the buffer (not yet exported), so both are read
 * and merged by key, a row present in both taken once: trades by `(ts, id)`, quotes and
 * book snapshots by `(ts, recv_ts, digest)`.
 * @module
 */
import type { Bar, BookSnapshot, Quote, Trade } from "../market/types.ts";
import { computeBars } from "../market/bars.ts";
import { type BufferTradeColumns, readTrades } from "../buffer/trade_reader.ts";
import type { LakeRepository } from "./lake_repository.ts";
import type { RunName } from "../schema/action_rows.ts";
import { PostgresRepository } from "./postgres_repository.ts";
import {
  type BarColumns,
  barColumnsResult,
  microsOf,
  type TradeColumns,
  tradeColumnsResult,
} from "./_result.ts";
import { checkBarQuery, checkBookSnapshotQuery, checkRangeQuery } from "./_query.ts";
import { bookSnapshotFrameResult, EVENT_ORDER, quoteFrameResult } from "./_event_result.ts";
import { activityBarColumns, checkActivityBarQuery } from "./_activity_bars.ts";
import { checkInstrumentsOptions, compareInstruments, instrumentSummary } from "./_instruments.ts";
import type {
  ActivityBarQuery,
  BarQuery,
  BookSnapshotQuery,
  InstrumentsOptions,
  InstrumentSummary,
  InstrumentTable,
  InstrumentTableSummary,
  MarketDataRepository,
  QueryResult,
  RangeQuery,
} from "./repository.ts";
import type postgres from "postgres";
import pl from "nodejs-polars";

/** Options of {@linkcode UnifiedRepository}. */
export interface UnifiedRepositoryOptions {
  /** The lake (history). */
  readonly lake: LakeRepository;
  /** An npm:postgres client of the buffer (recent days; not closed by the repository). */
  readonly sql: postgres.Sql;
}

type Columns = TradeColumns & { id: readonly string[]; side: readonly string[] };

function concatColumns(exchange: string, symbol: string, parts: Columns[]): Columns {
  const n = parts.reduce((s, p) => s + p.id.length, 0);
  const f = () => new Float64Array(n);
  const out = {
    exchange,
    symbol,
    id: [] as string[],
    price: f(),
    size: f(),
    side: [] as string[],
    ts: f(),
    recvTs: f(),
  };
  let o = 0;
  for (const p of parts) {
    out.id.push(...p.id);
    out.side.push(...p.side);
    out.price.set(p.price, o);
    out.size.set(p.size, o);
    out.ts.set(p.ts, o);
    out.recvTs.set(p.recvTs, o);
    o += p.id.length;
  }
  return out;
}

/** Merges two `(ts, id)`-sorted column sets, keeping one row per `(ts, id)`. */
function mergeUnique(exchange: string, symbol: string, a: Columns, b: Columns): Columns {
  const n = a.id.length + b.id.length;
  const out = {
    exchange,
    symbol,
    id: [] as string[],
    price: new Float64Array(n),
    size: new Float64Array(n),
    side: [] as string[],
    ts: new Float64Array(n),
    recvTs: new Float64Array(n),
  };
  let i = 0, j = 0, k = 0;
  const take = (c: Columns, x: number) => {
    out.id.push(c.id[x]);
    out.side.push(c.side[x]);
    out.price[k] = c.price[x];
    out.size[k] = c.size[x];
    out.ts[k] = c.ts[x];
    out.recvTs[k] = c.recvTs[x];
    k++;
  };
  while (i < a.id.length || j < b.id.length) {
    if (j >= b.id.length) take(a, i++);
    else if (i >= a.id.length) take(b, j++);
    else {
      const order = a.ts[i] - b.ts[j] || (a.id[i] < b.id[j] ? -1 : a.id[i] > b.id[j] ? 1 : 0);
      if (order < 0) take(a, i++);
      else if (order > 0) take(b, j++);
      else {
        take(a, i++); // the same trade in both stores: once
        j++;
      }
    }
  }
  return {
    ...out,
    price: out.price.subarray(0, k),
    size: out.size.subarray(0, k),
    ts: out.ts.subarray(0, k),
    recvTs: out.recvTs.subarray(0, k),
  };
}

/** Time bars from `(ts, id)`-sorted trades (the bar kernel, `lib/market/bars.ts`). */
function barsFromTrades(c: Columns, interval: number): BarColumns {
  return { exchange: c.exchange, symbol: c.symbol, ...computeBars({ by: "time", interval }, c) };
}

/**
 * Lake history plus buffer recency behind one {@linkcode MarketDataRepository}.
 *
 * @example
 * ```ts ignore
 * import postgres from "postgres";
 * import { LakeRepository, UnifiedRepository } from "./mod.ts";
 * const repo = new UnifiedRepository({
 *   lake: new LakeRepository({ root: "data/lake" }),
 *   sql: postgres(Deno.env.get("DATABASE_URL")!),
 * });
 * const btc = { exchange: "coinbase", symbol: "BTC-USD" };
 * const bars = await repo.bars({ ...btc, interval: 60e6 }).polars();
 * const quotes = await repo.quotes(btc).polars(); // lake days, then buffer days, once each
 * const books = await repo.bookSnapshots({ ...btc, depth: 10 }).rows();
 * ```
 */
export class UnifiedRepository implements MarketDataRepository {
  readonly #lake: LakeRepository;
  readonly #buffer: PostgresRepository;
  readonly #sql: postgres.Sql;

  constructor(options: UnifiedRepositoryOptions) {
    if (!options?.lake || !options.sql) throw new TypeError("UnifiedRepository needs lake and sql");
    this.#lake = options.lake;
    this.#sql = options.sql;
    this.#buffer = new PostgresRepository({ sql: options.sql });
  }

  /**
   * Instruments with rows in `options.table` (default `trades`) in either store, counted
   * without double counting at the seam. An instrument in one store takes that store's
   * summary. One in both counts `lake + buffer - shared`, where `shared` is the buffer rows
   * whose key (trades `(ts, id)`, events `(ts, recv_ts, digest)`) the lake also holds from
   * the seam on (the buffer's first time; rows before it are only in the lake). So only the
   * lake's days from the seam on and the buffer's rows are read, never the lake's history.
   */
  instruments(options?: { readonly table?: "trades" }): Promise<InstrumentSummary[]>;
  instruments(options: InstrumentsOptions): Promise<InstrumentTableSummary[]>;
  async instruments(options?: InstrumentsOptions): Promise<InstrumentTableSummary[]> {
    const table = checkInstrumentsOptions(options);
    const [lake, buffer] = await Promise.all([
      this.#lake.instruments({ table }),
      this.#buffer.instruments({ table }),
    ]);
    const inBuffer = new Map(buffer.map((s) => [`${s.exchange}\u0000${s.symbol}`, s]));
    const out: InstrumentTableSummary[] = [];
    for (const l of lake) {
      const k = `${l.exchange}\u0000${l.symbol}`;
      const b = inBuffer.get(k);
      if (b === undefined) {
        out.push(l);
        continue;
      }
      inBuffer.delete(k);
      const shared = await this.#sharedRows(table, l, b.first);
      out.push(instrumentSummary(table, {
        exchange: l.exchange,
        symbol: l.symbol,
        rows: l.rows + b.rows - shared,
        first: Math.min(l.first, b.first),
        last: Math.max(l.last, b.last),
      }));
    }
    out.push(...inBuffer.values());
    return out.sort(compareInstruments);
  }

  /** Trades in `[start, end)`, ordered by `(ts, id)`, each exactly once. */
  trades(query: RangeQuery): QueryResult<Trade> {
    const q = checkRangeQuery(query);
    return tradeColumnsResult(() => this.#tradeColumns(q));
  }

  /** Bars: the lake's before the seam, computed from the merged trades after it. */
  bars(query: BarQuery): QueryResult<Bar> {
    const q = checkBarQuery(query);
    return barColumnsResult(async () => {
      const seam = await this.#seam("trades", q, q.interval);
      if (seam === undefined) return await this.#lakeBars(q);
      const before = q.start === undefined || q.start < seam
        ? await this.#lakeBars({ ...q, end: Math.min(seam, q.end ?? Infinity) })
        : undefined;
      const after = q.end === undefined || q.end > seam
        ? barsFromTrades(
          await this.#tradeColumns({ ...q, start: Math.max(seam, q.start ?? -Infinity) }),
          q.interval,
        )
        : undefined;
      return concatBars(q, before, after);
    });
  }

  /**
   * Tick, volume or dollar bars (see `MarketDataRepository.activityBars`) over the merged
   * trades of both stores (a bar can span the seam, so they are never computed per store).
   */
  activityBars(query: ActivityBarQuery): QueryResult<Bar> {
    const q = checkActivityBarQuery(query);
    return barColumnsResult(async () => activityBarColumns(q, await this.#tradeColumns(q)));
  }

  /** Quotes in `[start, end)`, ordered by `(ts, recvTs, digest)`, each exactly once. */
  quotes(query: RangeQuery): QueryResult<Quote> {
    const q = checkRangeQuery(query);
    return quoteFrameResult(() =>
      this.#acrossSeam("quotes", q, {
        lake: (range) => this.#lake.quotes(range).polars(),
        buffer: (range) => this.#buffer.quotes(range).polars(),
        merge: mergeEventFrames,
        concat: concatFrames,
      })
    );
  }

  /**
   * Book snapshots in `[start, end)`, ordered by `(ts, recvTs, digest)`, each exactly once,
   * cut to `depth`.
   */
  bookSnapshots(query: BookSnapshotQuery): QueryResult<BookSnapshot> {
    const q = checkBookSnapshotQuery(query);
    return bookSnapshotFrameResult(() =>
      this.#acrossSeam("book_snapshots", q, {
        lake: (range) => this.#lake.bookSnapshots(range).polars(),
        buffer: (range) => this.#buffer.bookSnapshots(range).polars(),
        merge: mergeEventFrames,
        concat: concatFrames,
      })
    );
  }

  /**
   * The action log of one run: the lake's copy, or the buffer's when it holds more entries
   * (a run not yet exported completely). Both are the same lines, byte for byte, as far as
   * the shorter goes (a log is append-only).
   */
  async actionLog(name: RunName): Promise<string[]> {
    const [lake, buffer] = await Promise.all([
      this.#lake.actionLog(name),
      this.#buffer.actionLog(name),
    ]);
    return buffer.length > lake.length ? buffer : lake;
  }

  /** Does not close the lake repository or the client it was given. */
  async close(): Promise<void> {
    await this.#buffer.close();
  }

  /**
   * How many of the instrument's buffer rows in `table` the lake also holds: their keys
   * compared from `seam` (the buffer's first time) on. Lake keys are made unique first, so
   * a buffer row counts once however often the lake holds it (like the merges of reads).
   */
  async #sharedRows(table: InstrumentTable, inst: RangeQuery, seam: number): Promise<number> {
    const from: RangeQuery = { exchange: inst.exchange, symbol: inst.symbol, start: seam };
    const read = (repo: MarketDataRepository) =>
      table === "trades"
        ? repo.trades(from).polars()
        : table === "quotes"
        ? repo.quotes(from).polars()
        : repo.bookSnapshots({ ...from, depth: 1 }).polars();
    const [lake, buffer] = await Promise.all([read(this.#lake), read(this.#buffer)]);
    if (lake.height === 0 || buffer.height === 0) return 0;
    const keys = table === "trades"
      ? [pl.col("ts").cast(pl.Int64), pl.col("id").cast(pl.Utf8)]
      : [pl.col("ts").cast(pl.Int64), pl.col("recv_ts").cast(pl.Int64), pl.col("digest")];
    const names = table === "trades" ? ["ts", "id"] : [...EVENT_ORDER];
    const lakeKeys = lake.select(...keys).unique();
    return buffer.select(...keys).join(lakeKeys, { on: names, how: "inner" }).height;
  }

  async #lakeBars(q: BarQuery): Promise<BarColumns> {
    const frame = await this.#lake.bars(q).polars();
    const f64 = (name: string) =>
      frame.getColumn(name).cast(pl.Float64).toTypedArray() as Float64Array;
    return {
      exchange: q.exchange,
      symbol: q.symbol,
      interval: q.interval,
      ts: microsOf(frame, "ts"),
      open: f64("open"),
      high: f64("high"),
      low: f64("low"),
      close: f64("close"),
      volume: f64("volume"),
      vwap: f64("vwap"),
      trades: f64("trades"),
      recvTs: microsOf(frame, "recv_ts"),
    };
  }

  /** The buffer's oldest time for the instrument in `table`, floored to `align`. */
  async #seam(table: SeamTable, q: RangeQuery, align: number): Promise<number | undefined> {
    const [row] = await this.#sql<{ first: number | null }[]>`
      select (extract(epoch from min(ts)) * 1000000)::float8 as first from ${this.#sql(table)}
      where exchange = ${q.exchange} and symbol = ${q.symbol}`;
    if (row?.first == null) return undefined;
    return Math.floor(row.first / align) * align;
  }

  /**
   * Reads `q` from both stores around the seam of `table`: the lake alone before it, both
   * merged from it on (`merge` keeps one row per key), the parts concatenated in order.
   */
  async #acrossSeam<T, Q extends RangeQuery>(
    table: SeamTable,
    q: Q,
    read: {
      readonly lake: (range: Q) => Promise<T>;
      readonly buffer: (range: Q) => Promise<T>;
      readonly merge: (lake: T, buffer: T) => T;
      readonly concat: (parts: T[]) => T;
    },
  ): Promise<T> {
    const seam = await this.#seam(table, q, 1);
    if (seam === undefined) return await read.lake(q);
    const parts: T[] = [];
    if (q.start === undefined || q.start < seam) {
      parts.push(await read.lake({ ...q, end: Math.min(seam, q.end ?? Infinity) }));
    }
    if (q.end === undefined || q.end > seam) {
      const from = { ...q, start: Math.max(seam, q.start ?? -Infinity) };
      const [lake, buffer] = await Promise.all([read.lake(from), read.buffer(from)]);
      parts.push(read.merge(lake, buffer));
    }
    if (parts.length === 0) return await read.lake(q); // an empty range
    return parts.length === 1 ? parts[0] : read.concat(parts);
  }

  #tradeColumns(q: RangeQuery): Promise<Columns> {
    const lakeColumns = async (range: RangeQuery): Promise<Columns> => {
      const frame = await this.#lake.trades(range).polars();
      return {
        exchange: q.exchange,
        symbol: q.symbol,
        id: frame.getColumn("id").toArray() as string[],
        price: frame.getColumn("price").toTypedArray() as Float64Array,
        size: frame.getColumn("size").toTypedArray() as Float64Array,
        side: frame.getColumn("side").toArray() as string[],
        ts: microsOf(frame, "ts"),
        recvTs: microsOf(frame, "recv_ts"),
      };
    };
    return this.#acrossSeam("trades", q, {
      lake: lakeColumns,
      buffer: (range) => readTrades(this.#sql, range) as Promise<BufferTradeColumns>,
      merge: (lake, buffer) => mergeUnique(q.exchange, q.symbol, lake, buffer),
      concat: (parts) => concatColumns(q.exchange, q.symbol, parts),
    });
  }
}

/** Buffer tables read across the seam: the ones `instruments` lists. */
type SeamTable = InstrumentTable;

/**
 * Merges two event frames of the same columns, each ordered by `(ts, recv_ts, digest)`,
 * keeping one row per key (the lake's, which comes first).
 */
function mergeEventFrames(lake: pl.DataFrame, buffer: pl.DataFrame): pl.DataFrame {
  if (buffer.height === 0) return lake;
  if (lake.height === 0) return buffer;
  return pl.concat([lake, buffer], { how: "vertical" })
    .unique({ subset: [...EVENT_ORDER], keep: "first", maintainOrder: true })
    .sort([...EVENT_ORDER]);
}

function concatFrames(parts: pl.DataFrame[]): pl.DataFrame {
  return pl.concat(parts, { how: "vertical" });
}

function concatBars(q: BarQuery, a: BarColumns | undefined, b: BarColumns | undefined): BarColumns {
  const parts = [a, b].filter((x): x is BarColumns => x !== undefined);
  const cat = (key: keyof BarColumns) => {
    const n = parts.reduce((s, p) => s + (p[key] as Float64Array).length, 0);
    const out = new Float64Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p[key] as Float64Array, o);
      o += (p[key] as Float64Array).length;
    }
    return out;
  };
  return {
    exchange: q.exchange,
    symbol: q.symbol,
    interval: q.interval,
    ts: cat("ts"),
    open: cat("open"),
    high: cat("high"),
    low: cat("low"),
    close: cat("close"),
    volume: cat("volume"),
    vwap: cat("vwap"),
    trades: cat("trades"),
    recvTs: cat("recvTs"),
  };
}
