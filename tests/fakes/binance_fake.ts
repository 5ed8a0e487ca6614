/**
 * Binance spot protocol module for the fake exchange server, replaying the recorded session
 * `binance-spot-btcusdt-20240808.gz` (combined-stream `trade`, `depth@100ms` and
 * `bookTicker` messages). The REST depth snapshot recorded in the session (`lastUpdateId`)
 * is the book when the session starts; every diff with `u` above the book's update id moves
 * it on. `GET /api/v3/depth?symbol=BTCUSDT&limit=N` answers with the book **now** (best `N`
 * levels a side, `lastUpdateId` = the last diff applied), as Binance does, so a client that
 * follows Binance's sync procedure rebuilds the true book at any point of the session.
 * Websocket clients `SUBSCRIBE` to streams (`btcusdt@trade`, `btcusdt@depth@100ms`).
 * @module
 */
import type { VenueProtocol } from "./fault_server.ts";
import { ReferenceBook } from "../support/reference_book.ts";
import { readHftbacktestFrames } from "../support/recorded.ts";

/** The recorded Binance session. */
export const BINANCE_CAPTURE = "binance-spot-btcusdt-20240808.gz";

// deno-lint-ignore no-explicit-any
type Json = any;

/** One stream message of the session. */
export interface BinanceItem {
  /** Stream name (`btcusdt@trade`). */
  readonly stream: string;
  readonly text: string;
  readonly data: Json;
}

/** The session: the recorded REST snapshot, then the stream messages. */
export interface BinanceSession {
  readonly snapshot: { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] };
  readonly symbol: string;
  readonly items: readonly BinanceItem[];
  /** Every trade id of the session, in order. */
  readonly trades: readonly number[];
}

/** Loads the recorded session; `limit` keeps only the first items (shorter tests). */
export async function loadBinanceSession(limit = Infinity): Promise<BinanceSession> {
  let snapshot: BinanceSession["snapshot"] | undefined;
  const items: BinanceItem[] = [];
  const trades: number[] = [];
  for (const { text } of await readHftbacktestFrames(BINANCE_CAPTURE)) {
    const msg = JSON.parse(text);
    if (msg.lastUpdateId !== undefined) {
      snapshot = msg;
      continue;
    }
    if (items.length >= limit) continue;
    items.push({ stream: msg.stream, text, data: msg.data });
    if (msg.data.e === "trade") trades.push(msg.data.t);
  }
  if (snapshot === undefined) throw new Error("no REST snapshot in the recorded session");
  return { snapshot, symbol: "BTCUSDT", items, trades };
}

/** The protocol module, with the venue state it keeps. */
export interface BinanceProtocol extends VenueProtocol<BinanceItem> {
  /** The true book (everything before the cursor applied). */
  readonly book: ReferenceBook;
  /** The book's update id. */
  readonly lastUpdateId: number;
  /** Depth snapshots served. */
  readonly snapshotsServed: number;
}

/** Applies a diff to a book when it is newer than `lastUpdateId`; returns the new id. */
export function applyBinanceDiff(book: ReferenceBook, lastUpdateId: number, data: Json): number {
  if (data.u <= lastUpdateId) return lastUpdateId;
  for (const [p, q] of data.b) book.set("bid", p, q);
  for (const [p, q] of data.a) book.set("ask", p, q);
  return data.u;
}

