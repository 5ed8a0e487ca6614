/**
 * What a venue's REST trade history gives a backfiller: the trades of one symbol whose ids
 * (or, where a venue has none, whose time window) went missing on the live feed.
 * @module
 */
import type { Trade } from "../../lib/market/types.ts";
import type { RestClient } from "./rest_client.ts";

/** One run of missing trades of a symbol. */
export interface BackfillRequest {
  /** Canonical symbol (`BTC-USD`). */
  readonly symbol: string;
  /** First missing trade id (inclusive). */
  readonly from: number;
  /** Last missing trade id (inclusive). */
  readonly to: number;
  /** Venue time of the last trade received before the gap, µs, when known. */
  readonly afterTs?: number;
  /** Venue time of the first trade received after the gap, µs, when known. */
  readonly beforeTs?: number;
  /**
   * Trades received live in `[afterTs, beforeTs]` (for venues whose REST rows carry no id:
   * see `dedupeByKey`).
   */
  readonly received?: readonly Trade[];
}

/** The rate limits of a venue's public REST API, as a token bucket. */
export interface VenueRestLimits {
  /** Burst, in request weight. */
  readonly capacity: number;
  /** Weight per second. */
  readonly refillPerSecond: number;
}

/** A venue's REST trade history. */
export interface TradeHistory {
  /** Venue name as in `VENUES` (`coinbase`). */
  readonly exchange: string;
  /** The public REST base URL. */
  readonly baseUrl: string;
  readonly limits: VenueRestLimits;
  /** Headers for every request (an optional API key from the environment). */
  readonly headers?: () => Record<string, string> | undefined;
  /** True when the source needs `BackfillRequest.received` (rows without ids). */
  readonly needsReceived?: boolean;
  /**
   * Fetches the missing trades. May return trades outside `from..to` (the caller keeps the
   * missing ones, and the ledger drops repeats); `recvTs` is the time of the answer.
   */
  fetch(
    client: RestClient,
    request: BackfillRequest,
    options: { recvTs: () => number; signal?: AbortSignal; maxPages: number },
  ): Promise<Trade[]>;
}

// deno-lint-ignore no-explicit-any
export type Json = any;

/** Parses a JSON answer; a `TypeError` naming the URL when it is not JSON. */
export function parseJsonBody(body: string, what: string): Json {
  try {
    return JSON.parse(body);
  } catch {
    throw new TypeError(`${what}: answer is not JSON: ${body.slice(0, 120)}`);
  }
}
