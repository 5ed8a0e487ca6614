/**
 * Alpaca market-data streams: stocks (`wss://stream.data.alpaca.markets/v2/{iex|sip}`,
 * venue `alpaca`: trades, quotes, minute bars, corrections and cancels) and crypto
 * (`.../v1beta3/crypto/us`, venue `alpaca-crypto`: trades with the taker side, quotes,
 * order books, bars). Pure parse/normalise: no I/O; the handshake is carried out by the
 * live collector through {@linkcode VenueAdapter.takeRequests}.
 *
 * Protocol (see `shared/docs/exchange-protocols.md` and Alpaca's stream documentation):
 *
 * - Every frame is a JSON array of messages tagged `T`.
 * - Handshake: the server greets with `[{"T":"success","msg":"connected"}]`; the adapter
 *   answers with `{"action":"auth","key","secret"}` (credentials from `ALPACA_API_KEY` /
 *   `ALPACA_API_SECRET`, see {@linkcode alpacaCredentialsFromEnv}); after
 *   `{"T":"success","msg":"authenticated"}` it sends the subscribe message. Nothing is sent
 *   on open. The auth request carries a redacted copy for logs and recordings, and samples
 *   of bad input quoted in logs have the secret masked, so the secret is never logged.
 * - Errors `{"T":"error","code","msg"}` are counted and logged with what to do about them.
 *   402 (auth failed), 406 (connection limit: another client uses these keys), 409 (plan
 *   lacks the feed) and a missing key make the connection useless: the adapter emits a
 *   `disconnected` status for `*` and asks for a reconnect only after a long delay
 *   ({@linkcode ALPACA_REFUSED_RETRY_MS}) so the venue is not hammered. 407 (slow client:
 *   Alpaca dropped messages) emits a `gap` for `*` and asks for a reconnect. 404 (auth
 *   timeout) asks for a reconnect. 405 (symbol limit) and the rest are logged only.
 * - Stock trades `t` (id `i` per exchange `x`, so the trade id is `x:i`), quotes `q`, bars
 *   `b` (minute), `u` (updated minute bar), `d` (daily). Trade conditions `c` are not kept:
 *   the market model has no field for them.
 * - Corrections `c` and cancels `x` are counted and logged, and for now emitted as a
 *   `reset` status for the symbol with the details in `reason` (the model has no event for
 *   amending a stored trade; consumers holding derived state for the symbol should rebuild).
 * - Crypto trades carry the taker side `tks` (`B`/`S`); ids exceed 2^53, so the id text is
 *   taken from the frame, not from the parsed number. Order books `o`: `r: true` replaces
 *   the book (a snapshot), otherwise absolute-size changes where size 0 deletes.
 * - Times are RFC 3339 with nanoseconds, truncated to microseconds. Symbols: stocks stay
 *   (`SPY`), crypto `BTC/USD` becomes `BTC-USD`.
 * - Alpaca trade ids are not consecutive: trades missed while disconnected cannot be
 *   detected from the stream; repeats of recent ids are dropped.
 * @module
 */
import type { MarketEvent } from "../../lib/market/types.ts";
import { normalizeSymbol, splitSymbol } from "../../lib/market/symbols.ts";
import type {
  ConnectionRequest,
  Subscription,
  VenueAdapter,
  VenueAdapterOptions,
} from "./venue.ts";
import { type AlpacaContext, bad, type Json } from "./_alpaca_context.ts";
import { amendment, bar, idTexts, orderbook, quote, trade } from "./_alpaca_messages.ts";
import {
  ALPACA_REFUSED_RETRY_MS,
  type AlpacaCredentials,
  AlpacaSession,
} from "./_alpaca_session.ts";

export {
  ALPACA_REFUSED_RETRY_MS,
  type AlpacaCredentials,
  alpacaCredentialsFromEnv,
} from "./_alpaca_session.ts";

/** Stock feeds: IEX (free), SIP (paid), delayed SIP, and the always-on test stream. */
export type AlpacaStockFeed = "iex" | "sip" | "delayed_sip" | "test";

