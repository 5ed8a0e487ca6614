/**
 * Coinbase Exchange protocol module for the fake exchange server: replays the recorded
 * session `coinbase-exchange-ws-20210417.txt`. The recorded `snapshot` of each product is
 * the book when the session starts and its `last_match` the last trade; from there the
 * `l2update`, `match` and `ticker` messages are the session. A `subscribe` to
 * `level2`/`level2_batch` answers with a snapshot of the book **now**, `matches` with the
 * last trade as `last_match` (as Coinbase does); `unsubscribe` is honoured. Heartbeats carry
 * the last trade id every 500 items and at the end, so a dropped trade is always noticed.
 * @module
 */
import type { FakeClient, VenueProtocol } from "./fault_server.ts";
import { ReferenceBook } from "../support/reference_book.ts";
import { readCaptureFrames } from "../support/recorded.ts";

/** The recorded Coinbase Exchange session. */
export const COINBASE_CAPTURE = "coinbase-exchange-ws-20210417.txt";

// deno-lint-ignore no-explicit-any
type Json = any;

/** One item of the session. */
export interface CoinbaseItem {
  readonly type: "l2update" | "match" | "ticker" | "heartbeat";
  readonly product: string;
  /** The recorded frame (undefined for synthetic heartbeats). */
  readonly text?: string;
  readonly msg?: Json;
}

/** The session: the books and last trades at its start, then the items. */
export interface CoinbaseSession {
  readonly snapshots: ReadonlyMap<string, Json>;
  readonly lastMatches: ReadonlyMap<string, Json>;
  readonly items: readonly CoinbaseItem[];
  /** Every trade of the session (`last_match` included) as `product/trade_id`. */
  readonly trades: readonly string[];
  /** Indexes of `match` items followed by a later match of the same product. */
  readonly followedMatches: ReadonlySet<number>;
}

/** Loads the recorded session. */
export async function loadCoinbaseSession(heartbeatEvery = 500): Promise<CoinbaseSession> {
  const snapshots = new Map<string, Json>();
  const lastMatches = new Map<string, Json>();
  const items: CoinbaseItem[] = [];
  const trades: string[] = [];
  for (const { text } of await readCaptureFrames(COINBASE_CAPTURE)) {
    const msg = JSON.parse(text);
    const product: string = msg.product_id;
    switch (msg.type) {
      case "snapshot":
        snapshots.set(product, msg);
        break;
      case "last_match":
        lastMatches.set(product, msg);
        trades.push(`${product}/${msg.trade_id}`);
        break;
      case "match":
        trades.push(`${product}/${msg.trade_id}`);
        items.push({ type: msg.type, product, text, msg });
        break;
      case "l2update":
      case "ticker":
        items.push({ type: msg.type, product, text, msg });
        break;
    }
    if (items.length > 0 && items.length % heartbeatEvery === 0 && msg.type !== "snapshot") {
      for (const p of snapshots.keys()) items.push({ type: "heartbeat", product: p });
    }
  }
  const followedMatches = new Set<number>();
  const laterProducts = new Set<string>();
  for (let i = items.length - 1; i >= 0; i--) {
    if (items[i].type !== "match") continue;
    if (laterProducts.has(items[i].product)) followedMatches.add(i);
    laterProducts.add(items[i].product);
  }
  return { snapshots, lastMatches, items, trades, followedMatches };
}

/** The protocol module, with the venue state it keeps. */
export interface CoinbaseProtocol extends VenueProtocol<CoinbaseItem> {
  /** The true book of each product (everything before the cursor applied). */
  readonly books: ReadonlyMap<string, ReferenceBook>;
}

