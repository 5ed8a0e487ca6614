/**
 * Alpaca paper trading as a {@linkcode Broker}: orders through the REST API (`POST /v2/orders`,
 * `PATCH` / `DELETE /v2/orders/{id}`, `GET /v2/orders`, `/v2/positions`, `/v2/account`), order
 * and fill updates from the `trade_updates` websocket stream.
 *
 * Keys come from the options (the program reads `ALPACA_API_KEY` / `ALPACA_API_SECRET`); they
 * travel only in request headers and the stream's auth message and are never logged or put in
 * an error. Every order carries the runner's client order id: when Alpaca answers that the id
 * is already taken (a restarted runner sending an order it had sent before), the broker adopts
 * the existing order instead of sending a second one.
 *
 * REST errors: 401/403/422 reject the order (reason `http STATUS: message`); 429 is retried
 * after a back-off (up to `retries` times) and then rejects.
 * @module
 */
import type { Fill, OrderAmendment, OrderReport } from "../backtest/types.ts";
import type {
  Broker,
  BrokerAccount,
  BrokerListener,
  BrokerOrder,
  BrokerOrderRequest,
  BrokerPosition,
} from "./broker.ts";
import { wallMicros } from "./scheduler.ts";
import { type AlpacaOrder, AlpacaRest, idFromClient } from "./_alpaca_rest.ts";

export { idFromClient };

/** The paper trading base URL. */
export const ALPACA_PAPER_URL = "https://paper-api.alpaca.markets";

/** Options of {@linkcode AlpacaPaperBroker}. */
export interface AlpacaPaperBrokerOptions {
  readonly key: string;
  readonly secret: string;
  /** REST base URL (default {@linkcode ALPACA_PAPER_URL}). */
  readonly baseUrl?: string;
  /** `trade_updates` websocket URL (default `<baseUrl>/stream` with ws(s)). */
  readonly streamUrl?: string;
  /** The exchange name of its instruments in the runner (default `alpaca`). */
  readonly exchange?: string;
  /**
   * The runner's `runId` plus `-`: open orders found at the broker with this prefix (a run
   * before a restart) are tracked, so they can be cancelled. Default: every `<x>-<n>` id.
   */
  readonly clientOrderPrefix?: string;
  /** 429 retries (default 3) and the first back-off in ms (default 200, doubling). */
  readonly retries?: number;
  readonly backoffMs?: number;
}

interface Tracked {
  readonly id: number;
  readonly clientOrderId: string;
  readonly symbol: string;
  readonly side: "buy" | "sell";
  alpacaId: string;
  price: number;
  size: number;
  filled: number;
  /** Sum of price x size of the fills reported. */
  notional: number;
  done: boolean;
}

/** A broker on Alpaca's paper trading API. */
export class AlpacaPaperBroker implements Broker {
  readonly name = "alpaca-paper";
  readonly #key: string;
  readonly #secret: string;
  readonly #base: string;
  readonly #streamUrl: string;
  readonly #exchange: string;
  readonly #prefix: string;
  readonly #backoff: number;
  readonly #rest: AlpacaRest;
  readonly #listeners = new Set<BrokerListener>();
  readonly #byClient = new Map<string, Tracked>();
  readonly #byId = new Map<number, Tracked>();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #socket: WebSocket | undefined;
  #fills = 0;
  #closed = false;

