/**
 * `PostgresRepository`: the {@linkcode MarketDataRepository} over the PostgreSQL hot buffer
 * (recent days). Trades, quotes and book snapshots stream out as binary COPY straight into
 * column arrays; bars are computed by PostgreSQL.
 * @module
 */
import postgres from "postgres";
import type { Bar, BookSnapshot, Quote, Trade } from "../market/types.ts";
import { readTrades } from "../buffer/trade_reader.ts";
import { sqlLiteral, timestampLiteral } from "../buffer/_table_query.ts";
import { readBufferActions } from "../buffer/action_reader.ts";
import { actionLines, type RunName } from "../schema/action_rows.ts";
import { type BarColumns, barColumnsResult, tradeColumnsResult } from "./_result.ts";
import { checkPage, withPaging } from "./_page.ts";
import { checkBarQuery, checkBookSnapshotQuery, checkRangeQuery } from "./_query.ts";
import { bookSnapshotColumnsResult, quoteColumnsResult } from "./_event_result.ts";
import { readBookSnapshots, readQuotes } from "./_copy_binary.ts";
import { activityBarColumns, checkActivityBarQuery } from "./_activity_bars.ts";
import { checkInstrumentsOptions, instrumentSummary } from "./_instruments.ts";
import type {
  ActivityBarQuery,
  BarQuery,
  BookSnapshotQuery,
  InstrumentsOptions,
  InstrumentSummary,
  InstrumentTableSummary,
  ListQuery,
  MarketDataRepository,
  PagedResult,
  QueryResult,
} from "./repository.ts";

/** Options of {@linkcode PostgresRepository}. */
export interface PostgresRepositoryOptions {
  /** Connection URL; the repository owns and closes its client. */
  readonly url?: string;
  /** Or an existing npm:postgres client (not closed by the repository). */
  readonly sql?: postgres.Sql;
}

/**
 * The SQL of 1-minute (or any interval) OHLCV+VWAP bars over `trades` with open/close by
 * `(ts, id)` order, as PostgreSQL computes them. Exported for the storage benchmark.
 */
function barsSql(query: BarQuery): string {
  const where = [
    `exchange = ${sqlLiteral(query.exchange)}`,
    `symbol = ${sqlLiteral(query.symbol)}`,
  ];
  if (query.start !== undefined) where.push(`ts >= ${timestampLiteral(query.start)}`);
  if (query.end !== undefined) where.push(`ts < ${timestampLiteral(query.end)}`);
  const us = Math.trunc(query.interval);
  return `select
      floor((extract(epoch from ts) * 1000000)::float8 / ${us}) * ${us} as ts,
      (array_agg(price order by ts, id))[1] as open,
      max(price) as high, min(price) as low,
      (array_agg(price order by ts desc, id desc))[1] as close,
      sum(size) as volume,
      case when sum(size) > 0 then sum(price * size) / sum(size) else 'NaN'::float8 end as vwap,
      count(*)::float8 as trades,
      (extract(epoch from max(recv_ts)) * 1000000)::float8 as recv_ts
    from trades where ${where.join(" and ")}
    group by 1 order by 1`;
}

/**
 * Reads trades, bars, quotes and book snapshots from the buffer (tables `trades`, `quotes`,
 * `book_snapshots` written by `PostgresWriter`). Snapshots are stored sorted and cut to the
 * writer's `bookDepth`; `depth` cuts them further in SQL.
 *
 * @example
 * ```ts ignore
 * import { PostgresRepository } from "./postgres_repository.ts";
 * const repo = new PostgresRepository({ url: Deno.env.get("DATABASE_URL")! });
 * const btc = { exchange: "coinbase", symbol: "BTC-USD" };
 * const trades = await repo.trades(btc).rows();
 * const quotes = await repo.quotes(btc).polars(); // bid_price, bid_size, ask_price, ...
 * const books = await repo.bookSnapshots({ ...btc, depth: 10 }).arrow();
 * await repo.close();
 * ```
 */
export class PostgresRepository implements MarketDataRepository {
  readonly #sql: postgres.Sql;
  readonly #owns: boolean;

  constructor(options: PostgresRepositoryOptions) {
    if (!options?.sql && !options?.url) throw new TypeError("PostgresRepository needs url or sql");
    this.#owns = !options.sql;
    this.#sql = options.sql ?? postgres(options.url!, { max: 2, onnotice: () => {} });
  }

