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
import type { LakeRepository } from "./lake_repository.ts";
import type { RunName } from "../schema/action_rows.ts";
import { PostgresRepository } from "./postgres_repository.ts";
import {
  type BarColumns,
  barColumnsResult,
  microsOf,
  polarsQueryResult,
  TRADE_DICTIONARY_COLUMNS,
  type TradeColumns,
  tradeRowsFromFrame,
} from "./_result.ts";
import { checkBarQuery, checkBookSnapshotQuery, checkRangeQuery } from "./_query.ts";
import { bookSnapshotFrameResult, quoteFrameResult } from "./_event_result.ts";
import { mergeFrames, sharedKeys } from "./_merge.ts";
import { checkPage, type Page, pageFrame, withPaging } from "./_page.ts";
import { TABLES } from "../schema/tables.ts";
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
  ListQuery,
  MarketDataRepository,
  PagedResult,
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

/** Time bars from `(ts, id)`-sorted trades (the bar kernel, `lib/market/bars.ts`). */
function barsFromTrades(c: TradeColumns, interval: number): BarColumns {
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

  /**
   * Trades in `[start, end)`, ordered by `(ts, id)`, each exactly once, paged: each store
   * reads at most `limit` rows of its side of the seam, and the merge keeps the page's.
   */
  trades(query: ListQuery): PagedResult<Trade> {
    const q = checkRangeQuery(query);
    const page = checkPage("trades", q);
    const base = polarsQueryResult({
      frame: () =>
        this.#pagedAcrossSeam("trades", q, page, (repo, range) => repo.trades(range).polars()),
      toRows: tradeRowsFromFrame,
      dictionary: TRADE_DICTIONARY_COLUMNS,
    });
    return withPaging(base, {
      page,
      reopen: (cursor) => this.trades({ ...query, cursor }),
    });
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

  /**
   * Quotes in `[start, end)`, ordered by `(ts, recvTs, digest)`, each exactly once, paged
   * like `trades`.
   */
  quotes(query: ListQuery): PagedResult<Quote> {
    const q = checkRangeQuery(query);
    const page = checkPage("quotes", q);
    const base = quoteFrameResult(() =>
      this.#pagedAcrossSeam("quotes", q, page, (repo, range) => repo.quotes(range).polars())
    );
    return withPaging(base, {
      page,
      reopen: (cursor) => this.quotes({ ...query, cursor }),
    });
  }

  /**
   * Book snapshots in `[start, end)`, ordered by `(ts, recvTs, digest)`, each exactly once,
   * cut to `depth`, paged like `trades`.
   */
  bookSnapshots(query: BookSnapshotQuery): PagedResult<BookSnapshot> {
    const q = checkBookSnapshotQuery(query);
    const page = checkPage("book_snapshots", q);
    const base = bookSnapshotFrameResult(() =>
      this.#pagedAcrossSeam(
        "book_snapshots",
        q,
        page,
        (repo, range) => repo.bookSnapshots(range).polars(),
      )
    );
    return withPaging(base, {
      page,
      reopen: (cursor) => this.bookSnapshots({ ...query, cursor }),
    });
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
    return sharedKeys(TABLES[table], lake, buffer);
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
   * merged from it on (one row per key of the table's spec), the parts concatenated in order.
   */
  async #acrossSeam<Q extends RangeQuery>(
    table: SeamTable,
    q: Q,
    read: (repo: MarketDataRepository, range: Q) => Promise<pl.DataFrame>,
  ): Promise<pl.DataFrame> {
    const seam = await this.#seam(table, q, 1);
    if (seam === undefined) return await read(this.#lake, q);
    const parts: pl.DataFrame[] = [];
    if (q.start === undefined || q.start < seam) {
      parts.push(await read(this.#lake, { ...q, end: Math.min(seam, q.end ?? Infinity) }));
    }
    if (q.end === undefined || q.end > seam) {
      const from = { ...q, start: Math.max(seam, q.start ?? -Infinity) };
      const [lake, buffer] = await Promise.all([read(this.#lake, from), read(this.#buffer, from)]);
      parts.push(mergeFrames(TABLES[table], lake, buffer));
    }
    if (parts.length === 0) return await read(this.#lake, q); // an empty range
    return parts.length === 1 ? parts[0] : pl.concat(parts, { how: "vertical" });
  }

  /**
   * One page of `q` across the seam of `table`. Each part (the lake before the seam; the
   * lake and the buffer merged from it on) is read with the page's limit, order and cursor,
   * starting at the page's end of the range, and a part that fills the page ends the read.
   */
  async #pagedAcrossSeam<Q extends ListQuery>(
    table: SeamTable,
    q: Q,
    page: Page,
    read: (repo: MarketDataRepository, range: Q) => Promise<pl.DataFrame>,
  ): Promise<pl.DataFrame> {
    const spec = TABLES[table];
    const seam = await this.#seam(table, q, 1);
    if (seam === undefined) return await read(this.#lake, q);
    // Each part in ascending key order (desc reads come newest first).
    const ascending = (f: pl.DataFrame) => page.order === "desc" ? f.reverse() : f;
    const before = async () =>
      q.start === undefined || q.start < seam
        ? ascending(await read(this.#lake, { ...q, end: Math.min(seam, q.end ?? Infinity) }))
        : undefined;
    const after = async () => {
      if (q.end !== undefined && q.end <= seam) return undefined;
      const from = { ...q, start: Math.max(seam, q.start ?? -Infinity) };
      const [lake, buffer] = await Promise.all([read(this.#lake, from), read(this.#buffer, from)]);
      return mergeFrames(spec, ascending(lake), ascending(buffer));
    };
    const [first, second] = page.order === "asc" ? [before, after] : [after, before];
    const parts: pl.DataFrame[] = [];
    const one = await first();
    if (one !== undefined) parts.push(one);
    if (page.limit === undefined || (one?.height ?? 0) < page.limit) {
      const two = await second();
      if (two !== undefined) parts.push(two);
    }
    if (page.order === "desc") parts.reverse();
    if (parts.length === 0) return await read(this.#lake, q); // an empty range
    const all = parts.length === 1 ? parts[0] : pl.concat(parts, { how: "vertical" });
    return pageFrame(spec, all, { ...page, after: undefined });
  }

  /** The merged trades of `q` as columns (for the bars computed from them). */
  async #tradeColumns(q: RangeQuery): Promise<TradeColumns> {
    const frame = await this.#acrossSeam("trades", q, (repo, range) => repo.trades(range).polars());
    return {
      exchange: q.exchange,
      symbol: q.symbol,
      id: frame.getColumn("id").toArray() as string[],
      price: frame.getColumn("price").cast(pl.Float64).toTypedArray() as Float64Array,
      size: frame.getColumn("size").cast(pl.Float64).toTypedArray() as Float64Array,
      side: frame.getColumn("side").toArray() as string[],
      ts: microsOf(frame, "ts"),
      recvTs: microsOf(frame, "recv_ts"),
      backfilled: frame.getColumn("backfilled").cast(pl.UInt8).toTypedArray() as Uint8Array,
    };
  }
}

/** Buffer tables read across the seam: the ones `instruments` lists. */
type SeamTable = InstrumentTable;

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
