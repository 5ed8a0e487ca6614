/**
 * The lake's directory layout, shared by the writer and the readers. Each kind of row has
 * its own table folder with the same hive layout:
 *
 * ```text
 * ROOT/<kind>/exchange=<exchange>/symbol=<symbol>/date=<YYYY-MM-DD>/part-<unique>.parquet
 * ```
 *
 * where `<kind>` is `trades`, `quotes`, `book_snapshots`, `book_changes`, `event_log` or
 * `actions` (see {@linkcode LakeKind}; the action log's `exchange` is the run's source and
 * its `symbol` the run id), and `<symbol>` is the symbol, or `%2A` for connection-wide
 * rows (symbol `*`, see `lib/schema/instrument.ts`), which DuckDB and Polars read back as
 * `*`. `date` is the UTC day of the row's venue time (`ts`). Bars (collected, made from
 * trades by the exporter, or brought in by `deno task import`) live beside these tables in
 * `ROOT/bars`, by `year=` instead of `date=` (see `bar_store.ts`). Files in progress carry
 * a name that no `*.parquet` glob matches (`.part-<unique>.parquet.tmp`) until they are
 * renamed into place.
 *
 * @module
 */
import { LAKE_TABLES, type LakeTable, TABLES } from "../schema/tables.ts";
import {
  isStorableSymbol,
  isValidExchange,
  symbolDir,
  symbolFromDir,
} from "../schema/instrument.ts";

/** Microseconds in one UTC day. */
export const MICROS_PER_DAY = 86_400_000_000;

/** The folder under the lake root that holds trades. */
const TRADES_DIR = "trades";

/** The folder under the lake root that holds bars (`bar_store.ts`). */
export const BARS_DIR = "bars";

export { isValidExchange, isValidSymbol } from "../schema/instrument.ts";

/** The UTC day number (days since the epoch) of a time in microseconds. */
export function dayOfMicros(micros: number): number {
  return Math.floor(micros / MICROS_PER_DAY);
}

