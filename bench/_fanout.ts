/**
 * The live fan-out benchmark of `deno task bench server`, across processes:
 *
 * - the server runs in a child process (`scripts/load_server.ts`): `startServer` whose hub
 *   gets 10,000 trades/s over 10 symbols, one `hub.write` every 10 ms, each trade stamped
 *   with its publish time just before the write;
 * - 1,000 WebSocket clients run in two more child processes (`bench/_fanout_clients.ts`,
 *   500 each), client `i` subscribed to symbol `i % 10` (100 clients a symbol, 1,000 trades/s
 *   each), each recording publish-to-receive latency per event;
 * - this process only orchestrates, in three phases on the same connected clients:
 *   1. `baseline`: nothing else happens;
 *   2. `stalled`: one more WebSocket (a raw TCP handshake, subscribed to every symbol) never
 *      reads; the server drops it as slow within the phase;
 *   3. `cap_flood`: the server's stream cap is full and this process makes 5,000 more
 *      WebSocket upgrade attempts (50 at a time), each answered 503.
 *
 * Each phase reports p50/p99 over every event the 1,000 clients received in it (histogram
 * of 0.1 ms buckets), and the events lost or out of order.
 * @module
 */

/** Epoch microseconds, as the load server stamps them. */
function nowMicros(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

/** Settings of {@linkcode fanout}. */
export interface FanoutOptions {
  readonly clients?: number;
  readonly processes?: number;
  readonly rate?: number;
  readonly symbols?: number;
  readonly tickMs?: number;
  /** Length of each measured phase (default 10 s). */
  readonly phaseMs?: number;
  /** Connection attempts past the cap in the flood phase (default 5,000). */
  readonly floodAttempts?: number;
}

/** What one phase measured. */
export interface PhaseResult {
  readonly events: number;
  readonly expected: number;
  readonly breaks: number;
  /** Clients whose socket had closed by the phase's end (dropped as slow). */
  readonly closed: number;
  readonly p50: number;
  readonly p99: number;
}

/** The three phases, plus what the flood saw. */
export interface FanoutResult {
  readonly baseline: PhaseResult;
  readonly stalled: PhaseResult & { readonly stalledDropped: boolean };
  readonly capFlood: PhaseResult & { readonly refused: number; readonly attempts: number };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reads a child's stdout line by line. */
class Lines {
  #reader: ReadableStreamDefaultReader<string>;
  #pending = "";
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  async next(): Promise<string> {
    while (!this.#pending.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("child process ended early");
      this.#pending += value;
    }
    const end = this.#pending.indexOf("\n");
    const line = this.#pending.slice(0, end);
    this.#pending = this.#pending.slice(end + 1);
    return line;
  }
}

function spawn(script: string, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(script, import.meta.url).pathname, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  return {
    child,
    lines: new Lines(child.stdout),
    send: (line: string) => writer.write(encoder.encode(line + "\n")),
    close: () => writer.close().catch(() => {}),
  };
}

/** The HTTP/1.1 upgrade request of a WebSocket client. */
export function upgradeRequest(port: number, path: string): Uint8Array {
  return new TextEncoder().encode(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
      `Sec-WebSocket-Version: 13\r\n\r\n`,
  );
}

/** One upgrade attempt over raw TCP: the response's status code. */
export async function upgradeStatus(port: number, path: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(upgradeRequest(port, path));
    const buf = new Uint8Array(512);
    let head = "";
    while (!head.includes("\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      head += new TextDecoder().decode(buf.subarray(0, n));
    }
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  } finally {
    conn.close();
  }
}

function percentile(histogram: Map<number, number>, total: number, q: number): number {
  const target = Math.ceil(total * q);
  let seen = 0;
  for (const bucket of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(bucket)!;
    if (seen >= target) return (bucket + 1) * 0.1; // the bucket's upper edge, ms
  }
  return NaN;
}

/** Runs the three phases; see the module doc. */
export async function fanout(options: FanoutOptions = {}): Promise<FanoutResult> {
  const clients = options.clients ?? 1_000;
  const processes = options.processes ?? 2;
  const rate = options.rate ?? 10_000;
  const symbols = options.symbols ?? 10;
  const phaseMs = options.phaseMs ?? 10_000;
  const attempts = options.floodAttempts ?? 5_000;
  const cap = clients + 1;
  const server = spawn("../scripts/load_server.ts", [
    ...["--rate", String(rate), "--symbols", String(symbols)],
    ...["--tick-ms", String(options.tickMs ?? 10), "--max-connections", String(cap)],
  ]);
  const { port } = JSON.parse(await server.lines.next()) as { port: number };
  const base = `http://127.0.0.1:${port}/`;
  const per = Math.ceil(clients / processes);
  const workers = Array.from({ length: processes }, (_, k) =>
    spawn("./_fanout_clients.ts", [
      ...["--url", base.replace("http", "ws"), "--symbols", String(symbols)],
      ...["--count", String(Math.min(per, clients - k * per)), "--offset", String(k * per)],
    ]));
  try {
    for (const w of workers) {
      const line = await w.lines.next();
      if (line !== "ready") throw new Error(`clients: ${line}`);
    }
    await sleep(2_000); // warm-up
    const measure = async (during: () => Promise<void>): Promise<PhaseResult> => {
      for (const w of workers) await w.send("start");
      const from = nowMicros();
      await during();
      for (const w of workers) await w.send("stop");
      const seconds = (nowMicros() - from) / 1e6;
      const histogram = new Map<number, number>();
      let events = 0;
      let breaks = 0;
      let closed = 0;
      for (const w of workers) {
        const r = JSON.parse(await w.lines.next());
        events += r.events;
        breaks += r.breaks;
        closed += r.closed;
        for (const [b, n] of r.histogram as [number, number][]) {
          histogram.set(b, (histogram.get(b) ?? 0) + n);
        }
      }
      return {
        events,
        expected: Math.round(seconds * rate / symbols * clients),
        breaks,
        closed,
        p50: percentile(histogram, events, 0.5),
        p99: percentile(histogram, events, 0.99),
      };
    };
    const health = async () =>
      (await (await fetch(`${base}health`)).json()) as Record<string, number>;

    const baseline = await measure(() => sleep(phaseMs));

    let stalledDropped = false;
    const stalled = await measure(async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(upgradeRequest(port, "/ws?kinds=trade"));
      await sleep(phaseMs);
      stalledDropped = (await health()).slowDisconnects > 0;
      conn.close();
    });

    // Fill the cap with reading clients (one, unless clients were dropped as slow), then flood.
    let open = (await health()).openStreams;
    for (let i = 0; i < 50 && open > clients; i++) {
      await sleep(100);
      open = (await health()).openStreams;
    }
    const fillers = Array.from(
      { length: Math.max(0, cap - open) },
      () => new WebSocket(`${base.replace("http", "ws")}ws?kinds=trade&symbol=none`),
    );
    await Promise.all(fillers.map((f) => new Promise((r) => f.onopen = r)));
    let refused = 0;
    const capFlood = await measure(async () => {
      const started = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: 50 }, async () => {
        while (next < attempts) {
          next++;
          if (await upgradeStatus(port, "/ws?kinds=trade") === 503) refused++;
        }
      }));
      const left = phaseMs - (performance.now() - started);
      if (left > 0) await sleep(left);
    });
    for (const f of fillers) f.close();
    return {
      baseline,
      stalled: { ...stalled, stalledDropped },
      capFlood: { ...capFlood, refused, attempts },
    };
  } finally {
    for (const w of workers) {
      await w.send("exit").catch(() => {});
      await w.close();
      await w.child.status;
    }
    await server.close();
    await server.child.status;
  }
}
