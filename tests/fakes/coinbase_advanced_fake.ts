/**
 * Coinbase **Advanced Trade** protocol module for the fake exchange server. There is no
 * recorded Advanced Trade session, so it replays the recorded Coinbase Exchange session
 * (`coinbase-exchange-ws-20210417.txt`, loaded by {@linkcode loadCoinbaseSession}) converted
 * to Advanced Trade messages, as the live adapter speaks them:
 *
 * - one `subscribe` per channel (`level2`, `market_trades`, `heartbeats`; no JWT);
 * - every message of a connection carries `sequence_num`, +1 per message across channels;
 *   a message the server drops (a `gap` fault) still takes its number, so the client sees
 *   the hole, as it would on the real feed;
 * - `l2update` becomes an `l2_data` `update` event, `changes [side, price, size]` becoming
 *   `updates [{side: "bid"|"offer", event_time, price_level, new_quantity}]`;
 * - `match` becomes a `market_trades` `update` event: `trade_id` as text and `side` the
 *   **taker** side (`BUY`/`SELL`): Exchange's `match.side` is the maker's, so a maker `buy`
 *   is a taker `SELL`;
 * - the synthetic heartbeat items become `heartbeats` messages (and after the session, idle
 *   ones).
 *
 * A `level2` subscribe answers with an `l2_data` `snapshot` of the book **now**;
 * `market_trades` with a `snapshot` event of the most recent trades (newest first, at most
 * `recentTrades` per product, the recorded `last_match` included). `unsubscribe` is
 * honoured. Exchange `ticker` items are not served.
 * @module
 */
import type { FakeClient, VenueProtocol } from "./fault_server.ts";
import type { CoinbaseItem, CoinbaseSession } from "./coinbase_exchange_fake.ts";
import { ReferenceBook } from "../support/reference_book.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** Channels the fake serves. */
const CHANNELS = ["level2", "market_trades", "heartbeats"] as const;

/** Options for {@linkcode coinbaseAdvancedProtocol}. */
export interface CoinbaseAdvancedOptions {
  /** Trades per product in a `market_trades` snapshot (default 50). */
  readonly recentTrades?: number;
}

/** The protocol module, with the venue state it keeps. */
export interface CoinbaseAdvancedProtocol extends VenueProtocol<CoinbaseItem> {
  /** The true book of each product (everything before the cursor applied). */
  readonly books: ReadonlyMap<string, ReferenceBook>;
  /** Messages dropped from a connection's numbering (each a `sequence_num` hole). */
  readonly sequenceHoles: number;
}

/** A recorded Exchange `match` (or `last_match`) as an Advanced Trade trade. */
export function advancedTrade(match: Json): Json {
  return {
    trade_id: String(match.trade_id),
    product_id: match.product_id,
    price: match.price,
    size: match.size,
    // Exchange names the maker's side; Advanced Trade the taker's.
    side: match.side === "buy" ? "SELL" : "BUY",
    time: match.time,
  };
}

/** Per-connection numbering. */
interface ClientState {
  readonly client: FakeClient;
  /** Next `sequence_num`. */
  next: number;
  /** The last session item framed for this client. */
  framed?: CoinbaseItem;
}

/**
 * A Coinbase Advanced Trade protocol module over the loaded Coinbase Exchange session.
 *
 * @example
 * ```ts ignore
 * const session = await loadCoinbaseSession();
 * const server = startFaultServer({ protocol: coinbaseAdvancedProtocol(session) });
 * ```
 */
