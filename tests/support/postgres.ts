/**
 * A throwaway PostgreSQL cluster for tests: `scripts/postgres_cluster.ts`, shared with the
 * benchmarks (which must not import tests).
 * @module
 */
export {
  POSTGRES_BIN,
  type PostgresCluster,
  startPostgres,
  type StartPostgresOptions,
} from "../../scripts/postgres_cluster.ts";
