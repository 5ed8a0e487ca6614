/**
 * Reads action logs (the `actions` table) from the Parquet lake:
 * `ROOT/actions/exchange=<source>/symbol=<run>/date=YYYY-MM-DD/*.parquet`.
 * @module
 */
import pl from "nodejs-polars";
import type { ActionRow, RunName } from "../schema/action_rows.ts";
import { listInstrumentDirs, listPartitions } from "./layout.ts";

/** A run whose log the lake holds. */
export type LakeRun = RunName;

/**
 * The rows of one run's log in the lake, by sequence number (`[]` for an unknown run);
 * `actionLines` turns them back into the log's lines, byte for byte.
 *
 * @example
 * ```ts ignore
 * const rows = await readLakeActions("data/lake", { source: "backtest", run: "mm-1f0c..." });
 * ```
 */
export async function readLakeActions(root: string, name: RunName): Promise<ActionRow[]> {
  const { source, run } = name;
  if (typeof source !== "string" || typeof run !== "string") {
    throw new TypeError("readLakeActions needs source and run");
  }
  const files = (await listPartitions(root, "actions", { exchange: source, symbol: run }))
    .flatMap((p) => p.files);
  if (files.length === 0) return [];
  const df = await pl.concat(
    files.map((f) =>
      pl.scanParquet(f, { hivePartitioning: false }).select(
        pl.col("seq").cast(pl.Float64),
        pl.col("ts").cast(pl.Int64).cast(pl.Float64),
        "action",
        "payload",
        "prev",
        "hash",
      )
    ),
  ).sort("seq").collect();
  const seq = df.getColumn("seq").toArray() as number[];
  const ts = df.getColumn("ts").toArray() as number[];
  const action = df.getColumn("action").toArray() as string[];
  const payload = df.getColumn("payload").toArray() as string[];
  const prev = df.getColumn("prev").toArray() as string[];
  const hash = df.getColumn("hash").toArray() as string[];
  return seq.map((s, i) => ({
    source,
    run,
    seq: s,
    ts: ts[i],
    action: action[i],
    payload: payload[i],
    prev: prev[i],
    hash: hash[i],
  }));
}

/** The runs the lake holds logs of (optionally of one source), by source and run. */
export async function listLakeRuns(root: string, source?: string): Promise<LakeRun[]> {
  return (await listInstrumentDirs(root, "actions"))
    .filter((d) => source === undefined || d.exchange === source)
    .map((d) => ({ source: d.exchange, run: d.symbol }));
}
