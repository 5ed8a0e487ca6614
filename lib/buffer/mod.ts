/**
 * The PostgreSQL (or TimescaleDB) hot buffer: schema migrations, the COPY writer that
 * collectors use when `DATABASE_URL` is set, and the exporter that moves closed days to
 * the Parquet lake.
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
export { Exporter, type ExporterOptions, type ExportReport } from "./exporter.ts";
export { type BufferTradeColumns, readTrades, type ReadTradesOptions } from "./trade_reader.ts";
