/**
 * The hot buffer as the collectors' sink when `DATABASE_URL` is set (see `lib/config.ts`):
 * unset means the embedded default, the collectors write the lake directly.
 * @module
 */
import postgres from "postgres";
import { databaseUrl } from "../cli/config.ts";
import { migrate } from "./migrate.ts";
import { PostgresWriter, type PostgresWriterOptions } from "./writer.ts";

/** A connection to the buffer that hands out one writer per feed. */
export interface BufferConnection {
  /** The shared npm:postgres client. */
  readonly sql: postgres.Sql;
  /** A writer for one feed (its own spill directory `<spillRoot>/<name>`). */
  writer(name: string, options?: Omit<PostgresWriterOptions, "sql" | "url">): PostgresWriter;
  /** Closes the client (close the writers first). */
  close(): Promise<void>;
}

/**
 * Connects to `$DATABASE_URL` and brings the schema up to date; `undefined` when the
 * variable is unset (lake only).
 *
 * @example
 * ```ts ignore
 * import { openBufferFromEnv } from "./from_env.ts";
 * const buffer = await openBufferFromEnv();
 * const sink = buffer ? buffer.writer("coinbase") : lakeSink;
 * ```
 */
export async function openBufferFromEnv(
  options: { readonly url?: string; readonly spillRoot?: string } = {},
): Promise<BufferConnection | undefined> {
  const url = options.url ?? databaseUrl();
  if (!url) return undefined;
  const sql = postgres(url, { max: 6, onnotice: () => {}, connect_timeout: 10 });
  try {
    await migrate(sql);
  } catch (e) {
    await sql.end({ timeout: 1 });
    throw e;
  }
  const spillRoot = options.spillRoot ?? "data/spill";
  return {
    sql,
    writer: (name, writerOptions = {}) => {
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new TypeError(`invalid writer name "${name}"`);
      return new PostgresWriter({ ...writerOptions, sql, spillDir: `${spillRoot}/${name}` });
    },
    close: () => sql.end({ timeout: 5 }),
  };
}
