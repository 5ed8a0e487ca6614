/**
 * Binance spot websocket (combined streams `<symbol>@trade`, `<symbol>@depth@100ms`,
 * `<symbol>@bookTicker`) and the REST depth snapshot. Pure parse/normalise: no I/O.
 *
 * Book sync, as Binance documents it: diffs are buffered until the REST snapshot
 * (`/api/v3/depth`) of the symbol arrives; then the adapter emits the snapshot
 * (`sequence` = `lastUpdateId`) followed by the buffered diffs with `u > lastUpdateId`, and
 * from then on passes every diff through with `firstSequence` = `U` and `sequence` = `u`.
 * The {@linkcode BookKeeper}'s Binance check verifies the chain (the first applied diff
 * straddles `lastUpdateId + 1`, then each `U` is the previous `u + 1`) and resets the book on
 * a gap.
 *
 * On a live connection (after {@linkcode BinanceAdapter.subscribeMessages}) the adapter asks
 * the collector to `fetch` a symbol's REST snapshot when its first diff arrives, and again
 * from {@linkcode BinanceAdapter.resyncRequests} after a reset; the answer comes back through
 * {@linkcode BinanceAdapter.parseFetched}. In a replay the recorded REST answer is a frame
 * like any other (`{"lastUpdateId": ...}`), attributed to the one symbol waiting for it.
 * @module
 */
import type { BookChange, MarketEvent } from "../../lib/market/types.ts";
import { parseDecimal } from "../../lib/market/decimal.ts";
import { MICROS_PER_MILLI, MIN_VALID_MICROS } from "../../lib/market/time.ts";
import { normalizeSymbol, splitSymbol } from "../../lib/market/symbols.ts";
import type { VenueDiagnostics } from "./venue.ts";
import type {
  ConnectionRequest,
  Subscription,
  VenueAdapter,
  VenueAdapterOptions,
} from "./venue.ts";
import { parseJsonObject, parseLevels } from "./_parse.ts";

/** The combined-stream endpoint (subscriptions are sent as `SUBSCRIBE` messages). */
export const BINANCE_WS_URL = "wss://stream.binance.com:9443/stream";

/** Streams subscribed per symbol when none are given. */
export const BINANCE_DEFAULT_CHANNELS = ["trade", "depth@100ms"];

/** Options for {@linkcode BinanceAdapter}. */
export interface BinanceAdapterOptions extends VenueAdapterOptions {
  /** Diffs buffered per symbol while waiting for its snapshot (default 10,000). */
  readonly maxBufferedDiffs?: number;
}

/** The public REST API (depth snapshots). */
export const BINANCE_REST_URL = "https://api.binance.com";

/**
 * The REST depth snapshot URL of a symbol (`BTC-USDT`); `base` is the REST API (a local fake
 * server in tests, set through the adapter's `restUrl` option).
 */
export function binanceDepthSnapshotUrl(
  symbol: string,
  limit = 1000,
  base = BINANCE_REST_URL,
): string {
  return `${base.replace(/\/+$/, "")}/api/v3/depth?symbol=${binanceSymbol(symbol)}&limit=${limit}`;
}

