/**
 * Kraken websocket feeds, v2 (`wss://ws.kraken.com/v2`, JSON objects with number prices)
 * and the legacy v1 (`wss://ws.kraken.com`, arrays with string prices, as in the recorded
 * sessions): `book` and `trade`. Pure parse/normalise: no I/O.
 *
 * Facts honoured (see `shared/docs/exchange-protocols.md`): sizes are absolute and 0 deletes
 * a level; deletes of levels not in the book are ignored (by the book); after each message a
 * book keeps only the subscribed depth (Kraken sends no deletes for levels that fall out of
 * range: the snapshot event carries `depth`); the CRC32 checksum (`"c"` in v1, `checksum`
 * in v2) is put on the event for the {@linkcode BookKeeper} to verify, with the pair's
 * price and size decimals on the snapshot. v1 decimals come from the price text itself; v2
 * decimals come from the `instruments` option (REST `AssetPairs`, see
 * {@linkcode parseKrakenAssetPairs}), the v2 `instrument` channel, or, failing both, the
 * number text of the snapshot (Kraken writes v2 numbers with trailing zeros).
 * @module
 */
import type { BookChange, MarketEvent, PriceLevel, TakerSide } from "../../lib/market/types.ts";
import { parseDecimal } from "../../lib/market/decimal.ts";
import { MIN_VALID_MICROS, parseIsoMicros, secondsToMicros } from "../../lib/market/time.ts";
import { normalizeSymbol, splitSymbol } from "../../lib/market/symbols.ts";
import type { VenueDiagnostics } from "./venue.ts";
import type {
  ConnectionRequest,
  Subscription,
  VenueAdapter,
  VenueAdapterOptions,
} from "./venue.ts";

/** The public v2 endpoint. */
export const KRAKEN_WS_URL = "wss://ws.kraken.com/v2";
/** The legacy v1 endpoint. */
export const KRAKEN_V1_WS_URL = "wss://ws.kraken.com";

/** Price and size precision of a pair. */
export interface KrakenInstrument {
  /** Digits after the point in prices (`pair_decimals`, v2 `price_precision`). */
  readonly priceDecimals: number;
  /** Digits after the point in sizes (`lot_decimals`, v2 `qty_precision`). */
  readonly sizeDecimals: number;
}

/** Options for {@linkcode KrakenAdapter}. */
export interface KrakenAdapterOptions extends VenueAdapterOptions {
  /** Protocol for {@linkcode KrakenAdapter.subscribeMessages} (default 2); both are parsed. */
  readonly version?: 1 | 2;
  /** Book depth to subscribe (10, 25, 100, 500, 1000; default 10 for v2, 1000 for v1). */
  readonly depth?: number;
  /** Pair precision by canonical symbol (`BTC-USD`), e.g. from {@linkcode parseKrakenAssetPairs}. */
  readonly instruments?: ReadonlyMap<string, KrakenInstrument>;
}

const DEFAULT_CHANNELS = ["book", "trade"];
const VALID_DEPTHS = [10, 25, 100, 500, 1000];

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * The Kraken adapter (v1 and v2 frames alike).
 *
 * @example
 * ```ts
 * import { KrakenAdapter } from "./kraken.ts";
 * import { FeedDiagnostics } from "../runtime/diagnostics.ts";
 * import type { MarketEvent } from "../../lib/market/types.ts";
 * import assert from "node:assert/strict";
 * const adapter = new KrakenAdapter({ diagnostics: new FeedDiagnostics() });
 * const out: MarketEvent[] = [];
 * adapter.parse(
 *   '[992,{"b":[["354.15000000","5.00000000","1618678133.365913"]],"c":"2583817756"},' +
 *     '"book-1000","XMR/USD"]',
 *   1618678134213106,
 *   out,
 * );
 * assert.equal(out[0].kind, "book_change");
 * assert.equal(out[0].symbol, "XMR-USD");
 * ```
 */
export class KrakenAdapter implements VenueAdapter {
  readonly exchange = "kraken";
  readonly #diagnostics: VenueDiagnostics;
  readonly #version: 1 | 2;
  readonly #depth: number;
  readonly #instruments = new Map<string, KrakenInstrument>();
  /** Subscribed book depth by canonical symbol (v2 acknowledgements, v1 channel names). */
  readonly #bookDepth = new Map<string, number>();

