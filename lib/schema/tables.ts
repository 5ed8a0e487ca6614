/**
 * One description per stored table: its name (the one name for "which table" used by the
 * lake, the PostgreSQL buffer, the exporter and the repositories), the model event it
 * stores, its key, the order of rows in a lake file, its columns with their types in
 * PostgreSQL, DuckDB/Parquet, Polars and Arrow, and the column list of the buffer's
 * `COPY`. The validation rules every store applies are in `rules.ts`.
 *
 * @module
 */
import type { MarketEventKind } from "../market/types.ts";

/** A stored table: the one name the lake's folders and the buffer's tables share. */
export type TableName =
  | "trades"
  | "quotes"
  | "book_snapshots"
  | "book_changes"
  | "bars"
  | "event_log"
  | "actions";

/** Every {@linkcode TableName}, trades first. */
export const TABLE_NAMES: readonly TableName[] = Object.freeze(
  ["trades", "quotes", "book_snapshots", "book_changes", "bars", "event_log", "actions"] as const,
);

/** The tables keyed by `(exchange, symbol, ts, recv_ts, digest)` (no venue id). */
export type DigestTable = "quotes" | "book_snapshots" | "book_changes" | "event_log";

/** Every {@linkcode DigestTable}, in a fixed order. */
export const DIGEST_TABLES: readonly DigestTable[] = Object.freeze(
  ["quotes", "book_snapshots", "book_changes", "event_log"] as const,
);

/**
 * The lake's tables partitioned by day (`date=`): every table but `bars`. Bars are in the
 * lake too, but partitioned by year (`year=`, newest bar wins; see `lib/lake/bar_store.ts`
 * and the spec's `lakePartition` and `keep`); the lake's maintenance (compaction, repair)
 * and its catalog walk both kinds of partition (`PARTITIONED_TABLES` in `lib/lake`).
 */
export type LakeTable = Exclude<TableName, "bars">;

/** Every {@linkcode LakeTable}, trades first. */
export const LAKE_TABLES: readonly LakeTable[] = Object.freeze(
  TABLE_NAMES.filter((name): name is LakeTable => name !== "bars"),
);

/** The tables that store market data (every table but the action log). */
export type MarketTable = Exclude<TableName, "actions">;

/** A column's type in each engine that reads or writes it. */
export interface ColumnType {
  /** PostgreSQL (the buffer). */
  readonly sql: string;
  /** DuckDB, which is also the Parquet logical type of the lake's files. */
  readonly duckdb: string;
  /** Polars (`nodejs-polars` data type name). */
  readonly polars: string;
  /** Apache Arrow (`apache-arrow` type name). */
  readonly arrow: string;
}

/** One column of a table. */
export interface ColumnSpec extends ColumnType {
  /** Column name, snake_case, identical in every store. */
  readonly name: string;
  /** Whether the column may hold NULL. */
  readonly nullable: boolean;
  /**
   * Where the column lives in the lake: `file` (a Parquet column), `path` (a hive folder:
   * exchange and symbol; the day folder comes from `ts`), or `none` (buffer only).
   */
  readonly lake: "file" | "path" | "none";
  /**
   * For a column added after the table's first files were written (trades' `backfilled`):
   * the value rows of lake files without it read as (the buffer's migration gives its rows
   * the same default). `undefined` for the table's original columns.
   */
  readonly absent?: boolean | number | string;
}

/** The description of one stored table. */
export interface TableSpec {
  readonly name: TableName;
  /**
   * The `kind` of the {@linkcode MarketEvent} stored in this table; `undefined` for the
   * action log (`actions`), whose rows are actions, not market events.
   */
  readonly event: MarketEventKind | undefined;
  /** The idempotency key, without the instrument (every key starts with exchange, symbol). */
  readonly key: readonly string[];
  /** Order of rows in each lake file (also what compaction sorts by). */
  readonly fileOrder: readonly string[];
  /**
   * The key of rows within one lake partition (exchange, symbol and the date or year are
   * the partition's folders): the {@linkcode TableSpec.key}, but only `id` for trades (a
   * venue's trade ids are unique per instrument). Its first column bounds the range of
   * stored rows a batch's write compares with.
   */
  readonly lakeKey: readonly string[];
  /**
   * The lake partition's folder below the instrument: `date` (`date=YYYY-MM-DD`, the UTC
   * day of `ts`) or `year` (`year=YYYY`, for bars: a folder a day would hold one daily bar).
   */
  readonly lakePartition: "date" | "year";
  /**
   * Which stored copy of a key the lake keeps: `first` (market data never changes) or
   * `last` (bars: a corrected bar replaces the stored one).
   */
  readonly keep: "first" | "last";
  /** Columns in the buffer's order (exchange and symbol first). */
  readonly columns: readonly ColumnSpec[];
  /** The column list of the buffer's `COPY ... FROM STDIN`, in the order rows are encoded. */
  readonly copyColumns: string;
  /** The columns after `ts, recv_ts, digest` in a lake file of a digest-keyed table. */
  readonly payload: readonly string[];
  /** Whether the plain buffer layout partitions the table by day on `ts`. */
  readonly bufferPartitioned: boolean;
  /** Whether the table accepts connection-wide rows (symbol `*`, see `instrument.ts`). */
  readonly connectionWide: boolean;
  /** Rows the exporter reads from the buffer per page by default. */
  readonly sliceRows: number;
}