export function coinbaseAdvancedProtocol(
  session: CoinbaseSession,
  options: CoinbaseAdvancedOptions = {},
): CoinbaseAdvancedProtocol {
  const recentLimit = options.recentTrades ?? 50;
  const books = new Map<string, ReferenceBook>();
  for (const [product, snapshot] of session.snapshots) {
    const book = new ReferenceBook();
    book.replace(snapshot.bids, snapshot.asks);
    books.set(product, book);
  }
  const recent = new Map<string, Json[]>();
  for (const [product, match] of session.lastMatches) recent.set(product, [match]);
  /** Every trade so far per product, oldest first: the REST market trades. */
  const history = new Map<string, Json[]>();
  for (const [product, match] of session.lastMatches) history.set(product, [match]);
  const followed = new Set([...session.followedMatches].map((i) => session.items[i]));
  const firstProduct = [...books.keys()][0];
  const states = new Map<number, ClientState>();
  let clock = [...session.lastMatches.values()][0]?.time ?? "2021-04-17T16:43:37.000000Z";
  let heartbeatCounter = 0;
  let sequenceHoles = 0;

  const state = (client: FakeClient): ClientState => {
    let s = states.get(client.id);
    if (s === undefined) states.set(client.id, s = { client, next: 0 });
    return s;
  };
  /** A numbered message of `channel` for `client`. */
  const message = (client: FakeClient, channel: string, events: Json[], timestamp = clock) =>
    JSON.stringify({
      channel,
      client_id: "",
      timestamp,
      sequence_num: state(client).next++,
      events,
    });
  const heartbeat = (client: FakeClient) =>
    message(client, "heartbeats", [{
      current_time: clock,
      heartbeat_counter: ++heartbeatCounter,
    }]);
  const error = (client: FakeClient, text: string) =>
    client.send(JSON.stringify({ type: "error", message: text }));

  const snapshotEvent = (product: string) => {
    const book = books.get(product)!;
    const updates = (side: "bid" | "ask") =>
      book.top(side).map((l) => ({
        side: side === "bid" ? "bid" : "offer",
        event_time: clock,
        price_level: l.priceText,
        new_quantity: l.sizeText,
      }));
    return {
      type: "snapshot",
      product_id: product,
      updates: [...updates("bid"), ...updates("ask")],
    };
  };

  /** The subscription key an item is delivered under, if any. */
  const keyOf = (item: CoinbaseItem): string | undefined => {
    switch (item.type) {
      case "l2update":
        return `level2:${item.product}`;
      case "match":
        return `market_trades:${item.product}`;
      case "heartbeat":
        return item.product === firstProduct ? "heartbeats" : undefined;
      default:
        return undefined;
    }
  };

  const subscribe = (client: FakeClient, msg: Json, on: boolean) => {
    const channel = msg.channel;
    if (!CHANNELS.includes(channel)) {
      return error(client, `Failed to subscribe: channel ${String(channel)} not served`);
    }
    if (channel === "heartbeats") {
      if (on) client.subscriptions.add("heartbeats");
      else client.subscriptions.delete("heartbeats");
    } else {
      const products: string[] = Array.isArray(msg.product_ids) ? msg.product_ids : [];
      if (products.length === 0) return error(client, "Failed to subscribe: no product_ids");
      const unknown = products.find((p) => !books.has(p));
      if (unknown !== undefined) return error(client, `Failed to subscribe: ${unknown}`);
      for (const product of products) {
        if (on) client.subscriptions.add(`${channel}:${product}`);
        else client.subscriptions.delete(`${channel}:${product}`);
      }
      if (on && channel === "level2") {
        for (const product of products) {
          client.send(message(client, "l2_data", [snapshotEvent(product)]));
        }
      }
      if (on && channel === "market_trades") {
        const trades = products.flatMap((p) => (recent.get(p) ?? []).map(advancedTrade))
          .reverse(); // newest first
        client.send(message(client, "market_trades", [{ type: "snapshot", trades }]));
      }
    }
    const byChannel: Record<string, string[]> = {};
    for (const key of client.subscriptions) {
      const [name, product = "heartbeats"] = key.split(":");
      (byChannel[name] ??= []).push(product);
    }
    client.send(message(client, "subscriptions", [{ subscriptions: byChannel }]));
  };

  return {
    items: session.items,
    books,
    get sequenceHoles() {
      return sequenceHoles;
    },
    message(client, text) {
      let msg: Json;
      try {
        msg = JSON.parse(text);
      } catch {
        return error(client, "Malformed JSON");
      }
      if (msg?.type === "subscribe") subscribe(client, msg, true);
      else if (msg?.type === "unsubscribe") subscribe(client, msg, false);
      else error(client, `unknown type ${String(msg?.type)}`);
    },
    advance(item) {
      // A message a subscribed client did not get (dropped by a fault) still took its number.
      const key = keyOf(item);
      if (key !== undefined) {
        for (const s of states.values()) {
          if (s.framed !== item && s.client.subscriptions.has(key)) {
            s.next++;
            sequenceHoles++;
          }
        }
      }
      if (item.type === "l2update") {
        const book = books.get(item.product)!;
        for (const [side, price, size] of item.msg.changes) {
          book.set(side === "buy" ? "bid" : "ask", price, size);
        }
        clock = item.msg.time ?? clock;
      } else if (item.type === "match") {
        const list = recent.get(item.product) ?? [];
        list.push(item.msg);
        recent.set(item.product, list.slice(-recentLimit));
        history.get(item.product)?.push(item.msg) ??
          history.set(item.product, [item.msg]);
        clock = item.msg.time ?? clock;
      }
    },
    frame(item, client) {
      const key = keyOf(item);
      if (key === undefined || !client.subscriptions.has(key)) return undefined;
      const s = state(client);
      s.framed = item;
      switch (item.type) {
        case "l2update":
          return message(client, "l2_data", [{
            type: "update",
            product_id: item.product,
            updates: item.msg.changes.map(([side, price, size]: string[]) => ({
              side: side === "buy" ? "bid" : "offer",
              event_time: item.msg.time,
              price_level: price,
              new_quantity: size,
            })),
          }], item.msg.time);
        case "match":
          return message(client, "market_trades", [{
            type: "update",
            trades: [advancedTrade(item.msg)],
          }], item.msg.time);
        default:
          return heartbeat(client);
      }
    },
    corrupt(item, client) {
      // Instead of its updates, a bid at the best ask: the client's book crosses.
      if (item.type !== "l2update" || !client.subscriptions.has(`level2:${item.product}`)) {
        return undefined;
      }
      const bestAsk = books.get(item.product)!.top("ask", 1)[0];
      if (bestAsk === undefined) return undefined;
      state(client).framed = item;
      return message(client, "l2_data", [{
        type: "update",
        product_id: item.product,
        updates: [{
          side: "bid",
          event_time: item.msg.time,
          price_level: bestAsk.priceText,
          new_quantity: "1",
        }],
      }], item.msg.time);
    },
    gapCandidate(item, what) {
      // Any dropped message is a sequence_num hole; a dropped trade with a later trade of
      // its product also shows as a trade_id jump if it is never recovered.
      if (what === "trade") return item.type === "match" && followed.has(item);
      return item.type === "l2update";
    },
    idle(client) {
      return client.subscriptions.has("heartbeats") ? heartbeat(client) : undefined;
    },
    rest(url) {
      return marketTradesAnswer(url, history, books);
    },
    end(client) {
      if (client.subscriptions.has("heartbeats")) client.send(heartbeat(client));
    },
  };
}

