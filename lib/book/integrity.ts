/**
 * Per-venue book integrity checks, plugged into a {@linkcode BookKeeper}: sequence chains
 * (Binance `U`/`u`, Coinbase Advanced `sequence_num`) and checksums (Kraken CRC32).
 * Crossed-book detection is not here: the keeper runs it for every venue.
 * @module
 */
import type { BookChange, BookSnapshot } from "../market/types.ts";
import { krakenChecksum } from "./kraken_checksum.ts";
import type { OrderBook } from "./order_book.ts";

/** What a check sees of one kept book. */
export interface KeptBook {
  readonly symbol: string;
  readonly book: OrderBook;
  /** Venue sequence of the last applied snapshot or change (NaN when it had none). */
  readonly sequence: number;
  /** True from a snapshot until the first change after it has been applied. */
  readonly fresh: boolean;
  /** Decimals of the venue's price text, from the snapshot (for checksums). */
  readonly priceDecimals: number | undefined;
  /** Decimals of the venue's size text, from the snapshot (for checksums). */
  readonly sizeDecimals: number | undefined;
}

/**
 * What to do with a change before it is applied: apply it, skip it as `stale` (already
 * contained in the snapshot: counted, not an error), or treat it as a gap (the book resets).
 */
export type SequenceVerdict = "apply" | "stale" | { readonly gap: string };

/**
 * A venue's integrity rules. Every hook is optional; a keeper calls them in this order for
 * each book event: `connection` (every event), `sequence` (changes to a valid book), then
 * applies the event, then `checksum` (events that carry one).
 */
export interface BookIntegrity {
  /** Name for logs and reasons (`kraken-crc32`). */
  readonly name: string;
  /**
   * Sees every book event of the connection in order, valid book or not; returns a reason
   * when the connection lost messages, which resets **every** book.
   */
  connection?(event: BookSnapshot | BookChange): string | undefined;
  /** Checks a change's venue sequence against the book's. */
  sequence?(kept: KeptBook, event: BookChange): SequenceVerdict;
  /**
   * Verifies the venue checksum `expected` against the book after the event was applied;
   * `undefined` when it cannot be computed (no precision known).
   */
  checksum?(kept: KeptBook, expected: number): boolean | undefined;
  /** Forgets connection state (a new connection starts). */
  reset?(): void;
}

/**
 * Kraken (websocket v1 and v2): CRC32 over the 10 best asks and bids, formatted with the
 * pair's decimals, which the adapter puts on the snapshot (`priceDecimals`, `sizeDecimals`).
 */
export function krakenIntegrity(): BookIntegrity {
  return {
    name: "kraken-crc32",
    checksum(kept, expected) {
      const { priceDecimals, sizeDecimals } = kept;
      if (priceDecimals === undefined || sizeDecimals === undefined) return undefined;
      return krakenChecksum(kept.book, { priceDecimals, sizeDecimals }) === expected;
    },
  };
}

/**
 * Binance diff chaining after a REST snapshot (`lastUpdateId` as the snapshot's
 * `sequence`; `U`/`u` as a change's `firstSequence`/`sequence`): changes with
 * `u <= lastUpdateId` are stale; the first applied change must straddle `lastUpdateId + 1`
 * (`U <= lastUpdateId + 1 <= u`); every later one must start at the previous `u + 1`.
 */
export function binanceIntegrity(): BookIntegrity {
  return {
    name: "binance-update-id",
    sequence(kept, event) {
      const last = event.sequence;
      const first = event.firstSequence ?? last;
      if (last === undefined || first === undefined) return { gap: "change without update id" };
      const prev = kept.sequence;
      if (Number.isNaN(prev)) return { gap: "snapshot without lastUpdateId" };
      if (last <= prev) return "stale";
      if (kept.fresh ? first <= prev + 1 : first === prev + 1) return "apply";
      return {
        gap: kept.fresh
          ? `first diff U=${first} u=${last} does not straddle lastUpdateId+1=${prev + 1}`
          : `update id gap: U=${first} after u=${prev}`,
      };
    },
  };
}

/**
 * A connection-wide message sequence (Coinbase Advanced Trade `sequence_num`, which counts
 * every message of the connection, book or not). Each book event carries `sequence` (its
 * message's number) and `firstSequence` (the number of the first message received since
 * the previous book event, so messages the adapter consumed itself are accounted for;
 * defaults to `sequence`). Events must tile the sequence: `firstSequence` is the previous
 * `sequence + 1`, or equal to it for more events of the same message. Any hole resets every
 * book.
 */
export function connectionSequenceIntegrity(name = "connection-sequence"): BookIntegrity {
  let last = NaN;
  return {
    name,
    connection(event) {
      const seq = event.sequence;
      if (seq === undefined) return undefined;
      const first = (event.kind === "book_change" ? event.firstSequence : undefined) ?? seq;
      const prev = last;
      if (Number.isNaN(prev) || first === prev + 1 || (first === prev && seq === prev)) {
        last = seq;
        return undefined;
      }
      last = seq;
      return `${name} gap: ${first} after ${prev}`;
    },
    reset() {
      last = NaN;
    },
  };
}

/**
 * The integrity rules a venue can declare (its spec names one, `collectors/venues`):
 * `kraken-crc32` ({@linkcode krakenIntegrity}), `binance-update-id`
 * ({@linkcode binanceIntegrity}), `sequence_num` (Coinbase Advanced's connection sequence,
 * {@linkcode connectionSequenceIntegrity}). A venue with none (Coinbase Exchange: its
 * `l2update` has no sequence) gets crossed-book detection only.
 */
export type IntegrityRule = "kraken-crc32" | "binance-update-id" | "sequence_num";

/** Builds a fresh instance of each {@linkcode IntegrityRule}. */
export const INTEGRITY_RULES: Readonly<Record<IntegrityRule, () => BookIntegrity>> = Object
  .freeze({
    "kraken-crc32": krakenIntegrity,
    "binance-update-id": binanceIntegrity,
    "sequence_num": () => connectionSequenceIntegrity("sequence_num"),
  });

/**
 * A fresh instance of the rule `name`.
 * @throws {RangeError} for a name that is not an {@linkcode IntegrityRule}.
 */
export function bookIntegrity(name: IntegrityRule): BookIntegrity {
  if (!Object.hasOwn(INTEGRITY_RULES, name)) {
    throw new RangeError(
      `unknown book integrity rule "${name}": expected one of ${
        Object.keys(INTEGRITY_RULES).join(", ")
      }`,
    );
  }
  return INTEGRITY_RULES[name]();
}
