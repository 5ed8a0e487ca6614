/**
 * Applies the buffer's schema migrations: `deno task db:migrate` (reads `DATABASE_URL`).
 * @module
 */
import postgres from "postgres";
import { type BufferLayout, type Migration, MIGRATIONS } from "./migrations.ts";
import { runMain } from "../cli/args.ts";

/** A `postgres` (npm:postgres) client. */
export type Sql = postgres.Sql;

/** Options for {@linkcode migrate}. */
export interface MigrateOptions {
  /** Force a layout; default `auto`: TimescaleDB when the extension is available. */
  readonly layout?: BufferLayout | "auto";
  /** Migrations to apply (default {@linkcode MIGRATIONS}); for tests. */
  readonly migrations?: readonly Migration[];
}

/** What {@linkcode migrate} did. */
export interface MigrateResult {
  /** The layout of the database (recorded by the first migration, then kept). */
  readonly layout: BufferLayout;
  /** Versions applied by this call (empty when the schema was current). */
  readonly applied: readonly number[];
}

/** Arbitrary constant for the advisory lock that serialises concurrent migrators. */
const MIGRATION_LOCK = 7_201_604_417;

/** Whether the server can `CREATE EXTENSION timescaledb`. */
export async function timescaleAvailable(sql: Sql): Promise<boolean> {
  const rows = await sql`select 1 from pg_available_extensions where name = 'timescaledb'`;
  return rows.length > 0;
}

/**
 * Brings the schema to the newest version. Idempotent and safe to run concurrently:
 * applied versions are recorded in `schema_migrations`, each migration runs in its own
 * transaction, and an advisory lock serialises migrators.
 *
 * @example
 * ```ts ignore
 * import postgres from "postgres";
 * import { migrate } from "./migrate.ts";
 * const sql = postgres(Deno.env.get("DATABASE_URL")!);
 * const { layout, applied } = await migrate(sql);
 * await sql.end();
 * ```
 */
export async function migrate(sql: Sql, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = options.migrations ?? MIGRATIONS;
  for (let i = 0; i < migrations.length; i++) {
    if (migrations[i].version !== i + 1) {
      throw new RangeError(`migration versions must be 1, 2, 3, ...: got ${migrations[i].version}`);
    }
  }
  const applied: number[] = [];
  const conn = await sql.reserve();
  try {
    await conn`select pg_advisory_lock(${MIGRATION_LOCK})`;
    try {
      await conn`set client_min_messages = warning`;
      await conn`create table if not exists schema_migrations (
        version integer primary key,
        name text not null,
        layout text not null,
        applied_at timestamptz not null default now())`;
      const done = await conn<{ version: number; layout: BufferLayout }[]>`
        select version, layout from schema_migrations order by version`;
      let layout: BufferLayout;
      if (done.length > 0) {
        layout = done[0].layout;
        if (options.layout && options.layout !== "auto" && options.layout !== layout) {
          throw new Error(`database already has the ${layout} layout, not ${options.layout}`);
        }
      } else if (options.layout && options.layout !== "auto") {
        layout = options.layout;
      } else {
        layout = await timescaleAvailable(conn) ? "timescale" : "plain";
      }
      const have = new Set(done.map((r) => r.version));
      for (const m of migrations) {
        if (have.has(m.version)) continue;
        const text = layout === "timescale" ? m.timescale ?? m.plain : m.plain;
        await conn.unsafe("begin");
        try {
          await conn.unsafe(text);
          await conn`insert into schema_migrations (version, name, layout)
            values (${m.version}, ${m.name}, ${layout})`;
          await conn.unsafe("commit");
        } catch (e) {
          await conn.unsafe("rollback").catch(() => {});
          throw new Error(`migration ${m.version} (${m.name}) failed: ${(e as Error).message}`, {
            cause: e,
          });
        }
        applied.push(m.version);
      }
      return { layout, applied };
    } finally {
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => {});
    }
  } finally {
    conn.release();
  }
}

/** Reads the layout recorded by {@linkcode migrate}; `undefined` before the first migration. */
export async function bufferLayout(sql: Sql): Promise<BufferLayout | undefined> {
  const rows = await sql<{ layout: BufferLayout }[]>`
    select layout from schema_migrations order by version limit 1`.catch(() => []);
  return rows[0]?.layout;
}

if (import.meta.main) {
  await runMain(async () => {
    const url = Deno.env.get("DATABASE_URL");
    if (!url) {
      throw new RangeError(
        "DATABASE_URL is not set: nothing to migrate (the embedded lake needs none)",
      );
    }
    const layoutArg = Deno.args.find((a) => a.startsWith("--layout="))?.slice(9);
    if (layoutArg && !["auto", "plain", "timescale"].includes(layoutArg)) {
      throw new RangeError(`--layout must be auto, plain or timescale, got ${layoutArg}`);
    }
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const layout = layoutArg as BufferLayout | "auto" | undefined;
      const result = await migrate(sql, { layout });
      console.log(
        result.applied.length
          ? `applied migrations ${result.applied.join(", ")} (${result.layout} layout)`
          : `schema is current (${result.layout} layout)`,
      );
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
}
