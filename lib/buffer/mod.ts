/**
 * The PostgreSQL (or TimescaleDB) hot buffer: schema migrations, the COPY writer that
 * collectors use when `DATABASE_URL` is set, the exporter that moves closed days of every
 * table to the Parquet lake, the binary-COPY trade reader behind `PostgresRepository` and the
 * event reader the exporter uses for quotes, books and the event log.
 *
 * ## Configuration
 * No `DATABASE_URL`: the embedded default, collectors write the lake directly and nothing
 * here runs. With it: `deno task db:migrate` (also run by {@linkcode openBufferFromEnv}),
 * collectors write the buffer through {@linkcode PostgresWriter}, and `deno task export
 * [--every 1h] [--lake DIR] [--lag 5m]` moves closed ranges to the lake.
 *
 * ## Layouts
 * `migrate` picks the layout once, from `pg_available_extensions`:
 * - **plain PostgreSQL** (what the tests exercise; TimescaleDB is not packaged on these
 *   machines): daily native range partitions created ahead by the writer, a retention
 *   function `buffer_drop_expired(interval)` that drops a day only after the exporter
 *   verified it, bars maintained by the exporter in `bars`;
 * - **TimescaleDB**: hypertables with 1-day chunks, compression segmented by exchange and
 *   symbol, a `bars_1m` continuous aggregate and an hourly retention job (7 days) bounded
 *   by the verified export watermark. To run it: a server with the `timescaledb` package
 *   and `shared_preload_libraries = 'timescaledb'`, then `deno task db:migrate`
 *   (`--layout=timescale` forces it). This SQL is not exercised by the tests here.
 *
 * @example
 * ```ts ignore
 * import postgres from "postgres";
 * import { migrate, PostgresWriter } from "./mod.ts";
 * const url = Deno.env.get("DATABASE_URL")!;
 * const sql = postgres(url);
 * await migrate(sql);
 * const writer = new PostgresWriter({ sql });
 * writer.write(events);
 * await writer.close();
 * ```
 * @module
 */
export {
  bufferLayout,
  migrate,
  type MigrateOptions,
  type MigrateResult,
  timescaleAvailable,
} from "./migrate.ts";
export { type BufferLayout, EVENT_TABLES, type Migration, MIGRATIONS } from "./migrations.ts";
export {
  type BufferTable,
  PostgresWriter,
  type PostgresWriterOptions,
  type WriterStats,
} from "./writer.ts";
export {
  EXPORT_KINDS,
  Exporter,
  type ExporterOptions,
  type ExportKind,
  type ExportReport,
  type KindExportReport,
} from "./exporter.ts";
export { type BufferTradeColumns, readTrades, type ReadTradesOptions } from "./trade_reader.ts";
export { readEventRows, type ReadEventRowsOptions } from "./event_reader.ts";
export { type BufferConnection, openBufferFromEnv } from "./from_env.ts";
export {
  listBufferRuns,
  type ReadActionsOptions,
  readBufferActions,
  type StoredRun,
} from "./action_reader.ts";
export {
  type ActionExportReport,
  exportActions,
  type ExportActionsOptions,
} from "./action_export.ts";
