/**
 * The `actions` table held in memory for {@linkcode MemoryRepository}: the same rules as the
 * lake and the buffer (`actionRowRejection`), idempotent on (source, run, seq), the first
 * copy kept, and the log's lines given back byte for byte in `seq` order.
 * @module
 */
import { actionLines, type ActionRow, type RunName } from "../schema/action_rows.ts";
import { actionRowRejection, latestValidMicros, type Rejection } from "../schema/rules.ts";
import { nowMicros } from "../market/time.ts";

/** What one {@linkcode MemoryActions.write} did. */
export interface ActionWriteCounts {
  /** Rows newly held. */
  stored: number;
  /** Valid rows already held (same source, run and seq). */
  duplicates: number;
  /** Rows refused, by the schema's reason. */
  rejectedBy: Partial<Record<Rejection, number>>;
}

/** Action log rows by run, each run's rows by `seq`. */
export class MemoryActions {
  readonly #runs = new Map<string, Map<number, ActionRow>>();

  /** Stores the valid rows not held yet; never throws for a bad row (it is counted). */
  write(rows: readonly ActionRow[]): ActionWriteCounts {
    if (!Array.isArray(rows)) throw new TypeError("writeActions needs an array");
    const counts: ActionWriteCounts = { stored: 0, duplicates: 0, rejectedBy: {} };
    const latest = latestValidMicros(nowMicros());
    for (const row of rows) {
      const reason = actionRowRejection(row, latest);
      if (reason !== undefined) {
        counts.rejectedBy[reason] = (counts.rejectedBy[reason] ?? 0) + 1;
        continue;
      }
      const key = runKey(row);
      let run = this.#runs.get(key);
      if (run === undefined) this.#runs.set(key, run = new Map());
      if (run.has(row.seq)) {
        counts.duplicates++;
        continue;
      }
      // A copy: a caller changing its row later does not change the stored log.
      run.set(row.seq, { ...row });
      counts.stored++;
    }
    return counts;
  }

  /** The run's lines in `seq` order (`[]` for an unknown run). */
  lines(name: RunName): string[] {
    const run = this.#runs.get(runKey(name));
    if (run === undefined) return [];
    return actionLines([...run.values()].sort((a, b) => a.seq - b.seq));
  }
}

function runKey(name: RunName): string {
  return JSON.stringify([name.source, name.run]);
}
