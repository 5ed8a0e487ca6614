/**
 * The least of Alpaca's paper API a latency benchmark needs, on 127.0.0.1: `POST /v2/orders`
 * (answered with a new order, its arrival time kept), `DELETE /v2/orders`, `GET` lists (empty),
 * and the `trade_updates` handshake. Benchmarks do not borrow the tests' full fake.
 * @module
 */

/** A running loopback server. */
export interface AlpacaLoopback {
  readonly baseUrl: string;
  readonly streamUrl: string;
  /** `performance.now()` at each `POST /v2/orders`. */
  readonly postTimes: number[];
  shutdown(): Promise<void>;
}

/** Starts the server. */
export function startAlpacaLoopback(): AlpacaLoopback {
  const postTimes: number[] = [];
  let n = 0;
  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/stream") {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (m) => {
        const msg = JSON.parse(String(m.data));
        const reply = msg.action === "auth"
          ? { stream: "authorization", data: { status: "authorized", action: "authenticate" } }
          : { stream: "listening", data: { streams: ["trade_updates"] } };
        socket.send(JSON.stringify(reply));
      };
      return response;
    }
    if (req.method === "POST" && url.pathname === "/v2/orders") {
      postTimes.push(performance.now());
      const body = await req.json();
      return json({ ...body, id: `o-${++n}`, status: "new", filled_qty: "0" });
    }
    await req.body?.cancel();
    if (req.method === "DELETE") return json([], 207);
    return json([]);
  });
  const { port } = server.addr as Deno.NetAddr;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    streamUrl: `ws://127.0.0.1:${port}/stream`,
    postTimes,
    shutdown: () => server.shutdown(),
  };
}
