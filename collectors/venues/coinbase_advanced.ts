/**
 * Coinbase Advanced Trade market-data websocket (`wss://advanced-trade-ws.coinbase.com`):
 * `level2` (messages on channel `l2_data`), `market_trades`, `heartbeats`, and `ticker` /
 * `ticker_batch` as quotes, `candles` as five-minute bars. Public channels, no JWT. Pure parse/normalise: no I/O.
 *
 * Facts honoured (see `shared/docs/exchange-protocols.md`):
 *
 * - One subscribe message per channel; `heartbeats` keeps idle subscriptions open.
 * - Every message of a connection carries `sequence_num`, growing by 1 across all channels.
 *   The adapter checks it itself because it sees every message (a trades-only subscription
 *   loses messages too). A hole emits `status: "gap"` and `status: "reset"` for symbol `*`
 *   (the pipeline counts the gap; books are invalidated until the next snapshot) and asks
 *   the live connection to reconnect, which brings fresh `level2` snapshots. Book events
 *   therefore carry no `sequence`: the {@linkcode BookKeeper}'s `sequence_num` check would
 *   count the same hole a second time.
 * - `l2_data` events: `snapshot` then `update`, `updates: [{side: "bid"|"offer",
 *   price_level, new_quantity}]`, quantities absolute.
 * - `market_trades`: `side` is the **taker** side (`BUY`/`SELL`), unlike Coinbase Exchange;
 *   trades come in batches (newest first, so they are ordered by id here); `trade_id` grows
 *   by 1 per product where numeric. Numeric ids are the pipeline's `TradeLedger`'s (the
 *   venue's `tradeIds: "sequential"`): it drops a repeat (the snapshot of recent trades
 *   after a reconnect), reports a jump as one `gap` for that symbol, and passes on a skipped
 *   trade that a later snapshot brings. Ids the ledger does not check (not plain decimal
 *   integers) are deduplicated here, against the last 512 per product.
 * @module
 */
import type { MarketEvent, PriceLevel, TakerSide, Trade } from "../../lib/market/types.ts";
import { parseDecimal } from "../../lib/market/decimal.ts";
import { MIN_VALID_MICROS, parseIsoMicros } from "../../lib/market/time.ts";
import { normalizeSymbol } from "../../lib/market/symbols.ts";
import type { VenueDiagnostics } from "./venue.ts";
import { sequentialTradeId } from "./trade_ids.ts";
import type {
  ConnectionRequest,
  Subscription,
  VenueAdapter,
  VenueAdapterOptions,
} from "./venue.ts";
import { parseJsonObject } from "./_parse.ts";
import { advancedCandles } from "./_coinbase_advanced_candles.ts";

/** The public market-data endpoint. */
export const COINBASE_ADVANCED_WS_URL = "wss://advanced-trade-ws.coinbase.com";

/** Channels subscribed when none are given. */
export const COINBASE_ADVANCED_DEFAULT_CHANNELS = ["level2", "market_trades", "heartbeats"];

/** Channels that are not per product (subscribed without `product_ids`). */
const GLOBAL_CHANNELS = new Set(["heartbeats", "status"]);

/** Trade ids the ledger does not check, remembered per product to drop repeats. */
const RECENT_IDS = 512;

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * The Coinbase Advanced Trade adapter.
 *
 * @example
 * ```ts
 * import { CoinbaseAdvancedAdapter } from "./coinbase_advanced.ts";
 * import { FeedDiagnostics } from "../runtime/diagnostics.ts";
 * import type { MarketEvent } from "../../lib/market/types.ts";
 * import assert from "node:assert/strict";
 * const adapter = new CoinbaseAdvancedAdapter({ diagnostics: new FeedDiagnostics() });
 * const out: MarketEvent[] = [];
 * adapter.parse(
 *   JSON.stringify({
 *     channel: "market_trades",
 *     timestamp: "2024-05-01T12:00:00.5Z",
 *     sequence_num: 0,
 *     events: [{ type: "update", trades: [{
 *       trade_id: "7", product_id: "BTC-USD", price: "60000.5", size: "0.1", side: "SELL",
 *       time: "2024-05-01T12:00:00.25Z",
 *     }] }],
 *   }),
 *   1714564800600000,
 *   out,
 * );
 * assert.equal(out[0].kind, "trade");
 * assert.equal((out[0] as { side: string }).side, "sell"); // taker side as sent
 * ```
 */
