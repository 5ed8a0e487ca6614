/**
 * Kraken WebSocket **v2** protocol module for the fake exchange server, replaying the
 * recorded v1 sessions (`kraken-v1-book-ws-20210417.txt` and
 * `kraken-v1-trade-ws-20210417.txt`, merged by receive time) converted to v2 messages,
 * because the live adapter speaks v2 (`wss://ws.kraken.com/v2`):
 *
 * - v1 pairs `XBT/CHF` become v2 symbols `BTC/CHF`;
 * - prices and sizes become JSON numbers written with the v1 text, trailing zeros kept (as
 *   v2 does), so the recorded CRC32 checksums (`"c"`) still verify, carried as `checksum`;
 * - v1 trades (no ids) get consecutive v2 `trade_id`s per pair;
 * - the recorded book snapshots (depth 1000) are the books when the session starts.
 *
 * A `subscribe` to `book` (depth 1000 only: the recording's depth) answers with an
 * acknowledgement and a snapshot of the book **now**, truncated to 1000 levels a side, with
 * the checksum of the last update applied when known; `trade` with `snapshot: true` answers
 * with the last 50 trades, as Kraken does. `unsubscribe` is honoured.
 * @module
 */
import type { FakeClient, VenueProtocol } from "./fault_server.ts";
import { ReferenceBook } from "../support/reference_book.ts";
import { readCaptureFrames } from "../support/recorded.ts";

/** The recorded Kraken v1 sessions. */
export const KRAKEN_BOOK_CAPTURE = "kraken-v1-book-ws-20210417.txt";
export const KRAKEN_TRADE_CAPTURE = "kraken-v1-trade-ws-20210417.txt";
/** The recorded book depth. */
export const KRAKEN_DEPTH = 1000;
/** First v2 trade id given per pair. */
const FIRST_TRADE_ID = 1000;

// deno-lint-ignore no-explicit-any
type Json = any;

/** A v1 level `[price, volume, time, ...]` (texts). */
type V1Level = [string, string, string, ...string[]];

/** One item of the session. */
export type KrakenItem =
  | {
    readonly kind: "book";
    readonly symbol: string;
    readonly asks: readonly V1Level[];
    readonly bids: readonly V1Level[];
    readonly checksum?: number;
  }
  | { readonly kind: "trade"; readonly symbol: string; readonly trades: readonly KrakenTrade[] };

/** A trade as v2 sends it (number texts kept). */
export interface KrakenTrade {
  readonly symbol: string;
  readonly side: "buy" | "sell";
  readonly priceText: string;
  readonly qtyText: string;
  readonly ordType: "limit" | "market";
  readonly tradeId: number;
  readonly timestamp: string;
}

/** The session: the books when it starts, then the items. */
export interface KrakenSession {
  /** v1 snapshot payloads (`as`, `bs`) by v2 symbol. */
  readonly snapshots: ReadonlyMap<string, { as: V1Level[]; bs: V1Level[] }>;
  readonly items: readonly KrakenItem[];
  /** Every trade of the session as `SYMBOL/trade_id` (v2 symbol). */
  readonly trades: readonly string[];
}

/** v1 pair (`XBT/CHF`) to v2 symbol (`BTC/CHF`). */
export function krakenV2Symbol(v1Pair: string): string {
  return v1Pair.split("/").map((a) => a === "XBT" ? "BTC" : a === "XDG" ? "DOGE" : a).join("/");
}

