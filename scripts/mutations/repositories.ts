/** Deliberate bugs in the repositories area (see `types.ts`). */
import type { Mutation } from "./types.ts";

const EDGES = "tests/repository_bar_edges_test.ts";
const PAGING = "tests/repository_paging_test.ts";

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
    id: "repositories/page-cursor-row-repeated",
    description:
      "the key comparison after a cursor made inclusive: each page repeats its cursor row",
    file: "lib/repositories/_page.ts",
    find: 'const beyond = page.order === "asc" ? col.gt(lit) : col.lt(lit);',
    replace: 'const beyond = page.order === "asc" ? col.gtEq(lit) : col.lt(lit);',
    tests: [PAGING],
  },
  {
    id: "repositories/lake-page-overfilled-across-days",
    description:
      "each partition read for the whole limit: a page spanning days holds too many rows",
    file: "lib/repositories/lake_repository.ts",
    find: "{ ...page, limit: page.limit - got })",
    replace: "{ ...page, limit: page.limit })",
    tests: [PAGING],
  },
  {
    id: "repositories/memory-cursor-off-by-one",
    description: "memory pages start at the cursor row instead of after it",
    file: "lib/repositories/_page.ts",
    find: "? (r: T) => compare(r, after) > 0",
    replace: "? (r: T) => compare(r, after) >= 0",
    tests: [PAGING],
  },
  {
    id: "repositories/postgres-desc-cursor-forwards",
    description: "the buffer's descending keyset compares forwards (`>`): a desc page 2 is empty",
    file: "lib/buffer/_table_query.ts",
    find: 'return `(${spec.key.join(", ")}) ${descending ? "<" : ">"} (${values.join(", ")})`;',
    replace: 'return `(${spec.key.join(", ")}) ${descending ? ">" : ">"} (${values.join(", ")})`;',
    tests: ["tests/repository_events_test.ts"],
  },
  {
    id: "repositories/memory-actions-unsorted",
    description: "the memory repository gives a run's action lines back in write order",
    file: "lib/repositories/_memory_actions.ts",
    find: "return actionLines([...run.values()].sort((a, b) => a.seq - b.seq));",
    replace: "return actionLines([...run.values()]);",
    tests: ["tests/action_store_test.ts"],
  },
  {
    id: "repositories/memory-actions-last-copy-kept",
    description: "the memory repository's action log keeps the last copy of a seq",
    file: "lib/repositories/_memory_actions.ts",
    find: "      if (run.has(row.seq)) {",
    replace: "      if (run.has(row.seq) && false) {",
    tests: ["tests/action_store_test.ts"],
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
