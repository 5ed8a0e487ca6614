/**
 * The one read query of every buffer table, built from its {@linkcode TableSpec}: the
 * stored columns (the instrument aside) of one instrument in `[start, end)`, in key order,
 * after a key (keyset pagination), at most `limit` rows, as a binary `COPY ... TO STDOUT`.
 * Also the SQL literals every binary `COPY` query of the buffer uses (COPY takes no
 * parameters).
 * @module
 */
import type { ColumnSpec, TableSpec } from "../schema/tables.ts";

/** A SQL string literal (COPY takes no parameters). */
export function sqlLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** A timestamptz literal of microseconds since the epoch. */
export function timestampLiteral(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString();
  return `'${iso.slice(0, 23)}${String(micros - ms * 1000).padStart(3, "0")}Z'::timestamptz`;
}

/** `limit` checked: a whole number >= 1. */
function positiveLimit(limit: number): number {
  if (!(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new RangeError(`limit must be an integer >= 1, got ${limit}`);
  }
  return limit;
}

/** One instrument and an optional `[start, end)` range of `ts`, microseconds. */
export interface InstrumentRange {
  readonly exchange: string;
  readonly symbol: string;
  /** Inclusive start, microseconds. */
  readonly start?: number;
  /** Exclusive end, microseconds. */
  readonly end?: number;
}

/** `exchange = ... and symbol = ...` and the `ts` range, as `where` terms. */
export function rangeWhere(options: InstrumentRange): string[] {
  const where = [
    `exchange = ${sqlLiteral(options.exchange)}`,
    `symbol = ${sqlLiteral(options.symbol)}`,
  ];
  if (options.start !== undefined) where.push(`ts >= ${timestampLiteral(options.start)}`);
  if (options.end !== undefined) where.push(`ts < ${timestampLiteral(options.end)}`);
  return where;
}

/**
 * A row's key as a record by camelCase column name (`ts`, `id` for trades; `ts`, `recvTs`,
 * `digest` for the digest-keyed tables).
 */
export type KeyValues = Readonly<Record<string, number | string>>;

/** Options of {@linkcode tableCopyQuery}. */
export interface TableQueryOptions extends InstrumentRange {
  /** Only rows after this key in the table's key order. */
  readonly after?: KeyValues;
  /** At most this many rows (the first ones in key order). */
  readonly limit?: number;
  /**
   * Newest first: rows in descending key order, `after` meaning before that key (the last
   * `limit` rows, for a page read backwards).
   */
  readonly descending?: boolean;
}

/** `recv_ts` -> `recvTs`: the name of a column in row objects and keys. */
export function camelName(column: string): string {
  return column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The columns of `spec` a read returns: every stored column but the instrument's. */
function readColumns(spec: TableSpec): readonly ColumnSpec[] {
  return spec.columns.filter((c) => c.lake !== "path");
}

/**
 * The binary `COPY` of `spec`'s rows `options` asks for: the columns of
 * {@linkcode readColumns} in order, sorted by the key (the primary key's order, so no sort).
 */
export function tableCopyQuery(spec: TableSpec, options: TableQueryOptions): string {
  const where = rangeWhere(options);
  if (options.after !== undefined) {
    where.push(afterTerm(spec, options.after, options.descending === true));
  }
  const select = readColumns(spec).map((c) => c.name).join(", ");
  return `copy (select ${select} from ${spec.name}
    where ${where.join(" and ")} ${keyOrder(spec, options)}) to stdout (format binary)`;
}

/** `order by` the key of `spec` (descending when asked) and the `limit`. */
export function keyOrder(
  spec: TableSpec,
  options: { readonly limit?: number; readonly descending?: boolean },
): string {
  const limit = options.limit === undefined ? "" : ` limit ${positiveLimit(options.limit)}`;
  const desc = options.descending === true ? " desc" : "";
  return `order by ${spec.key.map((k) => k + desc).join(", ")}${limit}`;
}

/**
 * `(k1, k2, ...) > (v1, v2, ...)` over the key of `spec` (`<` when `descending`), each value
 * as its column's type.
 */
export function afterTerm(spec: TableSpec, after: KeyValues, descending = false): string {
  const values = spec.key.map((name) => {
    const column = spec.columns.find((c) => c.name === name)!;
    const field = camelName(name);
    return keyLiteral(column, field, after[field]);
  });
  return `(${spec.key.join(", ")}) ${descending ? "<" : ">"} (${values.join(", ")})`;
}

function keyLiteral(column: ColumnSpec, field: string, value: unknown): string {
  if (column.sql === "timestamptz") return timestampLiteral(value as number);
  if (column.sql === "text") return sqlLiteral(String(value));
  if (!Number.isInteger(value)) throw new TypeError(`after.${field} must be an integer`);
  return String(value);
}
