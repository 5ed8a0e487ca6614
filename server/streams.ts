/**
 * Live event streams over WebSocket and Server-Sent Events. Both carry the same messages:
 * a JSON array of normalised `MarketEvent`s (one array per batch the hub received).
 * @module
 */
import type { StreamFilter, StreamHub, StreamItem, Subscription } from "./hub.ts";
import { HttpError } from "./router.ts";

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
}

/** The close code sent to a WebSocket client that could not keep up. */
export const SLOW_CONSUMER_CLOSE_CODE = 4008;

function encodeBatch(items: readonly StreamItem[]): string {
  let out = "[";
  for (let i = 0; i < items.length; i++) out += (i ? "," : "") + items[i].json;
  return out + "]";
}

/**
 * Upgrades to a WebSocket and pushes every matching event batch as one JSON-array text
 * message. A slow client is closed with code 4008; messages from clients are ignored.
 * @throws {HttpError} 426 when the request is not a WebSocket upgrade.
 */
export function webSocketStream(
  req: Request,
  sub: Subscription,
  options: StreamOptions = {},
): Response {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    sub.close();
    throw new HttpError(426, "expected a WebSocket upgrade request", {
      hint: "connect with new WebSocket(url) or use /sse",
    });
  }
  const maxBuffered = options.maxBufferedBytes ?? 8 * 1024 * 1024;
  let upgrade;
  try {
    upgrade = Deno.upgradeWebSocket(req);
  } catch (error) {
    sub.close();
    throw new HttpError(400, `WebSocket upgrade failed: ${(error as Error).message}`);
  }
  const { socket, response } = upgrade;
  socket.onclose = () => sub.close();
  socket.onerror = () => sub.close();
  socket.onopen = async () => {
    for await (const items of sub) {
      if (socket.readyState !== WebSocket.OPEN) break;
      socket.send(encodeBatch(items));
      while (socket.bufferedAmount > maxBuffered && !sub.closeReason) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (socket.readyState !== WebSocket.OPEN) sub.close();
      }
    }
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
      if (sub.closeReason === "slow") {
        socket.close(SLOW_CONSUMER_CLOSE_CODE, "slow consumer: event queue overflowed");
      } else {
        socket.close(1000, sub.closeReason === "hub_closed" ? "server shutting down" : "closed");
      }
    }
  };
  return response;
}

const encoder = new TextEncoder();

/**
 * A Server-Sent Events response: each batch is sent as `data: [...]`; idle streams get a
 * `: keep-alive` comment. A slow client gets `event: error` and the stream ends.
 */
export function sseStream(sub: Subscription, options: StreamOptions = {}): Response {
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(": connected\nretry: 2000\n\n"));
    },
    async pull(controller) {
      const items = await sub.next(keepAliveMs);
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
          encoder.encode(items.length ? `data: ${encodeBatch(items)}\n\n` : ": keep-alive\n\n"),
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
      "access-control-allow-origin": "*",
    },
  });
}
