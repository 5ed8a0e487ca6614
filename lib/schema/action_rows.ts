/**
 * Rows of the `actions` table (the action log of a run, see `tables.ts`) and their exact
 * conversion from and to the log's JSON lines.
 *
 * A log line is `{"seq":S,"ts":T,"action":A,"data":D,"prev":"P","hash":"H"}`
 * (`lib/backtest/action_log.ts`). A row keeps `seq`, `ts`, `action`, `prev` and `hash` as
 * columns and `D`, the entry's data, as `payload`: the very text of the line, cut out of it,
 * never parsed and printed again. So {@linkcode actionLines} gives back the lines byte for
 * byte, and a log read from either store verifies (`verifyActionLog`) and replays
 * (`replay`) as the original does.
 *
 * A row names its run by `source` (stored as the `exchange` column: `backtest`, or the
 * broker's venue when live) and `run` (stored as `symbol`: a path-safe id, see
 * {@linkcode runIdOf}).
 *
 * @example
 * ```ts
 * import { actionLines, actionRows } from "./action_rows.ts";
 * import assert from "node:assert/strict";
 * const line = '{"seq":1,"ts":0,"action":"start","data":{"a":[1,2]},' +
 *   '"prev":"0000000000000000","hash":"0123456789abcdef"}';
 * const rows = actionRows([line], { source: "backtest", run: "r1" });
 * assert.equal(rows[0].payload, '{"a":[1,2]}');
 * assert.deepEqual(actionLines(rows), [line]);
 * ```
 * @module
 */

/** One stored action (one line of an action log). */
export interface ActionRow {
  /** Where the run happened: `backtest`, or a venue (stored as `exchange`). */
  readonly source: string;
  /** The run's id, path-safe (stored as `symbol`). */
  readonly run: string;
  /** 1, 2, 3, ... within the run. */
  readonly seq: number;
  /** Time of the action, microseconds. */
  readonly ts: number;
  readonly action: string;
  /** The entry's `data`: JSON text of an object, exactly as in the log line. */
  readonly payload: string;
  /** The previous entry's hash (16 hex digits). */
  readonly prev: string;
  readonly hash: string;
}

/** Which run a log belongs to. */
export interface RunName {
  readonly source: string;
  readonly run: string;
}

/** The text of a line before its data, for `seq`, `ts` and `action`. */
function prefixOf(seq: number, ts: number | null, action: string): string {
  return `{"seq":${seq},"ts":${ts},"action":${JSON.stringify(action)},"data":`;
}

/** The text of a line after its data. */
function tailOf(prev: string, hash: string): string {
  return `,"prev":"${prev}","hash":"${hash}"}`;
}

/**
 * The rows of a log's lines (JSON lines text, or lines without newlines).
 * @throws {SyntaxError} for a line that is not an action log entry as the log writes it.
 */
export function actionRows(log: string | readonly string[], name: RunName): ActionRow[] {
  const lines = typeof log === "string" ? log.split("\n").filter((l) => l.length > 0) : log;
  return lines.map((line) => {
    const e = JSON.parse(line);
    const prefix = prefixOf(e?.seq, e?.ts, e?.action);
    const tail = tailOf(e?.prev, e?.hash);
    if (
      typeof e?.action !== "string" || !line.startsWith(prefix) || !line.endsWith(tail) ||
      line.length < prefix.length + tail.length + 2
    ) {
      throw new SyntaxError(`not an action log line: ${line.slice(0, 80)}`);
    }
    return {
      source: name.source,
      run: name.run,
      seq: e.seq,
      ts: e.ts,
      action: e.action,
      payload: line.slice(prefix.length, line.length - tail.length),
      prev: e.prev,
      hash: e.hash,
    };
  });
}

/** The log lines of rows (in the order given: sort by `seq` first), without newlines. */
export function actionLines(rows: readonly ActionRow[]): string[] {
  return rows.map((r) => prefixOf(r.seq, r.ts, r.action) + r.payload + tailOf(r.prev, r.hash));
}

/**
 * A run id for a log: the strategy's name made path-safe, then the hash of the log's last
 * entry (which commits to every entry), e.g. `market_maker-1f0c9a2b3c4d5e6f`. The same run
 * gives the same id, so storing it twice stores it once.
 * @throws {TypeError} for an empty log.
 */
export function runIdOf(strategy: string, lastHash: string): string {
  if (!/^[0-9a-f]{16}$/.test(lastHash)) throw new TypeError(`not a log hash: ${lastHash}`);
  const name = strategy.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 40);
  return `${name || "run"}-${lastHash}`;
}
