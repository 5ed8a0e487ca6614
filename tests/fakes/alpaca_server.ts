/**
 * A local fake of Alpaca's market-data stream (stocks or crypto) on 127.0.0.1: real
 * websockets, the greeting / auth / subscribe handshake, a scripted stream of messages, and
 * faults on demand (auth failure 402, connection limit 406, slow client 407, disconnect).
 *
 * The script is one session: a cursor moves through it as frames are sent and pauses while
 * no client is subscribed, so a client that reconnects continues where it left off and can
 * receive every scripted trade exactly once.
 * @module
 */

/** Options for {@linkcode startFakeAlpacaServer}. */
export interface FakeAlpacaServerOptions {
  /** The credentials the server accepts. */
  readonly key: string;
  readonly secret: string;
  /**
   * The session: each item is a message object (batched into array frames) or a string sent
   * verbatim as one frame (malformed or truncated input).
   */
  readonly script: readonly (Record<string, unknown> | string)[];
  /** Messages per frame (default 5). */
  readonly batch?: number;
  /** Milliseconds between frames (default 1). */
  readonly intervalMs?: number;
  /** Connections allowed at once (default 1, as on most Alpaca plans). */
  readonly connectionLimit?: number;
}

/** A running fake server. */
export interface FakeAlpacaServer {
  /** `ws://127.0.0.1:PORT/v2/iex` (any path is accepted). */
  readonly url: string;
  /** Every text message received from clients, in order. */
  readonly received: string[];
  /** Connections accepted (including refused ones). */
  readonly connections: number;
  /** Script items sent so far. */
  readonly cursor: number;
  /** Resolves when the whole script was sent. */
  readonly finished: Promise<void>;
  /** The next `n` auth attempts fail with 402 (and the connection is closed). */
  failAuth(n?: number): void;
  /** The next `n` connections are refused with 406 (another client holds the slot). */
  refuseConnections(n?: number): void;
  /** Sends 407 to the subscribed clients and closes their connections. */
  slowClient(): void;
  /** Closes every client connection mid-stream. */
  dropClients(): void;
  /** Closes clients and stops the server. */
  shutdown(): Promise<void>;
}

interface Client {
  readonly socket: WebSocket;
  authenticated: boolean;
  subscribed: boolean;
}

/**
 * Starts the fake server.
 *
 * @example
 * ```ts ignore
 * const server = startFakeAlpacaServer({ key: "k", secret: "s", script: [] });
 * await server.shutdown();
 * ```
 */
export function startFakeAlpacaServer(options: FakeAlpacaServerOptions): FakeAlpacaServer {
  const batch = options.batch ?? 5;
  const intervalMs = options.intervalMs ?? 1;
  const limit = options.connectionLimit ?? 1;
  const clients = new Set<Client>();
  const received: string[] = [];
  const finished = Promise.withResolvers<void>();
  let connections = 0;
  let cursor = 0;
  let failAuth = 0;
  let refuse = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const send = (client: Client, messages: unknown[]) => {
    if (client.socket.readyState === WebSocket.OPEN) {
      client.socket.send(JSON.stringify(messages));
    }
  };

  /** Sends the next frame of the script to subscribed clients. */
  const pump = () => {
    timer = undefined;
    const subscribers = [...clients].filter((c) => c.subscribed);
    if (subscribers.length === 0) return; // paused until someone subscribes
    if (cursor >= options.script.length) return;
    let frame: string;
    const first = options.script[cursor];
    if (typeof first === "string") {
      frame = first;
      cursor++;
    } else {
      const messages: unknown[] = [];
      while (
        cursor < options.script.length && messages.length < batch &&
        typeof options.script[cursor] !== "string"
      ) {
        messages.push(options.script[cursor++]);
      }
      frame = JSON.stringify(messages);
    }
    for (const c of subscribers) {
      if (c.socket.readyState === WebSocket.OPEN) c.socket.send(frame);
    }
    if (cursor >= options.script.length) finished.resolve();
    else schedule();
  };
  const schedule = () => {
    if (timer === undefined) timer = setTimeout(pump, intervalMs);
  };

  const onMessage = (client: Client, text: string) => {
    received.push(text);
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text);
    } catch {
      return send(client, [{ T: "error", code: 400, msg: "invalid syntax" }]);
    }
    if (msg.action === "auth") {
      if (client.authenticated) {
        return send(client, [{ T: "error", code: 403, msg: "already authenticated" }]);
      }
      if (failAuth > 0 || msg.key !== options.key || msg.secret !== options.secret) {
        if (failAuth > 0) failAuth--;
        send(client, [{ T: "error", code: 402, msg: "auth failed" }]);
        client.socket.close(1008, "auth failed");
        return;
      }
      client.authenticated = true;
      return send(client, [{ T: "success", msg: "authenticated" }]);
    }
    if (msg.action === "subscribe") {
      if (!client.authenticated) {
        return send(client, [{ T: "error", code: 401, msg: "not authenticated" }]);
      }
      client.subscribed = true;
      const { action: _, ...channels } = msg;
      send(client, [{ T: "subscription", ...channels }]);
      schedule();
      return;
    }
    send(client, [{ T: "error", code: 400, msg: "invalid syntax" }]);
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (req.headers.get("upgrade") !== "websocket") {
      return new Response("websocket only", { status: 400 });
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    connections++;
    const client: Client = { socket, authenticated: false, subscribed: false };
    socket.onopen = () => {
      if (refuse > 0 || clients.size >= limit) {
        if (refuse > 0) refuse--;
        socket.send(JSON.stringify([{ T: "error", code: 406, msg: "connection limit exceeded" }]));
        socket.close(1008, "connection limit exceeded");
        return;
      }
      clients.add(client);
      send(client, [{ T: "success", msg: "connected" }]);
    };
    socket.onmessage = (e) => onMessage(client, String(e.data));
    socket.onclose = () => clients.delete(client);
    socket.onerror = () => {};
    return response;
  });

  const closeAll = (code: number, reason: string) => {
    for (const c of clients) {
      c.subscribed = false;
      try {
        c.socket.close(code, reason);
      } catch { /* already closing */ }
    }
    clients.clear();
  };

  return {
    url: `ws://127.0.0.1:${server.addr.port}/v2/iex`,
    received,
    get connections() {
      return connections;
    },
    get cursor() {
      return cursor;
    },
    finished: finished.promise,
    failAuth: (n = 1) => {
      failAuth += n;
    },
    refuseConnections: (n = 1) => {
      refuse += n;
    },
    slowClient: () => {
      for (const c of clients) {
        if (c.subscribed) send(c, [{ T: "error", code: 407, msg: "slow client" }]);
      }
      closeAll(1008, "slow client");
    },
    dropClients: () => closeAll(1001, "going away"),
    shutdown: async () => {
      clearTimeout(timer);
      closeAll(1001, "shutdown");
      await server.shutdown();
    },
  };
}
