/**
 * Coinbase Exchange (formerly "Pro") websocket feed: `level2_batch` (or `level2`),
 * `matches`, `heartbeat`, `ticker`. Pure parse/normalise: no I/O.
 *
 * Facts honoured (see `shared/docs/exchange-protocols.md`): sizes are absolute and `"0"`
 * deletes a level; `l2update` has no sequence number; in `match` the `side` is the
 * **maker's**, so the taker side is the opposite; `trade_id` grows by 1 per product, so a
 * jump between matches, or a heartbeat `last_trade_id` above the last trade seen, means
 * missed trades. Every valid match (`last_match` too) is passed on: the pipeline's
 * `TradeLedger` drops repeats, counts and reports gaps, and takes back a trade
 * that arrives late. The heartbeat's `last_trade_id` is handed to the ledger through
 * {@linkcode CoinbaseExchangeAdapter.takeTradeIdMarks}, so trades missed while nothing
 * arrived are counted once, by the ledger, when the heartbeat comes.
 * @module
 */
import type { BookSide, MarketEvent, PriceLevel, TakerSide } from "../../lib/market/types.ts";
import { parseDecimal } from "../../lib/market/decimal.ts";
import { MIN_VALID_MICROS, parseIsoMicros } from "../../lib/market/time.ts";
import { normalizeSymbol } from "../../lib/market/symbols.ts";
import type { VenueDiagnostics } from "./venue.ts";
import type { TradeIdMarks } from "./trade_ids.ts";
import type {
  ConnectionRequest,
  Subscription,
  VenueAdapter,
  VenueAdapterOptions,
} from "./venue.ts";
import { scanBookFrame } from "./_coinbase_fast.ts";
import { parseJsonObject, parseLevels } from "./_parse.ts";

/** The public production endpoint. */
export const COINBASE_EXCHANGE_WS_URL = "wss://ws-feed.exchange.coinbase.com";

/** Channels subscribed when none are given: all public, no authentication needed. */
export const COINBASE_EXCHANGE_DEFAULT_CHANNELS = ["level2_batch", "matches", "heartbeat"];

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * The Coinbase Exchange adapter.
 *
 * @example
 * ```ts
 * import { CoinbaseExchangeAdapter } from "./coinbase_exchange.ts";
 * import { FeedDiagnostics } from "../runtime/diagnostics.ts";
 * import type { MarketEvent } from "../../lib/market/types.ts";
 * import assert from "node:assert/strict";
 * const adapter = new CoinbaseExchangeAdapter({ diagnostics: new FeedDiagnostics() });
 * const out: MarketEvent[] = [];
 * adapter.parse(
 *   '{"type":"match","trade_id":7,"side":"sell","size":"2","price":"10.5",' +
 *     '"product_id":"BTC-USD","time":"2021-04-17T16:43:37.089723Z"}',
 *   1618677817100000,
 *   out,
 * );
 * assert.equal(out[0].kind, "trade");
 * ```
 */
export class CoinbaseExchangeAdapter implements VenueAdapter, TradeIdMarks {
  readonly exchange = "coinbase";
  readonly #diagnostics: VenueDiagnostics;
  /** Heartbeat `last_trade_id`s not yet taken, highest per symbol. */
  #marks: Map<string, number> | undefined;
  /** The book channels of the live subscription (for resyncs). */
  #bookChannels: readonly string[] = [];

  constructor(options: VenueAdapterOptions) {
    this.#diagnostics = options.diagnostics;
  }

  subscribeMessages(subscription: Subscription): string[] {
    if (subscription.symbols.length === 0) throw new RangeError("no symbols to subscribe to");
    const channels = subscription.channels ?? COINBASE_EXCHANGE_DEFAULT_CHANNELS;
    this.#bookChannels = channels.filter((c) => c.startsWith("level2"));
    return [JSON.stringify({
      type: "subscribe",
      product_ids: subscription.symbols,
      channels,
    })];
  }

