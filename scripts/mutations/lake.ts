/** Deliberate bugs in the lake area (see `types.ts`). */
import type { Mutation } from "./types.ts";

const LAKE = "tests/lake_test.ts";
const EVENTS = "tests/lake_events_test.ts";
const KNOWN = "tests/lake_known_keys_test.ts";
const JS_ENCODER = "tests/lake_js_encoder_test.ts";

export const mutations: readonly Mutation[] = [
  {
    id: "lake/digest-worker-abandon-limit-ignored",
    description: "new digest workers start however many were abandoned (threads pile up)",
    file: "lib/lake/digest_pool.ts",
    find: "  if (worker === undefined && !mayStartWorker()) return false;\n",
    replace: "",
    tests: ["tests/lake_worker_fallback_test.ts"],
  },
  {
    id: "lake/partition-day-rounded",
    description: "a row's date partition is its UTC day rounded, not floored (afternoons move)",
    file: "lib/lake/layout.ts",
    find: "return Math.floor(micros / MICROS_PER_DAY);",
    replace: "return Math.round(micros / MICROS_PER_DAY);",
    tests: [LAKE, EVENTS],
  },
  {
    id: "lake/partition-pruning-drops-last-day",
    description: "partition pruning takes the day before `end`'s day as the last one",
    file: "lib/lake/layout.ts",
    find: "startOf(grain, filter.end - 1);",
    replace: "startOf(grain, filter.end) - 1;",
    tests: ["tests/repository_bar_edges_test.ts", "tests/repository_test.ts"],
  },
  {
    id: "lake/trade-dedup-misses-max-id",
    description:
      "the stored-key range filter excludes the batch's largest key (a re-sent trade kept)",
    file: "lib/lake/_polars_partition.ts",
    find: "pl.col(column).gtEq(lit(p.low)).and(pl.col(column).ltEq(lit(p.high)))",
    replace: "pl.col(column).gtEq(lit(p.low)).and(pl.col(column).lt(lit(p.high)))",
    tests: [LAKE],
  },
  {
    id: "lake/event-dedup-misses-last-time",
    description:
      "the stored-key range filter excludes the batch's last time (a re-sent event row kept)",
    file: "lib/lake/_polars_partition.ts",
    find: "pl.col(column).gtEq(lit(p.low)).and(pl.col(column).ltEq(lit(p.high)))",
    replace: "pl.col(column).gtEq(lit(p.low)).and(pl.col(column).lt(lit(p.high)))",
    tests: [EVENTS],
  },
  {
    id: "lake/unsorted-trades-not-sorted",
    description: "a partition whose trades arrived out of order is written unsorted",
    file: "lib/lake/partition_writer.ts",
    find: "if (!p.sorted) index = keys.sorted(index);",
    replace: "if (p.sorted) index = keys.sorted(index);",
    tests: [LAKE],
  },
  {
    id: "lake/price-zero-accepted",
    description: "a trade price of zero accepted",
    file: "lib/schema/rules.ts",
    find: 'price > 0 && price < Infinity)) return "price";',
    replace: 'price >= 0 && price < Infinity)) return "price";',
    tests: [LAKE],
  },
  {
    id: "lake/placeholder-times-accepted",
    description: "trade times before 2000 (year-1 placeholders) accepted",
    file: "lib/schema/rules.ts",
    find: "return Number.isSafeInteger(value) && (value as number) >= MIN_VALID_MICROS &&",
    replace: "return Number.isSafeInteger(value) && (value as number) >= 0 &&",
    tests: [LAKE],
  },
  {
    id: "lake/symbol-slash-allowed",
    description: "a symbol with a slash accepted (it would nest partition folders)",
    file: "lib/schema/instrument.ts",
    find: "const SYMBOL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;",
    replace: "const SYMBOL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/;",
    tests: [LAKE],
  },
  {
    id: "lake/batch-repeat-counted-unique",
    description: "a key repeated within one batch of rows leaves the partition marked unique " +
      "(no de-duplication pass: the row is stored twice)",
    file: "lib/lake/_batch.ts",
    find: "if (order <= 0) {",
    replace: "if (order < 0) {",
    tests: ["tests/lake_batch_test.ts"],
  },
  {
    id: "lake/batch-revisited-partition-a-run",
    description: "a partition a batch comes back to keeps its run start: its rows are sliced " +
      "from the frame as one run (another partition's rows stored in it)",
    file: "lib/lake/_batch.ts",
    find: "if (p.rows > 0) p.start = undefined;",
    replace: "if (p.rows > 0) p.start = p.start;",
    tests: ["tests/lake_batch_test.ts"],
  },
  {
    id: "lake/bars-repair-keeps-oldest",
    description: "repair of the bars table keeps the first stored copy of a bar, not the newest",
    file: "lib/schema/tables.ts",
    find: 'keep: "last",',
    replace: 'keep: "first",',
    tests: ["tests/lake_bars_maintenance_test.ts"],
  },
  {
    id: "lake/old-trades-files-unreadable",
    description: "trades files written before the backfilled column no longer read",
    file: "lib/lake/scan_files.ts",
    find: 'missingColumns: "insert"',
    replace: 'missingColumns: "raise"',
    tests: ["tests/backfill_lake_old_files_test.ts"],
  },
  {
    id: "lake/upgrade-never-renamed",
    description: "the schema upgrade writes the new file but never renames it over the old one",
    file: "lib/lake/upgrade.ts",
    find: "await Deno.rename(temporary, path);",
    replace: "await Promise.resolve(temporary);",
    tests: ["tests/lake_upgrade_test.ts"],
  },
  {
    id: "lake/upgrade-leaves-temps",
    description: "the schema upgrade no longer removes the temporary file an interrupted run left",
    file: "lib/lake/upgrade.ts",
    find: "e.name.startsWith(TEMP_PREFIX) && e.name.endsWith(TEMP_SUFFIX)",
    replace: "e.name.startsWith(TEMP_SUFFIX) && e.name.endsWith(TEMP_SUFFIX)",
    tests: ["tests/lake_upgrade_test.ts"],
  },
  {
    id: "lake/unknown-files-trusted",
    description: "a partition holding files this writer did not write is taken as known: " +
      "a trade re-sent after a restart is stored twice",
    file: "lib/lake/stored_keys.ts",
    find: "return known === undefined ? null : known.high;",
    replace: "return known === undefined ? undefined : known.high;",
    tests: [KNOWN],
  },
  {
    id: "lake/known-keys-boundary-new",
    description: "a batch starting at the largest stored key is taken as all new (the key " +
      "stored twice)",
    file: "lib/lake/partition_writer.ts",
    find: "compareKeys(range.low, high) <= 0",
    replace: "compareKeys(range.low, high) < 0",
    tests: [KNOWN],
  },
  {
    id: "lake/batch-repeats-kept",
    description: "the JavaScript de-duplication of a batch keeps every repeat",
    file: "lib/lake/_row_keys.ts",
    find: "if (seen.has(k)) continue;",
    replace: "if (seen.has(k) && count < 0) continue;",
    tests: [KNOWN, "tests/lake_batch_test.ts"],
  },
  {
    id: "lake/trade-revisited-partition-a-run",
    description: "a trade partition a batch comes back to keeps its run start: its rows are " +
      "sliced as one run (another instrument's trades stored in it)",
    file: "lib/lake/_trade_batch.ts",
    find: "} else this.#partitions[k].start = undefined;",
    replace: "} else this.#partitions[k].start = this.#partitions[k].start;",
    tests: [KNOWN],
  },
  {
    id: "lake/concat-offsets-not-shifted",
    description: "concatenated row groups keep their input files' page offsets",
    file: "lib/lake/parquet/concat.ts",
    find: "const by = at - chunk.start;",
    replace: "const by = 0;",
    tests: ["tests/parquet_footer_concat_test.ts"],
  },
  {
    id: "lake/concat-dictionary-offset-stale",
    description: "a concatenated column chunk keeps its input's dictionary page offset",
    file: "lib/lake/parquet/concat.ts",
    find: "setOrDelete(m, 11, shifted(m.get(11), by));",
    replace: "setOrDelete(m, 11, m.get(11));",
    tests: ["tests/parquet_footer_concat_test.ts"],
  },
  {
    id: "lake/concat-plan-touching-ranges",
    description: "files whose file-order ranges meet at a value are concatenated whatever " +
      "the next order column holds (rows out of file order)",
    file: "lib/lake/_concat_plan.ts",
    find: "if (c < 0) return true;",
    replace: "if (c <= 0) return true;",
    tests: ["tests/compactor_concat_test.ts"],
  },
  {
    id: "lake/js-encoder-side-codes-swapped",
    description: "the default encoder writes a trade's side from the reversed dictionary " +
      "(buy stored as unknown)",
    file: "lib/lake/_js_encoder.ts",
    find: "data = { codes: c.codes, dictionary: c.dictionary };",
    replace: "data = { codes: c.codes, dictionary: [...c.dictionary].reverse() };",
    tests: [JS_ENCODER],
  },
  {
    id: "lake/js-encoder-decimal-digit-off",
    description: "numeric trade ids written as text with a wrong digit (9 as 0)",
    file: "lib/lake/parquet/text_columns.ts",
    find: "bytes[--at] = 0x30 + (v - q * 10);",
    replace: "bytes[--at] = 0x30 + ((v - q * 10) % 9);",
    tests: [JS_ENCODER],
  },
  {
    id: "lake/book-check-stops-at-depth",
    description:
      "a snapshot's levels past the kept depth are copied unchecked (a bad level is stored)",
    file: "lib/lake/book_columns.ts",
    find: "    if (check) {\n      const reason = levelPairRejection(level);",
    replace: "    if (check && i < keep) {\n      const reason = levelPairRejection(level);",
    tests: ["tests/lake_book_columns_test.ts"],
  },
  {
    id: "lake/book-check-skips-unsorted-rest",
    description: "an out-of-order side is sorted without checking its levels after the first",
    file: "lib/lake/book_columns.ts",
    find: "const reason = check ? levelPairsRejection(levels) : undefined;",
    replace: "const reason = undefined;",
    tests: ["tests/lake_book_columns_test.ts"],
  },
  {
    id: "lake/digest-keeps-trailing-zero",
    description: "a number with cents ending in 0 is hashed as 1.50, not String's 1.5",
    file: "lib/market/event_digest.ts",
    find: "while (d > 0 && k % 10 === 0) {",
    replace: "while (d > 1 && k % 10 === 0) {",
    tests: ["tests/lake_book_columns_test.ts"],
  },
  {
    id: "lake/digest-integer-digits-off",
    description: "the digest's 32-bit digit loop writes a digit one too high",
    file: "lib/market/event_digest.ts",
    find: "CACHED_TEXT[to] = ZERO + (rest - next * 10);\n      rest = next;\n    }\n  } else {",
    replace:
      "CACHED_TEXT[to] = ZERO + ((rest - next * 10 + 1) % 10);\n      rest = next;\n    }\n  } else {",
    tests: ["tests/lake_book_columns_test.ts"],
  },
];