const TYPES = {
  text: { sql: "text", duckdb: "VARCHAR", polars: "Utf8", arrow: "Utf8" },
  double: { sql: "double precision", duckdb: "DOUBLE", polars: "Float64", arrow: "Float64" },
  doubles: {
    sql: "double precision[]",
    duckdb: "DOUBLE[]",
    polars: "List(Float64)",
    arrow: "List<Float64>",
  },
  bigint: { sql: "bigint", duckdb: "BIGINT", polars: "Int64", arrow: "Int64" },
  integer: { sql: "integer", duckdb: "INTEGER", polars: "Int32", arrow: "Int32" },
  boolean: { sql: "boolean", duckdb: "BOOLEAN", polars: "Bool", arrow: "Bool" },
  time: {
    sql: "timestamptz",
    duckdb: "TIMESTAMP",
    polars: "Datetime(us)",
    arrow: "Timestamp<MICROSECOND>",
  },
} as const satisfies Record<string, ColumnType>;

type TypeName = keyof typeof TYPES;

function column(
  name: string,
  type: TypeName,
  options: { nullable?: boolean; lake?: ColumnSpec["lake"]; absent?: ColumnSpec["absent"] } = {},
): ColumnSpec {
  return Object.freeze({
    name,
    ...TYPES[type],
    nullable: options.nullable ?? false,
    lake: options.lake ?? "file",
    ...(options.absent === undefined ? {} : { absent: options.absent }),
  });
}

const INSTRUMENT = [
  column("exchange", "text", { lake: "path" }),
  column("symbol", "text", {
    lake: "path",
  }),
];
const DIGEST_HEADER = [
  column("ts", "time"),
  column("recv_ts", "time"),
  column("digest", "integer"),
];
const LEVELS = ["bid_prices", "bid_sizes", "ask_prices", "ask_sizes"].map((n) =>
  column(n, "doubles")
);
const DIGEST_KEY = Object.freeze(["ts", "recv_ts", "digest"]);

function spec(
  fields:
    & Omit<
      TableSpec,
      "copyColumns" | "payload" | "columns" | "lakeKey" | "lakePartition" | "keep"
    >
    & Partial<Pick<TableSpec, "lakeKey" | "lakePartition" | "keep">>
    & { readonly columns: readonly ColumnSpec[] },
): TableSpec {
  const columns = Object.freeze([...INSTRUMENT, ...fields.columns]);
  const digestKeyed = fields.key.join() === DIGEST_KEY.join();
  return Object.freeze({
    ...fields,
    key: Object.freeze([...fields.key]),
    lakeKey: Object.freeze([...fields.lakeKey ?? fields.key]),
    lakePartition: fields.lakePartition ?? "date",
    keep: fields.keep ?? "first",
    fileOrder: Object.freeze([...fields.fileOrder]),
    columns,
    copyColumns: columns.map((c) => c.name).join(", "),
    payload: Object.freeze(
      digestKeyed ? fields.columns.slice(DIGEST_HEADER.length).map((c) => c.name) : [],
    ),
  });
}

