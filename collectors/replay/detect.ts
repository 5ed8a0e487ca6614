/**
 * Which venue a recording is from, told by what it contains: the URLs it connected to and
 * fetched, and the shape of the frames it received (channel and message type names). The
 * venue name in a file's header or name is only a hint: cryptofeed's `COINBASE` feed, for
 * one, now records Coinbase Advanced Trade, not Coinbase Exchange.
 * @module
 */
import type { RecordingItem } from "./frame.ts";

/** A venue guess with the votes behind it. */
export interface VenueDetection {
  /** The venue with the most votes, if any frame or URL voted. */
  readonly exchange?: string;
  /** Votes per venue (URLs weigh 5, frames 1, a name in the file name 1). */
  readonly votes: Readonly<Record<string, number>>;
  /** Frames looked at. */
  readonly frames: number;
}

/** What each venue's recordings look like, for messages. */
export const KNOWN_RECORDINGS = [
  "coinbase (Coinbase Exchange: ws-feed, type snapshot/l2update/match/ticker)",
  "coinbase-advanced (Advanced Trade: channel l2_data/market_trades/ticker/candles)",
  "kraken (v1 arrays with book-/trade/ticker channels, v2 channel book/trade)",
  "binance (combined streams, depthUpdate/trade/aggTrade, REST depth snapshot)",
  "alpaca, alpaca-crypto (arrays of {T: t|q|b|o ...})",
];

const URL_WEIGHT = 5;

/** The venue a URL belongs to, by host and path. */
export function venueOfUrl(url: string): string | undefined {
  const u = url.toLowerCase();
  if (u.includes("advanced-trade-ws") || u.includes("/api/v3/brokerage")) {
    return "coinbase-advanced";
  }
  if (/ws-feed(\.pro|\.exchange|-public\.sandbox)?\.coinbase\.com/.test(u)) return "coinbase";
  if (/api\.(pro|exchange)\.coinbase\.com/.test(u)) return "coinbase";
  if (u.includes("kraken.com")) return "kraken";
  if (u.includes("binance.")) return "binance";
  if (u.includes("alpaca.markets")) return u.includes("crypto") ? "alpaca-crypto" : "alpaca";
  return undefined;
}

const EXCHANGE_TYPES = new Set([
  "snapshot",
  "l2update",
  "match",
  "last_match",
  "heartbeat",
  "ticker",
  "subscriptions",
  "received",
  "open",
  "done",
  "change",
]);
const ADVANCED_CHANNELS = new Set([
  "l2_data",
  "market_trades",
  "ticker",
  "ticker_batch",
  "candles",
  "heartbeats",
  "subscriptions",
  "status",
]);
const KRAKEN_V2_CHANNELS = new Set([
  "book",
  "trade",
  "ticker",
  "ohlc",
  "heartbeat",
  "status",
  "instrument",
]);
const KRAKEN_EVENTS = new Set(["heartbeat", "systemStatus", "subscriptionStatus", "pong"]);
const BINANCE_EVENTS = new Set(["trade", "aggTrade", "depthUpdate", "24hrTicker", "bookTicker"]);

/** The venue a received frame's shape belongs to, if it says. */
export function venueOfFrame(frame: string): string | undefined {
  let m: unknown;
  try {
    m = JSON.parse(frame);
  } catch {
    return undefined;
  }
  if (Array.isArray(m)) {
    if (typeof m[0] === "number" && m.some((x) => typeof x === "string")) return "kraken";
    const first = m[0] as Record<string, unknown> | undefined;
    if (first !== null && typeof first === "object" && typeof first.T === "string") {
      return m.some((x) => x?.T === "o" || x?.tks !== undefined) ? "alpaca-crypto" : "alpaca";
    }
    return undefined;
  }
  if (m === null || typeof m !== "object") return undefined;
  const o = m as Record<string, unknown>;
  if (typeof o.channel === "string") {
    if (ADVANCED_CHANNELS.has(o.channel) && (Array.isArray(o.events) || "sequence_num" in o)) {
      return "coinbase-advanced";
    }
    if (KRAKEN_V2_CHANNELS.has(o.channel)) return "kraken";
  }
  if (typeof o.type === "string" && EXCHANGE_TYPES.has(o.type)) {
    if ("product_id" in o || Array.isArray(o.channels)) return "coinbase";
  }
  if (typeof o.event === "string" && KRAKEN_EVENTS.has(o.event)) return "kraken";
  if (typeof o.method === "string" && "success" in o) return "kraken";
  if (typeof o.stream === "string" && o.data !== undefined) return "binance";
  if (typeof o.e === "string" && BINANCE_EVENTS.has(o.e)) return "binance";
  if ("lastUpdateId" in o && Array.isArray(o.bids)) return "binance";
  return undefined;
}

/**
 * Votes over the first `maxFrames` received frames and every URL before them, plus the
 * file name (weight 1: a hint).
 */
export async function detectVenue(
  items: AsyncIterable<RecordingItem>,
  fileName: string,
  maxFrames = 300,
): Promise<VenueDetection> {
  const votes: Record<string, number> = {};
  const vote = (venue: string | undefined, weight: number) => {
    if (venue !== undefined) votes[venue] = (votes[venue] ?? 0) + weight;
  };
  let frames = 0;
  for await (const item of items) {
    if (item.kind === "recv") {
      frames++;
      vote(venueOfFrame(item.data), 1);
      if (frames >= maxFrames) break;
    } else if (item.kind !== "unreadable") {
      if (item.kind === "connect") vote(venueOfUrl(item.data), URL_WEIGHT);
      if (item.source !== undefined) vote(venueOfUrl(item.source), URL_WEIGHT);
    }
  }
  vote(venueOfFileName(fileName), 1);
  let exchange: string | undefined;
  for (const [venue, n] of Object.entries(votes)) {
    if (exchange === undefined || n > votes[exchange]) exchange = venue;
  }
  return { exchange, votes, frames };
}

function venueOfFileName(name: string): string | undefined {
  const n = name.toLowerCase();
  for (
    const venue of ["coinbase-advanced", "alpaca-crypto", "coinbase", "kraken", "binance", "alpaca"]
  ) {
    if (n.includes(venue)) return venue;
  }
  return undefined;
}
