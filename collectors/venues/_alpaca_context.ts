/**
 * What the Alpaca adapter shares with its message parsers (`_alpaca_messages.ts`) and its
 * handshake (`_alpaca_session.ts`): the venue name and market, diagnostics with the secret
 * masked, the operational log, counters, and the status events they emit.
 * @module
 */
import type { FeedStatus } from "../../lib/market/types.ts";
import { normalizeSymbol } from "../../lib/market/symbols.ts";
import type { VenueDiagnostics } from "./venue.ts";

// deno-lint-ignore no-explicit-any
export type Json = any;

/** Counters of the adapter (public on it as read-only properties). */
export interface AlpacaCounts {
  /** Trade corrections received. */
  corrections: number;
  /** Trade cancels/errors received. */
  cancels: number;
  /** Trades dropped because their id was seen recently. */
  duplicateTrades: number;
}

/** The adapter's state its parts read and update. */
export interface AlpacaContext {
  /** `alpaca` (stocks) or `alpaca-crypto`. */
  readonly exchange: string;
  readonly crypto: boolean;
  readonly diagnostics: VenueDiagnostics;
  /** The API secret, masked in everything quoted (undefined without credentials). */
  readonly secret: string | undefined;
  /** Operational log lines (corrections, cancels, venue errors). */
  readonly log: (record: Record<string, unknown>) => void;
  readonly counts: AlpacaCounts;
  /** Recent trade ids per symbol, to drop repeats. */
  readonly recentIds: Map<string, Set<string>>;
}

/** Venue text with our secret masked, should the venue ever echo it. */
export function mask(ctx: AlpacaContext, text: string): string {
  const secret = ctx.secret;
  return secret && text.includes(secret) ? text.replaceAll(secret, "<redacted>") : text;
}

/** Counts and logs bad input, with any secret masked in the quoted sample. */
export function bad(
  ctx: AlpacaContext,
  reason: string,
  frame: string,
  extra?: Record<string, unknown>,
): void {
  ctx.diagnostics.error(reason, mask(ctx, frame), extra);
}

/** A status event at receive time. */
export function status(
  ctx: AlpacaContext,
  status: FeedStatus["status"],
  symbol: string,
  reason: string,
  recvTs: number,
) {
  return {
    kind: "status",
    exchange: ctx.exchange,
    symbol,
    ts: recvTs,
    recvTs,
    status,
    reason,
  } as const;
}

/** The canonical symbol of a message (`S`); counted as bad input when missing. */
export function symbolOf(ctx: AlpacaContext, m: Json, frame: string): string | undefined {
  const s = m.S;
  if (typeof s !== "string" || s.length === 0) {
    bad(ctx, `message ${String(m.T).slice(0, 20)} without symbol`, frame);
    return undefined;
  }
  return ctx.crypto ? normalizeSymbol(s) : s.toUpperCase();
}
