/**
 * The least of Alpaca's paper API a latency benchmark needs, on 127.0.0.1: `POST /v2/orders`
 * (answered with a new order, its arrival time kept), `DELETE /v2/orders`, `GET` lists (empty),
 * and the `trade_updates` handshake. Benchmarks do not borrow the tests' full fake.
 *
 * In this process ({@linkcode startAlpacaLoopback}) or in its own
 * ({@linkcode spawnAlpacaLoopback}, running this file as a program), so that its request
 * handling does not share the runner's thread, as a real venue would not. Arrival times are
 * epoch milliseconds (`performance.timeOrigin + performance.now()`), comparable across
 * processes on one machine.
 * @module
 */

/** A running loopback server. */
export interface AlpacaLoopback {
  readonly baseUrl: string;
  readonly streamUrl: string;
  /** Epoch ms at each `POST /v2/orders` (a subprocess fills it in at shutdown). */
  readonly postTimes: number[];
  shutdown(): Promise<void>;
}

/** Epoch milliseconds, sub-millisecond precision. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Starts the server in this process. */
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
      postTimes.push(epochMs());
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

/**
 * Starts the server in a child process: its URLs come as the child's first line on stdout;
 * closing its stdin makes it print its POST times and exit.
 */
export async function spawnAlpacaLoopback(): Promise<AlpacaLoopback> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", new URL(import.meta.url).pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error("the loopback server exited before listening");
    text += value;
  }
  const first = text.slice(0, text.indexOf("\n"));
  let rest = text.slice(first.length + 1);
  const { baseUrl, streamUrl } = JSON.parse(first);
  const postTimes: number[] = [];
  return {
    baseUrl,
    streamUrl,
    postTimes,
    async shutdown() {
      await child.stdin.close();
      for (;;) {
        const { value, done } = await lines.read();
        if (done) break;
        rest += value;
      }
      postTimes.push(...JSON.parse(rest));
      await child.status;
    },
  };
}

if (import.meta.main) {
  const server = startAlpacaLoopback();
  console.log(JSON.stringify({ baseUrl: server.baseUrl, streamUrl: server.streamUrl }));
  for await (const _ of Deno.stdin.readable) { /* until the parent closes stdin */ }
  await server.shutdown();
  console.log(JSON.stringify(server.postTimes));
}