  constructor(options: AlpacaPaperBrokerOptions) {
    if (typeof options?.key !== "string" || options.key === "") {
      throw new TypeError("an Alpaca API key is required");
    }
    if (typeof options.secret !== "string" || options.secret === "") {
      throw new TypeError("an Alpaca API secret is required");
    }
    this.#key = options.key;
    this.#secret = options.secret;
    this.#base = (options.baseUrl ?? ALPACA_PAPER_URL).replace(/\/$/, "");
    this.#streamUrl = options.streamUrl ?? this.#base.replace(/^http/, "ws") + "/stream";
    this.#exchange = options.exchange ?? "alpaca";
    this.#prefix = options.clientOrderPrefix ?? "";
    this.#backoff = options.backoffMs ?? 200;
    this.#rest = new AlpacaRest({
      key: this.#key,
      secret: this.#secret,
      baseUrl: this.#base,
      retries: options.retries ?? 3,
      backoffMs: this.#backoff,
      closed: () => this.#closed,
    });
  }

  /**
   * Opens the `trade_updates` stream; resolves once Alpaca listens. A stream that drops is
   * reopened (after `backoffMs`, doubling up to 5 s) and every order still open is fetched
   * again, so updates sent while it was down are not lost.
   *
   * Also reads the account once: keys Alpaca refuses fail here rather than on the first
   * order, and the first order reuses the REST connection this opened (on loopback its
   * setup took 100-200 ms under load, the worst order latency of a run).
   */
  async connect(): Promise<void> {
    const [account, stream] = await Promise.allSettled([
      this.#rest.request("GET", "/v2/account"),
      this.#open(),
    ]);
    if (account.status === "fulfilled" && account.value.ok && stream.status === "fulfilled") return;
    this.#closed = true;
    this.#socket?.close();
    if (account.status === "rejected") throw account.reason;
    if (!account.value.ok) {
      const { status, message } = account.value;
      throw new Error(`Alpaca refused the account request: ${status} ${message}`);
    }
    throw (stream as PromiseRejectedResult).reason;
  }

  #open(): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const ws = new WebSocket(this.#streamUrl);
    this.#socket = ws;
    ws.binaryType = "arraybuffer";
    let listening = false;
    ws.onopen = () =>
      ws.send(JSON.stringify({ action: "auth", key: this.#key, secret: this.#secret }));
    ws.onerror = () => {
      if (!listening) reject(new Error("trade_updates stream failed"));
    };
    ws.onclose = () => {
      if (!listening) reject(new Error("trade_updates stream closed before listening"));
      else if (!this.#closed) this.#reconnect(0);
    };
    ws.onmessage = (m) => {
      const text = typeof m.data === "string" ? m.data : new TextDecoder().decode(m.data);
      let msg: { stream?: string; data?: Record<string, unknown> };
      try {
        msg = JSON.parse(text);
      } catch {
        return; // a malformed frame is dropped
      }
      if (msg.stream === "authorization") {
        if (msg.data?.status !== "authorized") {
          reject(new Error("trade_updates stream: not authorized"));
          ws.close();
          return;
        }
        ws.send(JSON.stringify({ action: "listen", data: { streams: ["trade_updates"] } }));
      } else if (msg.stream === "listening") {
        listening = true;
        resolve();
      } else if (msg.stream === "trade_updates" && msg.data) this.#onUpdate(msg.data);
    };
    return promise;
  }

  #reconnect(attempt: number): void {
    this.#venue("stream_dropped", { attempt });
    const delay = Math.min(5000, this.#backoff * 2 ** attempt);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#closed) return;
      this.#track(
        this.#open().then(() => this.#resync(), () => {
          if (!this.#closed) this.#reconnect(attempt + 1);
        }),
      );
    }, delay);
    this.#timers.add(timer);
  }

  /** After a reconnect: what happened to each open order while the stream was down. */
  async #resync(): Promise<void> {
    this.#venue("stream_reconnected", {});
    for (const t of [...this.#byId.values()]) {
      if (t.done || t.alpacaId === "") continue;
      const res = await this.#rest.request("GET", `/v2/orders/${t.alpacaId}`);
      if (!res.ok) continue;
      const o = res.json as AlpacaOrder;
      const filled = Number(o.filled_qty);
      if (filled > t.filled + 1e-12) {
        // Missed fills, as one: the size and the price that make the totals match.
        const size = filled - t.filled;
        const price = (Number(o.filled_avg_price) * filled - t.notional) / size;
        const event = o.status === "filled" ? "fill" : "partial_fill";
        this.#onFill(t, { event, qty: size, price }, wallMicros());
      }
      if (o.status === "canceled" || o.status === "expired") {
        this.#close(t, "cancelled", o.status);
      } else if (o.status === "rejected") this.#close(t, "rejected", "rejected by alpaca");
    }
  }

  subscribe(listener: BrokerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  submit(r: BrokerOrderRequest): void {
    const t: Tracked = {
      id: r.id,
      clientOrderId: r.clientOrderId,
      symbol: r.symbol,
      side: r.side,
      alpacaId: "",
      price: r.price ?? NaN,
      size: r.size,
      filled: 0,
      notional: 0,
      done: false,
    };
    this.#byClient.set(t.clientOrderId, t);
    this.#byId.set(t.id, t);
    const body: Record<string, unknown> = {
      symbol: r.symbol,
      qty: String(r.size),
      side: r.side,
      type: r.type === "stop" ? (r.price === undefined ? "stop" : "stop_limit") : r.type,
      time_in_force: r.type === "market" ? "ioc" : r.timeInForce ?? "gtc",
      client_order_id: r.clientOrderId,
    };
    if (r.type !== "market" && r.price !== undefined) body.limit_price = String(r.price);
    if (r.stopPrice !== undefined) body.stop_price = String(r.stopPrice);
    this.#track(this.#submit(t, body));
  }

  async #submit(t: Tracked, body: Record<string, unknown>): Promise<void> {
    const res = await this.#rest.request("POST", "/v2/orders", body);
    if (res.ok) {
      t.alpacaId = (res.json as AlpacaOrder).id;
      return;
    }
    if (res.status === 422 && /client_order_id/i.test(res.message)) {
      // Sent before (a restart): adopt the order Alpaca already has.
      const found = await this.#rest.request(
        "GET",
        `/v2/orders:by_client_order_id?client_order_id=${encodeURIComponent(t.clientOrderId)}`,
      );
      if (found.ok) {
        const o = found.json as AlpacaOrder;
        t.alpacaId = o.id;
        this.#venue("adopted", { id: t.id, clientOrderId: t.clientOrderId, status: o.status });
        this.#adopt(t, o);
        return;
      }
    }
    this.#close(t, "rejected", `http ${res.status}: ${res.message}`);
  }

  /**
   * Tells the runner where an order sent before a restart stands: closed, or accepted with
   * what filled before as one fill at the average price (so the runner's position, rebuilt
   * from reports, matches the broker's).
   */
  #adopt(t: Tracked, o: AlpacaOrder): void {
    if (o.status === "rejected") return this.#close(t, "rejected", "rejected before the restart");
    this.#report({ kind: "accepted", orderId: t.id, ts: wallMicros() });
    const filled = Number(o.filled_qty);
    if (filled > 0) {
      const event = o.status === "filled" ? "fill" : "partial_fill";
      this.#onFill(t, { event, qty: filled, price: Number(o.filled_avg_price) }, wallMicros());
    }
    if (o.status === "canceled" || o.status === "expired" || o.status === "replaced") {
      this.#close(t, "cancelled", `${o.status} before the restart`);
    }
  }

  amend(id: number, a: OrderAmendment): void {
    const t = this.#byId.get(id);
    if (t === undefined || t.done) return;
    const body: Record<string, unknown> = {};
    if (a?.size !== undefined) body.qty = String(a.size);
    if (a?.price !== undefined) body.limit_price = String(a.price);
    this.#track((async () => {
      const res = await this.#rest.request("PATCH", `/v2/orders/${t.alpacaId}`, body);
      if (!res.ok) {
        this.#venue("amend_rejected", { id, reason: `http ${res.status}: ${res.message}` });
      }
    })());
  }

  cancel(id: number): void {
    const t = this.#byId.get(id);
    if (t === undefined || t.done) return;
    this.#track((async () => {
      const res = await this.#rest.request("DELETE", `/v2/orders/${t.alpacaId}`);
      if (!res.ok) {
        this.#venue("cancel_rejected", { id, reason: `http ${res.status}: ${res.message}` });
      }
    })());
  }

  cancelAll(reason: string): void {
    this.#venue("cancel_all", { reason });
    this.#track(this.#rest.request("DELETE", "/v2/orders"));
  }

  async openOrders(): Promise<readonly BrokerOrder[]> {
    const res = await this.#rest.request("GET", "/v2/orders?status=open&limit=500");
    if (!res.ok) throw new Error(`open orders: http ${res.status}: ${res.message}`);
    for (const o of res.json as AlpacaOrder[]) this.#learn(o);
    return (res.json as AlpacaOrder[]).map((o) => ({
      id: this.#byClient.get(o.client_order_id)?.id ?? idFromClient(o.client_order_id),
      clientOrderId: o.client_order_id,
      exchange: this.#exchange,
      symbol: o.symbol,
      side: o.side,
      price: o.limit_price === null ? NaN : Number(o.limit_price),
      size: Number(o.qty),
      filled: Number(o.filled_qty),
    }));
  }

  /** Tracks an open order this broker did not send (a run before a restart), by its id. */
  #learn(o: AlpacaOrder): void {
    const id = idFromClient(o.client_order_id);
    if (
      !o.client_order_id.startsWith(this.#prefix) || this.#byClient.has(o.client_order_id) ||
      !Number.isInteger(id) || this.#byId.has(id)
    ) {
      return;
    }
    const filled = Number(o.filled_qty);
    const t: Tracked = {
      id,
      clientOrderId: o.client_order_id,
      symbol: o.symbol,
      side: o.side,
      alpacaId: o.id,
      price: o.limit_price === null ? NaN : Number(o.limit_price),
      size: Number(o.qty),
      filled,
      notional: filled * Number(o.filled_avg_price ?? 0),
      done: false,
    };
    this.#byClient.set(t.clientOrderId, t);
    this.#byId.set(id, t);
  }

  async positions(): Promise<readonly BrokerPosition[]> {
    const res = await this.#rest.request("GET", "/v2/positions");
    if (!res.ok) throw new Error(`positions: http ${res.status}: ${res.message}`);
    return (res.json as { symbol: string; qty: string; avg_entry_price: string }[]).map((p) => ({
      exchange: this.#exchange,
      symbol: p.symbol,
      position: Number(p.qty),
      avgPrice: Number(p.avg_entry_price),
    }));
  }

  async account(): Promise<BrokerAccount> {
    const res = await this.#rest.request("GET", "/v2/account");
    if (!res.ok) throw new Error(`account: http ${res.status}: ${res.message}`);
    const a = res.json as { cash: string; equity: string };
    return { cash: Number(a.cash), equity: Number(a.equity) };
  }

  /** Waits for every request in flight. */
  async settle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await this.settle();
    const ws = this.#socket;
    if (ws !== undefined && ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise((r) => ws.addEventListener("close", r, { once: true }));
      ws.close();
      await closed;
    }
    this.#listeners.clear();
  }

  #onUpdate(d: Record<string, unknown>): void {
    const o = d.order as AlpacaOrder | undefined;
    if (o === undefined) return;
    let t = this.#byClient.get(o.client_order_id);
    const replaces = (o as unknown as { replaces?: string }).replaces;
    if (t === undefined && replaces) {
      t = [...this.#byId.values()].find((x) => x.alpacaId === replaces);
      if (t !== undefined) this.#byClient.set(o.client_order_id, t);
    }
    if (t === undefined) return; // not ours
    const ts = wallMicros();
    switch (d.event) {
      case "new":
        if (replaces && t.alpacaId !== o.id) this.#amended(t, o, ts);
        else {
          if (t.alpacaId === "") t.alpacaId = o.id;
          this.#venue("accepted", { id: t.id });
          this.#report({ kind: "accepted", orderId: t.id, ts });
        }
        break;
      case "partial_fill":
      case "fill":
        this.#onFill(t, d, ts);
        break;
      case "canceled":
      case "expired":
        this.#close(t, "cancelled", String(d.event));
        break;
      case "rejected":
        this.#close(t, "rejected", "rejected by alpaca");
        break;
        // "replaced" (the old order of an amendment): the new order's "new" carries the change
    }
  }

  #amended(t: Tracked, o: AlpacaOrder, ts: number): void {
    t.alpacaId = o.id;
    t.price = o.limit_price === null ? NaN : Number(o.limit_price);
    t.size = Number(o.qty);
    this.#venue("amended", { id: t.id, price: t.price, size: t.size });
    this.#report({ kind: "amended", orderId: t.id, ts, price: t.price, size: t.size });
  }

  #onFill(t: Tracked, d: Record<string, unknown>, ts: number): void {
    const size = Number(d.qty);
    const price = Number(d.price);
    if (!(size > 0) || !(price > 0)) return;
    t.filled += size;
    t.notional += size * price;
    const fill: Fill = {
      id: ++this.#fills,
      orderId: t.id,
      exchange: this.#exchange,
      symbol: t.symbol,
      side: t.side,
      price,
      size,
      fee: 0,
      liquidity: "taker",
      ts,
    };
    this.#venue("fill", {
      id: fill.id,
      order: t.id,
      side: t.side,
      price,
      size,
      fee: 0,
      liquidity: "taker",
      position: Number(d.position_qty ?? NaN),
    });
    if (d.event === "fill") t.done = true;
    this.#report({ kind: "fill", orderId: t.id, ts, fill });
  }

  #close(t: Tracked, kind: "cancelled" | "rejected", reason: string): void {
    if (t.done) return;
    t.done = true;
    const ts = wallMicros();
    this.#venue(kind, { id: t.id, reason });
    this.#report({ kind, orderId: t.id, ts, reason });
  }

  #venue(action: string, data: Record<string, unknown>): void {
    const ts = wallMicros();
    for (const l of this.#listeners) l.venue(action, ts, data);
  }

  #report(r: OrderReport): void {
    for (const l of this.#listeners) l.report(r);
  }

  #track(p: Promise<unknown>): void {
    const q = p.catch((err) => this.#venue("broker_error", { error: String(err?.message ?? err) }))
      .finally(() => this.#inflight.delete(q));
    this.#inflight.add(q);
  }
}
