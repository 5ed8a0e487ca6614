/**
 * What the Kraken frame parsers (`_kraken_v1.ts`, `_kraken_v2.ts`) share with the adapter:
 * its diagnostics, the pairs' precision and the subscribed book depths, and the reset a
 * book gets when one of its messages cannot be read.
 * @module
 */
import type { MarketEvent, PriceLevel } from "../../lib/market/types.ts";
import type { KrakenInstrument } from "./_kraken_pairs.ts";
import type { VenueDiagnostics } from "./venue.ts";

/** The adapter's state the frame parsers read and update. */
export interface KrakenParseState {
  readonly exchange: string;
  readonly diagnostics: VenueDiagnostics;
  /** The default book depth (the one subscribed unless a channel names another). */
  readonly depth: number;
  /** Pair precision by canonical symbol (options, v2 `instrument` channel). */
  readonly instruments: Map<string, KrakenInstrument>;
  /** Subscribed book depth by canonical symbol (v2 acknowledgements, v1 channel names). */
  readonly bookDepth: Map<string, number>;
}

/** No levels on a side. */
export const EMPTY: PriceLevel[] = [];

// deno-lint-ignore no-explicit-any
export type Json = any;

/** Counts an unreadable book message and resets the book (a `status` event). */
export function badBook(
  st: KrakenParseState,
  symbol: string,
  reason: string,
  frame: string,
  recvTs: number,
  out: MarketEvent[],
) {
  st.diagnostics.error(reason, frame);
  // The message was lost for the book: the book must not be trusted until a new snapshot.
  out.push({
    kind: "status",
    exchange: st.exchange,
    symbol,
    ts: recvTs,
    recvTs,
    status: "reset",
    reason,
  });
}
