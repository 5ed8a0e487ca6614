/**
 * The shared core of the fake exchange servers: a real websocket (and HTTP) server on
 * 127.0.0.1 that replays one recorded session through a venue protocol module and injects
 * faults on demand. The venue module knows the protocol (subscriptions, snapshots, frame
 * layout, REST answers); this core knows the session cursor and the faults, so no venue
 * repeats the server loop.
 *
 * The session is one market: a cursor moves through its items as they are sent, pausing
 * while no client is subscribed. The venue state (books, last trades) always reflects every
 * item before the cursor, sent or not, so a snapshot served after a fault is the true book.
 *
 * Faults, each at a cursor position (`at`) or at once with {@linkcode FaultServer.inject}:
 *
 * | kind         | what the server does                                                  |
 * | ------------ | --------------------------------------------------------------------- |
 * | `disconnect` | closes every client; `missed` items then pass unsent (market moves on) |
 * | `silence`    | sends nothing for `ms` with connections open (the watchdog's case)     |
 * | `gap`        | drops the next item the venue marks as a `what` candidate (trade/book) |
 * | `corrupt`    | sends the next suitable item corrupted (bad checksum, crossed level)   |
 * | `malformed`  | sends a frame that is not JSON                                         |
 * | `truncated`  | sends the first half of the next frame before the frame itself         |
 * | `slow`       | waits `ms` between each of the next `frames` items                     |
 * @module
 */

/** A connected client as a venue module sees it. */
export interface FakeClient {
  /** Connection number, from 1. */
  readonly id: number;
  /** What the client subscribed to, in the venue module's own keys. */
  readonly subscriptions: Set<string>;
  /** Sends a text frame (ignored once the socket is closing). */
  send(frame: string): void;
}

/** What a venue module implements. */
export interface VenueProtocol<Item> {
  /** The session, in order. */
  readonly items: readonly Item[];
  /** Greets a new connection (optional). */
  open?(client: FakeClient): void;
  /** Handles a client's text message (subscribe, unsubscribe): answers via `client.send`. */
  message(client: FakeClient, text: string): void;
  /** Moves the venue state past `item`, whether or not anyone received it. */
  advance(item: Item): void;
  /** The frame of `item` for `client`; undefined when the client did not subscribe to it. */
  frame(item: Item, client: FakeClient): string | undefined;
  /** A corrupted frame of `item` for `client`; undefined when the item is unsuitable. */
  corrupt?(item: Item, client: FakeClient): string | undefined;
  /** True when `item` can be dropped for a `gap` fault of kind `what`. */
  gapCandidate?(item: Item, what: string): boolean;
  /** Sent to subscribed clients after the last item (closing heartbeats). */
  end?(client: FakeClient): void;
  /**
   * A frame that carries no market data (a heartbeat), sent every `idleMs` once the session
   * is over so clients' watchdogs see a live venue; none when undefined.
   */
  idle?(client: FakeClient): string | undefined;
  /** REST answers; undefined for 404. */
  rest?(url: URL): Response | undefined;
}

/** A fault to inject. */
export type Fault =
  | { readonly kind: "disconnect"; readonly missed?: number }
  | { readonly kind: "silence"; readonly ms: number }
  | { readonly kind: "gap"; readonly what: string }
  | { readonly kind: "corrupt" }
  | { readonly kind: "malformed" }
  | { readonly kind: "truncated" }
  | { readonly kind: "slow"; readonly ms: number; readonly frames: number };

/** A fault scheduled at a cursor position. */
export type ScheduledFault = Fault & { readonly at: number };

/** A fault as it was carried out. */
export interface InjectedFault {
  readonly kind: Fault["kind"];
  /** Cursor when it took effect. */
  readonly cursor: number;
  /** What exactly happened (dropped item index, corrupted item index, ...). */
  readonly detail?: string;
}

/** Options for {@linkcode startFaultServer}. */
export interface FaultServerOptions<Item> {
  readonly protocol: VenueProtocol<Item>;
  /** Faults by cursor position. */
  readonly faults?: readonly ScheduledFault[];
  /** Items sent per event-loop turn at full speed (default 100). */
  readonly burst?: number;
  /** Websocket path in `url` (default `/`); any path is accepted. */
  readonly path?: string;
  /** Milliseconds between idle frames after the session (default 50). */
  readonly idleMs?: number;
}