  constructor(options: KrakenAdapterOptions) {
    this.#diagnostics = options.diagnostics;
    this.#version = options.version ?? 2;
    if (this.#version !== 1 && this.#version !== 2) {
      throw new RangeError(`version must be 1 or 2, got ${this.#version}`);
    }
    this.#depth = options.depth ?? (this.#version === 1 ? 1000 : 10);
    if (!VALID_DEPTHS.includes(this.#depth)) {
      throw new RangeError(`depth must be one of ${VALID_DEPTHS.join(", ")}, got ${this.#depth}`);
    }
    for (const [symbol, instrument] of options.instruments ?? []) {
      this.#instruments.set(symbol, instrument);
    }
  }

  subscribeMessages(subscription: Subscription): string[] {
    if (subscription.symbols.length === 0) throw new RangeError("no symbols to subscribe to");
    const channels = subscription.channels ?? DEFAULT_CHANNELS;
    const v1 = this.#version === 1;
    const pairs = subscription.symbols.map((s) => krakenPair(s, v1));
    return channels.map((channel, i) => {
      const book = /^book(?:-(\d+))?$/.exec(channel);
      if (book === null && channel !== "trade") {
        throw new RangeError(`unknown Kraken channel "${channel}": expected book, book-N, trade`);
      }
      const depth = book?.[1] !== undefined ? Number(book[1]) : this.#depth;
      if (v1) {
        const subscription = book ? { name: "book", depth } : { name: "trade" };
        return JSON.stringify({ event: "subscribe", pair: pairs, subscription });
      }
      // The trade snapshot (the last 50 trades) after every (re)connect gives back trades
      // made while disconnected; the collector's trade-id ledger drops the ones it has.
      const params = book
        ? { channel: "book", symbol: pairs, depth, snapshot: true }
        : { channel: "trade", symbol: pairs, snapshot: true };
      return JSON.stringify({ method: "subscribe", params, req_id: i + 1 });
    });
  }

  reset(): void {
    this.#bookDepth.clear();
  }

  /**
   * Rebuilds a symbol's book after a reset: unsubscribe and subscribe its book channel
   * again, which brings a fresh snapshot.
   */
  resyncRequests(symbol: string): ConnectionRequest[] {
    const canonical = normalizeSymbol(symbol);
    const depth = this.#bookDepth.get(canonical) ?? this.#depth;
    const v1 = this.#version === 1;
    const pair = [krakenPair(canonical, v1)];
    const frames = (["unsubscribe", "subscribe"] as const).map((method) =>
      v1
        ? JSON.stringify({ event: method, pair, subscription: { name: "book", depth } })
        : JSON.stringify({
          method,
          params: method === "subscribe"
            ? { channel: "book", symbol: pair, depth, snapshot: true }
            : { channel: "book", symbol: pair, depth },
        })
    );
    return frames.map((frame) => ({ kind: "send", frame }));
  }

  parse(frame: string, recvTs: number, out: MarketEvent[]): void {
    let msg: Json;
    try {
      msg = JSON.parse(frame);
    } catch {
      this.#diagnostics.error("malformed JSON", frame);
      return;
    }
    if (Array.isArray(msg)) return this.#v1(msg, frame, recvTs, out);
    if (msg === null || typeof msg !== "object") {
      this.#diagnostics.error("frame is neither a JSON array nor an object", frame);
      return;
    }
    if (typeof msg.channel === "string") return this.#v2(msg, frame, recvTs, out);
    if (typeof msg.method === "string") return this.#v2Method(msg, frame);
    if (typeof msg.event === "string") return this.#v1Event(msg, frame);
    this.#diagnostics.error("unknown Kraken message", frame);
  }

  // ---- v1 -------------------------------------------------------------------------------

  #v1Event(msg: Json, frame: string): void {
    switch (msg.event) {
      case "heartbeat":
      case "systemStatus":
      case "pong":
        return;
      case "subscriptionStatus":
        if (msg.status === "error") {
          this.#diagnostics.error(`subscription error: ${msg.errorMessage ?? ""}`, frame);
        }
        return;
      case "error":
        this.#diagnostics.error(`venue error: ${msg.errorMessage ?? ""}`, frame);
        return;
      default:
        this.#diagnostics.error(`unknown event: ${String(msg.event).slice(0, 40)}`, frame);
    }
  }

