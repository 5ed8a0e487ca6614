/**
 * The contract every venue adapter fulfils: a pure parse/normalise core (no I/O, testable
 * with strings) used identically by the live connection and by replay.
 * @module
 */
import type { MarketEvent } from "../../lib/market/types.ts";

/**
 * Where an adapter reports bad input: counted and logged by the runtime (its
 * `FeedDiagnostics` is one). Declared here so that adapters import nothing from the runtime.
 */
export interface VenueDiagnostics {
  /** Counts one bad input under `reason`; `input` (a frame, cut) and `extra` give context. */
  error(reason: string, input?: string, extra?: Readonly<Record<string, unknown>>): void;
}

/** What an adapter is built with. */
export interface VenueAdapterOptions {
  /** Where bad input is counted and logged. */
  readonly diagnostics: VenueDiagnostics;
  /**
   * Base URL of the venue's REST API for adapters that fetch snapshots (Binance
   * `https://api.binance.com`); a local fake server in tests. The venue's public API when
   * omitted.
   */
  readonly restUrl?: string;
}

/** A subscription request: canonical symbols and venue channel names. */
export interface Subscription {
  /** Canonical symbols (`BTC-USD`). */
  readonly symbols: readonly string[];
  /** Venue channels; the adapter's defaults when omitted. */
  readonly channels?: readonly string[];
}

/**
 * Something an adapter asks of the live connection; replay has no connection and ignores
 * these. Raised while parsing (Alpaca: the auth message in reply to `connected`), drained by
 * the collector after every frame through {@linkcode VenueAdapter.takeRequests}.
 */
export type ConnectionRequest =
  | {
    /** Send `frame` on the current connection. */
    readonly kind: "send";
    readonly frame: string;
    /** What logs and recordings show instead of `frame` (it carries a secret). */
    readonly redacted?: string;
  }
  | {
    /**
     * Drop the connection and connect again (fresh subscriptions and snapshots), waiting at
     * least `minDelayMs` (the venue refused us: do not hammer it).
     */
    readonly kind: "reconnect";
    readonly reason: string;
    readonly minDelayMs?: number;
  }
  | {
    /**
     * Fetch `url` over HTTP (GET) and hand the answer's body to
     * {@linkcode VenueAdapter.parseFetched} (Binance: the REST depth snapshot of `symbol`).
     * A failed fetch is logged and retried through the collector's rate-limited resync.
     */
    readonly kind: "fetch";
    readonly url: string;
    /** Canonical symbol the answer belongs to. */
    readonly symbol: string;
  };

/**
 * Parses one venue's frames into {@linkcode MarketEvent}s. Stateful only where the venue
 * protocol needs state to interpret a frame (trade-id chains, channel ids); never does I/O.
 */
export interface VenueAdapter {
  /** Venue name as stored (`coinbase`). */
  readonly exchange: string;
  /** The text frames to send after connecting to subscribe. */
  subscribeMessages(subscription: Subscription): string[];
  /**
   * Parses one received text frame, appending events to `out`. Bad input is reported to the
   * diagnostics and never thrown. `recvTs` is the local receive time in microseconds.
   * `utf8`, when the transport has it, holds the frame's UTF-8 bytes (valid during the call
   * only): a byte-level fast path may read them instead of encoding `frame` again.
   */
  parse(frame: string, recvTs: number, out: MarketEvent[], utf8?: Uint8Array): void;
  /** Forgets per-connection state (call after a reconnect). */
  reset(): void;
  /**
   * Optional: the requests raised by the frames parsed since the last call, or `undefined`
   * when there are none. Adapters raise requests only after `subscribeMessages` was called
   * (a live connection), so replay never accumulates them.
   */
  takeRequests?(): ConnectionRequest[] | undefined;
  /**
   * Optional: what rebuilds `symbol`'s book from a fresh snapshot after its book was reset
   * (checksum failure, crossed book, sequence gap), e.g. unsubscribe and subscribe its book
   * channel, or a `fetch` of a REST snapshot; an empty list when the adapter itself will
   * raise what is needed. Without this method the collector reconnects, which resubscribes
   * everything. The collector rate-limits calls per symbol.
   */
  resyncRequests?(symbol: string): ConnectionRequest[];
  /**
   * Optional: the highest trade id the venue announced per symbol since the last call
   * (Coinbase heartbeats' `last_trade_id`), or `undefined` when none; the pipeline hands
   * them to its trade ledger, which counts trades missed while nothing arrived.
   */
  takeTradeIdMarks?(): ReadonlyMap<string, number> | undefined;
  /**
   * Optional: parses the body of a `fetch` request's answer (same contract as `parse`).
   */
  parseFetched?(
    request: Extract<ConnectionRequest, { kind: "fetch" }>,
    body: string,
    recvTs: number,
    out: MarketEvent[],
  ): void;
}
