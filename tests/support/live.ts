/**
 * Small helpers for tests of live components: a sink that keeps every event, and waiting
 * for a condition with a bound.
 * @module
 */
import type { EventSink, MarketEvent } from "../../lib/market/mod.ts";

/** Keeps every event written; `flush` reports how many arrived since the last one. */
export class MemorySink implements EventSink {
  readonly events: MarketEvent[] = [];
  pending = 0;
  write(events: readonly MarketEvent[]): void {
    for (const e of events) this.events.push(e);
    this.pending += events.length;
  }
  flush(): Promise<number> {
    const n = this.pending;
    this.pending = 0;
    return Promise.resolve(n);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Resolves once `condition()` holds; throws naming `what` after `limitMs`. */
export async function until(
  condition: () => boolean,
  what: string,
  limitMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
