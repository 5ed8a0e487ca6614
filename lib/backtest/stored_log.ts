/**
 * An action log as rows of the `actions` table (`lib/schema/action_rows.ts`), for the lake
 * (`ParquetLake.writeActions`) and the buffer (`PostgresWriter.writeActions`); the
 * repositories' `actionLog(name)` gives the lines back, byte for byte.
 * @module
 */
import { type ActionRow, actionRows, runIdOf } from "../schema/action_rows.ts";
import type { ActionLog } from "./action_log.ts";

/** Options of {@linkcode actionLogRows}. */
export interface ActionLogRowsOptions {
  /** Where the run happened (default `backtest`). */
  readonly source?: string;
  /** The run's id (default `runIdOf(strategy name, the log's head hash)`). */
  readonly run?: string;
}

/**
 * The rows of a log, named by source and run.
 * @throws {TypeError} for an empty log.
 *
 * @example
 * ```ts ignore
 * const rows = actionLogRows(result.log);
 * await lake.writeActions(rows);
 * const lines = await new LakeRepository({ root }).actionLog(rows[0]);
 * ```
 */
export function actionLogRows(log: ActionLog, options: ActionLogRowsOptions = {}): ActionRow[] {
  const lines = log.lines();
  if (lines.length === 0) throw new TypeError("actionLogRows: the log is empty");
  const first = JSON.parse(lines[0]);
  const strategy = typeof first?.data?.strategy === "string" ? first.data.strategy : "run";
  const run = options.run ?? runIdOf(strategy, log.head);
  return actionRows(lines, { source: options.source ?? "backtest", run });
}