/**
 * `GET /api/v3/brokerage/market/products/{product_id}/ticker?limit=&start=&end=` over the
 * trades so far, as Advanced Trade's public market trades answer: `{trades, best_bid,
 * best_ask}`, the newest `limit` trades (required, at most 1,000) with `start <= time < end`
 * (UNIX seconds, each optional), newest first, rows as {@linkcode advancedTrade} plus
 * `exchange`.
 */
export function marketTradesAnswer(
  url: URL,
  history: ReadonlyMap<string, readonly Json[]>,
  books: ReadonlyMap<string, ReferenceBook>,
): Response | undefined {
  const m = /^\/api\/v3\/brokerage\/market\/products\/([^/]+)\/ticker$/.exec(url.pathname);
  if (m === null) return undefined;
  const product = decodeURIComponent(m[1]);
  const trades = history.get(product);
  if (trades === undefined) {
    return Response.json({ error: "NOT_FOUND", message: "ProductID is invalid" }, { status: 404 });
  }
  const limit = Number(url.searchParams.get("limit"));
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) {
    return Response.json({ error: "INVALID_ARGUMENT", message: "limit" }, { status: 400 });
  }
  const start = Number(url.searchParams.get("start") ?? -Infinity) * 1000;
  const end = Number(url.searchParams.get("end") ?? Infinity) * 1000;
  const inWindow = trades.filter((t) => {
    const ms = Date.parse(t.time);
    return ms >= start && ms < end;
  });
  const book = books.get(product)!;
  return Response.json({
    trades: inWindow.slice(-limit).reverse().map((t) => ({
      ...advancedTrade(t),
      exchange: "COINBASE",
    })),
    best_bid: book.top("bid", 1)[0]?.priceText ?? "",
    best_ask: book.top("ask", 1)[0]?.priceText ?? "",
  });
}
