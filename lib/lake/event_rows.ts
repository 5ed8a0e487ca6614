/**
 * Rows of the lake's non-trade tables (`quotes`, `book_snapshots`, `book_changes`,
 * `event_log`): their types, the conversion of model events into rows ({@linkcode eventRow},
 * which computes the digest exactly as the PostgreSQL buffer writer does) and their
 * validation at the lake's edge ({@linkcode eventRowRejection}).
 *
 * A row's idempotency key is `(exchange, symbol, ts, recvTs, digest)`; `digest` is the
 * FNV-1a hash of the payload's canonical text (see `lib/market/event_digest.ts`), so an
 * event written directly to the lake and the same event exported from the buffer are one
 * row.
 *
 * @module
 */
import {
  bookDigest,
  digestOf,
  quoteText,
  statusText,
  storedBookLevels,
} from "../market/event_digest.ts";
import { nowMicros } from "../market/time.ts";
import type { BookChange, BookSnapshot, FeedStatus, MarketEvent, Quote } from "../market/types.ts";
import {
  DIGEST_TABLES,
  type DigestTable,
  isDigestTable,
  tableOfEvent,
  TABLES,
} from "../schema/tables.ts";
import {
  digestRejection,
  headerRejection,
  latestValidMicros,
  levelListsRejection,
  quoteValuesRejection,
  type Rejection,
  sequenceRejection,
  statusValuesRejection,
} from "../schema/rules.ts";

/**
 * The lake's non-trade tables (same names as the PostgreSQL buffer's tables): the schema's
 * digest-keyed tables ({@linkcode DigestTable}).
 */
export type EventKind = DigestTable;

/** Every {@linkcode EventKind}, in a fixed order (the schema's `DIGEST_TABLES`). */
export const EVENT_KINDS: readonly EventKind[] = DIGEST_TABLES;

/** Levels per side kept in a book snapshot row by default (the buffer writer's `bookDepth`). */
export const DEFAULT_BOOK_DEPTH = 50;

/** Fields every event row has. Times are microseconds since the epoch. */
export interface RowHeader {
  readonly exchange: string;
  readonly symbol: string;
  /** Venue time, microseconds; its UTC day is the row's `date=` partition. */
  readonly ts: number;
  /** Local receive time, microseconds. */
  readonly recvTs: number;
  /** FNV-1a (signed 32-bit) of the payload's canonical text (`lib/market/event_digest.ts`). */
  readonly digest: number;
}

/** A row of `quotes`. */
export interface QuoteRow extends RowHeader {
  readonly bidPrice: number;
  readonly bidSize: number;
  readonly askPrice: number;
  readonly askSize: number;
}

/**
 * A row of `book_snapshots`: bids best first (price descending), asks best first (price
 * ascending), truncated to the top levels; prices and sizes as parallel lists.
 */
export interface BookSnapshotRow extends RowHeader {
  readonly bidPrices: number[];
  readonly bidSizes: number[];
  readonly askPrices: number[];
  readonly askSizes: number[];
  /** Venue sequence, or `null` when the venue has none. */
  readonly sequence: number | null;
  /** Venue checksum (unsigned), or `null` when the venue has none. */
  readonly checksum: number | null;
}

/** A row of `book_changes`: the level lists as received (no sorting, no truncation). */
export interface BookChangeRow extends BookSnapshotRow {
  /** First venue sequence covered by the message, or `null`. */
  readonly firstSequence: number | null;
}

/** A row of `event_log` (a feed status). */
export interface StatusRow extends RowHeader {
  readonly status: string;
  readonly reason: string;
}

/** The row type of a kind. */
export type EventRowOf<K extends EventKind> = K extends "quotes" ? QuoteRow
  : K extends "book_snapshots" ? BookSnapshotRow
  : K extends "book_changes" ? BookChangeRow
  : StatusRow;

/** A row of any {@linkcode EventKind}. */
export type EventRow = QuoteRow | BookSnapshotRow | BookChangeRow | StatusRow;

/** The model events stored as event rows. */
export type RowEvent = Quote | BookSnapshot | BookChange | FeedStatus;

/** Options of {@linkcode eventRow}. */
export interface EventRowOptions {
  /** Levels per side kept in a book snapshot (default {@linkcode DEFAULT_BOOK_DEPTH}). */
  readonly depth?: number;
}

/** The table a model event is stored in, or `undefined` for trades and bars. */
export function eventKindOf(event: MarketEvent): EventKind | undefined {
  const name = tableOfEvent(event?.kind)?.name;
  return isDigestTable(name) ? name : undefined;
}

/**
 * Converts a model event into its lake row and computes its digest the way the buffer
 * writer (`lib/buffer/writer.ts`) does. Snapshot levels are sorted (bids descending, asks
 * ascending) and truncated to `options.depth` per side first, and the digest covers what is
 * kept; book changes keep their levels as received. Missing optional integers become `null`.
 * The row is not validated here: the lake does that when it is written.
 *
 * @example
 * ```ts
 * import { eventRow } from "./event_rows.ts";
 * import assert from "node:assert/strict";
 * const row = eventRow({
 *   kind: "book_snapshot", exchange: "kraken", symbol: "BTC-USD", ts: 1, recvTs: 2,
 *   bids: [[99, 1], [100, 2]], asks: [[102, 1], [101, 3]],
 * }, { depth: 1 });
 * assert.deepEqual([row.bidPrices, row.askPrices, row.sequence], [[100], [101], null]);
 * ```
 */