  /**
   * Rebuilds a product's book after a reset: unsubscribe and subscribe its book channel
   * again, which brings a fresh `snapshot` (trades are not resubscribed: nothing is missed).
   */
  resyncRequests(symbol: string): ConnectionRequest[] {
    if (this.#bookChannels.length === 0) return [];
    const ids = { product_ids: [symbol], channels: this.#bookChannels };
    return [
      { kind: "send", frame: JSON.stringify({ type: "unsubscribe", ...ids }) },
      { kind: "send", frame: JSON.stringify({ type: "subscribe", ...ids }) },
    ];
  }

  /**
   * Nothing to forget: the adapter keeps no trade-id chain (the pipeline's ledger does, across
   * reconnects), and heartbeat marks not yet taken stay true on a new connection.
   */
  reset(): void {}

  /** The heartbeats' `last_trade_id`s since the last call (see {@linkcode TradeIdMarks}). */
  takeTradeIdMarks(): ReadonlyMap<string, number> | undefined {
    const marks = this.#marks;
    this.#marks = undefined;
    return marks;
  }

  parse(frame: string, recvTs: number, out: MarketEvent[], utf8?: Uint8Array): void {
    // Book messages (nearly all traffic) without JSON.parse; anything unusual goes below.
    if (scanBookFrame(frame, this.exchange, recvTs, out, utf8)) return;
    const msg = parseJsonObject(frame, this.#diagnostics);
    if (msg === undefined) return;
    switch (msg.type) {
      case "l2update":
        return this.#l2update(msg, frame, recvTs, out);
      case "match":
      case "last_match":
        return this.#match(msg, frame, recvTs, out);
      case "snapshot":
        return this.#snapshot(msg, frame, recvTs, out);
      case "heartbeat":
        return this.#heartbeat(msg, frame);
      case "ticker":
        return this.#ticker(msg, frame, recvTs, out);
      case "subscriptions":
        return;
      case "error":
        this.#diagnostics.error(`venue error: ${msg.message ?? ""} ${msg.reason ?? ""}`, frame);
        return;
      default:
        this.#diagnostics.error(`unknown message type: ${String(msg.type).slice(0, 40)}`, frame);
    }
  }

  #symbol(msg: Json, frame: string): string | undefined {
    const id = msg.product_id;
    if (typeof id !== "string" || id.length === 0) {
      this.#diagnostics.error(`${msg.type} without product_id`, frame);
      return undefined;
    }
    return normalizeSymbol(id);
  }

  #l2update(msg: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    const symbol = this.#symbol(msg, frame);
    if (symbol === undefined) return;
    const changes = msg.changes;
    const ts = parseIsoMicros(msg.time);
    if (!Array.isArray(changes) || !(ts >= MIN_VALID_MICROS)) {
      return this.#invalidBook(symbol, "invalid l2update", frame, recvTs, out);
    }
    const bids: PriceLevel[] = [];
    const asks: PriceLevel[] = [];
    for (let i = 0; i < changes.length; i++) {
      const c = changes[i];
      const side = sideOf(c?.[0]);
      const price = parseDecimal(c?.[1]);
      const size = parseDecimal(c?.[2]);
      if (side === undefined || !(price > 0) || !(size >= 0)) {
        return this.#invalidBook(symbol, "invalid l2update change", frame, recvTs, out);
      }
      (side === "bid" ? bids : asks).push([price, size]);
    }
    out.push({ kind: "book_change", exchange: this.exchange, symbol, ts, recvTs, bids, asks });
  }

  #snapshot(msg: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    const symbol = this.#symbol(msg, frame);
    if (symbol === undefined) return;
    const bids = parseLevels(msg.bids);
    const asks = parseLevels(msg.asks);
    if (bids === undefined || asks === undefined) {
      return this.#invalidBook(symbol, "invalid snapshot level", frame, recvTs, out);
    }
    // Snapshots carry no venue time: the receive time is the best we have.
    const ts = typeof msg.time === "string" ? parseIsoMicros(msg.time) : recvTs;
    out.push({
      kind: "book_snapshot",
      exchange: this.exchange,
      symbol,
      ts: ts >= MIN_VALID_MICROS ? ts : recvTs,
      recvTs,
      bids,
      asks,
    });
  }

  /** Reports bad book input and tells consumers to drop the book until the next snapshot. */
  #invalidBook(
    symbol: string,
    reason: string,
    frame: string,
    recvTs: number,
    out: MarketEvent[],
  ): void {
    this.#diagnostics.error(reason, frame, { symbol });
    out.push({
      kind: "status",
      exchange: this.exchange,
      symbol,
      ts: recvTs,
      recvTs,
      status: "reset",
      reason: `${reason}: book unusable until the next snapshot`,
    });
  }

  #match(msg: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    const symbol = this.#symbol(msg, frame);
    if (symbol === undefined) return;
    const id = msg.trade_id;
    const price = parseDecimal(msg.price);
    const size = parseDecimal(msg.size);
    const ts = parseIsoMicros(msg.time);
    const side: TakerSide | undefined = msg.side === "buy"
      ? "sell" // the maker bought: the taker sold
      : msg.side === "sell"
      ? "buy"
      : undefined;
    if (!Number.isSafeInteger(id) || id < 0) {
      return this.#diagnostics.error("match with invalid trade_id", frame, { symbol });
    }
    if (!(price > 0) || !(size > 0) || side === undefined || !(ts >= MIN_VALID_MICROS)) {
      return this.#diagnostics.error("match with impossible values", frame, { symbol });
    }
    // Repeats and gaps are the ledger's (see the module doc): every valid match goes on.
    out.push({
      kind: "trade",
      exchange: this.exchange,
      symbol,
      id: String(id),
      price,
      size,
      side,
      ts,
      recvTs,
    });
  }

  /**
   * A heartbeat emits nothing: its `last_trade_id` (the product's last trade) is kept for
   * {@linkcode takeTradeIdMarks}, and the ledger decides whether trades were missed.
   */
  #heartbeat(msg: Json, frame: string): void {
    const symbol = this.#symbol(msg, frame);
    if (symbol === undefined) return;
    const lastTradeId = msg.last_trade_id;
    if (!Number.isSafeInteger(lastTradeId) || lastTradeId < 0) return;
    const marks = this.#marks ??= new Map();
    if (lastTradeId > (marks.get(symbol) ?? -1)) marks.set(symbol, lastTradeId);
  }

  #ticker(msg: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    const symbol = this.#symbol(msg, frame);
    if (symbol === undefined) return;
    if (typeof msg.best_bid !== "string" || typeof msg.best_ask !== "string") return;
    const bidPrice = parseDecimal(msg.best_bid);
    const askPrice = parseDecimal(msg.best_ask);
    const ts = parseIsoMicros(msg.time);
    if (!(bidPrice > 0) || !(askPrice > 0) || !(ts >= MIN_VALID_MICROS)) {
      return this.#diagnostics.error("ticker with impossible values", frame, { symbol });
    }
    out.push({
      kind: "quote",
      exchange: this.exchange,
      symbol,
      ts,
      recvTs,
      bidPrice,
      // Older feeds send no sizes at the top of the book: NaN says "not given".
      bidSize: typeof msg.best_bid_size === "string" ? parseDecimal(msg.best_bid_size) : NaN,
      askPrice,
      askSize: typeof msg.best_ask_size === "string" ? parseDecimal(msg.best_ask_size) : NaN,
    });
  }
}

function sideOf(side: unknown): BookSide | undefined {
  return side === "buy" ? "bid" : side === "sell" ? "ask" : undefined;
}