  #v1(msg: Json[], frame: string, recvTs: number, out: MarketEvent[]): void {
    const n = msg.length;
    const channel = msg[n - 2];
    const pair = msg[n - 1];
    if (n < 4 || typeof channel !== "string" || typeof pair !== "string") {
      this.#diagnostics.error("v1 message without channel name and pair", frame);
      return;
    }
    const symbol = normalizeSymbol(pair);
    if (channel.startsWith("book")) {
      return this.#v1Book(msg, n - 2, channel, symbol, frame, recvTs, out);
    }
    if (channel === "trade") return this.#v1Trades(msg[1], symbol, frame, recvTs, out);
    this.#diagnostics.error(`unsupported v1 channel: ${channel.slice(0, 40)}`, frame);
  }

  #v1Book(
    msg: Json[],
    payloadEnd: number,
    channel: string,
    symbol: string,
    frame: string,
    recvTs: number,
    out: MarketEvent[],
  ): void {
    const first = msg[1];
    if (first === null || typeof first !== "object") {
      return this.#badBook(symbol, "v1 book payload is not an object", frame, recvTs, out);
    }
    const ts = { max: 0 };
    if (first.as !== undefined || first.bs !== undefined) {
      const asks = v1Levels(first.as ?? [], ts);
      const bids = v1Levels(first.bs ?? [], ts);
      if (asks === undefined || bids === undefined) {
        return this.#badBook(symbol, "invalid v1 snapshot level", frame, recvTs, out);
      }
      const depth = Number(channel.slice(5)) || undefined;
      if (depth !== undefined) this.#bookDepth.set(symbol, depth);
      const known = this.#instruments.get(symbol);
      const checksum = first.c === undefined ? undefined : Number(first.c);
      out.push({
        kind: "book_snapshot",
        exchange: this.exchange,
        symbol,
        ts: ts.max > 0 ? ts.max : recvTs,
        recvTs,
        bids,
        asks,
        depth,
        // v1 text has the pair's full precision: it is the authority.
        priceDecimals: textDecimals(first.as, first.bs, 0) ?? known?.priceDecimals,
        sizeDecimals: textDecimals(first.as, first.bs, 1) ?? known?.sizeDecimals,
        ...(checksum === undefined ? {} : { checksum }),
      });
      return;
    }
    // An update: one object with "a" and/or "b", or two objects (asks, then bids); the
    // checksum "c" is on the last one.
    let bids: PriceLevel[] = EMPTY;
    let asks: PriceLevel[] = EMPTY;
    let checksumText: unknown;
    for (let k = 1; k < payloadEnd; k++) {
      const part = msg[k];
      if (part === null || typeof part !== "object") {
        return this.#badBook(symbol, "v1 book payload is not an object", frame, recvTs, out);
      }
      if (part.a !== undefined) {
        const levels = v1Levels(part.a, ts);
        if (levels === undefined) {
          return this.#badBook(symbol, "invalid v1 update level", frame, recvTs, out);
        }
        asks = asks === EMPTY ? levels : asks.concat(levels);
      }
      if (part.b !== undefined) {
        const levels = v1Levels(part.b, ts);
        if (levels === undefined) {
          return this.#badBook(symbol, "invalid v1 update level", frame, recvTs, out);
        }
        bids = bids === EMPTY ? levels : bids.concat(levels);
      }
      if (part.c !== undefined) checksumText = part.c;
    }
    const event: BookChange = {
      kind: "book_change",
      exchange: this.exchange,
      symbol,
      ts: ts.max > 0 ? ts.max : recvTs,
      recvTs,
      bids,
      asks,
    };
    if (checksumText !== undefined) {
      const checksum = Number(checksumText);
      if (!Number.isInteger(checksum) || checksum < 0) {
        return this.#badBook(symbol, "invalid v1 checksum", frame, recvTs, out);
      }
      (event as { checksum?: number }).checksum = checksum;
    }
    out.push(event);
  }

  #v1Trades(trades: Json, symbol: string, frame: string, recvTs: number, out: MarketEvent[]) {
    if (!Array.isArray(trades)) {
      this.#diagnostics.error("v1 trade payload is not an array", frame);
      return;
    }
    for (let i = 0; i < trades.length; i++) {
      const t = trades[i];
      const price = parseDecimal(t?.[0]);
      const size = parseDecimal(t?.[1]);
      const ts = typeof t?.[2] === "string" ? secondsToMicros(Number(t[2])) : NaN;
      if (!(price > 0) || !(size > 0) || !(ts >= MIN_VALID_MICROS)) {
        this.#diagnostics.error("invalid v1 trade", frame);
        continue;
      }
      out.push({
        kind: "trade",
        exchange: this.exchange,
        symbol,
        ts,
        recvTs,
        // v1 trades carry no id: a stable synthetic one (venue time text and position).
        id: `${t[2]}-${i}`,
        price,
        size,
        side: t[3] === "b" ? "buy" : t[3] === "s" ? "sell" : "unknown",
      });
    }
  }

  // ---- v2 -------------------------------------------------------------------------------

  #v2Method(msg: Json, frame: string): void {
    if (msg.success === false) {
      this.#diagnostics.error(`${msg.method} failed: ${msg.error ?? ""}`, frame);
      return;
    }
    const result = msg.result;
    if (msg.method === "subscribe" && result?.channel === "book") {
      const depth = Number(result.depth);
      if (typeof result.symbol === "string" && depth > 0) {
        this.#bookDepth.set(normalizeSymbol(result.symbol), depth);
      }
    }
  }

  #v2(msg: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    switch (msg.channel) {
      case "book":
        return this.#v2Book(msg, frame, recvTs, out);
      case "trade":
        return this.#v2Trades(msg, frame, recvTs, out);
      case "instrument":
        return this.#v2Instruments(msg, frame);
      case "heartbeat":
      case "status":
        return;
      default:
        this.#diagnostics.error(`unsupported v2 channel: ${String(msg.channel).slice(0, 40)}`);
    }
  }

  #v2Book(msg: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    const data = msg.data;
    const snapshot = msg.type === "snapshot";
    if (!Array.isArray(data) || (!snapshot && msg.type !== "update")) {
      this.#diagnostics.error("invalid v2 book message", frame);
      return;
    }
    for (let k = 0; k < data.length; k++) {
      const d = data[k];
      if (typeof d?.symbol !== "string") {
        this.#diagnostics.error("v2 book data without symbol", frame);
        continue;
      }
      const symbol = normalizeSymbol(d.symbol);
      const bids = v2Levels(d.bids ?? EMPTY);
      const asks = v2Levels(d.asks ?? EMPTY);
      const checksum = d.checksum;
      if (
        bids === undefined || asks === undefined ||
        (checksum !== undefined && !(Number.isInteger(checksum) && checksum >= 0))
      ) {
        this.#badBook(symbol, "invalid v2 book data", frame, recvTs, out);
        continue;
      }
      const venueTs = typeof d.timestamp === "string" ? parseIsoMicros(d.timestamp) : NaN;
      const ts = venueTs >= MIN_VALID_MICROS ? venueTs : recvTs;
      if (snapshot) {
        const known = this.#instruments.get(symbol) ??
          (data.length === 1 ? textInstrument(frame) : undefined);
        out.push({
          kind: "book_snapshot",
          exchange: this.exchange,
          symbol,
          ts,
          recvTs,
          bids,
          asks,
          depth: this.#bookDepth.get(symbol) ?? this.#depth,
          ...(known ? known : {}),
          ...(checksum === undefined ? {} : { checksum }),
        });
      } else {
        out.push({
          kind: "book_change",
          exchange: this.exchange,
          symbol,
          ts,
          recvTs,
          bids,
          asks,
          ...(checksum === undefined ? {} : { checksum }),
        });
      }
    }
  }

  #v2Trades(msg: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    const data = msg.data;
    if (!Array.isArray(data)) {
      this.#diagnostics.error("invalid v2 trade message", frame);
      return;
    }
    for (let k = 0; k < data.length; k++) {
      const t = data[k];
      const ts = typeof t?.timestamp === "string" ? parseIsoMicros(t.timestamp) : NaN;
      if (
        typeof t?.symbol !== "string" || !(t.price > 0) || !(t.qty > 0) ||
        !(ts >= MIN_VALID_MICROS) || t.trade_id === undefined
      ) {
        this.#diagnostics.error("invalid v2 trade", frame);
        continue;
      }
      out.push({
        kind: "trade",
        exchange: this.exchange,
        symbol: normalizeSymbol(t.symbol),
        ts,
        recvTs,
        id: String(t.trade_id),
        price: t.price,
        size: t.qty,
        side: takerSide(t.side),
      });
    }
  }

  #v2Instruments(msg: Json, frame: string): void {
    const pairs = msg.data?.pairs;
    if (!Array.isArray(pairs)) {
      this.#diagnostics.error("invalid v2 instrument message", frame);
      return;
    }
    for (const p of pairs) {
      if (
        typeof p?.symbol === "string" && Number.isInteger(p.price_precision) &&
        Number.isInteger(p.qty_precision)
      ) {
        this.#instruments.set(normalizeSymbol(p.symbol), {
          priceDecimals: p.price_precision,
          sizeDecimals: p.qty_precision,
        });
      }
    }
  }

  #badBook(symbol: string, reason: string, frame: string, recvTs: number, out: MarketEvent[]) {
    this.#diagnostics.error(reason, frame);
    // The message was lost for the book: the book must not be trusted until a new snapshot.
    out.push({
      kind: "status",
      exchange: this.exchange,
      symbol,
      ts: recvTs,
      recvTs,
      status: "reset",
      reason,
    });
  }
}

