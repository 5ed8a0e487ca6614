/**
 * Where normalised events go: the Parquet lake (embedded default), the PostgreSQL hot
 * buffer, the server's stream hub.
 * @module
 */
import type { MarketEvent } from "./types.ts";

/**
 * A consumer of market events. `write` must be cheap (buffer, do not block on I/O);
 * `flush` makes everything written so far durable and resolves to the number of rows it
 * persisted in this call. After `close` resolves, every event written before is durable.
 */
export interface EventSink {
  /** Accepts a batch of events (the sink may keep a reference until the next flush). */
  write(events: readonly MarketEvent[]): void;
  /** Persists what was written so far; resolves to the rows persisted by this call. */
  flush(): Promise<number>;
  /** Flushes and releases resources. */
  close(): Promise<void>;
}
