/**
 * The buffer writer's idempotent COPY of one batch: straight into the table (the fast
 * path); on a unique violation, through a temporary table and `INSERT ... ON CONFLICT DO
 * NOTHING` (the slow path). Day partitions are created ahead (plain layout).
 * @module
 */
import type postgres from "postgres";
import { MICROS_PER_SECOND } from "../market/time.ts";
import { TABLES } from "../schema/tables.ts";
import { CHECK_VIOLATION, copyIn, type Queryable, UNIQUE_VIOLATION } from "./_copy.ts";
import type { Batch } from "./_encoder.ts";

const DAY = 86_400 * MICROS_PER_SECOND;

/** Copies batches into their tables (see the module documentation). */
export class BatchCopier {
  readonly #sql: postgres.Sql;
  readonly #ensured = new Set<string>();

  constructor(sql: postgres.Sql) {
    this.#sql = sql;
  }

  /**
   * COPY with the fast path, the slow path on conflict; resolves to the rows inserted and
   * whether the slow path was taken.
   */
  async copy(batch: Batch): Promise<{ inserted: number; conflict: boolean }> {
    const columns = TABLES[batch.table].copyColumns;
    await this.#ensurePartitions(this.#sql, batch);
    try {
      await copyIn(this.#sql, `copy ${batch.table} (${columns}) from stdin`, batch.chunks);
      return { inserted: batch.rows, conflict: false };
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === CHECK_VIOLATION && /no partition/i.test((e as Error).message)) {
        // Partitions were dropped behind our back (retention): create them again.
        for (const key of [...this.#ensured]) {
          if (key.startsWith(batch.table)) this.#ensured.delete(key);
        }
        await this.#ensurePartitions(this.#sql, batch);
      } else if (code !== UNIQUE_VIOLATION) {
        throw e;
      }
    }
    const inserted = await this.#sql.begin(async (tx) => {
      const stage = `_stage_${batch.table}`;
      await tx.unsafe(`create temp table ${stage} (like ${batch.table}) on commit drop`);
      await copyIn(tx, `copy ${stage} (${columns}) from stdin`, batch.chunks);
      const result = await tx.unsafe(
        `insert into ${batch.table} select * from ${stage} on conflict do nothing`,
      );
      return result.count;
    });
    return { inserted, conflict: true };
  }

  async #ensurePartitions(sql: Queryable, batch: Batch): Promise<void> {
    if (!TABLES[batch.table].bufferPartitioned || batch.rows === 0) return;
    const first = Math.floor(batch.minTs / DAY);
    const last = Math.floor(batch.maxTs / DAY);
    let missing = false;
    for (let d = first; d <= last && !missing; d++) {
      missing = !this.#ensured.has(batch.table + d);
    }
    if (!missing) return;
    // One day ahead too, so that the partition exists before midnight's first rows.
    await sql`select buffer_ensure_partitions(${batch.table},
      ${new Date(first * DAY / 1000)}, ${new Date((last + 1) * DAY / 1000)})`;
    for (let d = first; d <= last + 1; d++) this.#ensured.add(batch.table + d);
  }
}