/** The stock stream URL of a feed. */
export function alpacaStocksUrl(feed: AlpacaStockFeed = "iex"): string {
  return `wss://stream.data.alpaca.markets/v2/${feed}`;
}

/** The default stock stream (IEX). Use {@linkcode alpacaStocksUrl}`("sip")` for SIP. */
export const ALPACA_STOCKS_WS_URL = alpacaStocksUrl("iex");
/** The crypto stream. */
export const ALPACA_CRYPTO_WS_URL = "wss://stream.data.alpaca.markets/v1beta3/crypto/us";

/** Channels subscribed when none are given. */
export const ALPACA_DEFAULT_CHANNELS = {
  stocks: ["trades", "quotes", "bars"],
  crypto: ["trades", "quotes", "orderbooks"],
} as const;

/** Channels the adapter can subscribe to. */
const KNOWN_CHANNELS = new Set([
  "trades",
  "quotes",
  "bars",
  "updatedBars",
  "dailyBars",
  "orderbooks",
]);

/** Options for {@linkcode AlpacaAdapter}. */
export interface AlpacaAdapterOptions extends VenueAdapterOptions {
  /** `stocks` (venue `alpaca`, default) or `crypto` (venue `alpaca-crypto`). */
  readonly market?: "stocks" | "crypto";
  /** Keys for the live handshake; replay needs none. */
  readonly credentials?: AlpacaCredentials;
  /** Operational log lines (corrections, cancels, venue errors); default stderr JSON. */
  readonly log?: (record: Record<string, unknown>) => void;
  /** Overrides of {@linkcode ALPACA_REFUSED_RETRY_MS} by error code (tests). */
  readonly refusedRetryMs?: Readonly<Record<number, number>>;
}

/**
 * The Alpaca adapter (stocks or crypto).
 *
 * @example
 * ```ts
 * import { AlpacaAdapter } from "./alpaca.ts";
 * import { FeedDiagnostics } from "../runtime/diagnostics.ts";
 * import type { MarketEvent } from "../../lib/market/types.ts";
 * import assert from "node:assert/strict";
 * const adapter = new AlpacaAdapter({ diagnostics: new FeedDiagnostics(), market: "crypto" });
 * const out: MarketEvent[] = [];
 * adapter.parse(
 *   '[{"T":"t","S":"BTC/USD","p":61000.5,"s":0.01,"t":"2024-03-12T10:27:48.858228144Z",' +
 *     '"i":3447222699101865076,"tks":"S"}]',
 *   1710239268900000,
 *   out,
 * );
 * assert.equal(out[0].symbol, "BTC-USD");
 * assert.equal((out[0] as { id: string }).id, "3447222699101865076"); // exact text
 * ```
 */
export class AlpacaAdapter implements VenueAdapter {
  readonly exchange: string;
  readonly #crypto: boolean;
  readonly #ctx: AlpacaContext;
  readonly #session: AlpacaSession;

