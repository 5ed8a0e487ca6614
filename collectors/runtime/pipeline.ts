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
  Trade,
} from "../../lib/market/mod.ts";
import type { ConnectionRequest, VenueAdapter } from "../venues/venue.ts";
import { VENUES } from "../venues/mod.ts";
import type { FeedDiagnostics } from "./diagnostics.ts";
import { sequentialTradeId, type TradeIdMarks, TradeLedger } from "./trade_ledger.ts";

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
    /** Changes ignored because their book was invalid (not passed on when counted). */
    readonly ignored?: number;
    /** Changes the snapshot already contained (not passed on when counted). */
    readonly stale?: number;
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
  /** Trades whose ids never arrived (venues with consecutive trade ids: `tradeIds`). */
  trades_lost?: number;
  /** Repeated trades dropped before the sinks (`tradeIds`). */
  trades_duplicate?: number;
  /** Trades counted as lost that arrived later (a venue's trade snapshot; `tradeIds`). */
  trades_recovered?: number;
  /**
   * Trades fetched from the venue's REST history and passed on (marked `backfilled`); those
   * with checked ids are also among `trades_recovered`.
   */
  trades_backfilled?: number;
  /** Book resyncs carried out (live collectors). */
  resyncs?: number;
  /** Events the sink queue dropped because a sink could not keep up (live collectors). */
  events_dropped?: number;
  /** Trades among `events_dropped`: lost to the sinks, counted, never silent. */
  trades_dropped?: number;
  /** Times reading the venue was paused because the sink queue was full (live collectors). */
  read_pauses?: number;
  /** Pauses that lasted the longest allowed, after which the queue dropped instead. */
  read_pause_timeouts?: number;
}

/** What a {@linkcode FeedPipeline} is built from. */
export interface FeedPipelineOptions {
  readonly adapter: VenueAdapter;
  readonly diagnostics: FeedDiagnostics;
  /** Books and their integrity checks; without one, book events only pass through. */
  readonly books?: BookStage;
  /** Where events go, in order. */
  readonly sinks?: readonly EventSink[];
  /**
   * `"sequential"` when the venue's trade ids are consecutive integers per symbol: a
   * {@linkcode TradeLedger} drops repeated trades before the sinks, counts missing ids as
   * lost with one `gap` status per gap, and passes on (and takes back from the lost count) a
   * skipped trade that arrives later. Adapters of such venues pass every trade on and report
   * no trade-id gaps themselves. `"unchecked"`: trades pass as parsed. Default: the venue's
   * `tradeIds` in {@linkcode VENUES} (by the adapter's `exchange`), so live collection and
   * replay check the same venues.
   */
  readonly tradeIds?: "sequential" | "unchecked";
  /**
   * True when the venue cannot detect a lost book message itself (no sequence, no
   * checksum: Coinbase Exchange `l2update`): a frame the adapter could not read at all then
   * resets every book, since it may have been a book change.
   */
  readonly resetBooksOnUnreadableFrame?: boolean;
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
  readonly #ledger?: TradeLedger;
  /** The adapter, when its venue announces trade ids without the trades (and ids are checked). */
  readonly #marks?: TradeIdMarks;
  readonly #resetOnUnreadable: boolean;
  #messages = 0;
  #trades = 0;
  #snapshots = 0;
  #bookUpdates = 0;
  #gaps = 0;
  #rowsWritten = 0;
  #backfilled = 0;

  constructor(options: FeedPipelineOptions) {
    this.#adapter = options.adapter;
    this.#diagnostics = options.diagnostics;
    this.#books = options.books;
    this.#sinks = options.sinks ?? [];
    const tradeIds = options.tradeIds ?? VENUES[options.adapter.exchange]?.tradeIds;
    if (tradeIds === "sequential") {
      this.#ledger = new TradeLedger();
      const adapter = options.adapter;
      if (adapter.takeTradeIdMarks !== undefined) this.#marks = adapter as TradeIdMarks;
    }
    this.#resetOnUnreadable = options.resetBooksOnUnreadableFrame ?? false;
  }

  /** The venue adapter (for subscribe messages). */
  get adapter(): VenueAdapter {
    return this.#adapter;
  }

  /**
   * Handles one received text frame; returns the events it produced (also written to the
   * sinks). `recvTs` is the local receive time in microseconds. What reaches the sinks is
   * clean: book changes a book did not accept (invalid book, already in the snapshot) are
   * dropped, a change that failed a check is replaced by its `reset` status, and repeated
   * trades are dropped when trade ids are checked (`tradeIds`). `utf8`: the frame's bytes,
   * when the transport has them (see `VenueAdapter.parse`).
   */
  handleFrame(frame: string, recvTs: number, utf8?: Uint8Array): MarketEvent[] {
    this.#messages++;
    const events: MarketEvent[] = [];
    const errors = this.#diagnostics.errors;
    this.#adapter.parse(frame, recvTs, events, utf8);
    if (
      events.length === 0 && this.#resetOnUnreadable && this.#diagnostics.errors !== errors &&
      this.#books !== undefined
    ) {
      events.push({
        kind: "status",
        exchange: this.#adapter.exchange,
        symbol: "*",
        ts: recvTs,
        recvTs,
        status: "reset",
        reason: "unreadable frame: a book change may have been lost",
      });
    }
    if (this.#marks !== undefined) this.#applyMarks(recvTs, events);
    return this.#process(events);
  }

  /**
   * Trade ids the venue announced without the trades (a Coinbase heartbeat): the ledger
   * counts the ones we are missing as lost, with one `gap` status per symbol behind.
   */
  #applyMarks(recvTs: number, events: MarketEvent[]): void {
    const marks = this.#marks!.takeTradeIdMarks();
    if (marks === undefined) return;
    const ledger = this.#ledger!;
    for (const [symbol, lastId] of marks) {
      const last = ledger.last(symbol);
      const missed = ledger.mark(symbol, lastId);
      if (missed === 0) continue;
      events.push({
        kind: "status",
        exchange: this.#adapter.exchange,
        symbol,
        ts: recvTs,
        recvTs,
        status: "gap",
        reason: `trade_id gap ${last} -> ${lastId} (the venue's last trade id): ${missed} ` +
          "trade(s) missed",
      });
    }
  }

