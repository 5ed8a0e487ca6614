/**
 * {@linkcode MarketDataRepository} over trades held in memory, for tests and backtests.
 * @module
 */
import type { Bar, Trade } from "../market/types.ts";
import { type TradeRejection, tradeRejection } from "../lake/validate.ts";
import {
  type BarColumns,
  barColumnsResult,
  type TradeColumns,
  tradeColumnsResult,
} from "./_result.ts";
import { checkBarQuery, checkRangeQuery } from "./_query.ts";
import { activityBarColumns, checkActivityBarQuery } from "./_activity_bars.ts";
import type {
  ActivityBarQuery,
  BarQuery,
  InstrumentSummary,
  MarketDataRepository,
  QueryResult,
  RangeQuery,
} from "./repository.ts";

/** What {@linkcode MemoryRepository.add} did. */
export interface AddCounts {
  /** Trades newly held. */
  added: number;
  /** Valid trades skipped because their (exchange, symbol, id) was already held. */
  duplicates: number;
  /** Invalid trades skipped, by reason in `rejectedBy` (the lake's rules). */
  rejected: number;
  rejectedBy: Partial<Record<TradeRejection, number>>;
}

interface Instrument {
  readonly exchange: string;
  readonly symbol: string;
  readonly ids: Set<string>;
  trades: Trade[];
  sorted: boolean;
}

/**
 * Holds trades in memory and answers like `LakeRepository`: the lake's validation and
 * de-duplication on the way in (so the same input gives the same rows), trades ordered by
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

  /** A repository holding `trades` (see {@linkcode MemoryRepository.add}). */
  constructor(trades: readonly Trade[] = []) {
    this.add(trades);
  }

  /**
   * Adds trades. Invalid trades and trades whose (exchange, symbol, id) is already held are
   * skipped and counted, as the lake does.
   */
  add(trades: readonly Trade[]): AddCounts {
    const counts: AddCounts = { added: 0, duplicates: 0, rejected: 0, rejectedBy: {} };
    for (const t of trades) {
      const reason = tradeRejection(t);
      if (reason !== undefined) {
        counts.rejected++;
        counts.rejectedBy[reason] = (counts.rejectedBy[reason] ?? 0) + 1;
        continue;
      }
      const key = `${t.exchange}/${t.symbol}`;
      let inst = this.#instruments.get(key);
      if (inst === undefined) {
        inst = { exchange: t.exchange, symbol: t.symbol, ids: new Set(), trades: [], sorted: true };
        this.#instruments.set(key, inst);
      }
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

  /** Instruments held, by exchange then symbol. */
  instruments(): Promise<InstrumentSummary[]> {
    const out: InstrumentSummary[] = [];
    for (const inst of this.#instruments.values()) {
      const trades = this.#sorted(inst);
      if (trades.length === 0) continue;
      out.push({
        exchange: inst.exchange,
        symbol: inst.symbol,
        trades: trades.length,
        first: trades[0].ts,
        last: trades[trades.length - 1].ts,
      });
    }
    out.sort((a, b) => compareText(a.exchange, b.exchange) || compareText(a.symbol, b.symbol));
    return Promise.resolve(out);
  }

  /** Trades in `[start, end)`, ordered by `(ts, id)`. */
  trades(query: RangeQuery): QueryResult<Trade> {
    const q = checkRangeQuery(query);
    return tradeColumnsResult(() => Promise.resolve(tradeColumns(q, this.#range(q))));
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

  /** Nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
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
  };
  for (let i = 0; i < n; i++) {
    const t = trades[i];
    c.id[i] = t.id;
    c.price[i] = t.price;
    c.size[i] = t.size;
    c.side[i] = t.side;
    c.ts[i] = t.ts;
    c.recvTs[i] = t.recvTs;
  }
  return c;
}

/** Bars over trades ordered by `(ts, id)`. */
function barColumns(q: BarQuery, trades: readonly Trade[]): BarColumns {
  const interval = q.interval;
  const ts: number[] = [];
  const open: number[] = [];
  const high: number[] = [];
  const low: number[] = [];
  const close: number[] = [];
  const volume: number[] = [];
  const notional: number[] = [];
  const count: number[] = [];
  const recvTs: number[] = [];
  let b = -1;
  for (const t of trades) {
    const bucket = Math.floor(t.ts / interval) * interval;
    if (b < 0 || ts[b] !== bucket) {
      b++;
      ts.push(bucket);
      open.push(t.price);
      high.push(t.price);
      low.push(t.price);
      close.push(t.price);
      volume.push(t.size);
      notional.push(t.price * t.size);
      count.push(1);
      recvTs.push(t.recvTs);
      continue;
    }
    if (t.price > high[b]) high[b] = t.price;
    if (t.price < low[b]) low[b] = t.price;
    close[b] = t.price;
    volume[b] += t.size;
    notional[b] += t.price * t.size;
    count[b]++;
    if (t.recvTs > recvTs[b]) recvTs[b] = t.recvTs;
  }
  return {
    exchange: q.exchange,
    symbol: q.symbol,
    interval,
    ts: Float64Array.from(ts),
    open: Float64Array.from(open),
    high: Float64Array.from(high),
    low: Float64Array.from(low),
    close: Float64Array.from(close),
    volume: Float64Array.from(volume),
    vwap: Float64Array.from(notional, (n, i) => n / volume[i]),
    trades: Float64Array.from(count),
    recvTs: Float64Array.from(recvTs),
  };
}

/** First index whose trade time is >= `micros` (trades ordered by time). */
function lowerBound(trades: readonly Trade[], micros: number): number {
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

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
