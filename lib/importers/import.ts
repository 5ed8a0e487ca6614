/**
 * `importFile`: bars or trades from a CSV or Parquet file made elsewhere into the lake.
 * Every row is read and checked before anything is written, so bad input stops the import
 * with an {@linkcode ImportError} naming its line and column and leaves the lake as it was.
 * @module
 */
import type { Trade } from "../market/types.ts";
import { tradeRejection } from "../lake/validate.ts";
import { ParquetLake } from "../lake/parquet_lake.ts";
import { type StoredBar, writeBars } from "../lake/bar_store.ts";
import { WriterLock, type WriterLockOptions } from "../lake/writer_lock.ts";
import { isStorableSymbol, isValidExchange } from "../schema/instrument.ts";
import { type ColumnIndex, locateColumns, RowReader } from "./cells.ts";
import { ImportError } from "./import_error.ts";
import { readSourceTable, type SourceFormat, type SourceTable } from "./table_reader.ts";

/** Options of {@linkcode importFile}. */
export interface ImportOptions {
  /** Lake root. */
  readonly root: string;
  /** The CSV or Parquet file. */
  readonly file: string;
  /** The lake table to fill. */
  readonly table: "bars" | "trades";
  readonly exchange: string;
  readonly symbol: string;
  /** Bar length in microseconds (bars only; default: the smallest gap between bars). */
  readonly interval?: number;
  /** Default: by the file name (`.parquet`/`.pq` is Parquet, else CSV). */
  readonly format?: SourceFormat;
  /** The lake's writer lock (default: refuse when another writer holds it). */
  readonly lock?: WriterLockOptions;
}

/** What {@linkcode importFile} stored. */
export interface ImportReport {
  readonly table: "bars" | "trades";
  readonly exchange: string;
  readonly symbol: string;
  /** Rows read from the file. */
  readonly rows: number;
  /** Rows newly stored. */
  readonly written: number;
  /** Rows already stored (trades: skipped; bars: replaced). */
  readonly existing: number;
  /** Time of the first and last row, microseconds. */
  readonly first: number;
  readonly last: number;
  /** Bar length in microseconds (bars only). */
  readonly interval?: number;
}

/**
 * Imports `options.file` into `options.table` of the lake.
 *
 * Columns are found by name in the header, case-insensitive (see `COLUMN_NAMES` in
 * `cells.ts`): bars need a time (`ts`, `time`, `timestamp`, `datetime` or `date`), `open`,
 * `high`, `low`, `close` and `volume` (optional `vwap`, `trades`); trades need a time,
 * `price` and `size` (or `qty`, `quantity`, `amount`, `volume`), optional `id` (default: the
 * line number) and `side` (default `unknown`). Other columns are ignored.
 *
 * @throws {ImportError} for bad input: the line and column, nothing written.
 * @throws {TypeError} for a bad exchange or symbol.
 */
export async function importFile(options: ImportOptions): Promise<ImportReport> {
  const { exchange, symbol } = options;
  if (!isValidExchange(exchange)) throw new TypeError(`import: bad exchange "${exchange}"`);
  if (!isStorableSymbol(symbol, false)) throw new TypeError(`import: bad symbol "${symbol}"`);
  if (
    options.interval !== undefined && !(Number.isInteger(options.interval) && options.interval > 0)
  ) {
    throw new RangeError(
      `import: interval must be a positive integer (us), got ${options.interval}`,
    );
  }
  const source = await readSourceTable(options.file, options.format);
  if (source.rows.length === 0) {
    throw new ImportError({ file: source.file, line: 2, message: "no rows after the header" });
  }
  return options.table === "bars"
    ? await importBars(options, source)
    : await importTrades(options, source);
}

/** Every bar of `source`, checked (OHLC consistent, volume >= 0, one bar per time). */
export function readBars(source: SourceTable, interval?: number): StoredBar[] {
  const at = locateColumns(source, ["ts", "open", "high", "low", "close", "volume"]);
  const seen = new Map<number, number>();
  const parsed = source.rows.map(({ line, cells }) => {
    const row = new RowReader(source, line, cells);
    const ts = row.time(at.ts);
    const before = seen.get(ts);
    if (before !== undefined) throw row.error(at.ts, `a second bar at this time (line ${before})`);
    seen.set(ts, line);
    return { ts, ...ohlcv(row, at) };
  });
  const intervalUs = interval ?? smallestGap(source, parsed.map((b) => b.ts));
  return parsed.map((b) => ({ ...b, intervalUs }));
}

