/**
 * Moves action logs (`actions`) from the PostgreSQL buffer to the lake, run by run. A log is
 * append-only and keyed by (source, run, seq), so a run whose lake copy holds fewer rows than
 * the buffer is read after the last sequence number the lake holds, in pages by sequence,
 * and written through the lake's own `writeActions` (idempotent: a page written twice is
 * stored once). A run is verified when the lake holds as many rows as the buffer. The buffer
 * keeps every log (an audit log has no retention).
 * @module
 */
import type postgres from "postgres";
import type { ParquetLake } from "../lake/parquet_lake.ts";
import { readLakeActions } from "../lake/action_reader.ts";
import { TABLES } from "../schema/tables.ts";
import { listBufferRuns, readBufferActions } from "./action_reader.ts";

/** Options of {@linkcode exportActions}. */
export interface ExportActionsOptions {
  readonly sql: postgres.Sql;
  readonly lake: ParquetLake;
  /** Rows read per page (default the table's `sliceRows`). */
  readonly sliceRows?: number;
}

/** What {@linkcode exportActions} did. */
export interface ActionExportReport {
  /** Runs in the buffer. */
  readonly runs: number;
  readonly rowsRead: number;
  readonly rowsWritten: number;
  /** `source/run` of the runs whose lake copy is complete after the call. */
  readonly verifiedRuns: readonly string[];
  /** `source/run` of the runs whose lake copy is still short. */
  readonly unverifiedRuns: readonly string[];
}

/** Exports every run's new actions to the lake (see the module documentation). */
export async function exportActions(options: ExportActionsOptions): Promise<ActionExportReport> {
  const { sql, lake } = options;
  const slice = options.sliceRows ?? TABLES.actions.sliceRows;
  if (!(Number.isSafeInteger(slice) && slice >= 1)) {
    throw new RangeError(`sliceRows must be an integer >= 1, got ${slice}`);
  }
  let rowsRead = 0;
  let rowsWritten = 0;
  const verifiedRuns: string[] = [];
  const unverifiedRuns: string[] = [];
  const runs = await listBufferRuns(sql);
  for (const run of runs) {
    const name = `${run.source}/${run.run}`;
    let stored = await readLakeActions(lake.root, run);
    if (stored.length < run.rows) {
      let after = stored.length > 0 ? stored[stored.length - 1].seq : 0;
      // A gap in the lake copy (a page lost in a crash): export the whole run again.
      if (after !== stored.length) after = 0;
      for (;;) {
        const page = await readBufferActions(sql, { ...run, afterSeq: after, limit: slice });
        if (page.length === 0) break;
        rowsRead += page.length;
        rowsWritten += await lake.writeActions(page);
        after = page[page.length - 1].seq;
        if (page.length < slice) break;
      }
      stored = await readLakeActions(lake.root, run);
    }
    (stored.length >= run.rows ? verifiedRuns : unverifiedRuns).push(name);
  }
  return { runs: runs.length, rowsRead, rowsWritten, verifiedRuns, unverifiedRuns };
}
