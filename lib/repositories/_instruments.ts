/**
 * Shared parts of `instruments()`: its option check and the summary shape per table.
 * @module
 */
import {
  INSTRUMENT_TABLES,
  type InstrumentsOptions,
  type InstrumentSummary,
  type InstrumentTable,
  type InstrumentTableSummary,
  isInstrumentTable,
} from "./repository.ts";

/**
 * The table `options` asks for (`trades` when not given).
 * @throws {TypeError} when `options` is not an object or `table` is not a string.
 * @throws {RangeError} for an unknown table.
 */
export function checkInstrumentsOptions(options: InstrumentsOptions | undefined): InstrumentTable {
  if (options === undefined) return "trades";
  if (options === null || typeof options !== "object") {
    throw new TypeError("instruments options must be an object");
  }
  const { table } = options;
  if (table === undefined) return "trades";
  if (typeof table !== "string") throw new TypeError("table must be a string");
  if (!isInstrumentTable(table)) {
    throw new RangeError(`unknown table "${table}": use one of ${INSTRUMENT_TABLES.join(", ")}`);
  }
  return table;
}

/**
 * One instrument's summary for `table`: the trades table's carries `trades` (= `rows`), the
 * others do not (an instrument's trade count is not known from its quotes).
 */
export function instrumentSummary(
  table: InstrumentTable,
  summary: InstrumentTableSummary,
): InstrumentTableSummary | InstrumentSummary {
  const { exchange, symbol, rows, first, last } = summary;
  return table === "trades"
    ? { exchange, symbol, trades: rows, rows, first, last }
    : { exchange, symbol, rows, first, last };
}

/** Orders summaries by exchange then symbol (code-unit order, like the stores). */
export function compareInstruments(
  a: { readonly exchange: string; readonly symbol: string },
  b: { readonly exchange: string; readonly symbol: string },
): number {
  return compareText(a.exchange, b.exchange) || compareText(a.symbol, b.symbol);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
