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
import type { MarketEvent } from "../../lib/market/types.ts";
import { normalizeSymbol } from "../../lib/market/symbols.ts";
import { type KrakenInstrument, krakenPair } from "./_kraken_pairs.ts";
import type { Json, KrakenParseState } from "./_kraken_state.ts";
import { v1Event, v1Frame } from "./_kraken_v1.ts";
import { v2Frame, v2Method } from "./_kraken_v2.ts";
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

export { type KrakenInstrument, krakenPair, parseKrakenAssetPairs } from "./_kraken_pairs.ts";

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
  readonly #version: 1 | 2;
  readonly #depth: number;
  /** What the frame parsers share: diagnostics, pair precision, subscribed book depths. */
  readonly #st: KrakenParseState;

  constructor(options: KrakenAdapterOptions) {
    this.#version = options.version ?? 2;
    if (this.#version !== 1 && this.#version !== 2) {
      throw new RangeError(`version must be 1 or 2, got ${this.#version}`);
    }
    this.#depth = options.depth ?? (this.#version === 1 ? 1000 : 10);
    if (!VALID_DEPTHS.includes(this.#depth)) {
      throw new RangeError(`depth must be one of ${VALID_DEPTHS.join(", ")}, got ${this.#depth}`);
    }
    this.#st = {
      exchange: this.exchange,
      diagnostics: options.diagnostics,
      depth: this.#depth,
      instruments: new Map<string, KrakenInstrument>(options.instruments ?? []),
      bookDepth: new Map(),
    };
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
    this.#st.bookDepth.clear();
  }

  /**
   * Rebuilds a symbol's book after a reset: unsubscribe and subscribe its book channel
   * again, which brings a fresh snapshot.
   */
  resyncRequests(symbol: string): ConnectionRequest[] {
    const canonical = normalizeSymbol(symbol);
    const depth = this.#st.bookDepth.get(canonical) ?? this.#depth;
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
      this.#st.diagnostics.error("malformed JSON", frame);
      return;
    }
    if (Array.isArray(msg)) return v1Frame(this.#st, msg, frame, recvTs, out);
    if (msg === null || typeof msg !== "object") {
      this.#st.diagnostics.error("frame is neither a JSON array nor an object", frame);
      return;
    }
    if (typeof msg.channel === "string") return v2Frame(this.#st, msg, frame, recvTs, out);
    if (typeof msg.method === "string") return v2Method(this.#st, msg, frame);
    if (typeof msg.event === "string") return v1Event(this.#st, msg, frame);
    this.#st.diagnostics.error("unknown Kraken message", frame);
  }
}
