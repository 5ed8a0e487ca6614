/**
 * Where normalised events go (the Parquet lake, the PostgreSQL hot buffer, the server's
 * stream hub), and what a sink can do beyond {@linkcode EventSink}: each capability is a
 * typed interface with its guard here, in one place, so that code in front of sinks (the
 * collectors' `SinkQueue`, programs) asks "is it {@linkcode Buffering}?" instead of
 * probing properties of its own.
 *
 * | capability | meaning | sinks |
 * | --- | --- | --- |
 * | {@linkcode Buffering} | holds events until `flush`, and says how many | `LakeSink` |
 * | {@linkcode BackpressureReporting} | tells producers that can wait when to go on | `PostgresWriter` |
 * | {@linkcode Durable} | keeps what it could not deliver, replays it later | `PostgresWriter` |
 *
 * A sink with none of them delivers on `write` (the stream hub).
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

/**
 * A sink that holds the events it is given until `flush` stores them: `pending` counts
 * them (buffered or being stored), so the code in front of it can bound its memory.
 */
export interface Buffering {
  /** Events held and not yet stored. */
  readonly pending: number;
}

/**
 * A sink whose `write` never blocks but which can tell producers that are able to wait
 * (replays, benchmarks) when it has room again.
 */
export interface BackpressureReporting {
  /** Resolves when the sink has room for more (at once when it has). */
  ready(): Promise<void>;
}

/**
 * A sink that keeps what it could not deliver (retries, then spill files) and replays it
 * once its store is back: `flush` resolving means stored or durably spilled.
 */
export interface Durable {
  /** Tries to replay what is kept now; resolves to `true` when nothing is left. */
  replay(): Promise<boolean>;
}

/** Whether a sink is {@linkcode Buffering}. */
export function isBuffering<S extends EventSink>(sink: S): sink is S & Buffering {
  return typeof (sink as Partial<Buffering>).pending === "number";
}

/** Whether a sink is {@linkcode BackpressureReporting}. */
export function reportsBackpressure<S extends EventSink>(
  sink: S,
): sink is S & BackpressureReporting {
  return typeof (sink as Partial<BackpressureReporting>).ready === "function";
}

/** Whether a sink is {@linkcode Durable}. */
export function isDurable<S extends EventSink>(sink: S): sink is S & Durable {
  return typeof (sink as Partial<Durable>).replay === "function";
}