/** Canonical `BTC-USDT` to Binance's `BTCUSDT`. */
export function binanceSymbol(symbol: string): string {
  const { base, quote } = splitSymbol(normalizeSymbol(symbol));
  return base + quote;
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** Per-symbol sync state. */
interface DepthSync {
  /** True once the snapshot was emitted: diffs pass straight through. */
  synced: boolean;
  /** Diffs received before the snapshot. */
  buffered: BookChange[];
}

/**
 * The Binance spot adapter.
 *
 * @example
 * ```ts
 * import { BinanceAdapter } from "./binance.ts";
 * import { FeedDiagnostics } from "../runtime/diagnostics.ts";
 * import type { MarketEvent } from "../../lib/market/types.ts";
 * import assert from "node:assert/strict";
 * const adapter = new BinanceAdapter({ diagnostics: new FeedDiagnostics() });
 * const out: MarketEvent[] = [];
 * const diff = (U: number, u: number) =>
 *   JSON.stringify({
 *     stream: "btcusdt@depth@100ms",
 *     data: { e: "depthUpdate", E: 1723161255208, s: "BTCUSDT", U, u, b: [["1.5", "2"]], a: [] },
 *   });
 * adapter.parse(diff(5, 8), 1, out); // buffered: no snapshot yet
 * adapter.parse(diff(9, 12), 2, out);
 * assert.equal(out.length, 0);
 * adapter.parse('{"lastUpdateId":10,"bids":[["1.4","1"]],"asks":[["1.6","1"]]}', 3, out);
 * // The snapshot, then the buffered diff that is not in it (u=12 > 10).
 * assert.deepEqual(out.map((e) => e.kind), ["book_snapshot", "book_change"]);
 * ```
 */
export class BinanceAdapter implements VenueAdapter {
  readonly exchange = "binance";
  readonly #diagnostics: VenueDiagnostics;
  readonly #maxBuffered: number;
  readonly #restUrl: string;
  readonly #sync = new Map<string, DepthSync>();
  /** True after `subscribeMessages`: a live connection, which can fetch snapshots. */
  #live = false;
  /** Symbols whose snapshot fetch was asked for on this connection. */
  readonly #fetching = new Set<string>();
  #requests: ConnectionRequest[] = [];
  /** Buffered diffs dropped because the buffer was full. */
  droppedDiffs = 0;
  /** Buffered diffs dropped at sync because the snapshot already contained them. */
  staleDiffs = 0;

  constructor(options: BinanceAdapterOptions) {
    this.#diagnostics = options.diagnostics;
    this.#maxBuffered = options.maxBufferedDiffs ?? 10_000;
    this.#restUrl = options.restUrl ?? BINANCE_REST_URL;
    if (!(this.#maxBuffered > 0)) {
      throw new RangeError(`maxBufferedDiffs must be positive, got ${this.#maxBuffered}`);
    }
  }

  subscribeMessages(subscription: Subscription): string[] {
    if (subscription.symbols.length === 0) throw new RangeError("no symbols to subscribe to");
    this.#live = true;
    const channels = subscription.channels ?? BINANCE_DEFAULT_CHANNELS;
    const params = subscription.symbols.flatMap((s) =>
      channels.map((c) => `${binanceSymbol(s).toLowerCase()}@${c}`)
    );
    return [JSON.stringify({ method: "SUBSCRIBE", params, id: 1 })];
  }

  reset(): void {
    this.#sync.clear();
    this.#fetching.clear();
    this.#requests = [];
  }

  /**
   * Goes back to buffering a symbol's diffs until its next REST snapshot (after the book
   * keeper reported a gap for it).
   */
  resync(symbol: string): void {
    this.#sync.set(normalizeSymbol(symbol), { synced: false, buffered: [] });
  }

  /** The snapshot fetches raised since the last call (live connections only). */
  takeRequests(): ConnectionRequest[] | undefined {
    if (this.#requests.length === 0) return undefined;
    const requests = this.#requests;
    this.#requests = [];
    return requests;
  }

  /** Rebuilds a symbol's book: buffer its diffs again and fetch a fresh REST snapshot. */
  resyncRequests(symbol: string): ConnectionRequest[] {
    const canonical = normalizeSymbol(symbol);
    this.resync(canonical);
    this.#fetching.add(canonical);
    return [{
      kind: "fetch",
      url: binanceDepthSnapshotUrl(canonical, 1000, this.#restUrl),
      symbol: canonical,
    }];
  }

  /** Parses a fetched REST depth snapshot (see {@linkcode BinanceAdapter.parseDepthSnapshot}). */
  parseFetched(
    request: Extract<ConnectionRequest, { kind: "fetch" }>,
    body: string,
    recvTs: number,
    out: MarketEvent[],
  ): void {
    this.parseDepthSnapshot(request.symbol, body, recvTs, out);
  }

  parse(frame: string, recvTs: number, out: MarketEvent[]): void {
    const msg = parseJsonObject(frame, this.#diagnostics);
    if (msg === undefined) return;
    const data = msg.data !== undefined && typeof msg.stream === "string" ? msg.data : msg;
    if (data === null || typeof data !== "object") {
      this.#diagnostics.error("stream data is not an object", frame);
      return;
    }
    switch (data.e) {
      case "trade":
        return this.#trade(data, frame, recvTs, out);
      case "depthUpdate":
        return this.#depthUpdate(data, frame, recvTs, out);
      case undefined:
        break;
      default:
        this.#diagnostics.error(`unsupported event: ${String(data.e).slice(0, 40)}`, frame);
        return;
    }
    if (data.lastUpdateId !== undefined) {
      const waiting = [...this.#sync].filter(([, s]) => !s.synced).map(([symbol]) => symbol);
      if (waiting.length !== 1) {
        this.#diagnostics.error(
          `depth snapshot without symbol: ${waiting.length} symbols wait for one`,
          frame,
        );
        return;
      }
      return this.#snapshot(waiting[0], data, frame, recvTs, out);
    }
    if (typeof data.s === "string" && data.b !== undefined && data.A !== undefined) {
      return this.#bookTicker(data, frame, recvTs, out);
    }
    if (msg.id !== undefined && "result" in msg) return; // subscribe acknowledgement
    if (msg.error !== undefined) {
      this.#diagnostics.error(`venue error: ${JSON.stringify(msg.error).slice(0, 100)}`, frame);
      return;
    }
    this.#diagnostics.error("unknown Binance message", frame);
  }

  /**
   * Parses the REST depth snapshot answer of `symbol` (`{"lastUpdateId", "bids", "asks"}`)
   * and emits it followed by the buffered diffs it does not contain.
   */
  parseDepthSnapshot(symbol: string, text: string, recvTs: number, out: MarketEvent[]): void {
    let data: Json;
    try {
      data = JSON.parse(text);
    } catch {
      this.#diagnostics.error("malformed JSON", text);
      return;
    }
    this.#snapshot(normalizeSymbol(symbol), data, text, recvTs, out);
  }

  #snapshot(symbol: string, data: Json, frame: string, recvTs: number, out: MarketEvent[]) {
    const lastUpdateId = data?.lastUpdateId;
    const bids = parseLevels(data?.bids);
    const asks = parseLevels(data?.asks);
    if (!Number.isSafeInteger(lastUpdateId) || bids === undefined || asks === undefined) {
      this.#diagnostics.error("invalid depth snapshot", frame);
      return;
    }
    const sync = this.#sync.get(symbol) ?? { synced: false, buffered: [] };
    out.push({
      kind: "book_snapshot",
      exchange: this.exchange,
      symbol,
      ts: recvTs, // the REST answer carries no venue time
      recvTs,
      bids,
      asks,
      sequence: lastUpdateId,
    });
    for (const diff of sync.buffered) {
      if (diff.sequence! <= lastUpdateId) this.staleDiffs++;
      else out.push(diff);
    }
    this.#sync.set(symbol, { synced: true, buffered: [] });
  }

  #depthUpdate(d: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    if (typeof d.s !== "string") {
      this.#diagnostics.error("depthUpdate without symbol", frame);
      return;
    }
    const symbol = normalizeSymbol(d.s);
    const bids = parseLevels(d.b);
    const asks = parseLevels(d.a);
    const first = d.U;
    const last = d.u;
    const ts = d.E * MICROS_PER_MILLI;
    if (
      bids === undefined || asks === undefined || !Number.isSafeInteger(first) ||
      !Number.isSafeInteger(last) || first > last || !(ts >= MIN_VALID_MICROS)
    ) {
      this.#diagnostics.error("invalid depthUpdate", frame);
      // The diff is lost for the book: the chain check will see the hole and reset it.
      return;
    }
    const event: BookChange = {
      kind: "book_change",
      exchange: this.exchange,
      symbol,
      ts,
      recvTs,
      bids,
      asks,
      firstSequence: first,
      sequence: last,
    };
    let sync = this.#sync.get(symbol);
    if (sync === undefined) {
      sync = { synced: false, buffered: [] };
      this.#sync.set(symbol, sync);
    }
    if (sync.synced) {
      out.push(event);
      return;
    }
    if (this.#live && !this.#fetching.has(symbol)) {
      this.#fetching.add(symbol);
      this.#requests.push({
        kind: "fetch",
        url: binanceDepthSnapshotUrl(symbol, 1000, this.#restUrl),
        symbol,
      });
    }
    if (sync.buffered.length >= this.#maxBuffered) {
      sync.buffered.shift();
      this.droppedDiffs++;
    }
    sync.buffered.push(event);
  }

  #trade(t: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    const price = parseDecimal(t.p);
    const size = parseDecimal(t.q);
    const ts = t.T * MICROS_PER_MILLI;
    if (
      typeof t.s !== "string" || !(price > 0) || !(size > 0) || !(ts >= MIN_VALID_MICROS) ||
      t.t === undefined
    ) {
      this.#diagnostics.error("invalid trade", frame);
      return;
    }
    out.push({
      kind: "trade",
      exchange: this.exchange,
      symbol: normalizeSymbol(t.s),
      ts,
      recvTs,
      id: String(t.t),
      price,
      size,
      // m: the buyer is the maker, so the taker sold.
      side: t.m === true ? "sell" : t.m === false ? "buy" : "unknown",
    });
  }

  #bookTicker(q: Json, frame: string, recvTs: number, out: MarketEvent[]): void {
    const bidPrice = parseDecimal(q.b);
    const bidSize = parseDecimal(q.B);
    const askPrice = parseDecimal(q.a);
    const askSize = parseDecimal(q.A);
    if (!(bidPrice >= 0 && bidSize >= 0 && askPrice >= 0 && askSize >= 0)) {
      this.#diagnostics.error("invalid bookTicker", frame);
      return;
    }
    out.push({
      kind: "quote",
      exchange: this.exchange,
      symbol: normalizeSymbol(q.s),
      ts: q.E > 0 ? q.E * MICROS_PER_MILLI : recvTs, // spot bookTicker has no event time
      recvTs,
      bidPrice,
      bidSize,
      askPrice,
      askSize,
    });
  }
}