/** A Binance protocol module over a loaded session. */
export function binanceProtocol(session: BinanceSession): BinanceProtocol {
  const book = new ReferenceBook();
  book.replace(session.snapshot.bids, session.snapshot.asks);
  let lastUpdateId = session.snapshot.lastUpdateId;
  let snapshotsServed = 0;
  /** Every trade so far, oldest first: the REST trade history. */
  const history: Json[] = [];

  return {
    items: session.items,
    book,
    get lastUpdateId() {
      return lastUpdateId;
    },
    get snapshotsServed() {
      return snapshotsServed;
    },
    message(client, text) {
      let msg: Json;
      try {
        msg = JSON.parse(text);
      } catch {
        client.send(JSON.stringify({ error: { code: 3, msg: "Invalid JSON" } }));
        return;
      }
      const params: string[] = Array.isArray(msg?.params) ? msg.params : [];
      if (msg?.method === "SUBSCRIBE") { for (const s of params) client.subscriptions.add(s); }
      else if (msg?.method === "UNSUBSCRIBE") {
        for (const s of params) client.subscriptions.delete(s);
      } else {
        client.send(JSON.stringify({ error: { code: 1, msg: "Unknown method" }, id: msg?.id }));
        return;
      }
      client.send(JSON.stringify({ result: null, id: msg.id }));
    },
    advance(item) {
      if (item.data.e === "depthUpdate") {
        lastUpdateId = applyBinanceDiff(book, lastUpdateId, item.data);
      } else if (item.data.e === "trade") {
        history.push(item.data);
      }
    },
    frame(item, client) {
      return client.subscriptions.has(item.stream) ? item.text : undefined;
    },
    corrupt(item, client) {
      // A bid at the best ask instead of the diff's changes: the client's book crosses.
      if (item.data.e !== "depthUpdate" || !client.subscriptions.has(item.stream)) return undefined;
      const bestAsk = book.top("ask", 1)[0];
      if (bestAsk === undefined) return undefined;
      return JSON.stringify({
        stream: item.stream,
        data: { ...item.data, b: [[bestAsk.priceText, "1.00000000"]], a: [] },
      });
    },
    gapCandidate(item, what) {
      return what === "trade" ? item.data.e === "trade" : item.data.e === "depthUpdate";
    },
    idle(client) {
      // A subscribe acknowledgement: a frame without market data.
      return client.subscriptions.size > 0 ? '{"result":null,"id":0}' : undefined;
    },
    rest(url) {
      if (url.pathname === "/api/v3/historicalTrades") {
        return historicalTradesAnswer(url, session.symbol, history);
      }
      if (url.pathname !== "/api/v3/depth") return undefined;
      const symbol = url.searchParams.get("symbol");
      const limit = Number(url.searchParams.get("limit") ?? 100);
      if (symbol !== session.symbol) {
        return Response.json({ code: -1121, msg: "Invalid symbol." }, { status: 400 });
      }
      if (!(limit >= 1 && limit <= 5000)) {
        return Response.json(
          { code: -1100, msg: "Illegal characters found in parameter 'limit'" },
          {
            status: 400,
          },
        );
      }
      snapshotsServed++;
      const levels = (side: "bid" | "ask") =>
        book.top(side, limit).map((l) => [l.priceText, l.sizeText]);
      return Response.json({ lastUpdateId, bids: levels("bid"), asks: levels("ask") });
    },
  };
}

/**
 * `GET /api/v3/historicalTrades?symbol=&fromId=&limit=` over the trades so far, as Binance
 * answers it: oldest first, from `fromId` (inclusive; the most recent `limit` without it),
 * `limit` default 500, at most 1,000; rows `{id, price, qty, quoteQty, time, isBuyerMaker,
 * isBestMatch}` from the recorded `trade` messages.
 */
export function historicalTradesAnswer(
  url: URL,
  symbol: string,
  history: readonly Json[],
): Response {
  if (url.searchParams.get("symbol") !== symbol) {
    return Response.json({ code: -1121, msg: "Invalid symbol." }, { status: 400 });
  }
  const limit = Number(url.searchParams.get("limit") ?? 500);
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) {
    return Response.json({ code: -1100, msg: "Illegal characters found in parameter 'limit'" }, {
      status: 400,
    });
  }
  const fromId = url.searchParams.get("fromId");
  const page = fromId === null
    ? history.slice(-limit)
    : history.filter((t) => t.t >= Number(fromId)).slice(0, limit);
  // Numbers as Binance writes them: ids and times as JSON numbers, decimals as text.
  const rows = page.map((t) =>
    `{"id":${t.t},"price":"${t.p}","qty":"${t.q}",` +
    `"quoteQty":"${(Number(t.p) * Number(t.q)).toFixed(8)}","time":${t.T},` +
    `"isBuyerMaker":${t.m},"isBestMatch":true}`
  );
  return new Response(`[${rows.join(",")}]`, { headers: { "content-type": "application/json" } });
}
