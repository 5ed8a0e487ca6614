/**
 * Column lookup by name and cell parsing (numbers, times, sides) for imports; every failure
 * is an {@linkcode ImportError} naming the line and column.
 * @module
 */
import type { TakerSide } from "../market/types.ts";
import { ImportError } from "./import_error.ts";
import type { Cell, SourceTable } from "./table_reader.ts";

/** Header names accepted for each field, lower case, first match wins. */
export const COLUMN_NAMES = {
  ts: ["ts", "time", "timestamp", "datetime", "date"],
  open: ["open", "o"],
  high: ["high", "h"],
  low: ["low", "l"],
  close: ["close", "c", "adj_close"],
  volume: ["volume", "vol", "v"],
  vwap: ["vwap"],
  trades: ["trades", "count", "trade_count", "n"],
  id: ["id", "trade_id", "tid"],
  price: ["price", "px"],
  size: ["size", "qty", "quantity", "amount", "volume"],
  side: ["side", "taker_side", "aggressor"],
} as const;

/** A field an import reads. */
export type Field = keyof typeof COLUMN_NAMES;

/** Where each wanted field is in a {@linkcode SourceTable} (`-1`: absent). */
export type ColumnIndex = Record<Field, number>;

/**
 * The index of every field in `table`'s header (case-insensitive).
 * @throws {ImportError} naming the header line when a `required` field has no column.
 */
export function locateColumns(table: SourceTable, required: readonly Field[]): ColumnIndex {
  const lower = table.header.map((h) => h.trim().toLowerCase());
  const index = {} as ColumnIndex;
  for (const field of Object.keys(COLUMN_NAMES) as Field[]) {
    const names: readonly string[] = COLUMN_NAMES[field];
    const at = names.map((n) => lower.indexOf(n)).find((i) => i >= 0);
    index[field] = at ?? -1;
  }
  for (const field of required) {
    if (index[field] < 0) {
      throw new ImportError({
        file: table.file,
        line: 1,
        message: `no column for "${field}" (header: ${table.header.join(",")}; ` +
          `accepted names: ${COLUMN_NAMES[field].join(", ")})`,
      });
    }
  }
  return index;
}

/** A reader of one row's cells that names the line and column of what it cannot read. */
export class RowReader {
  constructor(
    readonly table: SourceTable,
    readonly line: number,
    readonly cells: readonly Cell[],
  ) {}

  /** A failure at this row, in column `at`. */
  error(at: number, message: string): ImportError {
    const column = at < 0 ? undefined : (this.table.header[at] || String(at + 1));
    return new ImportError({ file: this.table.file, line: this.line, column, message });
  }

  #text(at: number): string {
    const v = this.cells[at];
    return v === null ? "" : String(v).trim();
  }

  /** A finite number; `optional` columns give `NaN` when absent or empty. */
  number(at: number, optional = false): number {
    if (at < 0) return NaN;
    const text = this.#text(at);
    if (text === "" && optional) return NaN;
    const value = typeof this.cells[at] === "number" ? this.cells[at] as number : Number(text);
    if (text === "" || !Number.isFinite(value)) {
      throw this.error(at, text === "" ? "empty, a number is needed" : `not a number: "${text}"`);
    }
    return value;
  }

  /**
   * A time in microseconds since the epoch: ISO 8601 text (`2020-08-28`, UTC when no offset
   * is given) or a number since the epoch whose unit is told by its size (< 1e11 seconds,
   * < 1e14 milliseconds, < 1e17 microseconds, else nanoseconds).
   */
  time(at: number): number {
    const text = this.#text(at);
    if (/^-?\d+(\.\d+)?$/.test(text)) {
      const v = Number(text);
      const abs = Math.abs(v);
      const us = abs < 1e11 ? v * 1e6 : abs < 1e14 ? v * 1e3 : abs < 1e17 ? v : v / 1e3;
      return Math.round(us);
    }
    const iso = /^\d{4}-\d{2}-\d{2}$/.test(text)
      ? `${text}T00:00:00Z`
      : /[zZ]|[+-]\d{2}:?\d{2}$/.test(text)
      ? text
      : `${text.replace(" ", "T")}Z`;
    const ms = Date.parse(iso);
    if (text === "" || Number.isNaN(ms)) throw this.error(at, `not a time: "${text}"`);
    const fraction = /\.(\d{4,6})/.exec(text)?.[1];
    return fraction === undefined ? ms * 1000 : Math.floor(ms / 1000) * 1e6 +
      Number(fraction.padEnd(6, "0"));
  }

  /** A taker side: `buy`/`b`, `sell`/`s`, or `unknown` for an absent or empty column. */
  side(at: number): TakerSide {
    if (at < 0) return "unknown";
    const text = this.#text(at).toLowerCase();
    if (text === "buy" || text === "b") return "buy";
    if (text === "sell" || text === "s") return "sell";
    if (text === "" || text === "unknown") return "unknown";
    throw this.error(at, `not a side: "${text}" (buy, sell, b, s or empty)`);
  }

  /** Text, or `fallback` for an absent column. */
  text(at: number, fallback: string): string {
    if (at < 0) return fallback;
    const text = this.#text(at);
    if (text === "") throw this.error(at, "empty");
    return text;
  }
}
