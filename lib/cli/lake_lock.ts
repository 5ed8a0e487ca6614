/**
 * The writer-lock options of a program that waits for the lake (replay, export, repair):
 * a bounded wait, announced once on stderr.
 * @module
 */
import { describeOwner, type WriterLockOptions } from "../lake/writer_lock.ts";
import { parseDuration } from "../market/time.ts";

/**
 * Lock options waiting up to `wait` (a duration such as `"5m"`, `"30s"`; `"0"` refuses at once) and
 * saying on stderr, once, whom `program` waits for.
 * @throws {RangeError} for a duration that cannot be read.
 */
export function waitingLock(program: string, wait: string): WriterLockOptions {
  let waitMs: number;
  try {
    waitMs = /^0+(us|ms|s|m|h|d)?$/.test(wait.trim()) ? 0 : parseDuration(wait) / 1000;
  } catch (error) {
    throw new RangeError(`--lock-wait: ${(error as Error).message}`);
  }
  return {
    waitMs,
    onWait: (holder) =>
      console.error(
        `${program}: the lake is being written by ${describeOwner(holder)}; ` +
          `waiting up to ${wait} for it to finish (one writer per lake)`,
      ),
  };
}
