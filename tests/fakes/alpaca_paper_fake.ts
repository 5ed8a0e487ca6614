/**
 * A local fake of Alpaca's paper trading API on 127.0.0.1: the REST routes a broker uses
 * (`/v2/orders`, `/v2/orders/{id}`, `/v2/orders:by_client_order_id`, `/v2/positions`,
 * `/v2/account`) with key headers checked, and the `trade_updates` websocket (auth, listen,
 * events as binary frames like the paper stream sends). The test drives the venue: fills,
 * rejections, expiries, injected HTTP errors, a dropped stream.
 * @module
 */

/** An order the fake holds (Alpaca's JSON shape, the fields used). */
export interface FakeOrder {
  id: string;
  client_order_id: string;
  symbol: string;
  side: "buy" | "sell";
  type: string;
  time_in_force: string;
  qty: string;
  filled_qty: string;
  filled_avg_price: string | null;
  limit_price: string | null;
  status: string;
  replaces: string | null;
}

/** A running fake. */
export interface AlpacaPaperFake {
  readonly baseUrl: string;
  readonly streamUrl: string;
  /** Orders created (every successful POST and PATCH), in order. */
  readonly orders: FakeOrder[];
  /** Every REST request as `METHOD path`. */
  readonly requests: string[];
  /** Every text received on the stream (auth messages included). */
  readonly streamReceived: string[];
  /** The next `n` REST requests answer `status` with `message`. */
  failNext(status: number, n?: number, message?: string): void;
  /** Fills `qty` of the order at `price` (partial_fill, or fill when complete). */
  fill(clientOrderId: string, qty: number, price: number): void;
  /** The venue rejects or expires an open order. */
  reject(clientOrderId: string): void;
  expire(clientOrderId: string): void;
  /** Closes every stream connection. */
  dropStream(): void;
  shutdown(): Promise<void>;
}

