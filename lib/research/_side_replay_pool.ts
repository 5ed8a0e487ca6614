/**
 * A second thread for book rebuilds: {@linkcode SideReplayPool.replay} rebuilds one side of a
 * book (`replaySide`, the same code the calling thread runs for the other side) on a worker
 * (`_side_replay_worker.ts`). The side's inputs are copied into shared memory kept between
 * jobs (about 30 bytes per event); the worker makes the side's columns and hands them back
 * (transferred, not copied), on the buffers of a reused series when given.
 *
 * One job at a time: a call made while a job runs, or after the worker died (and no new one
 * may start: `mayStartWorker` of `../lake/parquet/_workers.ts`), gets `undefined` and the
 * caller rebuilds the side itself, to the same columns. So does a job whose worker exits,
 * throws or passes its deadline (the worker is then stopped; said once per pool). The worker
 * is `unref`'d between jobs, so it never keeps a process alive.
 * @module
 */
import { Worker } from "node:worker_threads";
import { mayStartWorker, noteWorkerAbandoned } from "../lake/parquet/_workers.ts";
import type { SideInput, SideLists, SideOutput } from "./_book_side_replay.ts";

/** Where each input array lies in the job's shared memory: `[byte offset, length]`. */
export interface SideLayout {
  readonly kind: readonly [number, number];
  readonly rowEnds: readonly [number, number];
  readonly snapshotDepths: readonly [number, number];
  readonly snapshots: ListsLayout;
  readonly changes: ListsLayout;
}

/** The layout of one {@linkcode SideLists}. */
export interface ListsLayout {
  readonly offsets: readonly [number, number];
  readonly prices: readonly [number, number];
  readonly sizes: readonly [number, number];
}

/**
 * A {@linkcode SideOutput} in a message: its arrays' buffers (transferred) and each array's
 * byte offset and length, in the order prices, sizes, cum, flow. Messages carry buffers, not
 * typed arrays: Deno 2.9.6 took 2 to 3 s to post 22 transferred 8 MB `Float64Array`s from
 * the main thread to a worker (the same buffers bare: under 10 ms).
 */
export interface PackedOutput {
  readonly buffers: readonly ArrayBuffer[];
  readonly views: readonly (readonly [number, number])[];
  readonly levels: number;
}

/**
 * A job message: the input (arrays in `shared`) and the output, whose buffers are
 * transferred to the worker and back.
 */
export interface SideJob {
  readonly shared: SharedArrayBuffer;
  readonly layout: SideLayout;
  readonly sign: 1 | -1;
  readonly rows: number;
  readonly levels: number;
  readonly storedDepth: number;
  readonly cumDepths: readonly number[];
  readonly output: PackedOutput;
  /**
   * Tests: the worker exits (`"exit"`), throws (`"throw"`) or loops for good (`"hang"`)
   * instead of replaying.
   */
  readonly fault?: "exit" | "throw" | "hang";
}

/** The worker's answer: the side's columns, or the error that stopped it. */
export type SideAnswer = { readonly output: PackedOutput } | { readonly error: string };

/** The side-rebuild worker of a process (see the module documentation). */
export class SideReplayPool {
  #worker: Worker | undefined;
  #shared: SharedArrayBuffer | undefined;
  #busy = false;
  #fault: SideJob["fault"];
  /** Jobs the worker did (for tests). */
  served = 0;
  /**
   * Rebuilds of fewer events run on the calling thread alone (`bookSeries`): 65,536. Below
   * it, the copy and the messages weigh more than half a rebuild saves, and a first small
   * rebuild would wait for the worker to start (tests lower it).
   */
  minEvents = 65_536;
  /**
   * How long a job of `events` events may take before its worker is stopped and the caller
   * rebuilds the side itself: 10 s plus 1 ms per 1,000 events (a worker does about 10,000
   * events per millisecond: 100 times that). Tests shorten it.
   */
  deadlineMs: (events: number) => number = (events) => 10_000 + events / 1_000;
  #warned = false;