export function eventRow(event: Quote, options?: EventRowOptions): QuoteRow;
export function eventRow(event: BookSnapshot, options?: EventRowOptions): BookSnapshotRow;
export function eventRow(event: BookChange, options?: EventRowOptions): BookChangeRow;
export function eventRow(event: FeedStatus, options?: EventRowOptions): StatusRow;
export function eventRow(event: RowEvent, options?: EventRowOptions): EventRow;
export function eventRow(event: RowEvent, options: EventRowOptions = {}): EventRow {
  const depth = options.depth ?? DEFAULT_BOOK_DEPTH;
  if (!(Number.isInteger(depth) && depth >= 1)) {
    throw new RangeError(`eventRow: depth must be an integer >= 1, got ${depth}`);
  }
  const header = {
    exchange: event.exchange,
    symbol: event.symbol,
    ts: event.ts,
    recvTs: event.recvTs,
  };
  switch (event.kind) {
    case "quote": {
      const { bidPrice, bidSize, askPrice, askSize } = event;
      const digest = digestOf(quoteText(bidPrice, bidSize, askPrice, askSize));
      return { ...header, digest, bidPrice, bidSize, askPrice, askSize };
    }
    case "book_snapshot": {
      const sequence = event.sequence ?? null;
      const checksum = event.checksum ?? null;
      const lists = storedBookLevels(event, depth);
      const digest = bookDigest(lists, [sequence, checksum]);
      return { ...header, digest, ...lists, sequence, checksum };
    }
    case "book_change": {
      const firstSequence = event.firstSequence ?? null;
      const sequence = event.sequence ?? null;
      const checksum = event.checksum ?? null;
      const lists = storedBookLevels(event, depth);
      const digest = bookDigest(lists, [firstSequence, sequence, checksum]);
      return { ...header, digest, ...lists, firstSequence, sequence, checksum };
    }
    case "status": {
      const reason = event.reason ?? "";
      const digest = digestOf(statusText(event.status, reason));
      return { ...header, digest, status: event.status, reason };
    }
    default:
      throw new TypeError(
        `eventRow: not a quote, book snapshot, book change or status: ${
          (event as { kind?: unknown })?.kind
        }`,
      );
  }
}

/** Why an event row was rejected: the schema's {@linkcode Rejection} (`lib/schema/rules.ts`). */
export type EventRowRejection = Rejection;

/**
 * Returns why `row` (of `kind`) cannot be stored, or `undefined` when it can: the schema's
 * rules (`lib/schema/rules.ts`), the same as the buffer writer's. A storable row has a
 * path-safe exchange and symbol (`*`, connection-wide, in the event log only), an integer
 * `ts` and `recvTs` from 2000-01-01 to one day after `latest` (default: one day after
 * now), a signed 32-bit integer digest, and per kind: finite prices, finite sizes >= 0 (a
 * quote's sizes may also be NaN: not given by the venue), level lists whose prices and
 * sizes have equal lengths, optional integers that are `null` or safe integers, text status
 * and reason. Zero prices are allowed (a quote with an empty side).
 *
 * @example
 * ```ts
 * import { eventRowRejection } from "./event_rows.ts";
 * import assert from "node:assert/strict";
 * const row = {
 *   exchange: "coinbase", symbol: "BTC-USD", ts: 1_700_000_000_000_000,
 *   recvTs: 1_700_000_000_000_100, digest: 7, bidPrice: 1, bidSize: -1, askPrice: 2,
 *   askSize: 1,
 * };
 * assert.equal(eventRowRejection("quotes", row), "size");
 * ```
 */
export function eventRowRejection<K extends EventKind>(
  kind: K,
  row: EventRowOf<K>,
  latest: number = latestValidMicros(nowMicros()),
): EventRowRejection | undefined {
  if (!isDigestTable(kind)) throw new TypeError(`unknown event kind: ${kind}`);
  if (row === null || typeof row !== "object") return "exchange";
  const header = headerRejection(
    row.exchange,
    row.symbol,
    row.ts,
    row.recvTs,
    latest,
    TABLES[kind].connectionWide,
  ) ?? digestRejection(row.digest);
  if (header) return header;
  switch (kind) {
    case "quotes": {
      const q = row as QuoteRow;
      return quoteValuesRejection(q.bidPrice, q.bidSize, q.askPrice, q.askSize);
    }
    case "book_snapshots": {
      const b = row as BookSnapshotRow;
      return levelListsRejection(b.bidPrices, b.bidSizes) ??
        levelListsRejection(b.askPrices, b.askSizes) ??
        sequenceRejection(b.sequence, b.checksum);
    }
    case "book_changes": {
      const b = row as BookChangeRow;
      return levelListsRejection(b.bidPrices, b.bidSizes) ??
        levelListsRejection(b.askPrices, b.askSizes) ??
        sequenceRejection(b.firstSequence, b.sequence, b.checksum);
    }
    default: {
      const s = row as StatusRow;
      return typeof s.reason === "string" ? statusValuesRejection(s.status, s.reason) : "status";
    }
  }
}