/** Starts the fake with the credentials it accepts and the starting cash. */
export function startAlpacaPaperFake(
  options: { key: string; secret: string; cash?: number },
): AlpacaPaperFake {
  const orders: FakeOrder[] = [];
  const requests: string[] = [];
  const streamReceived: string[] = [];
  const sockets = new Set<WebSocket>();
  const positions = new Map<string, { qty: number; avg: number }>();
  let cash = options.cash ?? 100_000;
  let faults: { status: number; message: string }[] = [];
  let nextId = 0;

  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const error = (status: number, message: string) => json({ code: status * 1e5, message }, status);
  const byClient = (c: string) => orders.find((o) => o.client_order_id === c);
  const open = (o: FakeOrder) => o.status === "new" || o.status === "partially_filled";
  const emit = (event: string, order: FakeOrder, extra: Record<string, unknown> = {}) => {
    const frame = new TextEncoder().encode(JSON.stringify({
      stream: "trade_updates",
      data: { event, order: { ...order }, timestamp: new Date().toISOString(), ...extra },
    }));
    for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send(frame);
  };
  const create = (body: Record<string, unknown>, replaces: string | null): FakeOrder => {
    const o: FakeOrder = {
      id: `fake-${++nextId}`,
      client_order_id: String(body.client_order_id ?? `auto-${nextId}`),
      symbol: String(body.symbol),
      side: body.side as "buy" | "sell",
      type: String(body.type),
      time_in_force: String(body.time_in_force),
      qty: String(body.qty),
      filled_qty: "0",
      filled_avg_price: null,
      limit_price: body.limit_price === undefined ? null : String(body.limit_price),
      status: "new",
      replaces,
    };
    orders.push(o);
    return o;
  };

  async function rest(req: Request, url: URL): Promise<Response> {
    const path = url.pathname + url.search;
    requests.push(`${req.method} ${path}`);
    if (
      req.headers.get("APCA-API-KEY-ID") !== options.key ||
      req.headers.get("APCA-API-SECRET-KEY") !== options.secret
    ) return error(401, "request is not authorized");
    const fault = faults.shift();
    if (fault) return error(fault.status, fault.message);
    const text = await req.text();
    const body = text === "" ? {} : JSON.parse(text);
    const p = url.pathname;
    if (req.method === "POST" && p === "/v2/orders") {
      if (!(Number(body.qty) > 0)) return error(422, "qty must be > 0");
      if (body.client_order_id && byClient(body.client_order_id)) {
        return error(422, "client_order_id must be unique");
      }
      const o = create(body, null);
      queueMicrotask(() => emit("new", o));
      return json(o);
    }
    if (req.method === "GET" && p === "/v2/orders") {
      return json(orders.filter((o) => url.searchParams.get("status") !== "open" || open(o)));
    }
    if (req.method === "GET" && p === "/v2/orders:by_client_order_id") {
      const o = byClient(url.searchParams.get("client_order_id") ?? "");
      return o ? json(o) : error(404, "order not found");
    }
    if (req.method === "DELETE" && p === "/v2/orders") {
      const out = orders.filter(open).map((o) => {
        o.status = "canceled";
        emit("canceled", o);
        return { id: o.id, status: 200 };
      });
      return json(out, 207);
    }
    const m = /^\/v2\/orders\/([^/]+)$/.exec(p);
    const target = m ? orders.find((o) => o.id === m[1]) : undefined;
    if (m && !target) return error(404, "order not found");
    if (req.method === "GET" && target) return json(target);
    if (req.method === "DELETE" && target) {
      if (!open(target)) return error(422, `order is already in "${target.status}" state`);
      target.status = "canceled";
      emit("canceled", target);
      return new Response(null, { status: 204 });
    }
    if (req.method === "PATCH" && target) {
      if (!open(target)) return error(422, "order is not open");
      target.status = "replaced";
      const next = create({
        ...target,
        qty: body.qty ?? target.qty,
        limit_price: body.limit_price ?? target.limit_price,
        client_order_id: body.client_order_id,
      }, target.id);
      emit("replaced", target);
      emit("new", next);
      return json(next);
    }
    if (req.method === "GET" && p === "/v2/positions") {
      return json(
        [...positions].filter(([, x]) => x.qty !== 0).map(([symbol, x]) => ({
          symbol,
          qty: String(x.qty),
          avg_entry_price: String(x.avg),
          side: x.qty > 0 ? "long" : "short",
        })),
      );
    }
    if (req.method === "GET" && p === "/v2/account") {
      let equity = cash;
      for (const x of positions.values()) equity += x.qty * x.avg;
      return json({ cash: String(cash), equity: String(equity), status: "ACTIVE" });
    }
    return error(404, "not found");
  }

  function stream(req: Request): Response {
    const { socket, response } = Deno.upgradeWebSocket(req);
    let authed = false;
    socket.onmessage = (m) => {
      const text = String(m.data);
      streamReceived.push(text);
      const msg = JSON.parse(text);
      if (msg.action === "auth") {
        authed = msg.key === options.key && msg.secret === options.secret;
        socket.send(JSON.stringify({
          stream: "authorization",
          data: { status: authed ? "authorized" : "unauthorized", action: "authenticate" },
        }));
        if (!authed) socket.close();
      } else if (msg.action === "listen" && authed) {
        sockets.add(socket);
        socket.send(JSON.stringify({ stream: "listening", data: { streams: ["trade_updates"] } }));
      }
    };
    socket.onclose = () => sockets.delete(socket);
    return response;
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    return url.pathname === "/stream" ? stream(req) : rest(req, url);
  });
  const { port } = server.addr as Deno.NetAddr;
  const mustOpen = (c: string) => {
    const o = byClient(c);
    if (!o || !open(o)) throw new RangeError(`no open order ${c}`);
    return o;
  };
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    streamUrl: `ws://127.0.0.1:${port}/stream`,
    orders,
    requests,
    streamReceived,
    failNext(status, n = 1, message = `fault ${status}`) {
      for (let i = 0; i < n; i++) faults.push({ status, message });
    },
    fill(c, qty, price) {
      const o = mustOpen(c);
      const before = Number(o.filled_qty);
      const filled = before + qty;
      const avg = ((Number(o.filled_avg_price ?? 0) * before) + price * qty) / filled;
      o.filled_qty = String(filled);
      o.filled_avg_price = String(avg);
      o.status = filled >= Number(o.qty) ? "filled" : "partially_filled";
      const sign = o.side === "buy" ? 1 : -1;
      const pos = positions.get(o.symbol) ?? { qty: 0, avg: 0 };
      const next = pos.qty + sign * qty;
      // Average entry price: weighted while the position grows (enough for these tests).
      pos.avg = next === 0 ? 0 : (pos.avg * Math.abs(pos.qty) + price * qty) / Math.abs(next);
      pos.qty = next;
      positions.set(o.symbol, pos);
      cash -= sign * qty * price;
      emit(o.status === "filled" ? "fill" : "partial_fill", o, {
        price: String(price),
        qty: String(qty),
        position_qty: String(next),
      });
    },
    reject(c) {
      const o = mustOpen(c);
      o.status = "rejected";
      emit("rejected", o);
    },
    expire(c) {
      const o = mustOpen(c);
      o.status = "expired";
      emit("expired", o);
    },
    dropStream() {
      for (const ws of sockets) ws.close();
      sockets.clear();
    },
    async shutdown() {
      for (const ws of sockets) ws.close();
      faults = [];
      await server.shutdown();
    },
  };
}
