/**
 * Reads action logs (the `actions` table) from the PostgreSQL buffer.
 * @module
 */
import type postgres from "postgres";
import type { ActionRow, RunName } from "../schema/action_rows.ts";

/** A run whose log the buffer holds, with its row count. */
export interface StoredRun extends RunName {
  readonly rows: number;
}

/** Options of {@linkcode readBufferActions}. */
export interface ReadActionsOptions extends RunName {
  /** Only rows with a larger sequence number (keyset pagination). */
  readonly afterSeq?: number;
  /** At most this many rows (the first ones by sequence). */
  readonly limit?: number;
}

/**
 * The rows of one run's log, by sequence number, exactly as stored (`ts` in microseconds;
 * `actionLines` turns them back into the log's lines).
 *
 * @example
 * ```ts ignore
 * const rows = await readBufferActions(sql, { source: "backtest", run: "mm-1f0c9a2b3c4d5e6f" });
 * const check = verifyActionLog(actionLines(rows));
 * ```
 */
export async function readBufferActions(
  sql: postgres.Sql,
  options: ReadActionsOptions,
): Promise<ActionRow[]> {
  const { source, run } = options;
  if (typeof source !== "string" || typeof run !== "string") {
    throw new TypeError("readBufferActions needs source and run");
  }
  const after = options.afterSeq ?? 0;
  const limit = options.limit ?? null;
  if (!Number.isSafeInteger(after)) throw new TypeError("afterSeq must be an integer");
  if (limit !== null && !(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new RangeError(`limit must be an integer >= 1, got ${limit}`);
  }
  const rows = await sql<
    { seq: string; ts: string; action: string; payload: string; prev: string; hash: string }[]
  >`
    select seq::text as seq, (extract(epoch from ts) * 1000000)::bigint::text as ts,
      action, payload, prev, hash
    from actions where exchange = ${source} and symbol = ${run} and seq > ${after}
    order by actions.seq limit ${limit}`;
  return rows.map((r) => ({
    source,
    run,
    seq: Number(r.seq),
    ts: Number(r.ts),
    action: r.action,
    payload: r.payload,
    prev: r.prev,
    hash: r.hash,
  }));
}

/** The runs the buffer holds logs of (optionally of one source), by source and run. */
export async function listBufferRuns(sql: postgres.Sql, source?: string): Promise<StoredRun[]> {
  const rows = await sql<{ exchange: string; symbol: string; n: string }[]>`
    select exchange, symbol, count(*)::text as n from actions
    where ${source ?? null}::text is null or exchange = ${source ?? null}
    group by exchange, symbol order by exchange, symbol`;
  return rows.map((r) => ({ source: r.exchange, run: r.symbol, rows: Number(r.n) }));
}
