/**
 * Starting the HTTP server in-process (used by `server/main.ts` and the demo).
 * @module
 */
import type { MarketDataRepository } from "../lib/repositories/repository.ts";
import { type AppOptions, createApp } from "./app.ts";
import { defaultAllowedHosts, isLoopback, OriginPolicy } from "./auth/origin.ts";
import { type GuardedServer, type GuardStats, serveGuarded } from "./conn_guard.ts";
import type { StreamHub } from "./hub.ts";
import type { StreamOptions } from "./streams.ts";
import { resetTcpConnection } from "./_tcp_reset.ts";
import { findDirectSocket } from "./_direct_send.ts";

/** Options for {@linkcode startServer}. */
export interface StartServerOptions extends
  StreamOptions,
  Pick<
    AppOptions,
    "auth" | "limits" | "authTimeoutMs" | "maxConcurrentQueries" | "trading" | "queryPool"
  > {
  readonly repository: MarketDataRepository;
  readonly hub: StreamHub;
  /** Browser origins allowed cross-origin (CORS); same-origin is always allowed. */
  readonly allowedOrigins?: readonly string[];
  /**
   * Host names (or `name:port`) requests may be addressed to (default on a loopback bind:
   * the loopback names; on any other bind: any Host).
   */
  readonly allowedHosts?: readonly string[];
  /** TCP port (default 8787; 0 picks a free one). */
  readonly port?: number;
  /** Interface to listen on (default `127.0.0.1`). */
  readonly hostname?: string;
  /**
   * Put the connection guard (`conn_guard.ts`: header and idle timeouts, caps on open TCP
   * connections from `limits`) in front of the HTTP server (default: on any bind other than
   * loopback). It costs a copy of every byte through the guard.
   */
  readonly connectionGuard?: boolean;
  /** With the guard: milliseconds a connection has to send its first request head (10,000). */
  readonly headerTimeoutMs?: number;
  /** With the guard: milliseconds a keep-alive connection may idle between requests (60,000). */
  readonly idleTimeoutMs?: number;
  /** With the guard: milliseconds a write may wait for a client that does not read (10,000). */
  readonly writeTimeoutMs?: number;
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
 * The server refuses to start: listening beyond loopback without credentials. Programs
 * exit with {@linkcode ConfigurationError.exitCode} (78, `EX_CONFIG`).
 */
export class ConfigurationError extends Error {
  readonly exitCode = 78;
  constructor(message: string) {
    super(message);
    this.name = "ConfigurationError";
  }
}

/**
 * Serves {@linkcode createApp} with `Deno.serve`. Without credentials (`auth`) it listens
 * only on a loopback interface: any other `hostname` rejects with
 * {@linkcode ConfigurationError}. Shutting down ends this server's WebSocket
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

/** The guard's counters before it has bound (no request can come before). */
const NO_CONNECTIONS: GuardStats = {
  open: 0,
  refused: 0,
  refusedBy: { total: 0, address: 0 },
  headerTimeouts: 0,
  idleTimeouts: 0,
  writeTimeouts: 0,
  unguardedRefused: 0,
};

function serve(options: StartServerOptions): RunningServer {
  const port = options.port ?? 8787;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer from 0 to 65535: ${port}`);
  }
  const hostname = options.hostname ?? "127.0.0.1";
  if (!isLoopback(hostname) && !options.auth?.enabled) {
    throw new ConfigurationError(
      `refusing to listen on ${hostname} without authentication: configure API tokens or ` +
        `a JWT key (see README "Serving on a network"), or bind to 127.0.0.1`,
    );
  }
  const origins = new OriginPolicy({
    allowedOrigins: options.allowedOrigins,
    allowedHosts: options.allowedHosts ?? defaultAllowedHosts(hostname),
  });
  const streams = new AbortController();
  const guarded = options.connectionGuard ?? !isLoopback(hostname);
  let guard: GuardedServer | undefined;
  let boundPort = 0;
  const app = createApp({
    ...options,
    origins,
    signal: streams.signal,
    connectionStats: guarded ? () => guard?.stats() ?? NO_CONNECTIONS : undefined,
    // Unguarded, a WebSocket client that never reads keeps its connection until it is reset.
    resetConnection: guarded
      ? undefined
      : (peer) => resetTcpConnection({ localPort: boundPort, peer }),
    // Behind the guard the socket's peer is the guard's hop, and every byte is copied there.
    directSocket: guarded ? undefined : (peer) => findDirectSocket({ localPort: boundPort, peer }),
  });
  const server = guarded
    ? guard = serveGuarded({
      hostname,
      port,
      headerTimeoutMs: options.headerTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      writeTimeoutMs: options.writeTimeoutMs,
      limits: options.limits,
      handler: (req, info) => app(req, info),
    })
    : Deno.serve({ port, hostname, onListen: () => {} }, (req, info) => app(req, info));
  const addr = server.addr;
  boundPort = addr.port;
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
