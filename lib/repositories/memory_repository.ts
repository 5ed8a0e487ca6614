/**
 * {@linkcode MarketDataRepository} over trades, quotes and book snapshots held in memory,
 * for tests and backtests.
 * @module
 */
import type { Bar, BookSnapshot, MarketEvent, Quote, Trade } from "../market/types.ts";
import { nowMicros } from "../market/time.ts";
import { computeBars } from "../market/bars.ts";
import { eventRejection, latestValidMicros, type Rejection } from "../schema/rules.ts";
import {
  type BookSnapshotColumns,
  bookSnapshotColumnsResult,
  type QuoteColumns,
  quoteColumnsResult,
} from "./_event_result.ts";
import { type BookSnapshotRow, eventRow, type QuoteRow } from "../lake/event_rows.ts";
import {
  type BarColumns,
  barColumnsResult,
  type TradeColumns,
  tradeColumnsResult,
} from "./_result.ts";
import { checkBarQuery, checkBookSnapshotQuery, checkRangeQuery } from "./_query.ts";
import { checkPage, narrowRange, pageArray, withPaging } from "./_page.ts";
import type { KeyValues } from "../buffer/_table_query.ts";
import { type ActionWriteCounts, MemoryActions } from "./_memory_actions.ts";
import type { ActionRow, RunName } from "../schema/action_rows.ts";
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

/** What {@linkcode MemoryRepository.add} did. */
export interface AddCounts {
  /** Events (trades, quotes, book snapshots) newly held. */
  added: number;
  /**
   * Valid events skipped because they were already held: trades by (exchange, symbol, id),
   * quotes and snapshots by (exchange, symbol, ts, recvTs, digest).
   */
  duplicates: number;
  /** Invalid events skipped, by reason in `rejectedBy` (the lake's rules). */
  rejected: number;
  /** Rejected events per reason (the schema's rules, `lib/schema/rules.ts`). */
  rejectedBy: Partial<Record<Rejection, number>>;
  /** Events of kinds not held (book changes, bars, feed statuses). */
  ignored: number;
}

/** Options of {@linkcode MemoryRepository}. */
export interface MemoryRepositoryOptions {
  /** Levels per side kept of a book snapshot, like the lake and the buffer (default 50). */
  readonly bookDepth?: number;
}

/** What orders and identifies an event without a venue id. */
interface StoredEvent {
  readonly ts: number;
  readonly recvTs: number;
  readonly digest: number;
}

/** Events without a venue id of one kind, deduplicated by `(ts, recvTs, digest)`. */
class EventSeries<E extends StoredEvent> {
  readonly #keys = new Set<string>();
  #events: E[] = [];
  #sorted = true;

  /** Adds `e` unless held; false for a duplicate. */
  add(e: E): boolean {
    const key = `${e.ts}/${e.recvTs}/${e.digest}`;
    if (this.#keys.has(key)) return false;
    this.#keys.add(key);
    const last = this.#events[this.#events.length - 1];
    if (last !== undefined && compareEvents(last, e) > 0) this.#sorted = false;
    this.#events.push(e);
    return true;
  }

  /** Every held event, ordered by `(ts, recvTs, digest)` (not a copy: do not change it). */
  all(): readonly E[] {
    if (!this.#sorted) {
      this.#events.sort(compareEvents);
      this.#sorted = true;
    }
    return this.#events;
  }

  /** Events with `start <= ts < end`, ordered by `(ts, recvTs, digest)`. */
  range(q: Pick<RangeQuery, "start" | "end">): E[] {
    const events = this.all();
    const from = q.start === undefined ? 0 : lowerBound(events, q.start);
    const to = q.end === undefined ? events.length : lowerBound(events, q.end);
    return from < to ? events.slice(from, to) : [];
  }
}

interface Instrument {
  readonly exchange: string;
  readonly symbol: string;
  readonly ids: Set<string>;
  trades: Trade[];
  sorted: boolean;
  readonly quotes: EventSeries<QuoteRow>;
  readonly snapshots: EventSeries<BookSnapshotRow>;
}

/**
 * Holds trades, quotes and book snapshots in memory and answers like `LakeRepository`: the
 * lake's validation and de-duplication on the way in (so the same input gives the same
 * rows; snapshots sorted and cut to `bookDepth` levels per side), trades ordered by
 * `(ts, id)` with ids compared as text, and bars computed the same way (open/close = first
 * and last trade by `(ts, id)`, vwap = sum(price*size)/sum(size), bar `ts` aligned to the
 * epoch, `recvTs` the latest receive time). Sums are taken in time order, so volume and
 * vwap can differ from DuckDB's parallel sums in the last bits.
 *
 * @example
 * ```ts
 * import { MemoryRepository } from "./memory_repository.ts";
 * import assert from "node:assert/strict";
 * const t = { kind: "trade", exchange: "kraken", symbol: "BTC-USD", side: "buy" } as const;
 * const repo = new MemoryRepository([
 *   { ...t, id: "1", price: 10, size: 1, ts: 1_700_000_000_000_000, recvTs: 1_700_000_000_000_000 },
 *   { ...t, id: "2", price: 12, size: 3, ts: 1_700_000_030_000_000, recvTs: 1_700_000_030_000_000 },
 * ]);
 * const [bar] = await repo.bars({ exchange: "kraken", symbol: "BTC-USD", interval: 60_000_000 }).rows();
 * assert.equal(bar.close, 12);
 * assert.equal(bar.vwap, 11.5);
 * ```
 */
export class MemoryRepository implements MarketDataRepository {
  readonly #instruments = new Map<string, Instrument>();
  readonly #bookDepth: number;
  readonly #actions = new MemoryActions();