function ohlcv(row: RowReader, at: ColumnIndex) {
  const [open, high, low, close] = [at.open, at.high, at.low, at.close].map((i) => {
    const v = row.number(i);
    if (!(v > 0)) throw row.error(i, `a price must be > 0, got ${v}`);
    return v;
  });
  if (high < Math.max(open, close, low)) {
    throw row.error(at.high, `high ${high} is below open, close or low`);
  }
  if (low > Math.min(open, close)) throw row.error(at.low, `low ${low} is above open or close`);
  const volume = row.number(at.volume);
  if (volume < 0) throw row.error(at.volume, `volume must be >= 0, got ${volume}`);
  const vwap = row.number(at.vwap, true);
  const trades = row.number(at.trades, true);
  if (!Number.isNaN(trades) && !(Number.isInteger(trades) && trades >= 0)) {
    throw row.error(at.trades, `trades must be a whole number >= 0, got ${trades}`);
  }
  return { open, high, low, close, volume, vwap, trades: Number.isNaN(trades) ? 0 : trades };
}

function smallestGap(source: SourceTable, times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let gap = Infinity;
  for (let i = 1; i < sorted.length; i++) gap = Math.min(gap, sorted[i] - sorted[i - 1]);
  if (!Number.isFinite(gap)) {
    throw new ImportError({
      file: source.file,
      line: 2,
      message: "one bar only: give the bar length (--interval)",
    });
  }
  return gap;
}

/** Every trade of `source`, checked by the lake's own rules (see `validate.ts`). */
export function readTrades(source: SourceTable, exchange: string, symbol: string): Trade[] {
  const at = locateColumns(source, ["ts", "price", "size"]);
  const ids = new Map<string, number>();
  return source.rows.map(({ line, cells }) => {
    const row = new RowReader(source, line, cells);
    const ts = row.time(at.ts);
    const id = row.text(at.id, String(line));
    const before = ids.get(id);
    if (before !== undefined) throw row.error(at.id, `trade id "${id}" again (line ${before})`);
    ids.set(id, line);
    const trade: Trade = {
      kind: "trade",
      exchange,
      symbol,
      ts,
      recvTs: ts,
      id,
      price: row.number(at.price),
      size: row.number(at.size),
      side: row.side(at.side),
    };
    const why = tradeRejection(trade);
    if (why !== undefined) {
      const column = why === "price" ? at.price : why === "size" ? at.size : at.ts;
      throw row.error(column, `rejected by the lake's rules (${why})`);
    }
    return trade;
  });
}

async function importBars(options: ImportOptions, source: SourceTable): Promise<ImportReport> {
  const bars = readBars(source, options.interval);
  await Deno.mkdir(options.root, { recursive: true });
  const lock = await WriterLock.acquire(options.root, options.lock);
  try {
    const r = await writeBars(options.root, { ...options, bars });
    const times = bars.map((b) => b.ts);
    return {
      table: "bars",
      exchange: options.exchange,
      symbol: options.symbol,
      rows: bars.length,
      written: r.added,
      existing: r.replaced,
      first: Math.min(...times),
      last: Math.max(...times),
      interval: bars[0].intervalUs,
    };
  } finally {
    await lock.release();
  }
}

async function importTrades(options: ImportOptions, source: SourceTable): Promise<ImportReport> {
  const trades = readTrades(source, options.exchange, options.symbol);
  const lake = await ParquetLake.open({ root: options.root, lock: options.lock });
  try {
    const written = await lake.writeTrades(trades);
    const times = trades.map((t) => t.ts);
    return {
      table: "trades",
      exchange: options.exchange,
      symbol: options.symbol,
      rows: trades.length,
      written,
      existing: trades.length - written,
      first: Math.min(...times),
      last: Math.max(...times),
    };
  } finally {
    await lake.close();
  }
}