export class CoinbaseAdvancedAdapter implements VenueAdapter {
  readonly exchange = "coinbase-advanced";
  readonly #diagnostics: VenueDiagnostics;
  /** Last `sequence_num` of this connection (NaN before the first message). */
  #sequence = NaN;
  /** Recent ids per symbol that the ledger does not check (non-numeric), oldest first. */
  readonly #recentIds = new Map<string, Set<string>>();
  #live = false;
  #requests: ConnectionRequest[] | undefined;
  /** Trades dropped because their non-numeric id was already seen (numeric: the ledger's). */
  duplicateTrades = 0;
  /** `sequence_num` holes seen. */
  sequenceGaps = 0;

  constructor(options: VenueAdapterOptions) {
    this.#diagnostics = options.diagnostics;
  }

  subscribeMessages(subscription: Subscription): string[] {
    if (subscription.symbols.length === 0) throw new RangeError("no symbols to subscribe to");
    this.#live = true;
    const channels = subscription.channels ?? COINBASE_ADVANCED_DEFAULT_CHANNELS;
    return channels.map((channel) =>
      JSON.stringify(
        GLOBAL_CHANNELS.has(channel)
          ? { type: "subscribe", channel }
          : { type: "subscribe", product_ids: subscription.symbols, channel },
      )
    );
  }

  /** A new connection numbers its messages from scratch; recent trade ids survive. */
  reset(): void {
    this.#sequence = NaN;
  }

  takeRequests(): ConnectionRequest[] | undefined {
    const requests = this.#requests;
    this.#requests = undefined;
    return requests;
  }

  parse(frame: string, recvTs: number, out: MarketEvent[]): void {
    const msg = parseJsonObject(frame, this.#diagnostics);
    if (msg === undefined) return;
    if (msg.type === "error") {
      this.#diagnostics.error(`venue error: ${String(msg.message ?? "").slice(0, 120)}`, frame);
      return;
    }
    if (!this.#checkSequence(msg.sequence_num, frame, recvTs, out)) return;
    const events = msg.events;
    if (!Array.isArray(events)) {
      this.#diagnostics.error("message without events", frame);
      return;
    }
    switch (msg.channel) {
      case "l2_data":
        return this.#level2(msg, events, frame, recvTs, out);
      case "market_trades":
        return this.#trades(events, frame, recvTs, out);
      case "ticker":
      case "ticker_batch":
        return this.#tickers(msg, events, frame, recvTs, out);
      case "candles":
        return advancedCandles(this.exchange, events, frame, recvTs, this.#diagnostics, out);
      case "heartbeats":
      case "subscriptions":
        return;
      default:
        this.#diagnostics.error(`unknown channel: ${String(msg.channel).slice(0, 40)}`, frame);
    }
  }

  /** False when the message cannot be numbered (it is dropped). */
  #checkSequence(seq: unknown, frame: string, recvTs: number, out: MarketEvent[]): boolean {
    if (!Number.isSafeInteger(seq) || (seq as number) < 0) {
      this.#diagnostics.error("message without a valid sequence_num", frame);
      return false;
    }
    const n = seq as number;
    const last = this.#sequence;
    this.#sequence = n;
    if (Number.isNaN(last) || n === last + 1) return true;
    this.sequenceGaps++;
    const reason = `sequence_num gap: ${n} after ${last}`;
    const header = { exchange: this.exchange, symbol: "*", ts: recvTs, recvTs } as const;
    out.push({ ...header, kind: "status", status: "gap", reason });
    out.push({
      ...header,
      kind: "status",
      status: "reset",
      reason: `${reason}: books invalid until fresh snapshots`,
    });
    if (this.#live) {
      (this.#requests ??= []).push({ kind: "reconnect", reason, minDelayMs: 0 });
    }
    // The message itself is intact: parse it (its trades still go through the ledger).
    return true;
  }

  #level2(
    msg: Json,
    events: Json[],
    frame: string,
    recvTs: number,
    out: MarketEvent[],
  ): void {
    const messageTs = parseIsoMicros(msg.timestamp);
    const ts = messageTs >= MIN_VALID_MICROS ? messageTs : recvTs;
    for (const event of events) {
      const id = event?.product_id;
      if (typeof id !== "string" || id.length === 0) {
        this.#diagnostics.error("l2_data event without product_id", frame);
        continue;
      }
      const symbol = normalizeSymbol(id);
      const updates = event.updates;
      const bids: PriceLevel[] = [];
      const asks: PriceLevel[] = [];
      let valid = Array.isArray(updates) && (event.type === "snapshot" || event.type === "update");
      for (let i = 0; valid && i < updates.length; i++) {
        const u = updates[i];
        const price = parseDecimal(u?.price_level);
        const size = parseDecimal(u?.new_quantity);
        const side = u?.side;
        if (!(price > 0) || !(size >= 0) || (side !== "bid" && side !== "offer")) {
          valid = false;
          break;
        }
        (side === "bid" ? bids : asks).push([price, size]);
      }
      if (!valid) {
        this.#diagnostics.error("invalid l2_data event", frame, { symbol });
        out.push({
          kind: "status",
          exchange: this.exchange,
          symbol,
          ts: recvTs,
          recvTs,
          status: "reset",
          reason: "invalid l2_data event: book unusable until the next snapshot",
        });
        continue;
      }
      out.push(
        event.type === "snapshot"
          ? { kind: "book_snapshot", exchange: this.exchange, symbol, ts, recvTs, bids, asks }
          : { kind: "book_change", exchange: this.exchange, symbol, ts, recvTs, bids, asks },
      );
    }
  }

  #trades(events: Json[], frame: string, recvTs: number, out: MarketEvent[]): void {
    for (const event of events) {
      const raw = event?.trades;
      if (!Array.isArray(raw)) {
        this.#diagnostics.error("market_trades event without trades", frame);
        continue;
      }
      const trades: Trade[] = [];
      for (const t of raw) {
        const trade = this.#trade(t, frame, recvTs);
        if (trade !== undefined) trades.push(trade);
      }
      // Batches come newest first: put them in id (else time) order for the ledger.
      if (trades.length > 1) trades.sort(compareTrades);
      for (const trade of trades) {
        if (this.#isRepeat(trade)) this.duplicateTrades++;
        else out.push(trade);
      }
    }
  }

  #trade(t: Json, frame: string, recvTs: number): Trade | undefined {
    const product = t?.product_id;
    if (typeof product !== "string" || product.length === 0) {
      this.#diagnostics.error("trade without product_id", frame);
      return undefined;
    }
    const symbol = normalizeSymbol(product);
    const id = t.trade_id;
    const price = parseDecimal(t.price);
    const size = parseDecimal(t.size);
    const ts = parseIsoMicros(t.time);
    const side: TakerSide | undefined = t.side === "BUY"
      ? "buy"
      : t.side === "SELL"
      ? "sell"
      : t.side === "UNKNOWN_ORDER_SIDE"
      ? "unknown"
      : undefined;
    if (typeof id !== "string" || id.length === 0) {
      this.#diagnostics.error("trade with invalid trade_id", frame, { symbol });
      return undefined;
    }
    if (!(price > 0) || !(size > 0) || side === undefined || !(ts >= MIN_VALID_MICROS)) {
      this.#diagnostics.error("trade with impossible values", frame, { symbol });
      return undefined;
    }
    return { kind: "trade", exchange: this.exchange, symbol, id, price, size, side, ts, recvTs };
  }

  /**
   * True for a repeat among the ids the ledger passes unchecked; numeric ids always go on
   * (the ledger drops their repeats and counts their gaps, once).
   */
  #isRepeat(trade: Trade): boolean {
    if (!Number.isNaN(sequentialTradeId(trade.id))) return false;
    let recent = this.#recentIds.get(trade.symbol);
    if (recent === undefined) this.#recentIds.set(trade.symbol, recent = new Set());
    if (recent.has(trade.id)) return true;
    recent.add(trade.id);
    if (recent.size > RECENT_IDS) recent.delete(recent.values().next().value!);
    return false;
  }

