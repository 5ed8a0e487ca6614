/**
 * A local websocket server on 127.0.0.1 that speaks the Coinbase Exchange protocol and
 * streams a {@linkcode SyntheticMarket}: what the demo's collector connects to, exactly as it
 * would to Coinbase. Simulated time can run faster than real time.
 * @module
 */
import { nowMicros } from "../market/time.ts";
import { DEMO_PRODUCTS, SyntheticMarket, type SyntheticProduct } from "./synthetic_market.ts";

/** Options for {@linkcode startCoinbaseSimulator}. */
export interface CoinbaseSimulatorOptions {
  /** Products (default: BTC-USD and ETH-USD). */
  readonly products?: readonly SyntheticProduct[];
  readonly seed?: number;
  /** Simulated seconds per real second (default 1). */
  readonly speed?: number;
  /** Simulated start time in microseconds (default: now). */
  readonly startTs?: number;
  /** Port (default 0: a free one). */
  readonly port?: number;
  /** Real milliseconds between batches (default 50). */
  readonly batchMs?: number;
}

/** A running simulator. */
export interface CoinbaseSimulator {
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  readonly market: SyntheticMarket;
  /** Messages sent to clients so far. */
  readonly sent: () => number;
  /** Closes every client (they should reconnect). */
  dropClients(): void;
  shutdown(): Promise<void>;
}

interface Client {
  readonly socket: WebSocket;
  products: Set<string>;
  channels: Set<string>;
}

const CHANNEL_OF: Record<string, string> = {
  snapshot: "level2",
  l2update: "level2",
  match: "matches",
  last_match: "matches",
  heartbeat: "heartbeat",
};

/**
 * Starts the simulator.
 *
 * @example
 * ```ts ignore
 * import { startCoinbaseSimulator } from "./coinbase_simulator_server.ts";
 * const sim = startCoinbaseSimulator({ speed: 60 });
 * console.log(sim.url);
 * await sim.shutdown();
 * ```
 */
export function startCoinbaseSimulator(
  options: CoinbaseSimulatorOptions = {},
): CoinbaseSimulator {
  const speed = options.speed ?? 1;
  if (!(speed > 0)) throw new RangeError(`speed must be positive, got ${speed}`);
  const market = new SyntheticMarket({
    products: options.products ?? DEMO_PRODUCTS,
    seed: options.seed,
    startTs: options.startTs ?? nowMicros(),
  });
  const clients = new Set<Client>();
  let sent = 0;

  const send = (client: Client, text: string) => {
    if (client.socket.readyState !== WebSocket.OPEN) return;
    client.socket.send(text);
    sent++;
  };

  const subscribe = (client: Client, text: string) => handleSubscribe(market, client, text, send);

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
  }, (req) => {
    if (req.headers.get("upgrade") !== "websocket") {
      return new Response(
        "AlphaPulse synthetic Coinbase Exchange feed: connect with a websocket\n",
      );
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    const client: Client = { socket, products: new Set(), channels: new Set() };
    socket.onopen = () => clients.add(client);
    socket.onmessage = (e) => subscribe(client, String(e.data));
    socket.onclose = () => clients.delete(client);
    socket.onerror = () => clients.delete(client);
    return response;
  });

  const batchMs = options.batchMs ?? 50;
  const timer = setInterval(() => {
    const messages = market.advance(batchMs * 1000 * speed);
    if (clients.size === 0) return;
    for (const m of messages) {
      // Every message starts {"type":"<type>", ... "product_id":"<id>" appears in each.
      const type = m.slice(9, m.indexOf('"', 9));
      const channel = CHANNEL_OF[type];
      const at = m.indexOf('"product_id":"') + 14;
      const product = m.slice(at, m.indexOf('"', at));
      for (const client of clients) {
        if (client.channels.has(channel) && client.products.has(product)) send(client, m);
      }
    }
  }, batchMs);

  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    market,
    sent: () => sent,
    dropClients() {
      for (const c of clients) c.socket.close(1012, "simulated restart");
    },
    async shutdown() {
      clearInterval(timer);
      for (const c of clients) {
        try {
          c.socket.close(1001, "shutdown");
        } catch { /* already closed */ }
      }
      await server.shutdown();
    },
  };
}

/** Answers a client's `subscribe` message and sends it each product's opening messages. */
function handleSubscribe(
  market: SyntheticMarket,
  client: Client,
  text: string,
  send: (client: Client, text: string) => void,
): void {
  let msg: { type?: string; product_ids?: unknown; channels?: unknown };
  try {
    msg = JSON.parse(text);
  } catch {
    send(client, JSON.stringify({ type: "error", message: "Malformed JSON" }));
    return;
  }
  if (msg.type !== "subscribe" || !Array.isArray(msg.product_ids)) {
    send(client, JSON.stringify({ type: "error", message: "Failed to subscribe" }));
    return;
  }
  const channels = Array.isArray(msg.channels) ? msg.channels.map(String) : [];
  const normalized = channels.map((c) => c === "level2_batch" ? "level2" : c);
  const known = new Set(market.productIds);
  const products = (msg.product_ids as unknown[]).map(String).filter((p) => known.has(p));
  for (const p of products) client.products.add(p);
  for (const c of normalized) client.channels.add(c);
  send(
    client,
    JSON.stringify({
      type: "subscriptions",
      channels: channels.map((name) => ({ name, product_ids: [...client.products] })),
    }),
  );
  for (const p of products) {
    for (const m of market.subscribeMessages(p)) {
      const type = m.slice(9, m.indexOf('"', 9));
      if (client.channels.has(CHANNEL_OF[type])) send(client, m);
    }
  }
}
