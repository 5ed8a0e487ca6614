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
import type {
  Bar,
  FeedStatus,
  MarketEvent,
  PriceLevel,
  TakerSide,
} from "../../lib/market/types.ts";
import { MIN_VALID_MICROS, parseIsoMicros } from "../../lib/market/time.ts";
import { normalizeSymbol, splitSymbol } from "../../lib/market/symbols.ts";
import type { VenueDiagnostics } from "./venue.ts";
import type {
  ConnectionRequest,
  Subscription,
  VenueAdapter,
  VenueAdapterOptions,
} from "./venue.ts";

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

/** Recent trade ids remembered per symbol to drop repeats. */
const RECENT_IDS = 256;

// deno-lint-ignore no-explicit-any
type Json = any;

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
  readonly #diagnostics: VenueDiagnostics;
  readonly #credentials?: AlpacaCredentials;
  readonly #log: (record: Record<string, unknown>) => void;
  readonly #refusedRetryMs: Readonly<Record<number, number>>;
  #subscription?: Subscription;
  #requests: ConnectionRequest[] | undefined;
  readonly #recentIds = new Map<string, Set<string>>();
  /** Trade corrections received. */
  corrections = 0;
  /** Trade cancels/errors received. */
  cancels = 0;
  /** Trades dropped because their id was seen recently. */
  duplicateTrades = 0;
  /** Venue errors by code. */
  readonly errorsByCode = new Map<number, number>();

  constructor(options: AlpacaAdapterOptions) {
    const market = options.market ?? "stocks";
    if (market !== "stocks" && market !== "crypto") {
      throw new RangeError(`market must be "stocks" or "crypto", got ${market}`);
    }
    this.#crypto = market === "crypto";
    this.exchange = this.#crypto ? "alpaca-crypto" : "alpaca";
    this.#diagnostics = options.diagnostics;
    this.#credentials = options.credentials;
    this.#refusedRetryMs = { ...ALPACA_REFUSED_RETRY_MS, ...options.refusedRetryMs };
    this.#log = options.log ??
      ((record) => console.error(JSON.stringify({ time: new Date().toISOString(), ...record })));
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
    this.#subscription = subscription;
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
    const requests = this.#requests;
    this.#requests = undefined;
    return requests;
  }

  parse(frame: string, recvTs: number, out: MarketEvent[]): void {
    let messages: Json;
    try {
      messages = JSON.parse(frame);
    } catch {
      this.#bad("malformed JSON", frame);
      return;
    }
    if (!Array.isArray(messages)) {
      this.#bad("frame is not a JSON array", frame);
      return;
    }
    let ids: string[] | undefined; // exact id texts of this frame, taken when first needed
    let idIndex = 0;
    for (let k = 0; k < messages.length; k++) {
      const m = messages[k];
      if (m === null || typeof m !== "object") {
        this.#bad("message is not an object", frame);
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
          this.#trade(m, idText, frame, recvTs, out);
          break;
        case "q":
          this.#quote(m, frame, recvTs, out);
          break;
        case "b":
        case "u":
          this.#bar(m, 60_000_000, frame, recvTs, out);
          break;
        case "d":
          this.#bar(m, 86_400_000_000, frame, recvTs, out);
          break;
        case "o":
          this.#orderbook(m, frame, recvTs, out);
          break;
        case "c":
        case "x":
          this.#amendment(m, idText, recvTs, out);
          break;
        case "success":
          this.#success(m, recvTs, out);
          break;
        case "error":
          this.#error(m, frame, recvTs, out);
          break;
        case "subscription":
        case "s": // trading status
        case "l": // LULD bands
          break;
        default:
          this.#bad(`unknown message type: ${String(m.T).slice(0, 20)}`, frame);
      }
    }
  }

  #venueSymbol(symbol: string): string {
    if (!this.#crypto) return symbol.toUpperCase();
    const { base, quote } = splitSymbol(normalizeSymbol(symbol));
    return quote ? `${base}/${quote}` : base;
  }

  #symbol(m: Json, frame: string): string | undefined {
    const s = m.S;
    if (typeof s !== "string" || s.length === 0) {
      this.#bad(`message ${String(m.T).slice(0, 20)} without symbol`, frame);
      return undefined;
    }
    return this.#crypto ? normalizeSymbol(s) : s.toUpperCase();
  }

  /** Counts and logs bad input, with any secret masked in the quoted sample. */
  #bad(reason: string, frame: string, extra?: Record<string, unknown>): void {
    this.#diagnostics.error(reason, this.#mask(frame), extra);
  }

  /** Venue text with our secret masked, should the venue ever echo it. */
  #mask(text: string): string {
    const secret = this.#credentials?.secret;
    return secret && text.includes(secret) ? text.replaceAll(secret, "<redacted>") : text;
  }

  #request(request: ConnectionRequest): void {
    // Only a live connection (subscribeMessages was called) consumes requests.
    if (this.#subscription !== undefined) (this.#requests ??= []).push(request);
  }

  #status(status: FeedStatus["status"], symbol: string, reason: string, recvTs: number) {
    return {
      kind: "status",
      exchange: this.exchange,
      symbol,
      ts: recvTs,
      recvTs,
      status,
      reason,
    } as const;
  }

  #success(m: Json, recvTs: number, out: MarketEvent[]): void {
    if (m.msg === "connected") {
      const credentials = this.#credentials;
      if (credentials === undefined) {
        if (this.#subscription === undefined) return; // replay
        const reason = "no Alpaca credentials: set ALPACA_API_KEY and ALPACA_API_SECRET";
        this.#diagnostics.error(reason);
        out.push(this.#status("disconnected", "*", reason, recvTs));
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
      const subscription = this.#subscription;
      if (subscription !== undefined) {
        this.#request({ kind: "send", frame: this.subscribeMessage(subscription) });
      }
    }
  }

  #error(m: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    const code = typeof m.code === "number" ? m.code : 0;
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
    const known = ERRORS[code];
    const venueText = this.#mask(String(m.msg ?? "")).slice(0, 120);
    const reason = `alpaca error ${code} (${venueText}): ${known?.what ?? "unknown error"}`;
    const action = known?.action ?? "log";
    const minDelayMs = this.#refusedRetryMs[code] ?? 0;
    this.#bad(reason, frame, { code });
    this.#log({
      level: "error",
      msg: reason,
      exchange: this.exchange,
      code,
      action: action === "refused"
        ? `reconnecting in ${minDelayMs / 1000} s at the earliest`
        : action === "log"
        ? "none"
        : "reconnecting",
    });
    switch (action) {
      case "refused":
        out.push(this.#status("disconnected", "*", reason, recvTs));
        this.#request({ kind: "reconnect", reason, minDelayMs });
        break;
      case "gap":
        out.push(this.#status("gap", "*", reason, recvTs));
        this.#request({ kind: "reconnect", reason, minDelayMs: 1_000 });
        break;
      case "retry":
        this.#request({ kind: "reconnect", reason });
        break;
      case "log":
        break;
    }
  }

  #trade(
    m: Json,
    idText: string | undefined,
    frame: string,
    recvTs: number,
    out: MarketEvent[],
  ): void {
    const symbol = this.#symbol(m, frame);
    if (symbol === undefined) return;
    const price = m.p;
    const size = m.s;
    const ts = parseIsoMicros(m.t);
    let side: TakerSide = "unknown";
    if (this.#crypto) {
      side = m.tks === "B" ? "buy" : m.tks === "S" ? "sell" : "unknown";
    }
    if (idText === undefined || !/^\d{1,20}$/.test(idText)) {
      return this.#bad("trade without an integer id", frame, { symbol });
    }
    if (!(price > 0) || !(size > 0) || !(ts >= MIN_VALID_MICROS)) {
      return this.#bad("trade with impossible values", frame, { symbol });
    }
    const id = !this.#crypto && typeof m.x === "string" ? `${m.x}:${idText}` : idText;
    let recent = this.#recentIds.get(symbol);
    if (recent === undefined) {
      recent = new Set();
      this.#recentIds.set(symbol, recent);
    }
    if (recent.has(id)) {
      this.duplicateTrades++;
      return;
    }
    recent.add(id);
    if (recent.size > RECENT_IDS) recent.delete(recent.values().next().value!);
    out.push({ kind: "trade", exchange: this.exchange, symbol, id, price, size, side, ts, recvTs });
  }

  #quote(m: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    const symbol = this.#symbol(m, frame);
    if (symbol === undefined) return;
    const ts = parseIsoMicros(m.t);
    const { bp, bs, ap, as } = m;
    // A side can be empty (price 0) outside trading hours: kept as given, sizes >= 0.
    if (
      !(bp >= 0) || !(ap >= 0) || !(bs >= 0) || !(as >= 0) || !(ts >= MIN_VALID_MICROS)
    ) {
      return this.#bad("quote with impossible values", frame, { symbol });
    }
    out.push({
      kind: "quote",
      exchange: this.exchange,
      symbol,
      ts,
      recvTs,
      bidPrice: bp,
      bidSize: bs,
      askPrice: ap,
      askSize: as,
    });
  }

  #bar(m: Json, interval: number, frame: string, recvTs: number, out: MarketEvent[]): void {
    const symbol = this.#symbol(m, frame);
    if (symbol === undefined) return;
    const ts = parseIsoMicros(m.t);
    const { o, h, l, c, v, n, vw } = m;
    if (
      !(o > 0) || !(h > 0) || !(l > 0) || !(c > 0) || !(h >= l) || !(v >= 0) ||
      !(ts >= MIN_VALID_MICROS)
    ) {
      return this.#bad("bar with impossible values", frame, { symbol });
    }
    const bar: Bar = {
      kind: "bar",
      exchange: this.exchange,
      symbol,
      ts,
      recvTs,
      interval,
      open: o,
      high: h,
      low: l,
      close: c,
      volume: v,
      vwap: typeof vw === "number" && v > 0 ? vw : NaN,
      trades: Number.isSafeInteger(n) ? n : 0,
    };
    out.push(bar);
  }

  #orderbook(m: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    const symbol = this.#symbol(m, frame);
    if (symbol === undefined) return;
    const ts = parseIsoMicros(m.t);
    const bids = bookLevels(m.b);
    const asks = bookLevels(m.a);
    if (bids === undefined || asks === undefined || !(ts >= MIN_VALID_MICROS)) {
      this.#bad("invalid orderbook message", frame, { symbol });
      out.push(
        this.#status(
          "reset",
          symbol,
          "invalid orderbook message: book unusable until the next snapshot",
          recvTs,
        ),
      );
      return;
    }
    out.push(
      m.r === true
        ? { kind: "book_snapshot", exchange: this.exchange, symbol, ts, recvTs, bids, asks }
        : { kind: "book_change", exchange: this.exchange, symbol, ts, recvTs, bids, asks },
    );
  }

  /** Trade corrections (`c`) and cancels (`x`): counted, logged, passed on as a status. */
  #amendment(m: Json, idText: string | undefined, recvTs: number, out: MarketEvent[]): void {
    const symbol = typeof m.S === "string" && m.S.length > 0
      ? (this.#crypto ? normalizeSymbol(m.S) : m.S.toUpperCase())
      : "*";
    let reason: string;
    if (m.T === "c") {
      this.corrections++;
      reason = `trade correction ${m.x ?? "?"}:${m.oi ?? "?"} ` +
        `(price ${m.op} size ${m.os}) -> ${m.x ?? "?"}:${m.ci ?? "?"} (price ${m.cp} size ${m.cs})`;
    } else {
      this.cancels++;
      reason = `trade ${m.a === "E" ? "error" : "cancel"} ${m.x ?? "?"}:${idText ?? "?"} ` +
        `(price ${m.p} size ${m.s})`;
    }
    this.#log({ level: "info", msg: reason, exchange: this.exchange, symbol });
    out.push(this.#status("reset", symbol, reason, recvTs));
  }
}

/** `[{p, s}, ...]` to levels; undefined when any level is invalid. Size 0 deletes. */
function bookLevels(raw: unknown): PriceLevel[] | undefined {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) return undefined;
  const out: PriceLevel[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const p = raw[i]?.p;
    const s = raw[i]?.s;
    if (typeof p !== "number" || typeof s !== "number" || !(p > 0) || !(s >= 0)) {
      return undefined;
    }
    out[i] = [p, s];
  }
  return out;
}

const ID_TEXT = /"i":\s*(-?[\d.eE+]+)/g;

/** The text of every `"i":` number in the frame, in order (ids beyond 2^53). */
function idTexts(frame: string): string[] {
  const out: string[] = [];
  for (const match of frame.matchAll(ID_TEXT)) out.push(match[1]);
  return out;
}
