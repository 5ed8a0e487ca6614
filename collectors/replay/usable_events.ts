/**
 * A sink that counts the events a replay produced other than feed statuses: zero means
 * nothing in the recording was understood.
 * @module
 */
import type { EventSink, MarketEvent } from "../../lib/market/mod.ts";

/** Counts non-status events; stores nothing. */
export class UsableEvents implements EventSink {
  /** Events other than `status` seen so far. */
  count = 0;

  write(events: readonly MarketEvent[]): void {
    for (const e of events) if (e.kind !== "status") this.count++;
  }

  flush(): Promise<number> {
    return Promise.resolve(0);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
