/**
 * The thread of {@linkcode SideReplayPool} (`_side_replay_pool.ts`): rebuilds one side of a
 * book per job message into the job's arrays and hands them back, their buffers transferred.
 * @module
 */
import process from "node:process";
import { parentPort } from "node:worker_threads";
import { replaySide, type SideInput } from "./_book_side_replay.ts";
import {
  type ListsLayout,
  packOutput,
  type SideAnswer,
  type SideJob,
  unpackOutput,
} from "./_side_replay_pool.ts";

/** The job's input as views of its shared memory. */
function inputOf(job: SideJob): SideInput {
  const { shared, layout } = job;
  const f64 = ([at, n]: readonly [number, number]) => new Float64Array(shared, at, n);
  const i32 = ([at, n]: readonly [number, number]) => new Int32Array(shared, at, n);
  const lists = (l: ListsLayout) => ({
    offsets: i32(l.offsets),
    prices: f64(l.prices),
    sizes: f64(l.sizes),
  });
  return {
    sign: job.sign,
    kind: new Uint8Array(shared, layout.kind[0], layout.kind[1]),
    rowEnds: i32(layout.rowEnds),
    rows: job.rows,
    snapshots: lists(layout.snapshots),
    snapshotDepths: f64(layout.snapshotDepths),
    changes: lists(layout.changes),
    levels: job.levels,
    storedDepth: job.storedDepth,
    cumDepths: job.cumDepths,
  };
}

function serve(job: SideJob): void {
  if (job.fault === "exit") process.exit(3);
  // deno-lint-ignore no-empty
  if (job.fault === "hang") { for (;;) {} }
  let answer: SideAnswer;
  let transfer: ArrayBuffer[] = [];
  try {
    if (job.fault === "throw") throw new Error("side replay worker: injected fault");
    const output = unpackOutput(job.output);
    replaySide(inputOf(job), output);
    answer = { output: packOutput(output) };
    transfer = answer.output.buffers as ArrayBuffer[];
  } catch (e) {
    answer = { error: e instanceof Error ? e.message : String(e) };
  }
  parentPort!.postMessage(answer, transfer);
}

parentPort!.on("message", serve);
