/**
 * One venue feed's books: applies book events, runs the venue's integrity checks, and turns
 * every failure into an invalid book plus a reset event.
 * @module
 */
import type { BookChange, BookSnapshot, FeedStatus, MarketEvent } from "../market/types.ts";
import {
  type BookIntegrity,
  bookIntegrity,
  type IntegrityRule,
  type KeptBook,
} from "./integrity.ts";
import { OrderBook } from "./order_book.ts";

/** Options for {@linkcode BookKeeper}. */
export interface BookKeeperOptions {
  /** Venue name (informational: a venue's checks come from its spec, see `integrity`). */
  readonly exchange?: string;
  /**
   * Integrity checks to run: an instance, or the name of a rule (the one a venue's spec
   * declares: `venueBookKeeper(exchange)` in `collectors/venues` builds the keeper a venue
   * needs); `null` for crossed-book detection only. Required, so no caller loses a venue's
   * checks by leaving it out.
   */
  readonly integrity: BookIntegrity | IntegrityRule | null;
  /** Levels per side to keep when a snapshot does not say (`depth`); unlimited by default. */
  readonly depth?: number;
}

/** Counters of a {@linkcode BookKeeper}, since construction. */
export interface BookKeeperStats {
  /** Snapshots applied. */
  snapshots: number;
  /** Changes applied. */
  changes: number;
  /** Books found crossed (best bid >= best ask) after an event: each one reset. */
  crossed: number;
  /** Venue checksums that matched. */
  checksumOk: number;
  /** Venue checksums that did not match: each one reset the book. */
  checksumFailed: number;
  /** Venue checksums that could not be computed (no price/size decimals known). */
  checksumUnverified: number;
  /** Sequence gaps (missed or out-of-order venue messages): each one reset the book(s). */
  gaps: number;
  /** Changes skipped because the snapshot already contained them (Binance `u <= lastUpdateId`). */
  stale: number;
  /** Changes ignored because their book was invalid or had no snapshot yet. */
  ignored: number;
  /** Deletes of levels that were not in the book (ignored). */
  absentDeletes: number;
  /** Times a valid book became invalid, for any reason (including `invalidate`). */
  resets: number;
}

class BookState implements KeptBook {
  readonly book: OrderBook;
  valid = false;
  sequence = NaN;
  fresh = false;
  priceDecimals: number | undefined = undefined;
  sizeDecimals: number | undefined = undefined;
  constructor(readonly symbol: string, depth: number) {
    this.book = new OrderBook({ depth });
  }
}

/**
 * Keeps one {@linkcode OrderBook} per symbol for one venue feed (one connection).
 *
 * - A `book_snapshot` (re)builds a symbol's book and makes it valid.
 * - A `book_change` is checked (venue sequence), applied, then verified (venue checksum,
 *   crossed book).
 * - Any failed check **clears** the book, marks it invalid, counts the failure, and
 *   {@linkcode BookKeeper.apply} returns a `status: "reset"` event for the caller to pass
 *   on. Changes for an invalid book are ignored (counted) until the next snapshot.
 * - Consumers read books through {@linkcode BookKeeper.book}, which returns `undefined`
 *   for an invalid book; because invalidation also empties the book, a reference kept
 *   from before can only read an empty book (NaN best prices), never stale levels.
 *
 * @example
 * ```ts
 * import { BookKeeper } from "./book_keeper.ts";
 * import assert from "node:assert/strict";
 * const keeper = new BookKeeper({ exchange: "coinbase" });
 * const header = { exchange: "coinbase", symbol: "BTC-USD", ts: 1, recvTs: 1 };
 * keeper.apply({ ...header, kind: "book_snapshot", bids: [[100, 1]], asks: [[101, 1]] });
 * assert.equal(keeper.book("BTC-USD")?.bestBid, 100);
 * const status = keeper.apply({ ...header, kind: "book_change", bids: [[102, 1]], asks: [] });
 * assert.equal(status?.status, "reset"); // crossed: 102 >= 101
 * assert.equal(keeper.book("BTC-USD"), undefined);
 * assert.equal(keeper.stats.crossed, 1);
 * ```
 */
export class BookKeeper {
  readonly #integrity: BookIntegrity | undefined;
  readonly #depth: number;
  readonly #books = new Map<string, BookState>();
  /** Counters since construction (updated in place). */
  readonly stats: BookKeeperStats = {
    snapshots: 0,
    changes: 0,
    crossed: 0,
    checksumOk: 0,
    checksumFailed: 0,
    checksumUnverified: 0,
    gaps: 0,
    stale: 0,
    ignored: 0,
    absentDeletes: 0,
    resets: 0,
  };

  constructor(options: BookKeeperOptions) {
    const integrity = options.integrity ?? undefined;
    this.#integrity = typeof integrity === "string" ? bookIntegrity(integrity) : integrity;
    const depth = options.depth ?? Infinity;
    if (!(depth > 0)) throw new RangeError(`depth must be positive, got ${depth}`);
    this.#depth = depth;
  }