  constructor(options: AlpacaAdapterOptions) {
    const market = options.market ?? "stocks";
    if (market !== "stocks" && market !== "crypto") {
      throw new RangeError(`market must be "stocks" or "crypto", got ${market}`);
    }
    this.#crypto = market === "crypto";
    this.exchange = this.#crypto ? "alpaca-crypto" : "alpaca";
    this.#ctx = {
      exchange: this.exchange,
      crypto: this.#crypto,
      diagnostics: options.diagnostics,
      secret: options.credentials?.secret,
      log: options.log ??
        ((record) => console.error(JSON.stringify({ time: new Date().toISOString(), ...record }))),
      counts: { corrections: 0, cancels: 0, duplicateTrades: 0 },
      recentIds: new Map(),
    };
    this.#session = new AlpacaSession(this.#ctx, {
      credentials: options.credentials,
      refusedRetryMs: { ...ALPACA_REFUSED_RETRY_MS, ...options.refusedRetryMs },
      subscribeMessage: (subscription) => this.subscribeMessage(subscription),
    });
  }

  /** Trade corrections received. */
  get corrections(): number {
    return this.#ctx.counts.corrections;
  }

  /** Trade cancels/errors received. */
  get cancels(): number {
    return this.#ctx.counts.cancels;
  }

  /** Trades dropped because their id was seen recently. */
  get duplicateTrades(): number {
    return this.#ctx.counts.duplicateTrades;
  }

  /** Venue errors by code. */
  get errorsByCode(): Map<number, number> {
    return this.#session.errorsByCode;
  }

  /**
   * Remembers the subscription for the handshake and returns nothing: Alpaca wants the auth
   * message first, sent in reply to its greeting.
   */
  subscribeMessages(subscription: Subscription): string[] {
    if (subscription.symbols.length === 0) throw new RangeError("no symbols to subscribe to");
    for (const channel of subscription.channels ?? []) {
      if (!KNOWN_CHANNELS.has(channel)) {
        throw new RangeError(
          `unknown Alpaca channel "${channel}": expected ${[...KNOWN_CHANNELS].join(", ")}`,
        );
      }
    }
    this.#session.subscription = subscription;
    return [];
  }

  /** The subscribe message for the remembered subscription. */
  subscribeMessage(subscription: Subscription): string {
    const channels = subscription.channels ??
      ALPACA_DEFAULT_CHANNELS[this.#crypto ? "crypto" : "stocks"];
    const symbols = subscription.symbols.map((s) => this.#venueSymbol(s));
    const message: Record<string, unknown> = { action: "subscribe" };
    for (const channel of channels) message[channel] = symbols;
    return JSON.stringify(message);
  }

  /** Per-connection state is the handshake only; recent trade ids survive. */
  reset(): void {}

  takeRequests(): ConnectionRequest[] | undefined {
    return this.#session.takeRequests();
  }

  parse(frame: string, recvTs: number, out: MarketEvent[]): void {
    let messages: Json;
    try {
      messages = JSON.parse(frame);
    } catch {
      bad(this.#ctx, "malformed JSON", frame);
      return;
    }
    if (!Array.isArray(messages)) {
      bad(this.#ctx, "frame is not a JSON array", frame);
      return;
    }
    let ids: string[] | undefined; // exact id texts of this frame, taken when first needed
    let idIndex = 0;
    for (let k = 0; k < messages.length; k++) {
      const m = messages[k];
      if (m === null || typeof m !== "object") {
        bad(this.#ctx, "message is not an object", frame);
        continue;
      }
      let idText: string | undefined;
      if (typeof m.i === "number") {
        if (Number.isSafeInteger(m.i)) idText = String(m.i);
        else idText = (ids ??= idTexts(frame))[idIndex];
        idIndex++;
      }
      switch (m.T) {
        case "t":
          trade(this.#ctx, m, idText, frame, recvTs, out);
          break;
        case "q":
          quote(this.#ctx, m, frame, recvTs, out);
          break;
        case "b":
        case "u":
          bar(this.#ctx, m, 60_000_000, frame, recvTs, out);
          break;
        case "d":
          bar(this.#ctx, m, 86_400_000_000, frame, recvTs, out);
          break;
        case "o":
          orderbook(this.#ctx, m, frame, recvTs, out);
          break;
        case "c":
        case "x":
          amendment(this.#ctx, m, idText, recvTs, out);
          break;
        case "success":
          this.#session.success(m, recvTs, out);
          break;
        case "error":
          this.#session.error(m, frame, recvTs, out);
          break;
        case "subscription":
        case "s": // trading status
        case "l": // LULD bands
          break;
        default:
          bad(this.#ctx, `unknown message type: ${String(m.T).slice(0, 20)}`, frame);
      }
    }
  }

  #venueSymbol(symbol: string): string {
    if (!this.#crypto) return symbol.toUpperCase();
    const { base, quote } = splitSymbol(normalizeSymbol(symbol));
    return quote ? `${base}/${quote}` : base;
  }
}