const EMPTY: PriceLevel[] = [];

/** v1 levels `[price, volume, timestamp, ("r")]`; tracks the latest level timestamp. */
function v1Levels(raw: unknown, ts: { max: number }): PriceLevel[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: PriceLevel[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const l = raw[i];
    const price = parseDecimal(l?.[0]);
    const size = parseDecimal(l?.[1]);
    if (!(price > 0) || !(size >= 0)) return undefined;
    out[i] = [price, size];
    const t = l[2];
    if (typeof t === "string") {
      const micros = secondsToMicros(+t);
      if (micros > ts.max) ts.max = micros;
    }
  }
  return out;
}

/** v2 levels `{price, qty}` (JSON numbers). */
function v2Levels(raw: unknown): PriceLevel[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: PriceLevel[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const price = raw[i]?.price;
    const size = raw[i]?.qty;
    if (!(typeof price === "number" && price > 0) || !(typeof size === "number" && size >= 0)) {
      return undefined;
    }
    out[i] = [price, size];
  }
  return out;
}

/** Most digits after the point among the texts at `index` of v1 snapshot levels. */
function textDecimals(asks: unknown, bids: unknown, index: number): number | undefined {
  let max = -1;
  for (const side of [asks, bids]) {
    if (!Array.isArray(side)) continue;
    for (const level of side) {
      const text = level?.[index];
      if (typeof text !== "string") continue;
      const dot = text.indexOf(".");
      const d = dot < 0 ? 0 : text.length - dot - 1;
      if (d > max) max = d;
    }
  }
  return max < 0 ? undefined : max;
}

