/**
 * The one path every frame takes, live or replayed: venue adapter -> books (integrity
 * checks) -> sinks, with the counters of the replay summary.
 * @module
 */
import type {
  BookChange,
  BookSnapshot,
  EventSink,
  FeedStatus,
  MarketEvent,
} from "../../lib/market/mod.ts";
import type { VenueAdapter } from "../venues/venue.ts";
import type { FeedDiagnostics } from "./diagnostics.ts";

/**
 * The book stage of a pipeline: keeps one book per symbol, checks integrity, and answers a
 * failed check with a reset status event.
 */
export interface BookStage {
  /** Applies a book event; returns a reset/gap status when the book became invalid. */
  apply(event: BookSnapshot | BookChange): FeedStatus | undefined;
  /** Marks a symbol's book invalid (bad input), or every book when `symbol` is omitted. */
  invalidate(symbol?: string): void;
  /** Integrity counters. */
  readonly stats: {
    readonly crossed: number;
    readonly checksumOk: number;
    readonly checksumFailed: number;
    readonly gaps: number;
  };
}

/** The summary `deno task replay` prints as its last line; the collectors report the same. */
export interface FeedSummary {
  messages: number;
  trades: number;
  snapshots: number;
  book_updates: number;
  gaps: number;
  checksum_ok: number;
  checksum_failed: number;
  crossed: number;
  errors: number;
  rows_written: number;
}

/** What a {@linkcode FeedPipeline} is built from. */
export interface FeedPipelineOptions {
  readonly adapter: VenueAdapter;
  readonly diagnostics: FeedDiagnostics;
  /** Books and their integrity checks; without one, book events only pass through. */
  readonly books?: BookStage;
  /** Where events go, in order. */
  readonly sinks?: readonly EventSink[];
}

/**
 * Runs frames through adapter, books and sinks.
 *
 * @example
 * ```ts
 * import { FeedPipeline } from "./pipeline.ts";
 * import { FeedDiagnostics } from "./diagnostics.ts";
 * import { CoinbaseExchangeAdapter } from "../venues/coinbase_exchange.ts";
 * import assert from "node:assert/strict";
 * const diagnostics = new FeedDiagnostics();
 * const pipeline = new FeedPipeline({
 *   adapter: new CoinbaseExchangeAdapter({ diagnostics }),
 *   diagnostics,
 * });
 * pipeline.handleFrame('{"type":"heartbeat","product_id":"BTC-USD"}', Date.now() * 1000);
 * assert.equal(pipeline.summary().messages, 1);
 * ```
 */
export class FeedPipeline {
  readonly #adapter: VenueAdapter;
  readonly #diagnostics: FeedDiagnostics;
  readonly #books?: BookStage;
  readonly #sinks: readonly EventSink[];
  #messages = 0;
  #trades = 0;
  #snapshots = 0;
  #bookUpdates = 0;
  #gaps = 0;
  #rowsWritten = 0;

  constructor(options: FeedPipelineOptions) {
    this.#adapter = options.adapter;
    this.#diagnostics = options.diagnostics;
    this.#books = options.books;
    this.#sinks = options.sinks ?? [];
  }

  /** The venue adapter (for subscribe messages). */
  get adapter(): VenueAdapter {
    return this.#adapter;
  }

  /**
   * Handles one received text frame; returns the events it produced (also written to the
   * sinks). `recvTs` is the local receive time in microseconds.
   */
  handleFrame(frame: string, recvTs: number): MarketEvent[] {
    this.#messages++;
    const events: MarketEvent[] = [];
    this.#adapter.parse(frame, recvTs, events);
    const n = events.length;
    for (let i = 0; i < n; i++) {
      const e = events[i];
      switch (e.kind) {
        case "trade":
          this.#trades++;
          break;
        case "book_snapshot":
        case "book_change": {
          if (e.kind === "book_snapshot") this.#snapshots++;
          else this.#bookUpdates++;
          const status = this.#books?.apply(e);
          if (status !== undefined) events.push(status);
          break;
        }
        case "status":
          if (e.status === "gap") this.#gaps++;
          else if (e.status === "reset") this.#books?.invalidate(e.symbol);
          break;
      }
    }
    if (events.length > 0) this.#write(events);
    return events;
  }

  /**
   * A new connection starts: per-connection adapter state and every book are dropped, and
   * consumers are told with a `disconnected` status per affected feed.
   */
  handleReconnect(recvTs: number, reason: string): void {
    this.#adapter.reset();
    this.#books?.invalidate();
    this.#write([{
      kind: "status",
      exchange: this.#adapter.exchange,
      symbol: "*",
      ts: recvTs,
      recvTs,
      status: "disconnected",
      reason,
    }]);
  }

  #write(events: readonly MarketEvent[]): void {
    for (const sink of this.#sinks) sink.write(events);
  }

  /** Flushes every sink; resolves to the rows they persisted. */
  async flush(): Promise<number> {
    let rows = 0;
    for (const sink of this.#sinks) rows += await sink.flush();
    this.#rowsWritten += rows;
    return rows;
  }

  /** Flushes and closes every sink. */
  async close(): Promise<void> {
    await this.flush();
    for (const sink of this.#sinks) await sink.close();
  }

  /** Counters so far, in the replay summary's shape. */
  summary(): FeedSummary {
    const stats = this.#books?.stats;
    return {
      messages: this.#messages,
      trades: this.#trades,
      snapshots: this.#snapshots,
      book_updates: this.#bookUpdates,
      gaps: this.#gaps + (stats?.gaps ?? 0),
      checksum_ok: stats?.checksumOk ?? 0,
      checksum_failed: stats?.checksumFailed ?? 0,
      crossed: stats?.crossed ?? 0,
      errors: this.#diagnostics.errors,
      rows_written: this.#rowsWritten,
    };
  }
}
