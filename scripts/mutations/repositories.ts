/** Deliberate bugs in the repositories area (see `types.ts`). */
import type { Mutation } from "./types.ts";

const EDGES = "tests/repository_bar_edges_test.ts";

export const mutations: readonly Mutation[] = [
  {
    id: "repositories/unified-time-bar-end-inclusive",
    description:
      "a time bar's end made inclusive in the bar kernel (unified, memory, exporter use it)",
    file: "lib/market/bars.ts",
    find: "if (this.#open && this.#time && t >= c.ts[b] + this.#size) {",
    replace: "if (this.#open && this.#time && t > c.ts[b] + this.#size) {",
    tests: [EDGES],
  },
  {
    id: "repositories/unified-seam-rounded-up",
    description: "the unified seam rounded up: the buffer's first bar read from the lake only",
    file: "lib/repositories/unified_repository.ts",
    find: "return Math.floor(row.first / align) * align;",
    replace: "return Math.ceil(row.first / align) * align;",
    tests: [EDGES],
  },
  {
    id: "repositories/lake-bars-end-inclusive",
    description: "the lake's bar query includes a trade at exactly `end`",
    file: "lib/repositories/lake_repository.ts",
    find: 'end === undefined ? "" : `ts < make_timestamp(${end}::BIGINT)`,',
    replace: 'end === undefined ? "" : `ts <= make_timestamp(${end}::BIGINT)`,',
    tests: [EDGES],
  },
  {
    id: "repositories/postgres-bars-end-inclusive",
    description: "the buffer's bar query includes a trade at exactly `end`",
    file: "lib/repositories/postgres_repository.ts",
    find: "if (query.end !== undefined) where.push(`ts < ${timestampLiteral(query.end)}`);",
    replace: "if (query.end !== undefined) where.push(`ts <= ${timestampLiteral(query.end)}`);",
    tests: [EDGES],
  },
  {
    id: "repositories/postgres-bar-bucket-rounded",
    description: "the buffer's bar bucket rounded instead of floored",
    file: "lib/repositories/postgres_repository.ts",
    find: "floor((extract(epoch from ts) * 1000000)::float8 / ${us}) * ${us} as ts,",
    replace: "round((extract(epoch from ts) * 1000000)::float8 / ${us}) * ${us} as ts,",
    tests: [EDGES],
  },
  {
    id: "repositories/memory-range-end-inclusive",
    description: "the memory repository's range includes trades at exactly `end`",
    file: "lib/repositories/memory_repository.ts",
    find: "const to = q.end === undefined ? trades.length : lowerBound(trades, q.end);",
    replace: "const to = q.end === undefined ? trades.length : lowerBound(trades, q.end + 1);",
    tests: [EDGES],
  },
  {
    id: "repositories/activity-threshold-strict",
    description: "an activity bar closes only past the threshold, not at exactly it",
    file: "lib/market/bars.ts",
    find: "if (this.#accumulated >= this.#size) {",
    replace: "if (this.#accumulated > this.#size) {",
    tests: [EDGES],
  },
  {
    id: "repositories/fractional-bound-floored",
    description: "fractional range bounds rounded down (a trade before `start` included)",
    file: "lib/repositories/_query.ts",
    find: "return Math.ceil(value);",
    replace: "return Math.floor(value);",
    tests: [EDGES],
  },
  {
    id: "repositories/lake-sql-no-union-retry",
    description: "lake SQL fails on an old trades file (no backfilled) after a new first file",
    file: "lib/repositories/_lake_sql.ts",
    find: "if (!/schema mismatch in glob/i.test(String(err))) throw explain(err, root, present);",
    replace: "throw explain(err, root, present);",
    tests: ["tests/backfill_lake_old_files_test.ts"],
  },
  {
    id: "repositories/lake-sql-old-files-no-default",
    description: "lake SQL over trades files without backfilled gives NULL, not false",
    file: "lib/repositories/_lake_sql.ts",
    find: "`coalesce(${c.name}, ${value(c)}) AS ${c.name}`",
    replace: "`${c.name} AS ${c.name}`",
    tests: ["tests/backfill_lake_old_files_test.ts"],
  },
];