const V2_NUMBER = /"(price|qty)":\s*-?\d+(?:\.(\d+))?/g;

/** Precision read from the number text of a v2 snapshot frame (trailing zeros kept). */
function textInstrument(frame: string): KrakenInstrument | undefined {
  let price = -1;
  let size = -1;
  for (const m of frame.matchAll(V2_NUMBER)) {
    const d = m[2]?.length ?? 0;
    if (m[1] === "price") price = Math.max(price, d);
    else size = Math.max(size, d);
  }
  return price < 0 || size < 0 ? undefined : { priceDecimals: price, sizeDecimals: size };
}

function takerSide(side: unknown): TakerSide {
  return side === "buy" ? "buy" : side === "sell" ? "sell" : "unknown";
}

const V1_ASSETS: Readonly<Record<string, string>> = { BTC: "XBT", DOGE: "XDG" };

/** Canonical `BTC-USD` to Kraken's pair name: `BTC/USD` (v2) or `XBT/USD` (v1). */
export function krakenPair(symbol: string, v1 = false): string {
  const { base, quote } = splitSymbol(normalizeSymbol(symbol));
  if (quote === "") throw new RangeError(`not a BASE-QUOTE symbol: "${symbol}"`);
  return v1 ? `${V1_ASSETS[base] ?? base}/${V1_ASSETS[quote] ?? quote}` : `${base}/${quote}`;
}

/**
 * Pair precision from the REST `AssetPairs` answer (`{"error":[],"result":{...}}`), by
 * canonical symbol (from each pair's `wsname`): `pair_decimals` and `lot_decimals`.
 *
 * @example
 * ```ts
 * import { parseKrakenAssetPairs } from "./kraken.ts";
 * import assert from "node:assert/strict";
 * const pairs = parseKrakenAssetPairs(
 *   '{"error":[],"result":{"XXBTZUSD":{"wsname":"XBT/USD","pair_decimals":1,"lot_decimals":8}}}',
 * );
 * assert.deepEqual(pairs.get("BTC-USD"), { priceDecimals: 1, sizeDecimals: 8 });
 * ```
 * @throws {SyntaxError} when the text is not such an answer.
 */
export function parseKrakenAssetPairs(text: string): Map<string, KrakenInstrument> {
  const body = JSON.parse(text);
  const result = body?.result;
  if (result === null || typeof result !== "object") {
    throw new SyntaxError("not a Kraken AssetPairs answer: no result object");
  }
  const out = new Map<string, KrakenInstrument>();
  for (const pair of Object.values(result) as Json[]) {
    if (
      typeof pair?.wsname === "string" && Number.isInteger(pair.pair_decimals) &&
      Number.isInteger(pair.lot_decimals)
    ) {
      out.set(normalizeSymbol(pair.wsname), {
        priceDecimals: pair.pair_decimals,
        sizeDecimals: pair.lot_decimals,
      });
    }
  }
  return out;
}
