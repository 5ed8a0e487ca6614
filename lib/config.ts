/**
 * Configuration from the environment (`lib/cli/config.ts`), kept at this path for the
 * programs that import it.
 * @module
 */
export { databaseUrl, defaultLakeRoot } from "./cli/config.ts";
