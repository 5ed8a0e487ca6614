/**
 * The trades table's batch: trade columns validated (the schema's rules), grouped by
 * partition (exchange, symbol, UTC day) and turned into one column table with the file's
 * columns (`backfilled` last, false unless given), with what each partition's write needs
 * to know (key range, order).
 * @module
 */
import type { TakerSide, Trade } from "../market/types.ts";
import {
  isValidTradeId,
  type Rejection,
  timesRejection,
  tradeValuesRejection,
} from "../schema/rules.ts";
import { dayOfMicros, dayToDate, isValidExchange, isValidSymbol } from "./layout.ts";
import { type BatchPartition, type GroupedBatch, samePartition } from "./_batch.ts";
import type { ColumnTable } from "./column_table.ts";

/**
 * Trades of one instrument as columns, for `ParquetLake.writeTradeColumns`: value `i` of
 * every column belongs to trade `i`. Times are microseconds since the epoch.
 */
export interface TradeColumns {
  readonly exchange: string;
  readonly symbol: string;
  /**
   * Ids as text, or as numbers for venues with integer ids (non-negative safe integers,
   * stored as their decimal text: no string per row on the way).
   */
  readonly id: readonly string[] | Float64Array;
  readonly price: ArrayLike<number>;
  readonly size: ArrayLike<number>;
  readonly side: readonly TakerSide[];
  readonly ts: ArrayLike<number>;
  readonly recvTs: ArrayLike<number>;
  /**
   * Non-zero (or true) for a trade fetched from the venue's REST history after being missed
   * live; absent: no trade is. Not part of the key (see `TABLES.trades`).
   */
  readonly backfilled?: ArrayLike<number | boolean>;
}

/** What the write path takes: columns, with the instrument either fixed or per row. */
export interface ColumnBatch extends Omit<TradeColumns, "exchange" | "symbol"> {
  readonly rows: number;
  readonly exchange: string | readonly string[];
  readonly symbol: string | readonly string[];
}

/** One (exchange, symbol, day) group of a batch being written, as the grouping fills it. */
interface TradePartition {
  readonly exchange: string;
  readonly symbol: string;
  readonly day: number;
  /** Valid rows of the batch in this partition. */
  rows: number;
  lastTs: number;
  lastId: string;
  lastIdNumber: number;
  /** Rows arrived in `(ts, id)` order: the file needs no sort. */
  sorted: boolean;
  /** Ids arrived strictly increasing (see `idFollows`): none can repeat in the batch. */
  increasingIds: boolean;
  /** Smallest and largest id of the batch, as text. */
  minId: string;
  maxId: string;
  /** Smallest and largest id of a batch of integer ids. */
  minIdNumber: number;
  maxIdNumber: number;
  /** Index of the partition's first row in the batch's table while its rows are one run. */
  start: number | undefined;
}

const SIDE_CODES = { buy: 0, sell: 1, unknown: 2 } as const;
const SIDE_TEXT = ["buy", "sell", "unknown"] as const;

/** Column arrays of a batch, filled up to `rows`. */
interface BatchColumns {
  readonly part: Uint32Array;
  readonly ids: string[];
  readonly idNumbers: Float64Array;
  readonly price: Float64Array;
  readonly size: Float64Array;
  readonly side: Uint8Array;
  readonly ts: Float64Array;
  readonly recvTs: Float64Array;
  readonly backfilled: Uint8Array;
}

/**
 * Validates and groups `batch` (see the module documentation); `reject` hears of every
 * invalid row. `latest` is the latest valid time (the schema's `latestValidMicros`).
 */
export function groupTrades(
  batch: ColumnBatch,
  latest: number,
  reject: (i: number, reason: Rejection) => void,
): GroupedBatch {
  return new TradeGrouper(batch, latest).group(reject);
}

/** Trades as a {@linkcode ColumnBatch} (no copies of values, only references). */
export function tradeBatch(trades: readonly Trade[]): ColumnBatch {
  const n = trades.length;
  const exchange = new Array<string>(n);
  const symbol = new Array<string>(n);
  const id = new Array<string>(n);
  const price = new Array<number>(n);
  const size = new Array<number>(n);
  const side = new Array<TakerSide>(n);
  const ts = new Array<number>(n);
  const recvTs = new Array<number>(n);
  const backfilled = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const t = trades[i];
    exchange[i] = t?.exchange;
    symbol[i] = t?.symbol;
    id[i] = t?.id;
    price[i] = t?.price;
    size[i] = t?.size;
    side[i] = t?.side;
    ts[i] = t?.ts;
    recvTs[i] = t?.recvTs;
    backfilled[i] = t?.backfilled === true ? 1 : 0;
  }
  return { rows: n, exchange, symbol, id, price, size, side, ts, recvTs, backfilled };
}

