/**
 * A TCP-level guard in front of `Deno.serve`, which has no header or idle timeout of its own:
 * the guard accepts connections on the public address, counts them against connection caps
 * (in total and per client address, refused ones are closed at once), and pipes each one to
 * an HTTP server on a loopback port. A connection must deliver its first request head within
 * the header timeout, and a keep-alive connection with no request in flight must send its
 * next request head within the idle timeout; otherwise the guard closes it. WebSocket
 * connections (after their `101`) and responses still streaming (SSE, NDJSON) are never idle.
 * A client that stops reading is closed once a write to it has waited for the write timeout
 * (default 10 s), whatever the response: a large JSON body, a stream, a WebSocket.
 *
 * The handler sees the client's address (not the loopback hop) in `info.remoteAddr`: the guard
 * maps the local port of each loopback connection it opened back to its client. A request on a
 * loopback connection the guard did not open (a local process connecting to the hop's port
 * directly, which would skip the caps and timeouts) is refused with a 403. The hop is not a
 * Unix socket in a private directory because a handler of `Deno.serve({ path })` cannot tell
 * which Unix connection a request came on (its `remoteAddr` is the listener's own path, and
 * `Deno.connect` cannot bind a client path), so the mapping would need the guard to rewrite
 * request heads.
 * Every byte crosses the guard once more (a read and a write per chunk each way).
 * @module
 */
import type { ConnInfo } from "./app.ts";
import { ConnectionLimiter, type ConnectionLimits, type LimitRefusal } from "./limits.ts";

/** Options of {@linkcode serveGuarded}. */
export interface GuardOptions {
  /** Interface of the public listener. */
  readonly hostname: string;
  /** Port of the public listener (0 picks a free one). */
  readonly port: number;
  /** Milliseconds a new connection has to deliver its first request head (default 10,000). */
  readonly headerTimeoutMs?: number;
  /**
   * Milliseconds a connection with no request in flight has to deliver its next request
   * head (default 60,000).
   */
  readonly idleTimeoutMs?: number;
  /**
   * Milliseconds a write to a client may wait for the client to read before the guard closes
   * the connection (default 10,000): a client that stops reading is disconnected.
   */
  readonly writeTimeoutMs?: number;
  /** Caps on open TCP connections, in total and per client address. */
  readonly limits?: ConnectionLimits;
  /** The request handler. */
  readonly handler: (req: Request, info: ConnInfo) => Response | Promise<Response>;
}

/** Counters of a {@linkcode GuardedServer}. */
export interface GuardStats {
  /** Connections open now. */
  readonly open: number;
  /** Connections refused by the caps so far. */
  readonly refused: number;
  /** The refused connections by cap: `total` (503) or per `address` (429). */
  readonly refusedBy: Readonly<Record<LimitRefusal, number>>;
  /** Connections closed for not sending a request head in time. */
  readonly headerTimeouts: number;
  /** Keep-alive connections closed for idling. */
  readonly idleTimeouts: number;
  /** Connections closed because the client stopped reading (a write waited too long). */
  readonly writeTimeouts: number;
  /** Requests refused because they came to the loopback hop without passing the guard. */
  readonly unguardedRefused: number;
}

/** A running guarded server. */
export interface GuardedServer {
  /** The public address. */
  readonly addr: Deno.NetAddr;
  /** The loopback hop's address; requests that reach it without the guard get a 403. */
  readonly hopAddr: Deno.NetAddr;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Stops accepting, closes idle connections and waits for requests to finish. */
  shutdown(): Promise<void>;
  stats(): GuardStats;
}

/** One client connection and its loopback twin. */
class Tracked {
  inflight = 0;
  upgraded = false;
  closed = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  upstream: Deno.TcpConn | undefined;
  /** When the write to the client now waiting began (`performance.now()`), 0 when none waits. */
  writingSince = 0;

  constructor(
    readonly client: Deno.Conn,
    readonly address: string,
    readonly onClose: () => void,
  ) {}

