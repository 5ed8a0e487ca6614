/**
 * Market-data model: event types, canonical symbols, timestamps and decimals.
 * @module
 */
export * from "./types.ts";
export * from "./decimal.ts";
export * from "./time.ts";
export * from "./symbols.ts";
export type * from "./sink.ts";
