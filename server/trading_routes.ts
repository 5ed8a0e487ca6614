/**
 * The paper-trading routes of a server with a live runner attached: positions, orders, fills
 * and PnL as JSON, a live stream of their changes, and the kill switch.
 *
 * Every `/api/trading/*` route needs the `trade` scope (reading included: positions and
 * orders show what a strategy does, which a market-data `read` token should not see). Without
 * credentials (a loopback-only server) they are open, as every other route.
 * @module
 */
import type { Fill, Order } from "../lib/backtest/types.ts";
import type { LiveRunner } from "../lib/trading/runner.ts";
import type { Principal } from "./auth/authenticator.ts";
import { readBodyText } from "./body.ts";
import { HttpError, json, type Router } from "./router.ts";

/** What the routes read and control: a {@linkcode LiveRunner} (or anything shaped like it). */
export type TradingDesk = Pick<
  LiveRunner,
  | "orders"
  | "open"
  | "fills"
  | "positions"
  | "pnl"
  | "viewCash"
  | "initialCash"
  | "done"
  | "watch"
  | "kill"
  | "strategy"
  | "broker"
>;

/** Options of {@linkcode tradingRoutes}. */
export interface TradingRouteOptions {
  /** Aborting ends every open trading stream (server shutdown). */
  readonly signal?: AbortSignal;
  /** How often a stream sends PnL while nothing happens, ms (default 1,000). */
  readonly pnlEveryMs?: number;
  /** How long `POST /api/trading/kill` waits for the runner to stop, ms (default 1,000). */
  readonly killWaitMs?: number;
  /** Most items a stream may have queued for a slow client before it is closed (default 10,000). */
  readonly maxQueued?: number;
  /**
   * The open-stream slot taken for a stream request (the server's connection limits); the
   * function it returns is called once the stream ends.
   */
  readonly streamSlot?: (req: Request) => () => void;
  /**
   * Who made a request (the server's authentication), so the kill switch's log entry names
   * the token that pulled it; absent or `undefined` on a server without credentials.
   */
  readonly principalOf?: (req: Request) => Principal | undefined;
}

/** Paths of the trading routes (all need the `trade` scope). */
export const TRADING_PREFIX = "/api/trading/";

/** The live stream's path (a long-lived stream, counted with `/ws` and `/sse`). */
export const TRADING_STREAM = "/api/trading/stream";

/** How many fills a snapshot carries. */
const RECENT_FILLS = 50;

/** The PnL figure of the desk. */
export interface TradingPnl {
  readonly pnl: number;
  readonly cash: number;
  readonly initialCash: number;
  readonly orders: number;
  readonly openOrders: number;
  readonly fills: number;
  readonly running: boolean;
}

/** An order as the routes show it (the runner's order, copied). */
function orderRow(o: Readonly<Order>): Order {
  return { ...o };
}

function pnlOf(desk: TradingDesk): TradingPnl {
  return {
    pnl: desk.pnl(),
    cash: desk.viewCash,
    initialCash: desk.initialCash,
    orders: desk.orders.size,
    openOrders: desk.open.length,
    fills: desk.fills.length,
    running: !desk.done,
  };
}

function limitOf(query: URLSearchParams, fallback: number): number {
  const raw = query.get("limit");
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) {
    throw new HttpError(400, `limit must be an integer from 1 to 100000: ${raw}`);
  }
  return n;
}

/** The newest `limit` items, newest first. */
function newest<T>(items: readonly T[], limit: number): T[] {
  return items.slice(Math.max(0, items.length - limit)).reverse();
}

/**
 * Adds the trading routes to `router`:
 * - `GET /api/trading/positions`: `[{ exchange, symbol, position, mark }]` (strategy view,
 *   marked at the book's mid)
 * - `GET /api/trading/orders?status=open|all&limit=200`: orders, newest first (default open)
 * - `GET /api/trading/fills?limit=100`: fills, newest first
 * - `GET /api/trading/pnl`: `{ pnl, cash, initialCash, orders, openOrders, fills, running }`
 * - `GET /api/trading/stream`: server-sent events: `snapshot` (`{ strategy, broker,
 *   positions, orders, fills, pnl }`) first, then `order`, `fill`, `positions` and `pnl`
 *   events as they change (coalesced per 50 ms), `pnl` every `pnlEveryMs`, `stopped` at the
 *   end of the run
 * - `POST /api/trading/kill` (optional JSON body `{ "reason": "..." }`): the kill switch;
 *   every open order is cancelled and the runner stops; the runner's `kill` log entry
 *   names the token that asked (`by`: its name or JWT subject). Answers 200 `{ stopped: true, ... }`
 *   once the run has ended, or 202 `{ stopped: false }` when it did not within `killWaitMs`.
 */
