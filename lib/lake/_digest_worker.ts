/**
 * The thread of {@linkcode DigestPool} (`digest_pool.ts`): waits for a job (a message read
 * with `receiveMessageOnPort` when woken through the control words), takes chunks of it
 * with the caller until none is left, then acknowledges it. On an error it acknowledges the
 * job, sets the dead word (the caller then computes the rest itself) and ends.
 * @module
 */
import { type MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { jobOf, type PostedJob, runChunks, WORD } from "./_digest_job.ts";
import { EXIT_SILENTLY, honourWorkerFault } from "./parquet/_workers.ts";

const { control: shared, port } = workerData as { control: SharedArrayBuffer; port: MessagePort };
const control = new Int32Array(shared);

/** Honours a test's fault request, after a chunk is claimed. */
function fault(): void {
  honourWorkerFault(control, WORD.fault, "digest worker");
}

/** Acknowledges job `id`: the worker no longer reads its arrays. */
function acknowledge(id: number): void {
  Atomics.store(control, WORD.acknowledged, id);
  Atomics.notify(control, WORD.acknowledged);
  Atomics.notify(control, WORD.finished);
}

/** Serves jobs until an error. */
function serve(): never {
  Atomics.store(control, WORD.ready, 1);
  for (;;) {
    const seen = Atomics.load(control, WORD.wake);
    let message = receiveMessageOnPort(port);
    while (message !== undefined) {
      const job = jobOf(message.message as PostedJob);
      try {
        runChunks(job, control, undefined, fault);
      } catch (error) {
        if (error !== EXIT_SILENTLY) {
          Atomics.store(control, WORD.dead, 1);
          acknowledge(job.id);
        }
        throw error;
      }
      acknowledge(job.id);
      message = receiveMessageOnPort(port);
    }
    Atomics.wait(control, WORD.wake, seen);
  }
}

try {
  serve();
} catch (error) {
  if (error !== EXIT_SILENTLY) {
    Atomics.store(control, WORD.dead, 1);
    Atomics.notify(control, WORD.finished);
    Atomics.notify(control, WORD.acknowledged);
    throw error;
  }
}
