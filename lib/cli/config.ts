/**
 * Configuration from the environment, with embedded defaults that work offline.
 *
 * | variable          | meaning                                              | default       |
 * | ----------------- | ---------------------------------------------------- | ------------- |
 * | `ALPHAPULSE_LAKE` | Parquet lake root                                    | `./data/lake` |
 * | `DATABASE_URL`    | PostgreSQL hot buffer; unset means lake only          | unset         |
 * @module
 */

/** The Parquet lake root: `$ALPHAPULSE_LAKE`, or `./data/lake`. */
export function defaultLakeRoot(): string {
  return Deno.env.get("ALPHAPULSE_LAKE") || "data/lake";
}

/** The PostgreSQL URL, or undefined for the embedded (lake only) default. */
export function databaseUrl(): string | undefined {
  return Deno.env.get("DATABASE_URL") || undefined;
}
