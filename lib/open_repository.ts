/**
 * The one front door to stored market data: {@linkcode openRepository} picks the lake, the
 * PostgreSQL buffer or both from the environment (see `config.ts`).
 * @module
 */
import postgres from "postgres";
import { databaseUrl, defaultLakeRoot } from "./config.ts";
import { LakeRepository } from "./repositories/lake_repository.ts";
import { PostgresRepository } from "./repositories/postgres_repository.ts";
import { UnifiedRepository } from "./repositories/unified_repository.ts";

/** Which store a repository reads. */
export type RepositoryKind = "lake" | "buffer" | "unified";

/** Options of {@linkcode openRepository}; each defaults from the environment. */
export interface OpenRepositoryOptions {
  /** The store (default: see {@linkcode openRepository}). */
  readonly kind?: RepositoryKind;
  /**
   * Lake root (default `$ALPHAPULSE_LAKE`; else `data/lake` under the working folder when it
   * exists; else `data/lake` of this AlphaPulse checkout, where the tasks write by default).
   */
  readonly lake?: string;
  /** PostgreSQL URL of the buffer (default `$DATABASE_URL`). */
  readonly databaseUrl?: string;
}

/** A repository opened by {@linkcode openRepository}: close it when done. */
export type OpenedRepository = LakeRepository | PostgresRepository | UnifiedRepository;

/**
 * Opens the repository the environment describes:
 *
 * | `kind` given | `DATABASE_URL` | result                                                     |
 * | ------------ | -------------- | ---------------------------------------------------------- |
 * | `lake`       | any            | `LakeRepository` over the lake root                        |
 * | `buffer`     | required       | `PostgresRepository` (recent days only)                    |
 * | `unified`    | required       | `UnifiedRepository`: lake history plus the buffer's days   |
 * | none         | unset          | `LakeRepository` (the embedded default, no server)         |
 * | none         | set            | `UnifiedRepository` (what collectors and the exporter fill) |
 *
 * The lake root is `options.lake`, else `$ALPHAPULSE_LAKE`, else `data/lake` under the
 * working folder if there is one, else `data/lake` of the AlphaPulse checkout this module
 * is in (so a notebook in any folder finds the lake the tasks write). A missing lake folder
 * reads as empty. `close()` releases everything the call opened (DuckDB, the PostgreSQL
 * client).
 *
 * @example
 * ```ts ignore
 * import { openRepository } from "@alphapulse/lib";
 * const repo = await openRepository(); // lake, or lake + buffer with DATABASE_URL
 * const lake = await openRepository({ kind: "lake" }); // SQL, book changes
 * const perDay = await lake.sql("SELECT date, count(*) FROM trades GROUP BY date").polars();
 * ```
 * @throws {TypeError} (as a rejection) for an unknown `kind`, or `buffer`/`unified` without a
 * database URL.
 */
export function openRepository(
  options: OpenRepositoryOptions & { readonly kind: "lake" },
): Promise<LakeRepository>;
export function openRepository(
  options: OpenRepositoryOptions & { readonly kind: "buffer" },
): Promise<PostgresRepository>;
export function openRepository(
  options: OpenRepositoryOptions & { readonly kind: "unified" },
): Promise<UnifiedRepository>;
export function openRepository(options?: OpenRepositoryOptions): Promise<OpenedRepository>;
export async function openRepository(
  options: OpenRepositoryOptions = {},
): Promise<OpenedRepository> {
  const url = options.databaseUrl ?? databaseUrl();
  const kind = options.kind ?? (url ? "unified" : "lake");
  const root = options.lake ?? lakeRoot();
  switch (kind) {
    case "lake":
      return await LakeRepository.open({ root });
    case "buffer":
      if (!url) throw new TypeError("a buffer repository needs DATABASE_URL (or databaseUrl)");
      return new PostgresRepository({ url });
    case "unified": {
      if (!url) throw new TypeError("a unified repository needs DATABASE_URL (or databaseUrl)");
      const lake = await LakeRepository.open({ root });
      const sql = postgres(url, { max: 4, onnotice: () => {} });
      return new OwningUnifiedRepository(lake, sql);
    }
    default:
      throw new TypeError(`unknown repository kind "${kind}": lake, buffer or unified`);
  }
}

function lakeRoot(): string {
  if (Deno.env.get("ALPHAPULSE_LAKE")) return defaultLakeRoot();
  const local = defaultLakeRoot();
  try {
    if (Deno.statSync(local).isDirectory) return local;
  } catch {
    // No lake under the working folder: the checkout's.
  }
  const checkout = new URL("../data/lake", import.meta.url);
  return checkout.protocol === "file:" ? decodeURIComponent(checkout.pathname) : local;
}

/** A unified repository that owns its lake and PostgreSQL client and closes both. */
class OwningUnifiedRepository extends UnifiedRepository {
  readonly #lake: LakeRepository;
  readonly #sql: postgres.Sql;
  constructor(lake: LakeRepository, sql: postgres.Sql) {
    super({ lake, sql });
    this.#lake = lake;
    this.#sql = sql;
  }
  override async close(): Promise<void> {
    await super.close();
    await this.#lake.close();
    await this.#sql.end({ timeout: 5 });
  }
}
