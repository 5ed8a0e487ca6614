/**
 * The collector's read pauses: when the sink queue is about to overflow (a flood of book
 * changes into the lake), reading the venue stops (raw transport) until a flush made room,
 * instead of dropping events; at most `maxPauseMs` at a time, after which reading goes on and
 * the queue drops what does not fit (counted, `gap` statuses) until it has had room again,
 * so a venue never disconnects us for unanswered pings or a full send buffer.
 * @module
 */
import type { FeedConnection } from "./connection.ts";
import type { SinkQueue } from "./sink_queue.ts";

/**
 * Default longest read pause, ms: nothing is read while paused, the venue's pings neither.
 * Venues drop a client whose pong is late by tens of seconds to minutes (Binance: a minute
 * after its ping) or whose send buffer overflows; 30 s stays below those, and a store that
 * cannot take anything for 30 s has a problem dropping makes visible (counted, `gap`).
 */
export const MAX_READ_PAUSE_MS = 30_000;

/** Options of {@linkcode ReadPauses}. */
export interface ReadPausesOptions {
  readonly connection: Pick<FeedConnection, "pause" | "resume">;
  readonly queue: Pick<SinkQueue, "whenRoom" | "depth">;
  /** Longest pause, ms (0: never pause, the queue drops instead). */
  readonly maxPauseMs: number;
  /** Venue, for the log lines. */
  readonly exchange: string;
  readonly log: (record: Record<string, unknown>) => void;
}

/** Pauses reading while the sink queue has no room, within `maxPauseMs` a pause. */
export class ReadPauses {
  /** Pauses that lasted `maxPauseMs`: the queue dropped until it had room again. */
  timedOut = 0;
  readonly #options: ReadPausesOptions;
  /** Set while reading is paused: ends the pause after `maxPauseMs`. */
  #timer?: ReturnType<typeof setTimeout>;
  /** A pause timed out: no new pause (the queue drops) until the queue has room again. */
  #dropUntilRoom = false;
  #stopped = false;

  constructor(options: ReadPausesOptions) {
    if (!(options.maxPauseMs >= 0)) {
      throw new RangeError(`maxReadPauseMs must be >= 0, got ${options.maxPauseMs}`);
    }
    this.#options = options;
  }

  /**
   * The queue is about to overflow: stop reading until a flush made room; nothing when the
   * transport cannot pause, pauses are off, one is under way, one timed out and the queue
   * has not had room since, or after {@linkcode ReadPauses.stop}.
   */
  pause(): void {
    const { connection, queue, maxPauseMs, exchange, log } = this.#options;
    if (this.#timer !== undefined || this.#dropUntilRoom || this.#stopped) return;
    if (maxPauseMs === 0 || !connection.pause()) return;
    const started = performance.now();
    this.#timer = setTimeout(() => {
      this.timedOut++;
      this.#dropUntilRoom = true;
      this.#timer = undefined;
      connection.resume();
      log({
        level: "error",
        msg: "sink queue still full after the longest read pause: reading again, " +
          "the queue drops what does not fit (counted) so that the venue keeps us connected",
        exchange,
        maxReadPauseMs: maxPauseMs,
        depth: queue.depth,
      });
    }, maxPauseMs);
    queue.whenRoom().then(() => {
      if (this.#dropUntilRoom) {
        this.#dropUntilRoom = false;
        log({
          level: "warn",
          msg: "sink queue has room again: reading pauses resume",
          exchange,
          pausedMs: Math.round(performance.now() - started),
        });
        return;
      }
      clearTimeout(this.#timer);
      this.#timer = undefined;
      connection.resume();
    });
  }

  /** Pauses may start (again): the collector started. */
  start(): void {
    this.#stopped = false;
  }

  /** No new pause; a pending pause's timer is cleared (the connection resumes on its stop). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