/** Epoch seconds text (`1618678133.365913`) to RFC 3339 with microseconds. */
function isoFromEpochText(text: string): string {
  const [seconds, fraction = ""] = text.split(".");
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${base}.${fraction.padEnd(6, "0").slice(0, 6)}Z`;
}

/** Loads and merges the recorded sessions. */
export async function loadKrakenSession(): Promise<KrakenSession> {
  const book = await readCaptureFrames(KRAKEN_BOOK_CAPTURE);
  const trade = await readCaptureFrames(KRAKEN_TRADE_CAPTURE);
  const frames = [...book, ...trade].sort((a, b) => a.time - b.time);
  const snapshots = new Map<string, { as: V1Level[]; bs: V1Level[] }>();
  const items: KrakenItem[] = [];
  const trades: string[] = [];
  const nextTradeId = new Map<string, number>();
  for (const { text } of frames) {
    const msg = JSON.parse(text);
    if (!Array.isArray(msg)) continue; // events: heartbeats, statuses
    const channel: string = msg[msg.length - 2];
    const symbol = krakenV2Symbol(msg[msg.length - 1]);
    if (channel.startsWith("book")) {
      const first = msg[1];
      if (first.as !== undefined || first.bs !== undefined) {
        snapshots.set(symbol, { as: first.as ?? [], bs: first.bs ?? [] });
        continue;
      }
      const asks: V1Level[] = [];
      const bids: V1Level[] = [];
      let checksum: number | undefined;
      for (let k = 1; k < msg.length - 2; k++) {
        if (msg[k].a) asks.push(...msg[k].a);
        if (msg[k].b) bids.push(...msg[k].b);
        if (msg[k].c !== undefined) checksum = Number(msg[k].c);
      }
      items.push({ kind: "book", symbol, asks, bids, checksum });
    } else if (channel === "trade") {
      const list: KrakenTrade[] = msg[1].map((t: string[]) => {
        const tradeId = nextTradeId.get(symbol) ?? FIRST_TRADE_ID;
        nextTradeId.set(symbol, tradeId + 1);
        trades.push(`${symbol}/${tradeId}`);
        return {
          symbol,
          side: t[3] === "b" ? "buy" : "sell",
          priceText: t[0],
          qtyText: t[1],
          ordType: t[4] === "m" ? "market" : "limit",
          tradeId,
          timestamp: isoFromEpochText(t[2]),
        };
      });
      items.push({ kind: "trade", symbol, trades: list });
    }
  }
  return { snapshots, items, trades };
}

/** Applies v1 levels to a book (size 0 deletes). */
export function applyKrakenLevels(
  book: ReferenceBook,
  side: "bid" | "ask",
  levels: readonly V1Level[],
) {
  for (const [price, size] of levels) book.set(side, price, size);
}

/** Options of {@linkcode krakenProtocol}. */
export interface KrakenFakeOptions {
  /**
   * False: REST `Trades` rows carry no `trade_id` (6 elements, as before Kraken added ids),
   * so a backfill must de-duplicate by time, price, size and side. Default true.
   */
  readonly restTradeIds?: boolean;
}

/** The protocol module, with the venue state it keeps. */
export interface KrakenProtocol extends VenueProtocol<KrakenItem> {
  /** The true book of each v2 symbol (everything before the cursor applied, truncated). */
  readonly books: ReadonlyMap<string, ReferenceBook>;
}

function levelsJson(levels: readonly { priceText: string; sizeText: string }[]): string {
  return "[" + levels.map((l) => `{"price":${l.priceText},"qty":${l.sizeText}}`).join(",") + "]";
}

function v1LevelsJson(levels: readonly V1Level[]): string {
  return "[" + levels.map((l) => `{"price":${l[0]},"qty":${l[1]}}`).join(",") + "]";
}

function tradeJson(t: KrakenTrade): string {
  return `{"symbol":"${t.symbol}","side":"${t.side}","price":${t.priceText},"qty":${t.qtyText},` +
    `"ord_type":"${t.ordType}","trade_id":${t.tradeId},"timestamp":"${t.timestamp}"}`;
}

/** A Kraken v2 protocol module over a loaded session. */
export function krakenProtocol(
  session: KrakenSession,
  options: KrakenFakeOptions = {},
): KrakenProtocol {
  /** Every trade so far per symbol, oldest first: the REST trade history. */
  const history = new Map<string, KrakenTrade[]>();
  const books = new Map<string, ReferenceBook>();
  for (const [symbol, snapshot] of session.snapshots) {
    const book = new ReferenceBook();
    applyKrakenLevels(book, "ask", snapshot.as);
    applyKrakenLevels(book, "bid", snapshot.bs);
    book.truncate(KRAKEN_DEPTH);
    books.set(symbol, book);
  }
  /** Checksum of the book as it is now, when the last update told it. */
  const checksums = new Map<string, number | undefined>();
  const recentTrades = new Map<string, KrakenTrade[]>();
  const now = () => new Date().toISOString();

  const bookUpdate = (item: Extract<KrakenItem, { kind: "book" }>, checksum?: number) => {
    let latest = "0";
    for (const l of [...item.asks, ...item.bids]) if (Number(l[2]) > Number(latest)) latest = l[2];
    return `{"channel":"book","type":"update","data":[{"symbol":"${item.symbol}",` +
      `"bids":${v1LevelsJson(item.bids)},"asks":${v1LevelsJson(item.asks)},` +
      (checksum === undefined ? "" : `"checksum":${checksum},`) +
      `"timestamp":"${isoFromEpochText(latest)}"}]}`;
  };

  const snapshotFrame = (symbol: string) => {
    const book = books.get(symbol)!;
    const checksum = checksums.get(symbol);
    return `{"channel":"book","type":"snapshot","data":[{"symbol":"${symbol}",` +
      `"bids":${levelsJson(book.top("bid"))},"asks":${levelsJson(book.top("ask"))}` +
      (checksum === undefined ? "" : `,"checksum":${checksum}`) + `}]}`;
  };

  const ack = (client: FakeClient, method: string, result: Json, reqId: unknown) =>
    client.send(JSON.stringify({
      method,
      result,
      success: true,
      time_in: now(),
      time_out: now(),
      ...(reqId === undefined ? {} : { req_id: reqId }),
    }));
  const refuse = (client: FakeClient, method: string, error: string, reqId: unknown) =>
    client.send(JSON.stringify({
      method,
      error,
      success: false,
      time_in: now(),
      time_out: now(),
      ...(reqId === undefined ? {} : { req_id: reqId }),
    }));

  return {
    items: session.items,
    books,
    open(client) {
      client.send(JSON.stringify({
        channel: "status",
        type: "update",
        data: [{ api_version: "v2", connection_id: client.id, system: "online", version: "2.0.0" }],
      }));
    },
    message(client, text) {
      let msg: Json;
      try {
        msg = JSON.parse(text);
      } catch {
        return refuse(client, "unknown", "Malformed request", undefined);
      }
      const method = msg?.method;
      const params = msg?.params ?? {};
      const reqId = msg?.req_id;
      if (method === "ping") return ack(client, "pong", undefined, reqId);
      if (method !== "subscribe" && method !== "unsubscribe") {
        return refuse(client, String(method), "Method not found", reqId);
      }
      const symbols: string[] = Array.isArray(params.symbol) ? params.symbol : [];
      const channel = params.channel;
      if (channel !== "book" && channel !== "trade") {
        return refuse(client, method, `Channel ${channel} not served by the fake`, reqId);
      }
      if (channel === "book" && (params.depth ?? 10) !== KRAKEN_DEPTH) {
        return refuse(client, method, `the fake serves book depth ${KRAKEN_DEPTH} only`, reqId);
      }
      for (const symbol of symbols) {
        if (!books.has(symbol)) {
          refuse(client, method, `Currency pair not supported ${symbol}`, reqId);
          continue;
        }
        const key = `${channel}:${symbol}`;
        if (method === "unsubscribe") {
          client.subscriptions.delete(key);
          ack(client, method, {
            channel,
            symbol,
            ...(channel === "book" ? { depth: KRAKEN_DEPTH } : {}),
          }, reqId);
          continue;
        }
        client.subscriptions.add(key);
        if (channel === "book") {
          ack(client, method, { channel, depth: KRAKEN_DEPTH, snapshot: true, symbol }, reqId);
          client.send(snapshotFrame(symbol));
        } else {
          const snapshot = params.snapshot !== false;
          ack(client, method, { channel, snapshot, symbol }, reqId);
          const recent = recentTrades.get(symbol) ?? [];
          if (snapshot) {
            client.send(
              `{"channel":"trade","type":"snapshot","data":[${recent.map(tradeJson).join(",")}]}`,
            );
          }
        }
      }
    },
    advance(item) {
      if (item.kind === "book") {
        const book = books.get(item.symbol)!;
        applyKrakenLevels(book, "ask", item.asks);
        applyKrakenLevels(book, "bid", item.bids);
        book.truncate(KRAKEN_DEPTH);
        checksums.set(item.symbol, item.checksum);
      } else {
        const all = history.get(item.symbol) ?? [];
        all.push(...item.trades);
        history.set(item.symbol, all);
        const recent = recentTrades.get(item.symbol) ?? [];
        recent.push(...item.trades);
        recentTrades.set(item.symbol, recent.slice(-50));
      }
    },
    frame(item, client) {
      if (!client.subscriptions.has(`${item.kind}:${item.symbol}`)) return undefined;
      if (item.kind === "book") return bookUpdate(item, item.checksum);
      return `{"channel":"trade","type":"update","data":[${item.trades.map(tradeJson).join(",")}]}`;
    },
    corrupt(item, client) {
      if (item.kind !== "book" || item.checksum === undefined) return undefined;
      if (!client.subscriptions.has(`book:${item.symbol}`)) return undefined;
      return bookUpdate(item, (item.checksum + 1) >>> 0);
    },
    idle() {
      return '{"channel":"heartbeat"}';
    },
    rest(url) {
      return krakenTradesAnswer(url, history, options.restTradeIds ?? true);
    },
    gapCandidate(item, what) {
      if (item.kind !== what) return false;
      if (item.kind === "trade") return true;
      // Only a change the checksum (10 best levels a side) can see: Kraken gives no other way
      // to notice a lost update, so a deeper one would be undetectable by design.
      const book = books.get(item.symbol)!;
      const ask10 = book.top("ask", 10).at(-1)?.price ?? Infinity;
      const bid10 = book.top("bid", 10).at(-1)?.price ?? -Infinity;
      return item.asks.some((l) => Number(l[0]) <= ask10) ||
        item.bids.some((l) => Number(l[0]) >= bid10);
    },
  };
}

/** v2 symbol `BTC/CHF` to the REST pair name `XBTCHF`. */
function restPair(symbol: string): string {
  return symbol.split("/").map((a) => a === "BTC" ? "XBT" : a === "DOGE" ? "XDG" : a).join("");
}

/** RFC 3339 with microseconds to `[epoch seconds text, nanoseconds]`. */
function epochOf(iso: string): [string, bigint] {
  const seconds = Date.parse(iso.slice(0, 19) + "Z") / 1000;
  const micros = iso.slice(20, 26);
  return [`${seconds}.${micros}`, BigInt(seconds) * 1_000_000_000n + BigInt(micros) * 1000n];
}

/**
 * `GET /0/public/Trades?pair=&since=&count=` over the trades so far, as Kraken answers it:
 * `{error: [], result: {<pair>: [[price, volume, time, side, ordType, misc, trade_id]],
 * last}}`, oldest first, the trades strictly after `since` (nanoseconds, or seconds with a
 * fraction), at most `count` (default and maximum 1,000); `last` is the nanosecond time of
 * the last row. Numbers keep the recorded text.
 */
export function krakenTradesAnswer(
  url: URL,
  history: ReadonlyMap<string, readonly KrakenTrade[]>,
  withIds: boolean,
): Response | undefined {
  if (url.pathname !== "/0/public/Trades") return undefined;
  const pair = url.searchParams.get("pair") ?? "";
  const symbol = [...history.keys()].find((s) => restPair(s) === pair || s === pair);
  if (symbol === undefined) {
    return Response.json({ error: ["EQuery:Unknown asset pair"] });
  }
  const count = Number(url.searchParams.get("count") ?? 1000);
  const since = url.searchParams.get("since");
  let sinceNs = -1n;
  if (since !== null) {
    if (/^\d+$/.test(since) && since.length > 12) sinceNs = BigInt(since);
    else {
      const [s, f = ""] = since.split(".");
      sinceNs = BigInt(s) * 1_000_000_000n + BigInt(f.padEnd(9, "0").slice(0, 9));
    }
  }
  const rows: string[] = [];
  let last = sinceNs < 0n ? 0n : sinceNs;
  for (const t of history.get(symbol)!) {
    const [text, ns] = epochOf(t.timestamp);
    if (ns <= sinceNs) continue;
    if (rows.length >= Math.min(Math.max(count, 1), 1000)) break;
    const side = t.side === "buy" ? "b" : "s";
    const type = t.ordType === "market" ? "m" : "l";
    rows.push(
      `["${t.priceText}","${t.qtyText}",${text},"${side}","${type}",""` +
        (withIds ? `,${t.tradeId}]` : "]"),
    );
    last = ns;
  }
  return new Response(
    `{"error":[],"result":{"${restPair(symbol)}":[${rows.join(",")}],"last":"${last}"}}`,
    { headers: { "content-type": "application/json" } },
  );
}