/** `YYYY-MM-DD` of a UTC day number. */
export function dayToDate(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

/** The UTC day number of `YYYY-MM-DD`, or `NaN` for other text. */
function dateToDay(date: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return NaN;
  const ms = Date.parse(date + "T00:00:00Z");
  return Number.isNaN(ms) ? NaN : ms / 86_400_000;
}

/** A table of the lake (the schema's {@linkcode LakeTable}). */
export type LakeKind = LakeTable;

/** Every {@linkcode LakeKind}, trades first (the schema's `LAKE_TABLES`). */
export const LAKE_KINDS: readonly LakeKind[] = LAKE_TABLES;

/** Whether `kind` names a table of the lake. */
export function isLakeKind(kind: unknown): kind is LakeKind {
  return typeof kind === "string" && (LAKE_KINDS as readonly string[]).includes(kind);
}

/**
 * A table with its own folder in the lake: every {@linkcode LakeKind} (`date=` partitions)
 * and `bars` (`year=` partitions; the folder below the instrument is the table spec's
 * `lakePartition`). Maintenance (compaction, repair) and the catalog walk all of them.
 */
export type PartitionedTable = LakeKind | "bars";

/** Every {@linkcode PartitionedTable}: the {@linkcode LAKE_KINDS}, then `bars`. */
export const PARTITIONED_TABLES: readonly PartitionedTable[] = Object.freeze([
  ...LAKE_KINDS,
  "bars",
]);

/** Whether `table` names a {@linkcode PartitionedTable}. */
export function isPartitionedTable(table: unknown): table is PartitionedTable {
  return typeof table === "string" && (PARTITIONED_TABLES as readonly string[]).includes(table);
}

/** `ROOT/<table>` of any {@linkcode PartitionedTable}; a `TypeError` for another name. */
function tableRoot(root: string, table: PartitionedTable): string {
  if (!isPartitionedTable(table)) throw new TypeError(`not a lake table: ${table}`);
  return `${trimSlash(root)}/${table}`;
}

/** `ROOT/<kind>`; a `TypeError` for a kind that is not a {@linkcode LakeKind}. */
export function kindRoot(root: string, kind: LakeKind): string {
  if (!isLakeKind(kind)) throw new TypeError(`not a lake table: ${kind}`);
  return `${trimSlash(root)}/${kind}`;
}

/** `ROOT/trades`. */
export function tradesRoot(root: string): string {
  return kindRoot(root, TRADES_DIR);
}

/** `ROOT/<kind>/exchange=X/symbol=Y` (`kind` defaults to `trades`). */
export function instrumentDir(
  root: string,
  exchange: string,
  symbol: string,
  kind: LakeKind = TRADES_DIR,
): string {
  return `${kindRoot(root, kind)}/exchange=${exchange}/symbol=${symbolDir(symbol)}`;
}

/**
 * `ROOT/<kind>/exchange=X/symbol=Y/date=YYYY-MM-DD` for a UTC day number (`kind` defaults
 * to `trades`).
 */
export function partitionDir(
  root: string,
  exchange: string,
  symbol: string,
  day: number,
  kind: LakeKind = TRADES_DIR,
): string {
  return `${instrumentDir(root, exchange, symbol, kind)}/date=${dayToDate(day)}`;
}

/** An instrument folder found in the lake. */
export interface InstrumentDir {
  readonly exchange: string;
  readonly symbol: string;
  readonly path: string;
}

/**
 * One partition of an instrument (a `date=` folder, or a `year=` folder of bars) with its
 * visible Parquet files, sorted by name.
 */
export interface LakePartition {
  readonly exchange: string;
  readonly symbol: string;
  /** UTC day number (of the partition's first day: January 1 of a `year=` partition). */
  readonly day: number;
  /** The partition's folder name: `date=YYYY-MM-DD` or `year=YYYY`. */
  readonly folder: string;
  readonly path: string;
  readonly files: string[];
}

/** A partition of the `trades` table (same shape as any {@linkcode LakePartition}). */
export type TradePartition = LakePartition;

/**
 * The instruments that have a folder in a table of the lake (`kind` defaults to `trades`),
 * ordered by exchange then symbol.
 */
export async function listInstrumentDirs(
  root: string,
  kind: PartitionedTable = TRADES_DIR,
): Promise<InstrumentDir[]> {
  const out: InstrumentDir[] = [];
  for (const ex of await listDirs(tableRoot(root, kind), "exchange=")) {
    if (!isValidExchange(ex.value)) continue;
    for (const sym of await listDirs(ex.path, "symbol=")) {
      const symbol = symbolFromDir(sym.value);
      if (symbol === undefined) continue;
      out.push({ exchange: ex.value, symbol, path: sym.path });
    }
  }
  return out.sort((a, b) => compareText(a.exchange, b.exchange) || compareText(a.symbol, b.symbol));
}

/** Options of {@linkcode listPartitions} and {@linkcode listTradePartitions}. */
export interface PartitionFilter {
  readonly exchange: string;
  readonly symbol: string;
  /** Inclusive start, microseconds: partitions of earlier days are skipped. */
  readonly start?: number;
  /** Exclusive end, microseconds: partitions of later days are skipped. */
  readonly end?: number;
}

/**
 * The partitions of one instrument in table `kind` that can hold rows in `[start, end)`,
 * by day ascending, each with its visible `*.parquet` files. This is the partition pruning
 * every reader uses: only these files are opened. Unknown instruments yield `[]`.
 *
 * @example
 * ```ts ignore
 * const parts = await listPartitions("data/lake", "quotes", {
 *   exchange: "coinbase", symbol: "BTC-USD", start, end,
 * });
 * const files = parts.flatMap((p) => p.files);
 * ```
 */
export async function listPartitions(
  root: string,
  kind: PartitionedTable,
  filter: PartitionFilter,
): Promise<LakePartition[]> {
  const { exchange, symbol } = filter;
  const base = tableRoot(root, kind); // a TypeError for an unknown table, before any answer
  if (!isValidExchange(exchange) || !isStorableSymbol(symbol, true)) return [];
  const grain = TABLES[kind].lakePartition;
  const firstDay = filter.start === undefined ? -Infinity : startOf(grain, filter.start);
  const lastDay = filter.end === undefined ? Infinity : startOf(grain, filter.end - 1);
  const dir = `${base}/exchange=${exchange}/symbol=${symbolDir(symbol)}`;
  const out: LakePartition[] = [];
  for (const d of await listDirs(dir, `${grain}=`)) {
    const day = grain === "date" ? dateToDay(d.value) : yearToDay(d.value);
    if (Number.isNaN(day) || day < firstDay || day > lastDay) continue;
    const files = await listParquetFiles(d.path);
    const folder = `${grain}=${d.value}`;
    if (files.length > 0) out.push({ exchange, symbol, day, folder, path: d.path, files });
  }
  return out.sort((a, b) => a.day - b.day);
}

/** The first day of the partition (day or year) holding time `micros`. */
function startOf(grain: "date" | "year", micros: number): number {
  const day = dayOfMicros(micros);
  if (grain === "date") return day;
  return Date.UTC(new Date(day * 86_400_000).getUTCFullYear(), 0, 1) / 86_400_000;
}

/** The UTC day number of January 1 of `YYYY`, or `NaN` for other text. */
function yearToDay(year: string): number {
  return /^\d{4}$/.test(year) ? Date.UTC(Number(year), 0, 1) / 86_400_000 : NaN;
}

/** {@linkcode listPartitions} of the `trades` table. */
export function listTradePartitions(
  root: string,
  filter: PartitionFilter,
): Promise<TradePartition[]> {
  return listPartitions(root, TRADES_DIR, filter);
}

/** All partitions of all instruments of table `kind` (for maintenance such as compaction). */
export async function listAllPartitions(
  root: string,
  kind: PartitionedTable,
): Promise<LakePartition[]> {
  const out: LakePartition[] = [];
  for (const inst of await listInstrumentDirs(root, kind)) {
    out.push(...await listPartitions(root, kind, inst));
  }
  return out;
}

/** Visible Parquet files in a folder (full paths, sorted by name); `[]` if it is missing. */
async function listParquetFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(".parquet") && !e.name.startsWith(".")) {
        out.push(`${dir}/${e.name}`);
      }
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  return out.sort();
}

async function listDirs(
  dir: string,
  prefix: string,
): Promise<{ value: string; path: string }[]> {
  const out: { value: string; path: string }[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory && e.name.startsWith(prefix)) {
        out.push({ value: e.name.slice(prefix.length), path: `${dir}/${e.name}` });
      }
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  return out;
}

function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

/** Code-unit order, the order DuckDB uses for ASCII text. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
