/**
 * A server under synthetic load, run as a child process by `deno task soak` and
 * `deno task bench server`: {@linkcode startServer} over an empty in-memory repository, its
 * hub fed `--rate` trades a second spread over `--symbols` symbols (`SYM0-USD`, ...), one
 * `hub.write` every `--tick-ms`.
 *
 * Every trade carries its publish time in `recvTs` (epoch microseconds, from
 * `performance.timeOrigin + performance.now()`, comparable across processes on one host) and
 * a per-symbol sequence number in `id`, so clients can measure publish-to-receive latency and
 * check order. Prints `{"port":N,"pid":P}` once listening; stops on SIGTERM, SIGINT or when
 * stdin closes.
 *
 * ```sh
 * deno run -A scripts/load_server.ts [--rate 10000] [--symbols 10] [--tick-ms 10] \
 *   [--max-connections 5000] [--max-per-address 100000] [--guard]
 * ```
 * `--guard` puts the connection guard (`server/conn_guard.ts`, on by default on any bind but
 * loopback) in front of the server, as a server on a network runs, so its cost can be measured.
 * @module
 */
import { parseArgs } from "node:util";
import type { Trade } from "../lib/market/types.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { startServer, StreamHub } from "../server/mod.ts";

/** Epoch microseconds with sub-millisecond resolution, comparable across local processes. */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** The symbol of index `i` (`SYM0-USD`...). */
export function loadSymbol(i: number): string {
  return `SYM${i}-USD`;
}

function positiveNumber(text: string, name: string): number {
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`--${name} must be a positive number, got "${text}"`);
  }
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rate: { type: "string", default: "10000" },
      symbols: { type: "string", default: "10" },
      "tick-ms": { type: "string", default: "10" },
      "max-connections": { type: "string", default: "5000" },
      "max-per-address": { type: "string", default: "100000" },
      guard: { type: "boolean", default: false },
    },
  });
  const rate = positiveNumber(values.rate, "rate");
  const symbolCount = Math.round(positiveNumber(values.symbols, "symbols"));
  const tickMs = positiveNumber(values["tick-ms"], "tick-ms");
  const hub = new StreamHub();
  const server = await startServer({
    repository: new MemoryRepository([]),
    hub,
    port: 0,
    connectionGuard: values.guard,
    limits: {
      maxConnections: Math.round(positiveNumber(values["max-connections"], "max-connections")),
      maxConnectionsPerAddress: Math.round(
        positiveNumber(values["max-per-address"], "max-per-address"),
      ),
    },
  });
  const sequence = new Array<number>(symbolCount).fill(0);
  const started = performance.now();
  let published = 0;
  let next = 0;
  const timer = setInterval(() => {
    // Catch up on the schedule: the total published follows rate * elapsed, whatever the
    // timer's jitter.
    const due = Math.floor((performance.now() - started) / 1000 * rate) - published;
    if (due <= 0) return;
    const stamp = nowMicros();
    const batch: Trade[] = new Array(due);
    for (let i = 0; i < due; i++) {
      const s = next;
      next = (next + 1) % symbolCount;
      batch[i] = {
        kind: "trade",
        exchange: "load",
        symbol: loadSymbol(s),
        ts: stamp,
        recvTs: stamp,
        id: String(sequence[s]++),
        price: 100 + (published + i) % 100 / 100,
        size: 0.01,
        side: i % 2 ? "buy" : "sell",
      };
    }
    published += due;
    hub.write(batch);
  }, tickMs);
  console.log(JSON.stringify({ port: server.port, pid: Deno.pid }));

  const stopped = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stopped.resolve());
  }
  // A parent that dies closes our stdin: stop with it.
  (async () => {
    for await (const _ of Deno.stdin.readable) { /* ignore input */ }
    stopped.resolve();
  })();
  await stopped.promise;
  clearInterval(timer);
  await server.shutdown();
  await hub.close();
  Deno.exit(0);
}

if (import.meta.main) await main();