  /**
   * Applies one event. Book snapshots and changes update the books; a `status` event
   * `reset` or `disconnected` invalidates its symbol's book (every book for symbol `*`);
   * other events are ignored. Returns a `status: "reset"` event when this event made a book
   * invalid (symbol `*` when the whole connection lost messages).
   */
  apply(event: MarketEvent): FeedStatus | undefined {
    switch (event.kind) {
      case "book_change":
        return this.#change(event);
      case "book_snapshot":
        return this.#snapshot(event);
      case "status":
        if (event.status === "reset" || event.status === "disconnected") {
          this.invalidate(event.symbol);
        }
        return undefined;
      default:
        return undefined;
    }
  }

  /** The valid book of a symbol; `undefined` when there is none or it is invalid. */
  book(symbol: string): OrderBook | undefined {
    const state = this.#books.get(symbol);
    return state !== undefined && state.valid ? state.book : undefined;
  }

  /** True when the symbol has a valid book. */
  isValid(symbol: string): boolean {
    return this.#books.get(symbol)?.valid === true;
  }

  /** Symbols with a valid book. */
  symbols(): string[] {
    const out: string[] = [];
    for (const [symbol, state] of this.#books) if (state.valid) out.push(symbol);
    return out;
  }

  /**
   * Marks a symbol's book invalid and empties it; every book when `symbol` is omitted or
   * `*` (a new connection: connection-wide checks start afresh too). The book stays invalid
   * until its next snapshot.
   */
  invalidate(symbol?: string): void {
    if (symbol === undefined || symbol === "*") {
      for (const state of this.#books.values()) this.#invalidate(state);
      this.#integrity?.reset?.();
      return;
    }
    const state = this.#books.get(symbol);
    if (state !== undefined) this.#invalidate(state);
  }

  #invalidate(state: BookState): void {
    if (state.valid) this.stats.resets++;
    state.valid = false;
    state.book.clear();
    state.sequence = NaN;
    state.fresh = false;
  }

  #snapshot(event: BookSnapshot): FeedStatus | undefined {
    const connectionGap = this.#integrity?.connection?.(event);
    if (connectionGap !== undefined) return this.#connectionReset(event, connectionGap);
    let state = this.#books.get(event.symbol);
    if (state === undefined) {
      state = new BookState(event.symbol, event.depth ?? this.#depth);
      this.#books.set(event.symbol, state);
    } else if (event.depth !== undefined) {
      state.book.maxDepth = event.depth;
    }
    const book = state.book;
    const absentBefore = book.absentDeletes;
    book.applySnapshot(event.bids, event.asks);
    this.stats.absentDeletes += book.absentDeletes - absentBefore;
    this.stats.snapshots++;
    state.valid = true;
    state.fresh = true;
    state.sequence = event.sequence ?? NaN;
    if (event.priceDecimals !== undefined) state.priceDecimals = event.priceDecimals;
    if (event.sizeDecimals !== undefined) state.sizeDecimals = event.sizeDecimals;
    return this.#verify(state, event);
  }

  #change(event: BookChange): FeedStatus | undefined {
    const integrity = this.#integrity;
    const connectionGap = integrity?.connection?.(event);
    if (connectionGap !== undefined) return this.#connectionReset(event, connectionGap);
    const state = this.#books.get(event.symbol);
    if (state === undefined || !state.valid) {
      this.stats.ignored++;
      return undefined;
    }
    if (integrity?.sequence !== undefined) {
      const verdict = integrity.sequence(state, event);
      if (verdict !== "apply") {
        if (verdict === "stale") {
          this.stats.stale++;
          return undefined;
        }
        this.stats.gaps++;
        return this.#reset(state, event, verdict.gap);
      }
    }
    const book = state.book;
    const absentBefore = book.absentDeletes;
    book.applyChange(event.bids, event.asks);
    const absent = book.absentDeletes - absentBefore;
    if (absent !== 0) this.stats.absentDeletes += absent;
    this.stats.changes++;
    state.fresh = false;
    if (event.sequence !== undefined) state.sequence = event.sequence;
    return this.#verify(state, event);
  }

  /** Checksum and crossed-book checks after an event was applied. */
  #verify(state: BookState, event: BookSnapshot | BookChange): FeedStatus | undefined {
    const expected = event.checksum;
    if (expected !== undefined) {
      const ok = this.#integrity?.checksum?.(state, expected);
      if (ok === true) {
        this.stats.checksumOk++;
      } else if (ok === false) {
        this.stats.checksumFailed++;
        return this.#reset(state, event, `${this.#integrity!.name} checksum mismatch`);
      } else {
        this.stats.checksumUnverified++;
      }
    }
    if (state.book.crossed) {
      this.stats.crossed++;
      const book = state.book;
      return this.#reset(
        state,
        event,
        `crossed book: best bid ${book.bestBid} >= best ask ${book.bestAsk}`,
      );
    }
    return undefined;
  }

  #reset(state: BookState, event: BookSnapshot | BookChange, reason: string): FeedStatus {
    this.#invalidate(state);
    return {
      kind: "status",
      exchange: event.exchange,
      symbol: state.symbol,
      ts: event.ts,
      recvTs: event.recvTs,
      status: "reset",
      reason,
    };
  }

  #connectionReset(event: BookSnapshot | BookChange, reason: string): FeedStatus {
    this.stats.gaps++;
    for (const state of this.#books.values()) this.#invalidate(state);
    return {
      kind: "status",
      exchange: event.exchange,
      symbol: "*",
      ts: event.ts,
      recvTs: event.recvTs,
      status: "reset",
      reason,
    };
  }
}