  /**
   * A repository holding `events` (see {@linkcode MemoryRepository.add}).
   * @throws {RangeError} when `bookDepth` is not a positive whole number.
   */
  constructor(events: readonly MarketEvent[] = [], options: MemoryRepositoryOptions = {}) {
    const depth = options.bookDepth ?? 50;
    if (!Number.isSafeInteger(depth) || depth < 1) {
      throw new RangeError(`bookDepth must be a positive whole number, got ${depth}`);
    }
    this.#bookDepth = depth;
    this.add(events);
  }

  /**
   * Adds trades, quotes and book snapshots. Invalid events and events already held are
   * skipped and counted, as the lake does; other kinds are counted as `ignored`.
   */
  add(events: readonly MarketEvent[]): AddCounts {
    const counts: AddCounts = {
      added: 0,
      duplicates: 0,
      rejected: 0,
      rejectedBy: {},
      ignored: 0,
    };
    const latest = latestValidMicros(nowMicros());
    const reject = (reason: Rejection) => {
      counts.rejected++;
      counts.rejectedBy[reason] = (counts.rejectedBy[reason] ?? 0) + 1;
    };
    for (const e of events) {
      if (e.kind === "quote" || e.kind === "book_snapshot") {
        // The schema's rules and the lake's conversion, so every store holds the same rows.
        const reason = eventRejection(e, latest);
        if (reason !== undefined) {
          reject(reason);
          continue;
        }
        let row: QuoteRow | BookSnapshotRow;
        try {
          row = eventRow(e, { depth: this.#bookDepth }) as QuoteRow | BookSnapshotRow;
        } catch {
          reject("levels");
          continue;
        }
        const inst = this.#instrument(e);
        const added = e.kind === "quote"
          ? inst.quotes.add(row as QuoteRow)
          : inst.snapshots.add(row as BookSnapshotRow);
        if (added) counts.added++;
        else counts.duplicates++;
        continue;
      }
      if (e.kind !== "trade") {
        counts.ignored++;
        continue;
      }
      const t = e;
      const reason = eventRejection(t, latest);
      if (reason !== undefined) {
        reject(reason);
        continue;
      }
      const inst = this.#instrument(t);
      if (inst.ids.has(t.id)) {
        counts.duplicates++;
        continue;
      }
      inst.ids.add(t.id);
      const last = inst.trades[inst.trades.length - 1];
      if (last !== undefined && compareTrades(last, t) > 0) inst.sorted = false;
      inst.trades.push(t);
      counts.added++;
    }
    return counts;
  }

  /**
   * Instruments with held rows of `options.table` (default `trades`), by exchange then
   * symbol, with count and time span.
   */
  instruments(options?: { readonly table?: "trades" }): Promise<InstrumentSummary[]>;
  instruments(options: InstrumentsOptions): Promise<InstrumentTableSummary[]>;
  instruments(options?: InstrumentsOptions): Promise<InstrumentTableSummary[]> {
    let table: InstrumentTable;
    try {
      table = checkInstrumentsOptions(options);
    } catch (err) {
      return Promise.reject(err);
    }
    const out: InstrumentTableSummary[] = [];
    for (const inst of this.#instruments.values()) {
      const held: readonly { readonly ts: number }[] = table === "trades"
        ? this.#sorted(inst)
        : table === "quotes"
        ? inst.quotes.all()
        : inst.snapshots.all();
      if (held.length === 0) continue;
      const { exchange, symbol } = inst;
      const [first, last] = [held[0].ts, held[held.length - 1].ts];
      out.push(instrumentSummary(table, { exchange, symbol, rows: held.length, first, last }));
    }
    return Promise.resolve(out.sort(compareInstruments));
  }

  /** Trades in `[start, end)`, ordered by `(ts, id)`, paged by slicing the held trades. */
  trades(query: ListQuery): PagedResult<Trade> {
    const q = checkRangeQuery(query);
    const page = checkPage("trades", q);
    const base = tradeColumnsResult(() => {
      const held = this.#range(narrowRange(q, page));
      return Promise.resolve(tradeColumns(q, pageArray(held, page, compareTradeKey)));
    });
    return withPaging(base, {
      page,
      reopen: (cursor) => this.trades({ ...query, cursor }),
    });
  }

  /** OHLCV bars of `query.interval` microseconds; bars without trades are omitted. */
  bars(query: BarQuery): QueryResult<Bar> {
    const q = checkBarQuery(query);
    return barColumnsResult(() => Promise.resolve(barColumns(q, this.#range(q))));
  }

  /** Tick, volume or dollar bars (see `MarketDataRepository.activityBars`). */
  activityBars(query: ActivityBarQuery): QueryResult<Bar> {
    const q = checkActivityBarQuery(query);
    return barColumnsResult(() =>
      Promise.resolve(activityBarColumns(q, tradeColumns(q, this.#range(q))))
    );
  }

  /**
   * Stores rows of action logs (`lib/schema/action_rows.ts`) like the lake's
   * `writeActions`: the schema's rules, idempotent on (source, run, seq), the first copy
   * kept. Returns what it did (`stored` is what the lake's promise resolves to).
   * @throws {TypeError} when `rows` is not an array.
   */
  writeActions(rows: readonly ActionRow[]): ActionWriteCounts {
    return this.#actions.write(rows);
  }

  /**
   * The action log of one run as the log's lines, byte for byte (`[]` for an unknown run):
   * what `verifyActionLog` and `replay` take, as from the lake and the buffer.
   */
  actionLog(name: RunName): Promise<string[]> {
    return Promise.resolve(this.#actions.lines(name));
  }

  /** Quotes in `[start, end)`, ordered by `(ts, recvTs, digest)`, paged like `trades`. */
  quotes(query: ListQuery): PagedResult<Quote> {
    const q = checkRangeQuery(query);
    const page = checkPage("quotes", q);
    const base = quoteColumnsResult(() => {
      const series = this.#instruments.get(`${q.exchange}/${q.symbol}`)?.quotes;
      const held = series?.range(narrowRange(q, page)) ?? [];
      return Promise.resolve(quoteColumns(q, pageArray(held, page, compareEventKey)));
    });
    return withPaging(base, {
      page,
      reopen: (cursor) => this.quotes({ ...query, cursor }),
    });
  }

  /**
   * Book snapshots in `[start, end)`, ordered by `(ts, recvTs, digest)`, cut to `depth`,
   * paged like `trades`.
   */
  bookSnapshots(query: BookSnapshotQuery): PagedResult<BookSnapshot> {
    const q = checkBookSnapshotQuery(query);
    const page = checkPage("book_snapshots", q);
    const base = bookSnapshotColumnsResult(() => {
      const series = this.#instruments.get(`${q.exchange}/${q.symbol}`)?.snapshots;
      const held = series?.range(narrowRange(q, page)) ?? [];
      return Promise.resolve(bookSnapshotColumns(q, pageArray(held, page, compareEventKey)));
    });
    return withPaging(base, {
      page,
      reopen: (cursor) => this.bookSnapshots({ ...query, cursor }),
    });
  }

  /** Nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  #instrument(e: { exchange: string; symbol: string }): Instrument {
    const key = `${e.exchange}/${e.symbol}`;
    let inst = this.#instruments.get(key);
    if (inst === undefined) {
      inst = {
        exchange: e.exchange,
        symbol: e.symbol,
        ids: new Set(),
        trades: [],
        sorted: true,
        quotes: new EventSeries(),
        snapshots: new EventSeries(),
      };
      this.#instruments.set(key, inst);
    }
    return inst;
  }

  #range(q: RangeQuery): Trade[] {
    const inst = this.#instruments.get(`${q.exchange}/${q.symbol}`);
    if (inst === undefined) return [];
    const trades = this.#sorted(inst);
    const from = q.start === undefined ? 0 : lowerBound(trades, q.start);
    const to = q.end === undefined ? trades.length : lowerBound(trades, q.end);
    return from < to ? trades.slice(from, to) : [];
  }

  #sorted(inst: Instrument): Trade[] {
    if (!inst.sorted) {
      inst.trades.sort(compareTrades);
      inst.sorted = true;
    }
    return inst.trades;
  }
}

function tradeColumns(q: RangeQuery, trades: readonly Trade[]): TradeColumns {
  const n = trades.length;
  const c = {
    exchange: q.exchange,
    symbol: q.symbol,
    id: new Array<string>(n),
    price: new Float64Array(n),
    size: new Float64Array(n),
    side: new Array<string>(n),
    ts: new Float64Array(n),
    recvTs: new Float64Array(n),
    backfilled: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    const t = trades[i];
    c.backfilled[i] = t.backfilled === true ? 1 : 0;
    c.id[i] = t.id;
    c.price[i] = t.price;
    c.size[i] = t.size;
    c.side[i] = t.side;
    c.ts[i] = t.ts;
    c.recvTs[i] = t.recvTs;
  }
  return c;
}

function quoteColumns(q: RangeQuery, quotes: readonly QuoteRow[]): QuoteColumns {
  const n = quotes.length;
  const c = {
    exchange: q.exchange,
    symbol: q.symbol,
    ts: new Float64Array(n),
    recvTs: new Float64Array(n),
    digest: new Int32Array(n),
    bidPrice: new Float64Array(n),
    bidSize: new Float64Array(n),
    askPrice: new Float64Array(n),
    askSize: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const e = quotes[i];
    c.ts[i] = e.ts;
    c.recvTs[i] = e.recvTs;
    c.digest[i] = e.digest;
    c.bidPrice[i] = e.bidPrice;
    c.bidSize[i] = e.bidSize;
    c.askPrice[i] = e.askPrice;
    c.askSize[i] = e.askSize;
  }
  return c;
}

function bookSnapshotColumns(
  q: BookSnapshotQuery,
  snapshots: readonly BookSnapshotRow[],
): BookSnapshotColumns {
  const cut = (levels: readonly number[]) =>
    q.depth === undefined || levels.length <= q.depth ? levels : levels.slice(0, q.depth);
  return {
    exchange: q.exchange,
    symbol: q.symbol,
    ts: Float64Array.from(snapshots, (e) => e.ts),
    recvTs: Float64Array.from(snapshots, (e) => e.recvTs),
    digest: Int32Array.from(snapshots, (e) => e.digest),
    bidPrices: snapshots.map((e) => cut(e.bidPrices)),
    bidSizes: snapshots.map((e) => cut(e.bidSizes)),
    askPrices: snapshots.map((e) => cut(e.askPrices)),
    askSizes: snapshots.map((e) => cut(e.askSizes)),
    sequence: snapshots.map((e) => e.sequence),
    checksum: snapshots.map((e) => e.checksum),
  };
}

/** Bars over trades ordered by `(ts, id)` (the bar kernel, `lib/market/bars.ts`). */
function barColumns(q: BarQuery, trades: readonly Trade[]): BarColumns {
  const columns = tradeColumns(q, trades);
  return {
    exchange: q.exchange,
    symbol: q.symbol,
    ...computeBars({ by: "time", interval: q.interval }, columns),
  };
}

/** First index whose time is >= `micros` (events ordered by time). */
function lowerBound(trades: readonly { readonly ts: number }[], micros: number): number {
  let lo = 0;
  let hi = trades.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (trades[mid].ts < micros) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function compareTrades(a: Trade, b: Trade): number {
  return a.ts - b.ts || compareText(a.id, b.id);
}

/** A trade against a cursor's key: `ts`, then `id` as text (like {@linkcode compareTrades}). */
function compareTradeKey(t: Trade, key: KeyValues): number {
  return t.ts - (key.ts as number) || compareText(t.id, key.id as string);
}

/** An event against a cursor's key (like {@linkcode compareEvents}). */
function compareEventKey(e: StoredEvent, key: KeyValues): number {
  return e.ts - (key.ts as number) || e.recvTs - (key.recvTs as number) ||
    e.digest - (key.digest as number);
}

function compareEvents(a: StoredEvent, b: StoredEvent): number {
  return a.ts - b.ts || a.recvTs - b.recvTs || a.digest - b.digest;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
