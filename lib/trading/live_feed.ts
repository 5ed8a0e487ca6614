/**
 * A live feed for the runner: an {@linkcode EventSink} a collector writes to, read as an
 * async iterable of events in the order they were written. Nothing is dropped; the largest
 * backlog is kept so a run can show whether its strategy kept up.
 * @module
 */
import type { MarketEvent } from "../market/types.ts";
import type { EventSink } from "../market/sink.ts";

/** A collector sink that a runner reads from. */
export class LiveFeed implements EventSink, AsyncIterable<MarketEvent> {
  /** Events written so far. */
  written = 0;
  /** Largest number of events waiting to be read. */
  maxBacklog = 0;
  #queue: MarketEvent[] = [];
  #head = 0;
  #closed = false;
  #wake: (() => void) | undefined;

  write(events: readonly MarketEvent[]): void {
    if (this.#closed) return;
    for (let i = 0; i < events.length; i++) this.#queue.push(events[i]);
    this.written += events.length;
    const backlog = this.#queue.length - this.#head;
    if (backlog > this.maxBacklog) this.maxBacklog = backlog;
    this.#wake?.();
  }

  flush(): Promise<number> {
    return Promise.resolve(0);
  }

  /** Ends the feed: the reader gets what is queued, then the end. */
  close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    return Promise.resolve();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<MarketEvent, void, undefined> {
    for (;;) {
      while (this.#head < this.#queue.length) {
        const e = this.#queue[this.#head++];
        if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#head);
          this.#head = 0;
        }
        yield e;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }
}
