/** Deliberate bugs in the buffer area (see `types.ts`). */
import type { Mutation } from "./types.ts";

const ESCAPE = "tests/buffer_copy_escape_test.ts";
const RESUME = "tests/buffer_export_resume_test.ts";
const MIGRATIONS = "lib/buffer/migrations.ts";
const DELIVERY = "lib/delivery/durable_delivery.ts";
const DELIVERY_TEST = "tests/durable_delivery_test.ts";

export const mutations: readonly Mutation[] = [
  {
    id: "buffer/delivery-counter-lost-update",
    description: "concurrent deliveries add to a counter read before their await (rows lost)",
    file: DELIVERY,
    find:
      "const inserted = await this.#options.deliver(batch);\n        this.#persisted += inserted;",
    replace: "this.#persisted += await this.#options.deliver(batch);",
    tests: [DELIVERY_TEST],
  },
  {
    id: "buffer/delivery-outage-drops-batch",
    description: "a batch that meets a database outage is dropped instead of retried and spilled",
    file: DELIVERY,
    find: "if (!this.#options.isUnavailable(e)) return this.#refused(batch, e);",
    replace: "return this.#refused(batch, e);",
    tests: [DELIVERY_TEST],
  },
  {
    id: "buffer/delivery-replay-out-of-order",
    description: "spill segments replayed newest first",
    file: DELIVERY,
    find: "for (const segment of segments) {",
    replace: "for (const segment of segments.reverse()) {",
    tests: [DELIVERY_TEST],
  },
  {
    id: "buffer/copy-fast-path-backslash-unescaped",
    description: "a backslash not escaped on the COPY fast path (`a\\b` stored as a backspace)",
    file: "lib/buffer/_copy.ts",
    find: "if (c < 32 || c > 126 || c === 92) return this.#slowText(value);",
    replace: "if (c < 32 || c > 126) return this.#slowText(value);",
    tests: [ESCAPE],
  },
  {
    id: "buffer/copy-fast-path-controls-unescaped",
    description: "tab, newline and carriage return pass the COPY fast path unescaped",
    file: "lib/buffer/_copy.ts",
    find: "if (c < 32 || c > 126 || c === 92) return this.#slowText(value);",
    replace: "if (c < 9 || c > 126 || c === 92) return this.#slowText(value);",
    tests: [ESCAPE],
  },
  {
    id: "buffer/timestamp-fraction-padded-right",
    description: "an event's microsecond fraction padded on the wrong side (001234 -> 123400)",
    file: "lib/buffer/_copy.ts",
    find: 'String(frac).padStart(6, "0")',
    replace: 'String(frac).padEnd(6, "0")',
    tests: [ESCAPE],
  },
  {
    id: "buffer/trade-timestamp-last-digits",
    description: "a trade time's last two microsecond digits taken modulo 10",
    file: "lib/buffer/_copy.ts",
    find: "const d45 = DIGITS[frac % 100];",
    replace: "const d45 = DIGITS[frac % 10];",
    tests: [ESCAPE],
  },
  {
    id: "buffer/slow-path-skipped",
    description: "a batch that conflicts is refused instead of replayed through the slow path",
    file: "lib/buffer/_batch_copy.ts",
    find: "} else if (code !== UNIQUE_VIOLATION) {",
    replace: "} else if (code !== CHECK_VIOLATION) {",
    tests: [ESCAPE],
  },
  {
    id: "buffer/export-watermark-before-write",
    description: "the export watermark set before the page is written",
    file: "lib/buffer/exporter.ts",
    find: "        else pending = ++i < plan.length ? this.#readPage(plan[i]) : undefined;\n" +
      "        const n = await this.#write(page, bars);",
    replace: "        else pending = ++i < plan.length ? this.#readPage(plan[i]) : undefined;\n" +
      "        if (!page.next && (plan[i]?.kind !== task.kind || plan[i]?.day !== task.day)) {\n" +
      "          await this.#queries.setWatermark(task.kind, task.end === task.day + DAY ? " +
      "task.end : closedEnd);\n" +
      "        }\n" +
      "        const n = await this.#write(page, bars);",
    tests: [RESUME],
  },
  {
    id: "buffer/export-short-day-not-reexported",
    description: "verification never re-exports a closed day the lake is short of",
    file: "lib/buffer/exporter.ts",
    find: "if (inLake < c.rows) {\n        this.#log(",
    replace: "if (inLake < 0) {\n        this.#log(",
    tests: [RESUME],
  },
  {
    id: "buffer/retention-late-rows-dropped",
    description: "retention drops a partition holding rows that arrived after its export",
    file: MIGRATIONS,
    find: "EXECUTE format('SELECT count(*) FROM %I', p.partition) INTO n;\n" +
      "      IF n = verified THEN\n        EXECUTE format('DROP TABLE %I', p.partition);\n" +
      "        RETURN NEXT p.partition;\n      END IF;\n    END LOOP;\n  END LOOP;\n" +
      "  RETURN QUERY",
    replace: "EXECUTE format('SELECT count(*) FROM %I', p.partition) INTO n;\n" +
      "      IF n >= verified THEN\n        EXECUTE format('DROP TABLE %I', p.partition);\n" +
      "        RETURN NEXT p.partition;\n      END IF;\n    END LOOP;\n  END LOOP;\n" +
      "  RETURN QUERY",
    tests: [RESUME],
  },
  {
    id: "buffer/retention-event-log-late-rows-deleted",
    description: "event-log retention deletes a day holding rows that arrived after its export",
    file: MIGRATIONS,
    find: "IF n <> d.buffer_rows THEN",
    replace: "IF n < d.buffer_rows THEN",
    tests: [RESUME],
  },
  {
    id: "buffer/retention-event-log-day-start",
    description: "event-log retention measures a day's age from its start, not its end",
    file: MIGRATIONS,
    find: "AND ((e.day + 1)::timestamp AT TIME ZONE 'UTC') <= now() - retain",
    replace: "AND (e.day::timestamp AT TIME ZONE 'UTC') <= now() - retain",
    tests: [RESUME],
  },
  {
    id: "buffer/retention-partition-day-start",
    description: "partition retention measures a day's age from its start, not its end",
    file: MIGRATIONS,
    find: "CREATE OR REPLACE FUNCTION buffer_drop_expired(retain interval DEFAULT interval " +
      "'7 days')\nRETURNS SETOF text LANGUAGE plpgsql AS $$\nDECLARE\n  t text;\n" +
      "  p record;\n  n bigint;\n  verified bigint;\nBEGIN\n" +
      "  FOREACH t IN ARRAY ARRAY['trades', 'book_changes', 'book_snapshots', 'quotes'] LOOP\n" +
      "    FOR p IN SELECT * FROM buffer_partitions(t)\n" +
      "             WHERE ((day + 1)::timestamp",
    replace: "CREATE OR REPLACE FUNCTION buffer_drop_expired(retain interval DEFAULT interval " +
      "'7 days')\nRETURNS SETOF text LANGUAGE plpgsql AS $$\nDECLARE\n  t text;\n" +
      "  p record;\n  n bigint;\n  verified bigint;\nBEGIN\n" +
      "  FOREACH t IN ARRAY ARRAY['trades', 'book_changes', 'book_snapshots', 'quotes'] LOOP\n" +
      "    FOR p IN SELECT * FROM buffer_partitions(t)\n" +
      "             WHERE (day::timestamp",
    tests: [RESUME],
  },
  {
    id: "buffer/recent-window-misses-newest-time",
    description: "the recent-trade window forgets re-sent trades at the newest time",
    file: "lib/buffer/_encoder.ts",
    find: "if (ts <= this.#maxTs) {",
    replace: "if (ts < this.#maxTs) {",
    tests: ["tests/buffer_writer_test.ts"],
  },
  {
    id: "buffer/exporter-drops-backfilled",
    description: "the exporter writes trades to the lake without their backfilled mark",
    file: "lib/buffer/_table_pages.ts",
    find: "lake.writeTradeColumns({ ...columns, ...instrument })",
    replace: "lake.writeTradeColumns({ ...columns, backfilled: undefined, ...instrument })",
    tests: ["tests/backfill_stored_test.ts"],
  },
  {
    id: "buffer/encoder-backfilled-never-set",
    description: "the COPY encoder stores every trade as not backfilled",
    file: "lib/buffer/_encoder.ts",
    find: "buf.byte(t.backfilled === true ? 116 : 102);",
    replace: "buf.byte(102);",
    tests: ["tests/backfill_stored_test.ts"],
  },
];