  /**
   * Handles the answer to an adapter's `fetch` request (a REST snapshot) like a frame:
   * through the adapter's `parseFetched`, the books and the sinks.
   */
  handleFetched(
    request: Extract<ConnectionRequest, { kind: "fetch" }>,
    body: string,
    recvTs: number,
  ): MarketEvent[] {
    const events: MarketEvent[] = [];
    this.#adapter.parseFetched?.(request, body, recvTs, events);
    return this.#process(events);
  }

  /**
   * Trades fetched from the venue's REST history after they were missed live: each is marked
   * `backfilled` and goes through the trade-id ledger (a trade already passed on is dropped,
   * a missing one is taken back from the lost count) to the sinks. Returns what was passed on.
   */
  handleBackfill(trades: readonly Trade[]): MarketEvent[] {
    const events: MarketEvent[] = trades.map((t) => ({ ...t, backfilled: true }));
    const out = this.#process(events);
    for (const e of out) if (e.kind === "trade") this.#backfilled++;
    return out;
  }

  /** The trade-id ledger, when trade ids are checked (read it; do not feed it). */
  get ledger(): TradeLedger | undefined {
    return this.#ledger;
  }

  #process(events: MarketEvent[]): MarketEvent[] {
    const n = events.length;
    if (n === 0) return events;
    const books = this.#books;
    let kept = 0;
    /** Gap statuses to put right before their trades (rare: built after the loop). */
    let gapBefore: Map<MarketEvent, MarketEvent> | undefined;
    for (let i = 0; i < n; i++) {
      const e = events[i];
      switch (e.kind) {
        case "trade":
          if (this.#ledger !== undefined) {
            const verdict = this.#ledger.check(e);
            if (verdict === "duplicate") continue;
            if (verdict === "gap") {
              this.#gaps++; // its status is inserted after the loop, not counted there
              (gapBefore ??= new Map()).set(e, {
                kind: "status",
                exchange: e.exchange,
                symbol: e.symbol,
                ts: e.recvTs,
                recvTs: e.recvTs,
                status: "gap",
                reason: gapReason(this.#ledger.lastGap, e.id),
              });
            }
          }
          this.#trades++;
          break;
        case "book_snapshot":
        case "book_change": {
          if (e.kind === "book_snapshot") this.#snapshots++;
          else this.#bookUpdates++;
          if (books === undefined) break;
          const stats = books.stats;
          const skipped = (stats.ignored ?? 0) + (stats.stale ?? 0);
          const status = books.apply(e);
          if (status !== undefined) {
            events[kept++] = status; // the event broke the book: consumers get the reset
            continue;
          }
          if ((stats.ignored ?? 0) + (stats.stale ?? 0) !== skipped) continue;
          break;
        }
        case "status":
          if (e.status === "gap") this.#gaps++;
          else if (e.status === "reset") books?.invalidate(e.symbol);
          break;
      }
      events[kept++] = e;
    }
    events.length = kept;
    let out = events;
    if (gapBefore !== undefined) {
      out = [];
      for (const e of events) {
        const gap = gapBefore.get(e);
        if (gap !== undefined) out.push(gap);
        out.push(e);
      }
    }
    if (out.length > 0) this.#write(out);
    return out;
  }

  /**
   * A new connection starts: per-connection adapter state and every book are dropped, and
   * consumers are told with a `disconnected` status per affected feed. Returns the events
   * written (for metrics, as {@linkcode FeedPipeline.handleFrame} does).
   */
  handleReconnect(recvTs: number, reason: string): MarketEvent[] {
    this.#adapter.reset();
    this.#books?.invalidate();
    const events: MarketEvent[] = [{
      kind: "status",
      exchange: this.#adapter.exchange,
      symbol: "*",
      ts: recvTs,
      recvTs,
      status: "disconnected",
      reason,
    }];
    this.#write(events);
    return events;
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
      ...(this.#ledger === undefined ? {} : {
        trades_lost: this.#ledger.lost,
        trades_duplicate: this.#ledger.duplicates,
        trades_recovered: this.#ledger.recovered,
      }),
      ...(this.#backfilled === 0 ? {} : { trades_backfilled: this.#backfilled }),
    };
  }
}

/** `trade_id gap 10 -> 13: 2 trade(s) missed` for a trade `id` after `missed` skipped ids. */
function gapReason(missed: number, id: string): string {
  return `trade_id gap ${sequentialTradeId(id) - missed - 1} -> ${id}: ${missed} trade(s) missed`;
}
