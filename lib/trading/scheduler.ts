/**
 * The one clock and task queue a live run shares between its runner (strategy timers, local
 * reports) and a simulated broker (orders in flight, reports coming back). Tasks due at the
 * same time run in the order they were scheduled, as in the backtester, so a replay on the
 * event clock makes the same decisions in the same order.
 *
 * Two clocks: `event` (time is what the caller says: the time of the market event being
 * handled, for replays) and `wall` (time is the machine's clock in microseconds; a timer wakes
 * the queue when its next task is due).
 * @module
 */
import { ScheduleHeap } from "../backtest/_heap.ts";

/** Where a run's time comes from. */
export type ClockMode = "event" | "wall";

/** Microseconds since the epoch from the machine's clock. */
export function wallMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

interface Task {
  time: number;
  seq: number;
  /** A strategy timer (dropped when a run ends before it is due). */
  timer: boolean;
  run: () => void;
}

/** Options of {@linkcode Scheduler}. */
export interface SchedulerOptions {
  /** Default `event`. */
  readonly clock?: ClockMode;
  /** The wall clock in microseconds (default {@linkcode wallMicros}; tests may pass their own). */
  readonly wall?: () => number;
}

/** A deterministic queue of tasks on one clock. */
export class Scheduler {
  readonly mode: ClockMode;
  /** Current time, microseconds (-Infinity before anything happened). */
  now = -Infinity;
  readonly #heap = new ScheduleHeap<Task>();
  readonly #wall: () => number;
  #seq = 0;
  #wake: ReturnType<typeof setTimeout> | undefined;
  #wakeAt = Infinity;
  #closed = false;

  constructor(options: SchedulerOptions = {}) {
    const mode = options.clock ?? "event";
    if (mode !== "event" && mode !== "wall") {
      throw new RangeError(`clock must be "event" or "wall", got ${JSON.stringify(mode)}`);
    }
    this.mode = mode;
    this.#wall = options.wall ?? wallMicros;
  }

  /** Tasks waiting. */
  get size(): number {
    return this.#heap.size;
  }

  /** The time of the next task, Infinity when none. */
  get nextTime(): number {
    return this.#heap.peekTime();
  }

  /** Reads the wall clock (wall mode) without moving `now` backwards. */
  wallNow(): number {
    const t = this.#wall();
    return t > this.now ? t : this.now;
  }

  /** Schedules `run` at `time` (never before now). */
  at(time: number, run: () => void, timer = false): void {
    if (!(time >= this.now)) time = this.now;
    this.#heap.push({ time, seq: ++this.#seq, timer, run });
    if (this.mode === "wall") this.#arm();
  }

  /** Runs every task due at or before `t`; `now` moves to each task's time, then to `t`. */
  drain(t: number): void {
    const heap = this.#heap;
    while (heap.size > 0 && heap.peekTime() <= t) {
      const task = heap.pop()!;
      if (task.time > this.now) this.now = task.time;
      task.run();
    }
    if (t > this.now) this.now = t;
  }

  /** Runs everything still queued, except timers due after `last` (end of a run). */
  drainAll(last: number): void {
    const heap = this.#heap;
    while (heap.size > 0) {
      const task = heap.pop()!;
      if (task.timer && task.time > last) continue;
      if (task.time > this.now) this.now = task.time;
      task.run();
    }
  }

  /** Stops waking up (wall mode); queued tasks stay. */
  close(): void {
    this.#closed = true;
    if (this.#wake !== undefined) clearTimeout(this.#wake);
    this.#wake = undefined;
  }

  /** Wall mode: a timer for the next due task. */
  #arm(): void {
    if (this.#closed) return;
    const next = this.#heap.peekTime();
    if (next === Infinity || next >= this.#wakeAt) return;
    if (this.#wake !== undefined) clearTimeout(this.#wake);
    this.#wakeAt = next;
    const delay = Math.max(0, (next - this.#wall()) / 1000);
    this.#wake = setTimeout(() => {
      this.#wake = undefined;
      this.#wakeAt = Infinity;
      this.drain(this.wallNow());
      this.#arm();
    }, delay);
  }
}