/** A running fake server. */
export interface FaultServer {
  /** `ws://127.0.0.1:PORT/path`. */
  readonly url: string;
  /** `http://127.0.0.1:PORT` (REST). */
  readonly httpUrl: string;
  /** Items passed so far (sent or dropped). */
  readonly cursor: number;
  /** Session length. */
  readonly length: number;
  /** Websocket connections accepted. */
  readonly connections: number;
  /** Frames sent to clients. */
  readonly framesSent: number;
  /** REST requests answered. */
  readonly restRequests: number;
  /** REST requests answered `429 Too Many Requests` by {@linkcode FaultServer.throttleRest}. */
  readonly restThrottled: number;
  /** Every REST request as `path?query`, in order, with the status it got. */
  readonly restLog: readonly { readonly url: string; readonly status: number }[];
  /** Every text message received from clients, in order. */
  readonly received: readonly string[];
  /** The faults carried out, in order. */
  readonly injected: readonly InjectedFault[];
  /** Resolves once every item was passed and the end frames sent. */
  readonly finished: Promise<void>;
  /** Carries out a fault now (at the current cursor). */
  inject(fault: Fault): void;
  /**
   * Answers the next `count` REST requests whose path matches `path` with
   * `429 Too Many Requests` and `Retry-After: retryAfterSeconds`, as a venue over its limit.
   */
  throttleRest(options: { count: number; retryAfterSeconds: number; path?: RegExp }): void;
  /** Closes clients and stops the server. */
  shutdown(): Promise<void>;
}

interface Client extends FakeClient {
  readonly socket: WebSocket;
  open: boolean;
}

/**
 * Starts a fake server for a venue module.
 *
 * @example
 * ```ts ignore
 * const server = startFaultServer({ protocol: coinbaseProtocol(session), faults: [
 *   { at: 500, kind: "disconnect", missed: 20 },
 * ] });
 * ```
 */
