/**
 * Live event streams over WebSocket and Server-Sent Events. Both carry the same messages:
 * a JSON array of normalised `MarketEvent`s (one array per batch the hub received).
 * @module
 */
import type { CloseReason, StreamFilter, StreamHub, StreamItem, Subscription } from "./hub.ts";
import { HttpError } from "./router.ts";
import { type DirectSocket, textFrame } from "./_direct_send.ts";

/** Tracks the subscriptions of one app, so shutting the app down ends its streams. */
export class StreamRegistry {
  #open = new Set<Subscription>();
  #closed = false;

  /** Subscribes to `hub` and tracks the subscription until it ends. */
  subscribe(hub: StreamHub, filter: StreamFilter): Subscription {
    const sub = hub.subscribe(filter);
    if (this.#closed) {
      sub.close("hub_closed");
      return sub;
    }
    this.#open.add(sub);
    sub.closed.then(() => this.#open.delete(sub));
    return sub;
  }

  /** Ends every tracked stream; later subscriptions end immediately. */
  closeAll(): void {
    this.#closed = true;
    for (const sub of [...this.#open]) sub.close("hub_closed");
  }
}

/** Options shared by both stream kinds. */
export interface StreamOptions {
  /**
   * WebSocket: stop reading the hub queue while more than this many bytes wait in the
   * socket (default 8 MiB); the queue then fills and the hub disconnects the client.
   */
  readonly maxBufferedBytes?: number;
  /** SSE: send a comment line after this many idle milliseconds (default 15,000). */
  readonly keepAliveMs?: number;
  /**
   * WebSocket: after sending a close frame, drop the connection if the client has not
   * completed the close handshake within this many milliseconds (default 3,000). SSE: how
   * long a client dropped as slow has to read what it was sent before its connection is reset.
   */
  readonly closeGraceMs?: number;
  /**
   * WebSocket: ping an idle client after this many seconds and drop it when the pong does
   * not come within as long again (Deno's `idleTimeout`; default 60).
   */
  readonly idleTimeoutSeconds?: number;
}

/** The close code sent to a WebSocket client that could not keep up. */
export const SLOW_CONSUMER_CLOSE_CODE = 4008;
/** The close code for a WebSocket client that did not authenticate (in time, or validly). */
export const UNAUTHORIZED_CLOSE_CODE = 4401;
/** The close code for a WebSocket client whose token lacks the needed scope. */
export const FORBIDDEN_CLOSE_CODE = 4403;

/** Options of {@linkcode webSocketStream}. */
export interface WebSocketStreamOptions extends StreamOptions {
  /**
   * When set, the client's first message must be `{"type":"auth","token":"..."}` within
   * `authTimeoutMs`; the promise rejecting (with an error whose `status` is 403 for a
   * missing scope) closes the socket with 4403 or 4401. On success the server answers
   * `{"type":"authenticated"}` and starts streaming.
   */
  readonly authenticate?: (token: string) => Promise<unknown>;
  /** Default 5,000. */
  readonly authTimeoutMs?: number;
  /** The subprotocol to answer with (one the client offered). */
  readonly protocol?: string;
  /** Called once when the socket has ended (to release connection slots). */
  readonly onEnd?: () => void;
  /**
   * Ends the TCP connection under the socket (`_tcp_reset.ts`), called when the closing
   * handshake has not completed within `closeGraceMs`: without it Deno keeps the connection
   * of a client that never reads for as long as the client stays connected.
   */
  readonly resetConnection?: () => void;
  /**
   * Finds the connection's TCP socket to write frames to directly (`_direct_send.ts`), once the
   * socket is open; until it is found, and where it is not, `WebSocket.send` carries them.
   */
  readonly directSocket?: () => Promise<DirectSocket | undefined>;
}

function encodeBatch(items: readonly StreamItem[]): string {
  let out = "[";
  for (let i = 0; i < items.length; i++) out += (i ? "," : "") + items[i].json;
  return out + "]";
}

const filterKeys = new WeakMap<StreamFilter, string>();

function filterKey(filter: StreamFilter): string {
  let key = filterKeys.get(filter);
  if (key === undefined) {
    const part = (set?: ReadonlySet<string>) => set ? [...set].sort().join(",") : "*";
    key = `${part(filter.kinds)}|${part(filter.exchanges)}|${part(filter.symbols)}`;
    filterKeys.set(filter, key);
  }
  return key;
}

/** A batch's text, and its WebSocket frame once one was made. */
interface EncodedBatch {
  readonly key: string;
  readonly length: number;
  readonly last: StreamItem;
  readonly text: string;
  frame?: Uint8Array;
}

/** The last batch encoded starting at an item, with what identifies the batch. */
const batches = new WeakMap<StreamItem, EncodedBatch>();

/**
 * {@linkcode encodeBatch}, encoded once for every subscriber with the same filter: the hub
 * queues the same item objects to each, and a subscriber's queue is a contiguous run of its
 * filter's events, so the same filter, first item, last item and length mean the same batch.
 */
function encodedFor(sub: Subscription, items: readonly StreamItem[]): EncodedBatch {
  const length = items.length;
  const key = filterKey(sub.filter);
  const last = items[length - 1];
  const hit = batches.get(items[0]);
  if (hit && hit.length === length && hit.last === last && hit.key === key) return hit;
  const encoded = { key, length, last, text: encodeBatch(items) };
  batches.set(items[0], encoded);
  return encoded;
}

function encodeFor(sub: Subscription, items: readonly StreamItem[]): string {
  return items.length === 0 ? "[]" : encodedFor(sub, items).text;
}

/** The text frame of a non-empty batch, made once for every subscriber it goes to. */
function frameFor(sub: Subscription, items: readonly StreamItem[]): Uint8Array {
  const encoded = encodedFor(sub, items);
  return encoded.frame ??= textFrame(encoded.text);
}

/** Ends a socket whose closing handshake cannot complete (the peer never reads). */
function dropConnection(socket: WebSocket): void {
  if (socket.readyState === WebSocket.CLOSED) return;
  // Deno has no public way to drop a WebSocket's connection; without this a client that
  // never reads keeps its socket (and our buffered data) forever in CLOSING. This ends the
  // socket for us (its `close` event fires), but Deno 2.9.6 keeps the TCP connection while its
  // read and write are pending: ESTABLISHED, ~4 MB queued, until the peer reads or closes
  // (`ss -tnp`). The caller's `resetConnection` (a TCP reset, `_tcp_reset.ts`) or the
  // connection guard's write timeout ends that one.
  const internal = (Deno as unknown as Record<symbol, { core?: { tryClose?(rid: number): void } }>)[
    (Deno as unknown as { internal: symbol }).internal
  ];
  const ridKey = Object.getOwnPropertySymbols(socket).find((s) => s.description === "[[rid]]");
  const rid = ridKey ? (socket as unknown as Record<symbol, unknown>)[ridKey] : undefined;
  if (typeof rid === "number" && typeof internal?.core?.tryClose === "function") {
    internal.core.tryClose(rid);
  }
}

/** WebSocket stream messages this process sent, by how. */
const sent = { direct: 0, webSocket: 0 };

/**
 * WebSocket stream messages this process has sent: written straight to the socket
 * (`direct`) and through `WebSocket.send` (`webSocket`), for `/metrics`.
 */
export function webSocketMessagesSent(): { readonly direct: number; readonly webSocket: number } {
  return { ...sent };
}

/** Deliveries put off because their socket still held a message, retried together. */
const retries = new Set<() => void>();
let retryTimer: ReturnType<typeof setTimeout> | undefined;

/** Calls `flush` again in about a millisecond (one timer for every waiting socket). */
function retrySoon(flush: () => void): void {
  retries.add(flush);
  retryTimer ??= setTimeout(() => {
    retryTimer = undefined;
    const due = [...retries];
    retries.clear();
    for (const again of due) again();
  }, 1);
}

/**
 * Sends `sub`'s events to `socket`, push-style: when the hub queues the first event of a
 * batch, a microtask (run once the hub's whole `write` has queued) takes everything queued
 * and sends it as one message. No promise or timer per batch, so one event loop can feed
 * thousands of sockets. While the previous message still waits in the socket (the client or
 * this event loop is behind) nothing is sent: the events stay queued and go out together a
 * moment later, so a loaded server sends fewer, larger messages instead of falling further
 * behind. While more than `maxBuffered` bytes wait in the socket the queue is not taken
 * (checked every 20 ms), so the hub drops a client that does not read. `done` is called once
 * with the subscription's close reason. With `direct.socket`, a message goes straight to the
 * TCP socket while its queue is short (`_direct_send.ts`), through `WebSocket.send` otherwise;
 * `direct.onTorn` is called if part of a frame was written, the stream broken.
 */
export function deliver(
  socket: WebSocket,
  sub: Subscription,
  maxBuffered: number,
  done: (reason: CloseReason) => void,
  direct: {
    readonly socket?: Promise<DirectSocket | undefined>;
    readonly onTorn?: () => void;
  } = {},
): void {
  let scheduled = false;
  let paused = false;
  let raw: DirectSocket | undefined;
  direct.socket?.then((found) => raw = found);
  const flush = () => {
    scheduled = false;
    if (paused) return;
    if (socket.readyState !== WebSocket.OPEN) {
      sub.close();
      return;
    }
    if (sub.closeReason) return;
    if (socket.bufferedAmount > 0) {
      // The last message has not reached the kernel yet (the peer or this loop is behind):
      // leave the events queued, to go out together with later ones in one message.
      scheduled = true;
      retrySoon(flush);
      return;
    }
    const items = sub.take();
    if (!items || items.length === 0) return;
    if (raw && !raw.failed) {
      if (raw.write(frameFor(sub, items), maxBuffered) === "sent") {
        sent.direct++;
        return;
      }
      if (raw.torn) return direct.onTorn?.();
    }
    socket.send(encodeFor(sub, items));
    raw?.invalidate(); // the queue the direct writes last read no longer holds
    sent.webSocket++;
    if (socket.bufferedAmount > maxBuffered) {
      paused = true;
      const timer = setInterval(() => {
        if (socket.readyState !== WebSocket.OPEN) sub.close();
        if (sub.closeReason || socket.bufferedAmount <= maxBuffered) {
          clearInterval(timer);
          paused = false;
          if (!sub.closeReason && sub.queued > 0) flush();
        }
      }, 20);
    }
  };
  sub.onQueued(() => {
    if (scheduled || paused) return;
    scheduled = true;
    queueMicrotask(flush);
  });
  sub.closed.then(done);
}

/**
 * Upgrades to a WebSocket and pushes every matching event batch as one JSON-array text
 * message. The subscription is made by `subscribe` once the socket is open (and, with
 * `authenticate`, once the client has authenticated). A slow client is closed with code
 * 4008; a socket whose close handshake does not complete within `closeGraceMs` is dropped.
 * @throws {HttpError} 426 when the request is not a WebSocket upgrade.
 */
export function webSocketStream(
  req: Request,
  subscribe: () => Subscription,
  options: WebSocketStreamOptions = {},
): Response {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    throw new HttpError(426, "expected a WebSocket upgrade request", {
      hint: "connect with new WebSocket(url) or use /sse",
    });
  }
  let upgrade;
  try {
    upgrade = Deno.upgradeWebSocket(req, {
      protocol: options.protocol,
      idleTimeout: options.idleTimeoutSeconds ?? 60,
    });
  } catch (error) {
    throw new HttpError(400, `WebSocket upgrade failed: ${(error as Error).message}`);
  }
  const { socket, response } = upgrade;
  const stream = new SocketStream(socket, subscribe, options);
  const authenticate = options.authenticate;
  if (!authenticate) {
    socket.onopen = () => stream.pump();
    return response;
  }
  socket.onopen = () => {
    const timer = setTimeout(
      () => stream.closeWith(UNAUTHORIZED_CLOSE_CODE, "authentication timeout"),
      options.authTimeoutMs ?? 5_000,
    );
    socket.onmessage = (message) => {
      socket.onmessage = null; // only the first message authenticates; later ones are ignored
      clearTimeout(timer);
      void authenticateFirst(stream, String(message.data), authenticate);
    };
  };
  return response;
}

/** One WebSocket's subscription and its ending: close codes, the close grace, `onEnd`. */
class SocketStream {
  #sub: Subscription | undefined;
  #ended = false;

  constructor(
    readonly socket: WebSocket,
    readonly subscribe: () => Subscription,
    readonly options: WebSocketStreamOptions,
  ) {
    socket.onclose = () => this.end();
    socket.onerror = () => this.end();
  }

  /** Releases the subscription and calls `onEnd`, once. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#sub?.close();
    this.options.onEnd?.();
  }

  /** Sends a close frame; drops the connection if the handshake is not done in time. */
  closeWith(code: number, reason: string): void {
    const socket = this.socket;
    if (socket.readyState !== WebSocket.OPEN && socket.readyState !== WebSocket.CONNECTING) {
      return;
    }
    socket.close(code, reason);
    const timer = setTimeout(() => {
      if (socket.readyState !== WebSocket.CLOSED) {
        dropConnection(socket);
        this.options.resetConnection?.();
      }
      this.end();
    }, this.options.closeGraceMs ?? 3_000);
    Deno.unrefTimer(timer);
  }

  /** Subscribes and delivers until the subscription closes (1013 if it cannot subscribe). */
  pump(): void {
    let sub: Subscription;
    try {
      sub = this.#sub = this.subscribe();
    } catch (error) {
      this.closeWith(1013, (error as Error).message.slice(0, 120)); // try again later
      return;
    }
    if (this.#ended) sub.close();
    const maxBuffered = this.options.maxBufferedBytes ?? 8 * 1024 * 1024;
    deliver(this.socket, sub, maxBuffered, (reason) => {
      if (reason === "slow") {
        this.closeWith(SLOW_CONSUMER_CLOSE_CODE, "slow consumer: event queue overflowed");
      } else {
        this.closeWith(1000, reason === "hub_closed" ? "server shutting down" : "closed");
      }
    }, { socket: this.options.directSocket?.(), onTorn: () => this.#tear(sub) });
  }

  /** Part of a frame was written: no frame can follow, so the connection is reset. */
  #tear(sub: Subscription): void {
    console.warn(
      `stream: subscriber #${sub.id}: a direct write was cut short; resetting its connection`,
    );
    dropConnection(this.socket);
    this.options.resetConnection?.();
    this.end();
  }
}

/** Checks the first message's token; streams on success, closes with 4401 or 4403 if not. */
async function authenticateFirst(
  stream: SocketStream,
  data: string,
  authenticate: (token: string) => Promise<unknown>,
): Promise<void> {
  let token: unknown;
  try {
    token = JSON.parse(data)?.token;
  } catch { /* not JSON: refused below */ }
  if (typeof token !== "string") {
    return stream.closeWith(UNAUTHORIZED_CLOSE_CODE, 'expected {"type":"auth","token":"..."}');
  }
  try {
    await authenticate(token);
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    return stream.closeWith(
      status === 403 ? FORBIDDEN_CLOSE_CODE : UNAUTHORIZED_CLOSE_CODE,
      status === 403 ? "forbidden" : "unauthorized",
    );
  }
  if (stream.socket.readyState !== WebSocket.OPEN) return;
  stream.socket.send(JSON.stringify({ type: "authenticated" }));
  stream.pump();
}

const encoder = new TextEncoder();

/**
 * A Server-Sent Events response: each batch is sent as `data: [...]`; idle streams get a
 * `: keep-alive` comment. A slow client gets `event: error` and the stream ends.
 */
export function sseStream(
  sub: Subscription,
  options: StreamOptions & {
    readonly onEnd?: () => void;
    /**
     * Ends the TCP connection of a client dropped as slow, `closeGraceMs` after the drop (Deno
     * keeps it open while a write waits on a client that never reads, and keeps a connection
     * whose response has ended open for the next request).
     */
    readonly resetConnection?: () => void;
  } = {},
): Response {
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  let pulling = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(": connected\nretry: 2000\n\n"));
      sub.closed.then((reason) => {
        options.onEnd?.();
        if (reason !== "slow") return;
        const reset = options.resetConnection;
        if (reset) {
          // Reset once the grace has passed: a client that reads on meanwhile gets its
          // `event: error` and the end of the response (pull), one that never reads nothing
          // more. Not erroring the body spares the log Deno's trace of the error.
          Deno.unrefTimer(setTimeout(reset, options.closeGraceMs ?? 3_000));
          return;
        }
        // A client that stopped reading has no pull pending: end its response here.
        if (pulling) return;
        try {
          controller.error(new Error("slow consumer"));
        } catch { /* already closed */ }
      });
    },
    async pull(controller) {
      pulling = true;
      const items = await sub.next(keepAliveMs);
      pulling = false;
      try {
        if (items === null) {
          if (sub.closeReason === "slow") {
            controller.enqueue(encoder.encode(
              `event: error\ndata: {"error":"slow consumer: event queue overflowed"}\n\n`,
            ));
          }
          controller.close();
          return;
        }
        controller.enqueue(
          encoder.encode(items.length ? `data: ${encodeFor(sub, items)}\n\n` : ": keep-alive\n\n"),
        );
      } catch {
        // The client went away while we waited (the stream was cancelled).
        sub.close();
      }
    },
    cancel() {
      sub.close();
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
}