  /** Closes the connection unless a request head arrives within `ms`. */
  arm(ms: number, onExpire: () => void): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.closed) return;
      onExpire();
      this.close();
    }, ms);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    for (const conn of [this.client, this.upstream]) {
      try {
        conn?.close();
      } catch { /* closed already */ }
    }
    this.onClose();
  }
}

/** Bytes read per chunk each way. */
const CHUNK = 64 * 1024;

/** Copies `from` to `to` until either ends; `writes` (if given) is stamped while a write waits. */
async function pump(from: Deno.Conn, to: Deno.Conn, writes?: Tracked): Promise<void> {
  const buf = new Uint8Array(CHUNK);
  try {
    while (true) {
      const n = await from.read(buf);
      if (n === null) return;
      if (writes) writes.writingSince = performance.now();
      let at = 0;
      while (at < n) at += await to.write(buf.subarray(at, n));
      if (writes) writes.writingSince = 0;
    }
  } catch {
    // a reset or a close from the other side ends the pipe
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number: ${value}`);
  }
  return value;
}

/**
 * Serves `handler` behind the guard. Binds synchronously (throws e.g. `AddrInUse`).
 *
 * @example
 * ```ts ignore
 * const server = serveGuarded({ hostname: "0.0.0.0", port: 8787, handler: app });
 * await server.shutdown();
 * ```
 */
export function serveGuarded(options: GuardOptions): GuardedServer {
  const guard = new Guard(options);
  const inner = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => guard.handle(req, info as Deno.ServeHandlerInfo<Deno.NetAddr>),
  );
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const accepting = (async () => {
    try {
      for await (const conn of listener) void guard.admit(conn, inner.addr.port);
    } catch { /* the listener closed */ }
  })();
  const sweep = setInterval(() => guard.closeStalledWriters(), guard.sweepMs);

  let stopped: Promise<void> | undefined;
  return {
    addr: listener.addr as Deno.NetAddr,
    hopAddr: inner.addr,
    finished: inner.finished,
    stats: () => guard.stats(),
    shutdown: () =>
      stopped ??= (async () => {
        guard.stopping = true;
        clearInterval(sweep);
        listener.close();
        await accepting;
        for (const tracked of guard.all) {
          if (tracked.inflight === 0 && !tracked.upgraded) tracked.close();
        }
        await inner.shutdown();
        for (const tracked of guard.all) tracked.close();
      })(),
  };
}

/**
 * The guard's bookkeeping: admits connections under the caps and pipes them to the loopback
 * server, arms their header and idle timeouts, and maps the loopback hop back to the client.
 */
class Guard {
  readonly #options: GuardOptions;
  readonly #headerMs: number;
  readonly #idleMs: number;
  readonly #writeMs: number;
  readonly #limiter: ConnectionLimiter;
  /** Client connections by the local port of their loopback twin. */
  readonly #byPort = new Map<number, Tracked>();
  /** Every connection admitted and not closed yet. */
  readonly all = new Set<Tracked>();
  #headerTimeouts = 0;
  #idleTimeouts = 0;
  #writeTimeouts = 0;
  #unguardedRefused = 0;
  /** Set on shutdown: a connection whose request ends is closed, not kept alive. */
  stopping = false;

  constructor(options: GuardOptions) {
    this.#options = options;
    this.#headerMs = positive(options.headerTimeoutMs ?? 10_000, "headerTimeoutMs");
    this.#idleMs = positive(options.idleTimeoutMs ?? 60_000, "idleTimeoutMs");
    this.#writeMs = positive(options.writeTimeoutMs ?? 10_000, "writeTimeoutMs");
    this.#limiter = new ConnectionLimiter(options.limits);
  }

  /** How often {@linkcode closeStalledWriters} runs: a quarter of the write timeout, 1 s at most. */
  get sweepMs(): number {
    return Math.min(1_000, this.#writeMs / 4);
  }

  /** Closes every connection whose client has left a write waiting past the write timeout. */
  closeStalledWriters(): void {
    const before = performance.now() - this.#writeMs;
    for (const tracked of this.all) {
      if (tracked.writingSince !== 0 && tracked.writingSince < before) {
        this.#writeTimeouts++;
        tracked.close();
      }
    }
  }

  stats(): GuardStats {
    const limiter = this.#limiter;
    return {
      open: limiter.open,
      refused: limiter.refused,
      refusedBy: limiter.refusedBy,
      headerTimeouts: this.#headerTimeouts,
      idleTimeouts: this.#idleTimeouts,
      writeTimeouts: this.#writeTimeouts,
      unguardedRefused: this.#unguardedRefused,
    };
  }

  /** Takes `client` under the caps (or refuses it) and pipes it to `innerPort` until closed. */
  async admit(client: Deno.Conn, innerPort: number): Promise<void> {
    const address = (client.remoteAddr as Deno.NetAddr).hostname;
    const release = this.#limiter.acquire(address);
    if (typeof release !== "function") {
      await client.write(new TextEncoder().encode(refusal(release))).catch(() => {});
      client.close();
      return;
    }
    const tracked: Tracked = new Tracked(client, address, () => {
      release();
      this.all.delete(tracked);
      if (tracked.upstream) this.#byPort.delete((tracked.upstream.localAddr as Deno.NetAddr).port);
    });
    this.all.add(tracked);
    tracked.arm(this.#headerMs, () => this.#headerTimeouts++);
    try {
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port: innerPort });
      if (tracked.closed) return upstream.close();
      tracked.upstream = upstream;
      this.#byPort.set(upstream.localAddr.port, tracked);
      await Promise.race([pump(client, upstream), pump(upstream, client, tracked)]);
    } finally {
      tracked.close();
    }
  }

  /** The inner server's handler: runs the app with the client's address, timers paused. */
  async handle(req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const tracked = this.#byPort.get(info.remoteAddr.port);
    // The guard registers its hop before it forwards a byte, so a request on an unknown
    // connection came from a local process that dialled the loopback port itself.
    if (tracked === undefined) {
      this.#unguardedRefused++;
      return Response.json({ error: "connect through the server's public address" }, {
        status: 403,
        headers: { connection: "close" },
      });
    }
    tracked.inflight++;
    clearTimeout(tracked.timer);
    const done = () => {
      tracked.inflight--;
      if (tracked.inflight === 0 && !tracked.upgraded && !tracked.closed) {
        if (this.stopping) tracked.close();
        else tracked.arm(this.#idleMs, () => this.#idleTimeouts++);
      }
    };
    let res: Response;
    try {
      res = await this.#options.handler(req, { remoteAddr: { hostname: tracked.address } });
    } catch (error) {
      done();
      throw error;
    }
    if (res.status === 101) {
      tracked.upgraded = true;
      tracked.inflight--;
      return res;
    }
    return whenSent(res, done);
  }
}

/** `res` whose `done` runs once its body has been read to the end, failed or was cancelled. */
function whenSent(res: Response, done: () => void): Response {
  let called = false;
  const once = () => {
    if (!called) {
      called = true;
      done();
    }
  };
  if (res.body === null) {
    once();
    return res;
  }
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: end, value } = await reader.read();
        if (end) {
          once();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        once();
        controller.error(error);
      }
    },
    cancel(reason) {
      once();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}

function refusal(why: "total" | "address"): string {
  const text = why === "total"
    ? "the server has its maximum of connections open"
    : "this address has its maximum of connections open";
  const body = JSON.stringify({ error: text });
  return `HTTP/1.1 ${why === "total" ? 503 : 429} ${
    why === "total" ? "Service Unavailable" : "Too Many Requests"
  }\r\n` +
    `content-type: application/json; charset=utf-8\r\ncontent-length: ${body.length}\r\n` +
    `retry-after: 5\r\nconnection: close\r\n\r\n${body}`;
}