/** Every table's description, by name. */
export const TABLES: Readonly<Record<TableName, TableSpec>> = Object.freeze({
  trades: spec({
    name: "trades",
    event: "trade",
    key: ["ts", "id"],
    lakeKey: ["id"],
    fileOrder: ["ts", "id"],
    columns: [
      column("id", "text"),
      column("price", "double"),
      column("size", "double"),
      column("side", "text"),
      column("ts", "time"),
      column("recv_ts", "time"),
      // A trade missed live and fetched from the venue's REST history (`collectors/backfill`);
      // not part of the key: a trade stored live and backfilled is one row, the first stored.
      column("backfilled", "boolean", { absent: false }),
    ],
    bufferPartitioned: true,
    connectionWide: false,
    sliceRows: 250_000,
  }),
  quotes: spec({
    name: "quotes",
    event: "quote",
    key: DIGEST_KEY,
    fileOrder: DIGEST_KEY,
    columns: [
      ...DIGEST_HEADER,
      column("bid_price", "double"),
      column("bid_size", "double"),
      column("ask_price", "double"),
      column("ask_size", "double"),
    ],
    bufferPartitioned: true,
    connectionWide: false,
    sliceRows: 250_000,
  }),
  book_snapshots: spec({
    name: "book_snapshots",
    event: "book_snapshot",
    key: DIGEST_KEY,
    fileOrder: DIGEST_KEY,
    columns: [
      ...DIGEST_HEADER,
      ...LEVELS,
      column("sequence", "bigint", { nullable: true }),
      column("checksum", "bigint", { nullable: true }),
    ],
    bufferPartitioned: true,
    connectionWide: false,
    // Up to 4 x 50 levels per row (about 2 KB as JS arrays).
    sliceRows: 20_000,
  }),
  book_changes: spec({
    name: "book_changes",
    event: "book_change",
    key: DIGEST_KEY,
    fileOrder: DIGEST_KEY,
    columns: [
      ...DIGEST_HEADER,
      ...LEVELS,
      column("first_sequence", "bigint", { nullable: true }),
      column("sequence", "bigint", { nullable: true }),
      column("checksum", "bigint", { nullable: true }),
    ],
    bufferPartitioned: true,
    connectionWide: false,
    sliceRows: 100_000,
  }),
  bars: spec({
    name: "bars",
    event: "bar",
    key: ["interval_us", "ts"],
    fileOrder: ["interval_us", "ts"],
    lakePartition: "year",
    keep: "last",
    columns: [
      column("interval_us", "bigint"),
      column("ts", "time"),
      column("recv_ts", "time"),
      column("open", "double"),
      column("high", "double"),
      column("low", "double"),
      column("close", "double"),
      column("volume", "double"),
      column("vwap", "double", { nullable: true }),
      column("trades", "bigint"),
    ],
    bufferPartitioned: false,
    connectionWide: false,
    sliceRows: 250_000,
  }),
  event_log: spec({
    name: "event_log",
    event: "status",
    key: DIGEST_KEY,
    fileOrder: DIGEST_KEY,
    columns: [...DIGEST_HEADER, column("status", "text"), column("reason", "text")],
    bufferPartitioned: false,
    connectionWide: true,
    sliceRows: 250_000,
  }),
  // The action log of runs (see `action_rows.ts`): the instrument columns name the run,
  // `exchange` its source (`backtest`, or the broker's venue when live) and `symbol` the run
  // id, so the lake partitions it by source, run and day (of `ts`).
  actions: spec({
    name: "actions",
    event: undefined,
    key: ["seq"],
    fileOrder: ["seq"],
    columns: [
      column("seq", "bigint"),
      column("ts", "time"),
      column("action", "text"),
      column("payload", "text"),
      column("prev", "text"),
      column("hash", "text"),
    ],
    bufferPartitioned: false,
    connectionWide: false,
    sliceRows: 250_000,
  }),
});

const BY_EVENT: ReadonlyMap<string, TableSpec> = new Map(
  TABLE_NAMES.filter((name) => TABLES[name].event !== undefined).map((
    name,
  ) => [TABLES[name].event as string, TABLES[name]]),
);

/** The table a model event of `kind` is stored in, or `undefined` for an unknown kind. */
export function tableOfEvent(kind: unknown): TableSpec | undefined {
  return typeof kind === "string" ? BY_EVENT.get(kind) : undefined;
}

/** Whether `name` is a {@linkcode TableName}. */
export function isTableName(name: unknown): name is TableName {
  return typeof name === "string" && Object.hasOwn(TABLES, name);
}

/** Whether `name` is a {@linkcode LakeTable}. */
export function isLakeTable(name: unknown): name is LakeTable {
  return typeof name === "string" && (LAKE_TABLES as readonly string[]).includes(name);
}

/** Whether `name` is a {@linkcode DigestTable}. */
export function isDigestTable(name: unknown): name is DigestTable {
  return typeof name === "string" && (DIGEST_TABLES as readonly string[]).includes(name);
}