export function startFaultServer<Item>(options: FaultServerOptions<Item>): FaultServer {
  const protocol = options.protocol;
  const items = protocol.items;
  const burst = options.burst ?? 100;
  const faults = [...(options.faults ?? [])].sort((a, b) => a.at - b.at);
  const clients = new Set<Client>();
  const received: string[] = [];
  const injected: InjectedFault[] = [];
  const finished = Promise.withResolvers<void>();
  let connections = 0;
  let framesSent = 0;
  let restRequests = 0;
  let restThrottled = 0;
  const restLog: { url: string; status: number }[] = [];
  let throttle: { count: number; retryAfterSeconds: number; path?: RegExp } | undefined;
  let cursor = 0;
  let nextFault = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let idleTimer: ReturnType<typeof setInterval> | undefined;
  let silentUntil = 0;
  let slowFrames = 0;
  let slowMs = 0;
  let dropWhat: string | undefined;
  let corruptNext = false;
  let truncateNext = false;
  let done = false;
  let closed = false;

  const subscribed = () => [...clients].filter((c) => c.open && c.subscriptions.size > 0);

  const schedule = (ms = 0) => {
    if (timer === undefined && !closed) timer = setTimeout(pump, ms);
  };

  const closeClients = (code: number, reason: string) => {
    for (const c of clients) {
      c.open = false;
      try {
        c.socket.close(code, reason);
      } catch { /* already closing */ }
    }
    clients.clear();
  };

  /** Applies a fault; returns false when the pump must stop this turn. */
  const apply = (fault: Fault): boolean => {
    switch (fault.kind) {
      case "disconnect": {
        closeClients(1001, "going away");
        const missed = Math.min(fault.missed ?? 0, items.length - cursor);
        for (let i = 0; i < missed; i++) protocol.advance(items[cursor++]);
        injected.push({ kind: "disconnect", cursor, detail: `${missed} items missed` });
        return false;
      }
      case "silence":
        silentUntil = performance.now() + fault.ms;
        injected.push({ kind: "silence", cursor, detail: `${fault.ms} ms` });
        return false;
      case "gap":
        dropWhat = fault.what;
        return true;
      case "corrupt":
        corruptNext = true;
        return true;
      case "truncated":
        truncateNext = true;
        return true;
      case "malformed": {
        for (const c of subscribed()) c.send('{"type":"oops", this is not JSON');
        injected.push({ kind: "malformed", cursor });
        return true;
      }
      case "slow":
        slowFrames = fault.frames;
        slowMs = fault.ms;
        injected.push({ kind: "slow", cursor, detail: `${fault.frames} x ${fault.ms} ms` });
        return true;
    }
  };

  function pump(): void {
    timer = undefined;
    if (closed || done) return;
    const wait = silentUntil - performance.now();
    if (wait > 0) return schedule(wait);
    let budget = burst;
    while (cursor < items.length && budget-- > 0) {
      while (nextFault < faults.length && faults[nextFault].at <= cursor) {
        if (!apply(faults[nextFault++])) return schedule(0);
      }
      const targets = subscribed();
      if (targets.length === 0) return; // paused until a client subscribes
      const index = cursor++;
      const item = items[index];
      if (dropWhat !== undefined && protocol.gapCandidate?.(item, dropWhat)) {
        injected.push({ kind: "gap", cursor: index, detail: `${dropWhat} item ${index} dropped` });
        dropWhat = undefined;
        protocol.advance(item);
        continue;
      }
      let corrupted = false;
      for (const c of targets) {
        let frame = corruptNext ? protocol.corrupt?.(item, c) : undefined;
        if (frame !== undefined) corrupted = true;
        frame ??= protocol.frame(item, c);
        if (frame === undefined) continue;
        if (truncateNext) {
          c.send(frame.slice(0, Math.floor(frame.length / 2)));
          injected.push({ kind: "truncated", cursor: index });
          truncateNext = false;
        }
        c.send(frame);
      }
      if (corrupted) {
        injected.push({ kind: "corrupt", cursor: index, detail: `item ${index}` });
        corruptNext = false;
      }
      protocol.advance(item);
      if (slowFrames > 0) {
        slowFrames--;
        return schedule(slowMs);
      }
    }
    if (cursor < items.length) return schedule(0);
    // Faults scheduled at the very end still happen.
    while (nextFault < faults.length) apply(faults[nextFault++]);
    done = true;
    for (const c of subscribed()) protocol.end?.(c);
    if (protocol.idle !== undefined) {
      idleTimer = setInterval(() => {
        for (const c of subscribed()) {
          const frame = protocol.idle!(c);
          if (frame !== undefined) c.send(frame);
        }
      }, options.idleMs ?? 50);
    }
    finished.resolve();
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    if (req.headers.get("upgrade") !== "websocket") {
      restRequests++;
      const where = url.pathname + url.search;
      if (throttle !== undefined && throttle.count > 0 && (throttle.path?.test(where) ?? true)) {
        throttle.count--;
        restThrottled++;
        restLog.push({ url: where, status: 429 });
        return Response.json({ code: -1003, msg: "Too many requests" }, {
          status: 429,
          headers: { "Retry-After": String(throttle.retryAfterSeconds) },
        });
      }
      const answer = protocol.rest?.(url) ?? new Response("not found\n", { status: 404 });
      restLog.push({ url: where, status: answer.status });
      return answer;
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    const client: Client = {
      id: ++connections,
      socket,
      open: false,
      subscriptions: new Set(),
      send(frame: string) {
        if (this.open && socket.readyState === WebSocket.OPEN) {
          socket.send(frame);
          framesSent++;
        }
      },
    };
    socket.onopen = () => {
      client.open = true;
      clients.add(client);
      protocol.open?.(client);
    };
    socket.onmessage = (e) => {
      const text = String(e.data);
      received.push(text);
      protocol.message(client, text);
      if (client.subscriptions.size > 0) {
        if (done) protocol.end?.(client);
        else schedule(0);
      }
    };
    socket.onclose = () => {
      client.open = false;
      clients.delete(client);
    };
    socket.onerror = () => {};
    return response;
  });

  return {
    url: `ws://127.0.0.1:${server.addr.port}${options.path ?? "/"}`,
    httpUrl: `http://127.0.0.1:${server.addr.port}`,
    get cursor() {
      return cursor;
    },
    length: items.length,
    get connections() {
      return connections;
    },
    get framesSent() {
      return framesSent;
    },
    get restRequests() {
      return restRequests;
    },
    get restThrottled() {
      return restThrottled;
    },
    restLog,
    throttleRest(options) {
      throttle = { ...options };
    },
    received,
    injected,
    finished: finished.promise,
    inject(fault: Fault) {
      apply(fault);
      schedule(0);
    },
    async shutdown() {
      closed = true;
      clearTimeout(timer);
      clearInterval(idleTimer);
      closeClients(1001, "shutdown");
      await server.shutdown();
    },
  };
}