  #tickers(
    msg: Json,
    events: Json[],
    frame: string,
    recvTs: number,
    out: MarketEvent[],
  ): void {
    const messageTs = parseIsoMicros(msg.timestamp);
    const ts = messageTs >= MIN_VALID_MICROS ? messageTs : recvTs;
    for (const event of events) {
      if (!Array.isArray(event?.tickers)) {
        this.#diagnostics.error("ticker event without tickers", frame);
        continue;
      }
      for (const t of event.tickers) {
        const product = t?.product_id;
        if (typeof product !== "string" || product.length === 0) {
          this.#diagnostics.error("ticker without product_id", frame);
          continue;
        }
        const symbol = normalizeSymbol(product);
        const bidPrice = parseDecimal(t.best_bid);
        const askPrice = parseDecimal(t.best_ask);
        if (!(bidPrice > 0) || !(askPrice > 0)) {
          this.#diagnostics.error("ticker with impossible values", frame, { symbol });
          continue;
        }
        out.push({
          kind: "quote",
          exchange: this.exchange,
          symbol,
          ts,
          recvTs,
          bidPrice,
          bidSize: typeof t.best_bid_quantity === "string"
            ? parseDecimal(t.best_bid_quantity)
            : NaN,
          askPrice,
          askSize: typeof t.best_ask_quantity === "string"
            ? parseDecimal(t.best_ask_quantity)
            : NaN,
        });
      }
    }
  }
}

function compareTrades(a: Trade, b: Trade): number {
  const x = sequentialTradeId(a.id);
  const y = sequentialTradeId(b.id);
  if (!Number.isNaN(x) && !Number.isNaN(y)) return x - y;
  return a.ts - b.ts;
}
