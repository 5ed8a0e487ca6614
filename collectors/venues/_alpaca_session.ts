/**
 * The Alpaca stream's session: credentials, the handshake (auth in reply to the greeting,
 * then the subscription) and what each venue error code means and makes the adapter do.
 * The requests it makes reach the live collector through the adapter's `takeRequests`.
 * @module
 */
import type { MarketEvent } from "../../lib/market/types.ts";
import { type AlpacaContext, bad, type Json, mask, status } from "./_alpaca_context.ts";
import type { ConnectionRequest, Subscription } from "./venue.ts";

/** Least delay before reconnecting after the venue refused the connection, by error code. */
export const ALPACA_REFUSED_RETRY_MS: Readonly<Record<number, number>> = {
  402: 60_000, // auth failed: the keys will not fix themselves quickly
  406: 30_000, // connection limit: wait for the other connection to go away
  409: 300_000, // insufficient subscription
};

/** API key id and secret. */
export interface AlpacaCredentials {
  readonly key: string;
  readonly secret: string;
}

/**
 * Credentials from `ALPACA_API_KEY` / `ALPACA_API_SECRET`; `undefined` when either is unset
 * or environment access is not granted (replay needs none).
 */
export function alpacaCredentialsFromEnv(): AlpacaCredentials | undefined {
  try {
    const key = Deno.env.get("ALPACA_API_KEY");
    const secret = Deno.env.get("ALPACA_API_SECRET");
    return key && secret ? { key, secret } : undefined;
  } catch {
    return undefined;
  }
}

/** What each error code means and what the adapter does about it. */
const ERRORS: Readonly<
  Record<number, { what: string; action: "refused" | "gap" | "retry" | "log" }>
> = {
  400: { what: "invalid syntax: Alpaca could not parse a message we sent", action: "log" },
  401: { what: "not authenticated: a message was sent before auth completed", action: "log" },
  402: {
    what: "auth failed: check ALPACA_API_KEY and ALPACA_API_SECRET (live vs paper keys)",
    action: "refused",
  },
  403: { what: "already authenticated", action: "log" },
  404: { what: "auth timeout: no auth within 10 s of connecting", action: "retry" },
  405: { what: "symbol limit exceeded: the plan allows fewer symbols", action: "log" },
  406: {
    what: "connection limit exceeded: another connection uses these keys (most plans allow 1)",
    action: "refused",
  },
  407: {
    what: "slow client: we did not read fast enough and Alpaca dropped messages",
    action: "gap",
  },
  409: {
    what: "insufficient subscription: the plan does not include this feed",
    action: "refused",
  },
  410: { what: "invalid subscribe action for this feed", action: "log" },
  500: { what: "internal error at Alpaca", action: "retry" },
};

/** Options of {@linkcode AlpacaSession}. */
export interface AlpacaSessionOptions {
  /** Keys for the live handshake; replay needs none. */
  readonly credentials?: AlpacaCredentials;
  /** Least reconnect delay by refusing error code. */
  readonly refusedRetryMs: Readonly<Record<number, number>>;
  /** The subscribe message for a subscription. */
  readonly subscribeMessage: (subscription: Subscription) => string;
}

/** One adapter's handshake and venue-error handling. */
export class AlpacaSession {
  /** Venue errors by code. */
  readonly errorsByCode = new Map<number, number>();
  /** The live subscription (set by `subscribeMessages`; none in replay). */
  subscription?: Subscription;
  readonly #ctx: AlpacaContext;
  readonly #credentials?: AlpacaCredentials;
  readonly #refusedRetryMs: Readonly<Record<number, number>>;
  readonly #subscribeMessage: (subscription: Subscription) => string;
  #requests: ConnectionRequest[] | undefined;

  constructor(ctx: AlpacaContext, options: AlpacaSessionOptions) {
    this.#ctx = ctx;
    this.#credentials = options.credentials;
    this.#refusedRetryMs = options.refusedRetryMs;
    this.#subscribeMessage = options.subscribeMessage;
  }

  /** The requests made since the last call, if any. */
  takeRequests(): ConnectionRequest[] | undefined {
    const requests = this.#requests;
    this.#requests = undefined;
    return requests;
  }

  #request(request: ConnectionRequest): void {
    // Only a live connection (subscribeMessages was called) consumes requests.
    if (this.subscription !== undefined) (this.#requests ??= []).push(request);
  }

  /** `success` messages: the greeting is answered with auth, auth with the subscription. */
  success(m: Json, recvTs: number, out: MarketEvent[]): void {
    if (m.msg === "connected") {
      const credentials = this.#credentials;
      if (credentials === undefined) {
        if (this.subscription === undefined) return; // replay
        const reason = "no Alpaca credentials: set ALPACA_API_KEY and ALPACA_API_SECRET";
        this.#ctx.diagnostics.error(reason);
        out.push(status(this.#ctx, "disconnected", "*", reason, recvTs));
        this.#request({ kind: "reconnect", reason, minDelayMs: this.#refusedRetryMs[402] });
        return;
      }
      this.#request({
        kind: "send",
        frame: JSON.stringify({
          action: "auth",
          key: credentials.key,
          secret: credentials.secret,
        }),
        redacted: '{"action":"auth","key":"<redacted>","secret":"<redacted>"}',
      });
    } else if (m.msg === "authenticated") {
      const subscription = this.subscription;
      if (subscription !== undefined) {
        this.#request({ kind: "send", frame: this.#subscribeMessage(subscription) });
      }
    }
  }

  /** Venue errors: counted, logged, and acted on (see `ERRORS`). */
  error(m: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    const code = typeof m.code === "number" ? m.code : 0;
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
    const known = ERRORS[code];
    const venueText = mask(this.#ctx, String(m.msg ?? "")).slice(0, 120);
    const reason = `alpaca error ${code} (${venueText}): ${known?.what ?? "unknown error"}`;
    const action = known?.action ?? "log";
    const minDelayMs = this.#refusedRetryMs[code] ?? 0;
    bad(this.#ctx, reason, frame, { code });
    this.#ctx.log({
      level: "error",
      msg: reason,
      exchange: this.#ctx.exchange,
      code,
      action: action === "refused"
        ? `reconnecting in ${minDelayMs / 1000} s at the earliest`
        : action === "log"
        ? "none"
        : "reconnecting",
    });
    switch (action) {
      case "refused":
        out.push(status(this.#ctx, "disconnected", "*", reason, recvTs));
        this.#request({ kind: "reconnect", reason, minDelayMs });
        break;
      case "gap":
        out.push(status(this.#ctx, "gap", "*", reason, recvTs));
        this.#request({ kind: "reconnect", reason, minDelayMs: 1_000 });
        break;
      case "retry":
        this.#request({ kind: "reconnect", reason });
        break;
      case "log":
        break;
    }
  }
}
