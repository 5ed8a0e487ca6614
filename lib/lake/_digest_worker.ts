/**
 * The thread of {@linkcode DigestPool} (`digest_pool.ts`): waits for a job (a message read
 * with `receiveMessageOnPort` when woken through the control words), takes chunks of it
 * with the caller until none is left, then acknowledges it.
 * @module
 */
import { type MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { jobOf, type PostedJob, runChunks, WORD } from "./_digest_job.ts";

const { control: shared, port } = workerData as { control: SharedArrayBuffer; port: MessagePort };
const control = new Int32Array(shared);

Atomics.store(control, WORD.ready, 1);
for (;;) {
  const seen = Atomics.load(control, WORD.wake);
  let message = receiveMessageOnPort(port);
  while (message !== undefined) {
    const job = jobOf(message.message as PostedJob);
    try {
      runChunks(job, control);
    } finally {
      Atomics.store(control, WORD.acknowledged, job.id);
      Atomics.notify(control, WORD.acknowledged);
    }
    message = receiveMessageOnPort(port);
  }
  Atomics.wait(control, WORD.wake, seen);
}