  /**
   * Side `input` rebuilt on the worker into `output`'s arrays: the same arrays' memory comes
   * back (new views of it; those given are detached meanwhile, each must have a buffer of its
   * own). `undefined` when the worker cannot take the job (busy, dead, none may start: then
   * `output` is untouched) or failed (then `output`'s buffers are lost): the caller rebuilds
   * the side itself.
   *
   * Memory: the output is allocated by the caller's thread and only filled by the worker. A
   * column allocated by the worker would be freed into the worker's malloc arena, which
   * unmaps a heap as soon as all of it is free: every other rebuild then faulted its columns
   * in afresh (about 760 ms against 370 ms a call, `bench/research_books.ts`).
   */
  async replay(input: SideInput, output: SideOutput): Promise<SideOutput | undefined> {
    if (this.#busy) return undefined;
    const worker = this.#start();
    if (worker === undefined) return undefined;
    this.#busy = true;
    try {
      const job = this.#job(input, output);
      const answer = await this.#run(worker, job, this.deadlineMs(input.kind.length));
      if (answer === undefined || "error" in answer) {
        this.#warnOnce(answer?.error ?? "the worker ended or passed its deadline");
        return undefined;
      }
      this.served++;
      return unpackOutput(answer.output);
    } finally {
      this.#busy = false;
    }
  }

  /** Tests: the next job's worker exits, throws or hangs instead of replaying. */
  injectFault(fault: NonNullable<SideJob["fault"]>): void {
    this.#fault = fault;
  }

  /** Says once per pool that a job failed (the side is rebuilt by the caller: same columns). */
  #warnOnce(why: string): void {
    if (this.#warned) return;
    this.#warned = true;
    console.warn(`book rebuild: the second thread failed (${why}); rebuilding on this one`);
  }

  #start(): Worker | undefined {
    if (this.#worker !== undefined) return this.#worker;
    if (!mayStartWorker()) return undefined;
    const worker = new Worker(new URL("./_side_replay_worker.ts", import.meta.url), {
      name: "side-replay",
    });
    worker.unref();
    worker.on("error", () => this.#abandon(worker));
    worker.on("exit", () => this.#abandon(worker));
    this.#worker = worker;
    return worker;
  }

  #abandon(worker: Worker): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    noteWorkerAbandoned();
  }

  /**
   * Posts `job` and waits for its answer; `undefined` when the worker ends first, or passes
   * `deadlineMs` (then it is stopped and abandoned).
   */
  #run(worker: Worker, job: SideJob, deadlineMs: number): Promise<SideAnswer | undefined> {
    const transfer = job.output.buffers as ArrayBuffer[];
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#abandon(worker);
        void worker.terminate();
        finish(undefined);
      }, deadlineMs);
      const finish = (answer: SideAnswer | undefined) => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("exit", onEnd);
        worker.off("error", onEnd);
        worker.unref();
        resolve(answer);
      };
      const onMessage = (answer: SideAnswer) => finish(answer);
      const onEnd = () => finish(undefined);
      worker.on("message", onMessage);
      worker.on("exit", onEnd);
      worker.on("error", onEnd);
      // Referenced while a job runs: the process waits for the answer.
      worker.ref();
      worker.postMessage(job, transfer);
    });
  }

  /** Copies `input`'s arrays into the shared memory and describes them. */
  #job(input: SideInput, output: SideOutput): SideJob {
    const parts: [ArrayBufferView & ArrayLike<number>, number][] = [];
    let bytes = 0;
    const place = (a: ArrayBufferView & ArrayLike<number>, length: number): [number, number] => {
      const at = bytes;
      parts.push([a, at]);
      bytes += (length * (a as Float64Array).BYTES_PER_ELEMENT + 7) & ~7;
      return [at, length];
    };
    const lists = (l: SideLists): ListsLayout => {
      const levels = l.offsets[l.offsets.length - 1];
      return {
        offsets: place(l.offsets, l.offsets.length),
        prices: place(l.prices.subarray(0, levels), levels),
        sizes: place(l.sizes.subarray(0, levels), levels),
      };
    };
    const layout: SideLayout = {
      kind: place(input.kind, input.kind.length),
      rowEnds: place(input.rowEnds.subarray(0, input.rows), input.rows),
      snapshotDepths: place(input.snapshotDepths, input.snapshotDepths.length),
      snapshots: lists(input.snapshots),
      changes: lists(input.changes),
    };
    if (this.#shared === undefined || this.#shared.byteLength < bytes) {
      this.#shared = new SharedArrayBuffer(Math.ceil(bytes * 1.25) + 64);
    }
    const shared = this.#shared;
    for (const [a, at] of parts) {
      new Uint8Array(shared, at, a.byteLength).set(
        new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
      );
    }
    const fault = this.#fault;
    this.#fault = undefined;
    return {
      shared,
      layout,
      sign: input.sign,
      rows: input.rows,
      levels: input.levels,
      storedDepth: input.storedDepth,
      cumDepths: input.cumDepths,
      output: packOutput(output),
      ...(fault ? { fault } : {}),
    };
  }
}

/**
 * `output` for a message (see {@linkcode PackedOutput}).
 * @throws {RangeError} when two of its arrays share a buffer.
 */
export function packOutput(output: SideOutput): PackedOutput {
  const arrays = [...output.prices, ...output.sizes, ...output.cum, output.flow];
  const buffers = arrays.map((a) => a.buffer as ArrayBuffer);
  if (new Set(buffers).size !== buffers.length) {
    throw new RangeError("side replay: each output array needs a buffer of its own");
  }
  const views = arrays.map((a) => [a.byteOffset, a.length] as const);
  return { buffers, views, levels: output.prices.length };
}

/** The {@linkcode SideOutput} of a message. */
export function unpackOutput(p: PackedOutput): SideOutput {
  const arrays = p.buffers.map((b, j) => new Float64Array(b, p.views[j][0], p.views[j][1]));
  const levels = p.levels;
  return {
    prices: arrays.slice(0, levels),
    sizes: arrays.slice(levels, 2 * levels),
    cum: arrays.slice(2 * levels, arrays.length - 1),
    flow: arrays[arrays.length - 1],
  };
}

/** The rebuilds of this process share one worker. */
export const SIDE_REPLAYS: SideReplayPool = new SideReplayPool();
