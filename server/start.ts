/**
 * Starting the HTTP server in-process (used by `server/main.ts` and the demo).
 * @module
 */
import type { MarketDataRepository } from "../lib/repositories/repository.ts";
import { createApp } from "./app.ts";
import type { StreamHub } from "./hub.ts";
import type { StreamOptions } from "./streams.ts";

/** Options for {@linkcode startServer}. */
export interface StartServerOptions extends StreamOptions {
  readonly repository: MarketDataRepository;
  readonly hub: StreamHub;
  /** TCP port (default 8787; 0 picks a free one). */
  readonly port?: number;
  /** Interface to listen on (default `127.0.0.1`). */
  readonly hostname?: string;
}

/** A running server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:8787/`. */
  readonly url: string;
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number;
  /** Ends open streams, stops accepting connections and waits for requests to finish. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
}

/**
 * Serves {@linkcode createApp} with `Deno.serve`. Shutting down ends this server's WebSocket
 * and SSE streams but leaves the hub and repository open (the caller owns them).
 *
 * @example
 * ```ts ignore
 * import { startServer, StreamHub } from "./mod.ts";
 * const hub = new StreamHub();
 * const server = await startServer({ repository, hub, port: 0 });
 * console.log(server.url);
 * await server.shutdown();
 * ```
 */
export function startServer(options: StartServerOptions): Promise<RunningServer> {
  // Deno.serve binds synchronously and throws (e.g. AddrInUse) there; the executor turns that
  // into a rejection the caller can `.catch`, as the signature promises.
  return new Promise((resolve) => resolve(serve(options)));
}

function serve(options: StartServerOptions): RunningServer {
  const port = options.port ?? 8787;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer from 0 to 65535: ${port}`);
  }
  const hostname = options.hostname ?? "127.0.0.1";
  const streams = new AbortController();
  const app = createApp({ ...options, signal: streams.signal });
  const server = Deno.serve({ port, hostname, onListen: () => {} }, (req) => app(req));
  const addr = server.addr;
  const shown = addr.hostname === "0.0.0.0" || addr.hostname === "::"
    ? "localhost"
    : addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://${shown}:${addr.port}/`,
    port: addr.port,
    finished: server.finished,
    shutdown: () =>
      stopping ??= (async () => {
        streams.abort();
        // Let stream pumps send their close frames before the listener goes away.
        await new Promise((resolve) => setTimeout(resolve, 0));
        await server.shutdown();
      })(),
  };
}