/** One batch's grouping state. */
class TradeGrouper {
  readonly #batch: ColumnBatch;
  readonly #latest: number;
  readonly #columns: BatchColumns;
  readonly #partitions: TradePartition[] = [];
  readonly #index = new Map<string, number>();
  readonly #integerIds: Float64Array | undefined;
  readonly #textIds: readonly string[] | undefined;
  // The instrument is checked once per change of exchange or symbol, not per row.
  #checkedExchange: string | undefined;
  #checkedSymbol: string | undefined;
  #numericIds = true;
  #rows = 0;
  /** Partition of the previous row: consecutive rows mostly share one. */
  #last = -1;

  constructor(batch: ColumnBatch, latest: number) {
    this.#batch = batch;
    this.#latest = latest;
    const n = batch.rows;
    this.#columns = {
      part: new Uint32Array(n),
      ids: new Array(n),
      idNumbers: new Float64Array(n),
      price: new Float64Array(n),
      size: new Float64Array(n),
      side: new Uint8Array(n),
      ts: new Float64Array(n),
      recvTs: new Float64Array(n),
      backfilled: new Uint8Array(n),
    };
    this.#integerIds = batch.id instanceof Float64Array ? batch.id : undefined;
    this.#textIds = this.#integerIds === undefined ? batch.id as readonly string[] : undefined;
  }

  group(reject: (i: number, reason: Rejection) => void): GroupedBatch {
    const b = this.#batch;
    const oneExchange = typeof b.exchange === "string" ? b.exchange : undefined;
    const oneSymbol = typeof b.symbol === "string" ? b.symbol : undefined;
    for (let i = 0; i < b.rows; i++) {
      const exchange = oneExchange ?? (b.exchange as readonly string[])[i];
      const symbol = oneSymbol ?? (b.symbol as readonly string[])[i];
      // With integer ids the text is only made where an order needs it.
      const idNumber = this.#integerIds !== undefined ? this.#integerIds[i] : NaN;
      const id = this.#textIds !== undefined ? this.#textIds[i] : "";
      const reason = this.#rejection(i, exchange, symbol, id, idNumber);
      if (reason !== undefined) {
        reject(i, reason);
        continue;
      }
      const k = this.#partitionOf(exchange, symbol, dayOfMicros(b.ts[i]), id, idNumber);
      this.#add(i, k, id, idNumber);
    }
    if (this.#integerIds !== undefined) {
      for (const p of this.#partitions) {
        // The stored-id range filter compares text: exact when both ends have as many digits.
        const min = String(p.minIdNumber), max = String(p.maxIdNumber);
        [p.minId, p.maxId] = min.length === max.length ? [min, max] : ["", "\uffff"];
      }
    }
    const table = this.#rows > 0
      ? batchTable(this.#rows, this.#numericIds, this.#columns)
      : undefined;
    return { table, part: this.#columns.part, partitions: this.#partitions.map(batchPartition) };
  }

  /** The schema's order: instrument, times, id, values (as `eventRejection`). */
  #rejection(
    i: number,
    exchange: string,
    symbol: string,
    id: string,
    idNumber: number,
  ): Rejection | undefined {
    const b = this.#batch;
    if (exchange !== this.#checkedExchange || symbol !== this.#checkedSymbol) {
      if (!isValidExchange(exchange)) return "exchange";
      if (!isValidSymbol(symbol)) return "symbol";
      this.#checkedExchange = exchange;
      this.#checkedSymbol = symbol;
    }
    const times = timesRejection(b.ts[i], b.recvTs[i], this.#latest);
    if (times !== undefined) return times;
    if (
      this.#integerIds !== undefined
        ? !(Number.isSafeInteger(idNumber) && idNumber >= 0)
        : !isValidTradeId(id)
    ) return "id";
    return tradeValuesRejection(b.price[i], b.size[i], b.side[i]);
  }

  #partitionOf(exchange: string, symbol: string, day: number, id: string, idNumber: number) {
    let k = this.#last;
    if (k >= 0 && samePartition(this.#partitions[k], exchange, symbol, day)) return k;
    const key = `${exchange}/${symbol}/${day}`;
    k = this.#index.get(key) ?? -1;
    if (k < 0) {
      k = this.#partitions.length;
      this.#index.set(key, k);
      this.#partitions.push({
        exchange,
        symbol,
        day,
        rows: 0,
        lastTs: -Infinity,
        lastId: "",
        lastIdNumber: -Infinity,
        sorted: true,
        increasingIds: true,
        minId: id,
        maxId: id,
        minIdNumber: idNumber,
        maxIdNumber: idNumber,
        start: this.#rows,
      });
    } else this.#partitions[k].start = undefined; // back to an earlier partition: not one run
    this.#last = k;
    return k;
  }

  /** Copies valid row `i` into the columns and tracks its partition's order and id range. */
  #add(i: number, k: number, id: string, idNumber: number): void {
    const b = this.#batch;
    const c = this.#columns;
    const p = this.#partitions[k];
    const ts = b.ts[i];
    const row = this.#rows;
    if (this.#integerIds !== undefined) {
      trackIntegerId(p, ts, idNumber);
      c.idNumbers[row] = idNumber;
    } else {
      const number = numericId(id);
      if (number !== number) this.#numericIds = false; // NaN
      trackTextId(p, ts, id, number);
      c.ids[row] = id;
      c.idNumbers[row] = number;
    }
    p.rows++;
    c.price[row] = b.price[i];
    c.size[row] = b.size[i];
    c.side[row] = SIDE_CODES[b.side[i]];
    c.ts[row] = ts;
    c.recvTs[row] = b.recvTs[i];
    c.backfilled[row] = b.backfilled?.[i] ? 1 : 0;
    c.part[row] = k;
    this.#rows = row + 1;
  }
}