export function tradingRoutes(
  router: Router,
  desk: TradingDesk,
  options: TradingRouteOptions = {},
): Router {
  if (typeof desk?.watch !== "function" || typeof desk.kill !== "function") {
    throw new TypeError("tradingRoutes: desk must be a LiveRunner");
  }
  const killWaitMs = options.killWaitMs ?? 1000;
  return router
    .get("/api/trading/positions", () => json(desk.positions()))
    .get("/api/trading/orders", ({ query }) => {
      const status = query.get("status") ?? "open";
      if (status !== "open" && status !== "all") {
        throw new HttpError(400, `status must be open or all: ${status}`);
      }
      const list = status === "open" ? desk.open : [...desk.orders.values()];
      return json(newest(list, limitOf(query, 200)).map(orderRow));
    })
    .get("/api/trading/fills", ({ query }) => json(newest(desk.fills, limitOf(query, 100))))
    .get("/api/trading/pnl", () => json(pnlOf(desk)))
    .get(TRADING_STREAM, ({ req }) => tradingStream(desk, options, options.streamSlot?.(req)))
    .on("POST", "/api/trading/kill", async ({ req }) => {
      const reason = await killReason(req);
      const ended = new Promise<boolean>((resolve) => {
        if (desk.done) return resolve(true);
        const stop = desk.watch((u) => {
          if (u.type !== "stopped") return;
          stop();
          resolve(true);
        });
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((r) => timer = setTimeout(() => r(false), killWaitMs));
      desk.kill(reason, { by: options.principalOf?.(req)?.subject });
      const stopped = await Promise.race([ended, late]);
      clearTimeout(timer);
      return json({ stopped, reason, openOrders: desk.open.length }, {
        status: stopped ? 200 : 202,
      });
    });
}

async function killReason(req: Request): Promise<string> {
  const text = await readBodyText(req, { maxBytes: 4096 });
  if (text.trim() === "") return "kill switch (server)";
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the body must be JSON: { "reason": "..." }');
  }
  const reason = (body as { reason?: unknown })?.reason;
  if (reason === undefined) return "kill switch (server)";
  if (typeof reason !== "string" || reason.length === 0 || reason.length > 200) {
    throw new HttpError(400, "reason must be a string of 1 to 200 characters");
  }
  return `kill switch (server): ${reason}`;
}

/** The snapshot a stream starts with. */
function snapshotOf(desk: TradingDesk) {
  return {
    strategy: desk.strategy.name,
    broker: desk.broker.name,
    positions: desk.positions(),
    orders: desk.open.map(orderRow),
    fills: newest(desk.fills, RECENT_FILLS),
    pnl: pnlOf(desk),
  };
}

/** The server-sent event stream of one client. */
function tradingStream(
  desk: TradingDesk,
  options: TradingRouteOptions,
  onEnd: (() => void) | undefined,
): Response {
  const encoder = new TextEncoder();
  const maxQueued = options.maxQueued ?? 10_000;
  const changed = new Map<number, Readonly<Order>>();
  let fills: Fill[] = [];
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let pnlTimer: ReturnType<typeof setInterval> | undefined;
  let unwatch: (() => void) | undefined;
  let closed = false;
  const onAbort = () => end();
  let controller!: ReadableStreamDefaultController<Uint8Array>;

  function cleanup(): void {
    if (closed) return;
    closed = true;
    onEnd?.();
    unwatch?.();
    clearTimeout(flushTimer);
    clearInterval(pnlTimer);
    options.signal?.removeEventListener("abort", onAbort);
  }

  function end(): void {
    if (closed) return;
    cleanup();
    try {
      controller.close();
    } catch { /* already closed */ }
  }

  function send(event: string, data: unknown): void {
    if (closed) return;
    if ((controller.desiredSize ?? 0) < -maxQueued) {
      end(); // a client that does not read is dropped, not buffered for ever
      return;
    }
    controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
  }

  function flush(): void {
    flushTimer = undefined;
    for (const o of changed.values()) send("order", orderRow(o));
    changed.clear();
    for (const f of fills) send("fill", f);
    if (fills.length > 0) send("positions", desk.positions());
    fills = [];
    send("pnl", pnlOf(desk));
  }

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      if (options.signal?.aborted) return end();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      send("snapshot", snapshotOf(desk));
      if (desk.done) {
        send("stopped", { running: false });
        return end();
      }
      unwatch = desk.watch((u) => {
        if (u.type === "stopped") {
          flush();
          send("stopped", { reason: u.reason, running: false });
          return end();
        }
        if (u.type === "order") changed.set(u.order.id, u.order);
        else fills.push(u.fill);
        flushTimer ??= setTimeout(flush, 50);
      });
      pnlTimer = setInterval(() => send("pnl", pnlOf(desk)), options.pnlEveryMs ?? 1000);
    },
    cancel() {
      cleanup();
    },
  });
  return new Response(body, { headers: SSE_HEADERS });
}

/** Headers of the event stream (no proxy buffering: events go out as they happen). */
const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-store",
  "x-accel-buffering": "no",
};