/** A Coinbase Exchange protocol module over a loaded session. */
export function coinbaseProtocol(session: CoinbaseSession): CoinbaseProtocol {
  const books = new Map<string, ReferenceBook>();
  for (const [product, snapshot] of session.snapshots) {
    const book = new ReferenceBook();
    book.replace(snapshot.bids, snapshot.asks);
    books.set(product, book);
  }
  const lastTrade = new Map<string, Json>(session.lastMatches);
  /** Every trade so far per product, oldest first: the REST trade history. */
  const history = new Map<string, Json[]>();
  for (const [product, match] of session.lastMatches) history.set(product, [match]);
  const followed = new Set([...session.followedMatches].map((i) => session.items[i]));
  let heartbeatSequence = 1;

  const snapshotFrame = (product: string) => {
    const book = books.get(product)!;
    const levels = (side: "bid" | "ask") => book.top(side).map((l) => [l.priceText, l.sizeText]);
    return JSON.stringify({
      type: "snapshot",
      product_id: product,
      bids: levels("bid"),
      asks: levels("ask"),
    });
  };
  const heartbeatFrame = (product: string) => {
    const last = lastTrade.get(product);
    return JSON.stringify({
      type: "heartbeat",
      last_trade_id: last?.trade_id ?? 0,
      product_id: product,
      sequence: heartbeatSequence++,
      time: last?.time ?? "2021-04-17T16:43:37.000000Z",
    });
  };

  const subscribe = (client: FakeClient, msg: Json, on: boolean) => {
    const products: string[] = Array.isArray(msg.product_ids) ? msg.product_ids : [];
    const channels: Json[] = Array.isArray(msg.channels) ? msg.channels : [];
    for (const channel of channels) {
      const name = typeof channel === "string" ? channel : channel?.name;
      const ids: string[] = typeof channel === "object" && Array.isArray(channel?.product_ids)
        ? channel.product_ids
        : products;
      const key = name === "level2" || name === "level2_batch" ? "book" : name;
      if (!["book", "matches", "heartbeat", "ticker"].includes(key)) {
        client.send(
          JSON.stringify({
            type: "error",
            message: "Failed to subscribe",
            reason: `${name} is not a valid channel`,
          }),
        );
        continue;
      }
      for (const product of ids) {
        if (!books.has(product)) {
          client.send(
            JSON.stringify({
              type: "error",
              message: "Failed to subscribe",
              reason: `${product} is not a valid product`,
            }),
          );
          continue;
        }
        const subscription = `${key}:${product}`;
        if (!on) {
          client.subscriptions.delete(subscription);
          continue;
        }
        client.subscriptions.add(subscription);
        if (key === "book") client.send(snapshotFrame(product));
        if (key === "matches" && lastTrade.has(product)) {
          client.send(JSON.stringify({ ...lastTrade.get(product), type: "last_match" }));
        }
      }
    }
    const byChannel = new Map<string, string[]>();
    for (const s of client.subscriptions) {
      const [key, product] = s.split(":");
      const name = key === "book" ? "level2_batch" : key;
      byChannel.set(name, [...(byChannel.get(name) ?? []), product]);
    }
    client.send(JSON.stringify({
      type: "subscriptions",
      channels: [...byChannel].map(([name, product_ids]) => ({ name, product_ids })),
    }));
  };

  return {
    items: session.items,
    books,
    message(client, text) {
      let msg: Json;
      try {
        msg = JSON.parse(text);
      } catch {
        client.send(JSON.stringify({ type: "error", message: "Malformed JSON" }));
        return;
      }
      if (msg.type === "subscribe") subscribe(client, msg, true);
      else if (msg.type === "unsubscribe") subscribe(client, msg, false);
      else client.send(JSON.stringify({ type: "error", message: `unknown type ${msg.type}` }));
    },
    advance(item) {
      if (item.type === "l2update") {
        const book = books.get(item.product)!;
        for (const [side, price, size] of item.msg.changes) {
          book.set(side === "buy" ? "bid" : "ask", price, size);
        }
      } else if (item.type === "match") {
        lastTrade.set(item.product, item.msg);
        const list = history.get(item.product) ?? [];
        list.push(item.msg);
        history.set(item.product, list);
      }
    },
    frame(item, client) {
      switch (item.type) {
        case "l2update":
          return client.subscriptions.has(`book:${item.product}`) ? item.text : undefined;
        case "match":
          return client.subscriptions.has(`matches:${item.product}`) ? item.text : undefined;
        case "ticker":
          return client.subscriptions.has(`ticker:${item.product}`) ? item.text : undefined;
        case "heartbeat":
          return client.subscriptions.has(`heartbeat:${item.product}`)
            ? heartbeatFrame(item.product)
            : undefined;
      }
    },
    corrupt(item, client) {
      // Instead of its changes, a bid at the best ask: the client's book crosses.
      if (item.type !== "l2update" || !client.subscriptions.has(`book:${item.product}`)) {
        return undefined;
      }
      const bestAsk = books.get(item.product)!.top("ask", 1)[0];
      if (bestAsk === undefined) return undefined;
      return JSON.stringify({ ...item.msg, changes: [["buy", bestAsk.priceText, "1"]] });
    },
    gapCandidate(item, what) {
      // A dropped trade is noticed by the next trade of its product (or a heartbeat, which
      // tells that trades are missing but not how many): drop one that has a successor.
      if (what === "trade") return item.type === "match" && followed.has(item);
      return item.type === "l2update";
    },
    rest(url) {
      return coinbaseTradesAnswer(url, history);
    },
    idle(client) {
      const product = [...books.keys()].find((p) => client.subscriptions.has(`heartbeat:${p}`));
      return product === undefined ? undefined : heartbeatFrame(product);
    },
    end(client) {
      for (const product of books.keys()) {
        if (client.subscriptions.has(`heartbeat:${product}`)) client.send(heartbeatFrame(product));
      }
    },
  };
}

/**
 * `GET /products/{product_id}/trades?limit=&after=&before=` over the trades so far, as
 * Coinbase Exchange answers it: newest first, at most `limit` (default and maximum 1,000);
 * `after=N` the newest trades older than id `N`, `before=N` the oldest trades newer than
 * `N`; `CB-BEFORE` / `CB-AFTER` headers carry the first and last id of the page. Rows are
 * `{time, trade_id, price, size, side}` (the maker's side), from the recorded matches.
 */
export function coinbaseTradesAnswer(
  url: URL,
  history: ReadonlyMap<string, readonly Json[]>,
): Response | undefined {
  const m = /^\/products\/([^/]+)\/trades$/.exec(url.pathname);
  if (m === null) return undefined;
  const trades = history.get(decodeURIComponent(m[1]));
  if (trades === undefined) return Response.json({ message: "NotFound" }, { status: 404 });
  const limit = Number(url.searchParams.get("limit") ?? 1000);
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) {
    return Response.json({ message: "Invalid limit" }, { status: 400 });
  }
  const after = url.searchParams.get("after");
  const before = url.searchParams.get("before");
  let page: Json[];
  if (after !== null) {
    page = trades.filter((t) => t.trade_id < Number(after)).slice(-limit);
  } else if (before !== null) {
    page = trades.filter((t) => t.trade_id > Number(before)).slice(0, limit);
  } else {
    page = trades.slice(-limit);
  }
  page = page.reverse().map((t) => ({
    time: t.time,
    trade_id: t.trade_id,
    price: t.price,
    size: t.size,
    side: t.side,
  }));
  const headers: Record<string, string> = {};
  if (page.length > 0) {
    headers["CB-BEFORE"] = String(page[0].trade_id);
    headers["CB-AFTER"] = String(page[page.length - 1].trade_id);
  }
  return Response.json(page, { headers });
}
