/**
 * Market-data model: event types, canonical symbols, timestamps and decimals.
 * @module
 */
export * from "./types.ts";
export * from "./decimal.ts";
export * from "./time.ts";
export * from "./symbols.ts";
export {
  type BackpressureReporting,
  type Buffering,
  type Durable,
  type EventSink,
  isBuffering,
  isDurable,
  reportsBackpressure,
} from "./sink.ts";