  /**
   * Instruments with rows in `options.table` (default `trades`) of the buffer, by exchange
   * then symbol, with count and time span: one grouped query.
   */
  instruments(options?: { readonly table?: "trades" }): Promise<InstrumentSummary[]>;
  instruments(options: InstrumentsOptions): Promise<InstrumentTableSummary[]>;
  async instruments(options?: InstrumentsOptions): Promise<InstrumentTableSummary[]> {
    const table = checkInstrumentsOptions(options);
    const rows = await this.#sql<
      { exchange: string; symbol: string; rows: number; first: number; last: number }[]
    >`select exchange, symbol, count(*)::float8 as rows,
        (extract(epoch from min(ts)) * 1000000)::float8 as first,
        (extract(epoch from max(ts)) * 1000000)::float8 as last
      from ${this.#sql(table)} group by exchange, symbol
      order by exchange collate "C", symbol collate "C"`;
    return rows.map((r) => instrumentSummary(table, r));
  }

  /**
   * Trades in `[start, end)`, ordered by `(ts, id)`, paged in SQL: the cursor as a keyset
   * condition on the primary key, `ORDER BY ts, id` (descending for `desc`) `LIMIT n`.
   */
  trades(query: ListQuery): PagedResult<Trade> {
    const q = checkRangeQuery(query);
    const page = checkPage("trades", q);
    const base = tradeColumnsResult(() =>
      readTrades(this.#sql, {
        ...q,
        after: page.after as { ts: number; id: string } | undefined,
        limit: page.limit,
        descending: page.order === "desc",
      })
    );
    return withPaging(base, {
      page,
      reopen: (cursor) => this.trades({ ...query, cursor }),
    });
  }

  /** Bars computed by PostgreSQL; bars without trades are omitted. */
  bars(query: BarQuery): QueryResult<Bar> {
    const q = checkBarQuery(query);
    return barColumnsResult(() => this.#bars(q));
  }

  /**
   * Tick, volume or dollar bars (see `MarketDataRepository.activityBars`), computed in one
   * pass over the trades read by binary COPY.
   */
  activityBars(query: ActivityBarQuery): QueryResult<Bar> {
    const q = checkActivityBarQuery(query);
    return barColumnsResult(async () => activityBarColumns(q, await readTrades(this.#sql, q)));
  }

  /** Quotes in `[start, end)`, ordered by `(ts, recvTs, digest)`, paged in SQL like `trades`. */
  quotes(query: ListQuery): PagedResult<Quote> {
    const q = checkRangeQuery(query);
    const page = checkPage("quotes", q);
    return withPaging(quoteColumnsResult(() => readQuotes(this.#sql, q, page)), {
      page,
      reopen: (cursor) => this.quotes({ ...query, cursor }),
    });
  }

  /**
   * Book snapshots in `[start, end)`, ordered by `(ts, recvTs, digest)`, cut to `depth`,
   * paged in SQL like `trades`.
   */
  bookSnapshots(query: BookSnapshotQuery): PagedResult<BookSnapshot> {
    const q = checkBookSnapshotQuery(query);
    const page = checkPage("book_snapshots", q);
    const base = bookSnapshotColumnsResult(() => readBookSnapshots(this.#sql, q, page));
    return withPaging(base, {
      page,
      reopen: (cursor) => this.bookSnapshots({ ...query, cursor }),
    });
  }

  /**
   * The action log of one run (the buffer's `actions` table) as the log's lines, byte for
   * byte (`[]` for an unknown run): what `verifyActionLog` and `replay` take.
   */
  async actionLog(name: RunName): Promise<string[]> {
    return actionLines(await readBufferActions(this.#sql, name));
  }

  /** Closes the client if the repository created it. */
  async close(): Promise<void> {
    if (this.#owns) await this.#sql.end({ timeout: 5 });
  }

  async #bars(q: BarQuery): Promise<BarColumns> {
    const rows = await this.#sql.unsafe<Record<string, number>[]>(barsSql(q));
    const column = (name: string) => Float64Array.from(rows, (r) => r[name]);
    return {
      exchange: q.exchange,
      symbol: q.symbol,
      interval: q.interval,
      ts: column("ts"),
      open: column("open"),
      high: column("high"),
      low: column("low"),
      close: column("close"),
      volume: column("volume"),
      vwap: column("vwap"),
      trades: column("trades"),
      recvTs: column("recv_ts"),
    };
  }
}