function trackIntegerId(p: TradePartition, ts: number, idNumber: number): void {
  if (p.rows > 0) {
    if (ts < p.lastTs || (ts === p.lastTs && String(idNumber) <= String(p.lastIdNumber))) {
      p.sorted = false;
    }
    if (idNumber <= p.lastIdNumber) p.increasingIds = false;
  }
  if (idNumber < p.minIdNumber) p.minIdNumber = idNumber;
  else if (idNumber > p.maxIdNumber) p.maxIdNumber = idNumber;
  p.lastTs = ts;
  p.lastIdNumber = idNumber;
}

function trackTextId(p: TradePartition, ts: number, id: string, number: number): void {
  if (p.rows > 0) {
    if (ts < p.lastTs || (ts === p.lastTs && id <= p.lastId)) p.sorted = false;
    if (p.increasingIds && !idFollows(p.lastId, p.lastIdNumber, id, number)) {
      p.increasingIds = false;
    }
  }
  if (id < p.minId) p.minId = id;
  else if (id > p.maxId) p.maxId = id;
  p.lastTs = ts;
  p.lastId = id;
  p.lastIdNumber = number;
}

/**
 * The batch as a column table with the file's columns. Canonical integer ids travel as
 * numbers (no string per row), written as their decimal text.
 */
function batchTable(rows: number, numericIds: boolean, c: BatchColumns): ColumnTable {
  const cut = <T extends { length: number; subarray(start: number, end: number): T }>(a: T) =>
    a.length === rows ? a : a.subarray(0, rows);
  return {
    rows,
    columns: [
      { name: "id", type: "text", values: numericIds ? cut(c.idNumbers) : c.ids.slice(0, rows) },
      { name: "price", type: "double", values: cut(c.price) },
      { name: "size", type: "double", values: cut(c.size) },
      { name: "side", type: "dictionary", codes: cut(c.side), dictionary: SIDE_TEXT },
      { name: "ts", type: "timestamp", values: cut(c.ts) },
      { name: "recv_ts", type: "timestamp", values: cut(c.recvTs) },
      { name: "backfilled", type: "bool", values: cut(c.backfilled) },
    ],
  };
}

/** What the store loop takes of a trade partition: ids strictly increasing are unique. */
function batchPartition(p: TradePartition): BatchPartition {
  const { exchange, symbol, day, rows, sorted } = p;
  return {
    exchange,
    symbol,
    day,
    rows,
    sorted,
    unique: p.increasingIds,
    start: p.start,
    low: p.minId,
    high: p.maxId,
  };
}

/**
 * The value of a canonical integer id (`"0"`, `"123"`, at most 15 digits, no sign or leading
 * zero), whose text `String(value)` gives back exactly; `NaN` for any other id.
 */
function numericId(id: string): number {
  const n = id.length;
  if (n === 0 || n > 15) return NaN;
  if (id.charCodeAt(0) === 48) return n === 1 ? 0 : NaN;
  for (let i = 0; i < n; i++) {
    const c = id.charCodeAt(i);
    if (c < 48 || c > 57) return NaN;
  }
  return +id;
}

/**
 * Whether `id` comes strictly after `previous` in one fixed total order of ids: canonical
 * integers first, by value, then other ids by text. A batch whose ids keep following each
 * other has no repeated id.
 */
function idFollows(
  previous: string,
  previousNumber: number,
  id: string,
  idNumber: number,
): boolean {
  const prevNumeric = previousNumber === previousNumber;
  const numeric = idNumber === idNumber;
  if (prevNumeric && numeric) return idNumber > previousNumber;
  if (prevNumeric !== numeric) return prevNumeric;
  return id > previous;
}

/** A rejected row, for the log. */
export function describeTrade(b: ColumnBatch, i: number): string {
  const exchange = typeof b.exchange === "string" ? b.exchange : b.exchange[i];
  const symbol = typeof b.symbol === "string" ? b.symbol : b.symbol[i];
  const ts = b.ts[i];
  const date = Number.isFinite(ts) ? dayToDate(dayOfMicros(ts)) : "?";
  return `exchange=${exchange} symbol=${symbol} id=${b.id[i]} price=${b.price[i]} ` +
    `size=${b.size[i]} side=${b.side[i]} ts=${ts} (${date}) recvTs=${b.recvTs[i]}`;
}
