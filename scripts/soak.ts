/**
 * `deno task soak [--minutes 10] [--clients 200] [--rate 2000] [--bound 20]`: runs a server
 * under load in a child process (`scripts/load_server.ts`: `--rate` trades a second over 10
 * symbols) and churns stream clients against it for `--minutes`, sampling the server's
 * resident memory (`VmRSS` in `/proc/PID/status`) every second.
 *
 * Each of the `--clients` slots loops: a WebSocket client subscribes to one symbol, waits for
 * its first message, stays 0.1-2 s and closes; every tenth turn is an SSE client instead.
 * Slot 0 instead opens a WebSocket that never reads (a raw TCP handshake), so the slow-client
 * drop runs all along.
 *
 * The starting RSS is the median of the samples in a window after a warm-up (`--warmup`
 * seconds; by default 10 % of the run, 5-60 s); the ending RSS the median of the last
 * window. A window is a fifth of the run (5-60 s): RSS saws up and down with the server's
 * garbage collections, and 5 s windows of a short run caught one tooth of the saw (a
 * 75 s run read +23.8 % once and -41 % twice). Prints one JSON line with start, end and
 * peak RSS and `pass` (end at most `--bound` percent above start: the soak looks for growth,
 * and a heap that settles lower than its start window is not a leak); exits 1 on fail.
 * @module
 */
import { parseArgs, runMain } from "../lib/cli/args.ts";

const USAGE =
  `usage: deno task soak [--minutes 10] [--clients 200] [--rate 2000] [--bound 20] [--warmup S]

Churns WebSocket and SSE clients against a server in a child process and checks that its
resident memory ends at most --bound percent above where it started (each end a median over a
fifth of the run; the start after a warm-up of --warmup seconds, by default 10 % of the run,
5 to 60 s). Prints one JSON line; exits 1 when the bound is exceeded.`;

const SYMBOLS = 10;

/** Resident set size of `pid` in bytes, from /proc. */
export async function residentBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counters of the churn. */
interface Churn {
  websockets: number;
  sse: number;
  stalled: number;
  messages: number;
  errors: number;
}

/** One WebSocket client: subscribe, wait for a message, stay a while, close. */
async function webSocketTurn(base: string, symbol: string, churn: Churn): Promise<void> {
  const ws = new WebSocket(`${base.replace("http", "ws")}ws?kinds=trade&symbol=${symbol}`);
  const closed = new Promise<void>((r) => ws.onclose = () => r());
  const first = Promise.withResolvers<void>();
  ws.onmessage = () => {
    churn.messages++;
    first.resolve();
  };
  ws.onerror = () => first.reject(new Error("websocket error"));
  try {
    await Promise.race([first.promise, sleep(5_000).then(() => Promise.reject("timeout"))]);
    await sleep(100 + Math.random() * 1_900);
    churn.websockets++;
  } catch {
    churn.errors++;
  } finally {
    ws.close();
    await Promise.race([closed, sleep(5_000)]);
  }
}

/** One SSE client: read until the first data frame, then cancel. */
async function sseTurn(base: string, symbol: string, churn: Churn): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 5_000);
  try {
    const res = await fetch(`${base}sse?kinds=trade&symbol=${symbol}`, { signal: abort.signal });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("data: ")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("sse ended");
      text += value;
    }
    churn.messages++;
    churn.sse++;
    await reader.cancel();
  } catch {
    churn.errors++;
  } finally {
    clearTimeout(timer);
  }
}

/** A WebSocket that never reads: handshake over raw TCP, hold 12 s, close. */
async function stalledTurn(port: number, churn: Churn): Promise<void> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode(
      `GET /ws?kinds=trade HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`,
    ));
    churn.stalled++;
    await sleep(12_000);
  } catch {
    churn.errors++;
  } finally {
    try {
      conn?.close();
    } catch { /* closed already */ }
  }
}

async function main(args: readonly string[]): Promise<void> {
  const { values } = parseArgs(args, {
    minutes: { type: "string", default: "10" },
    clients: { type: "string", default: "200" },
    rate: { type: "string", default: "2000" },
    bound: { type: "string", default: "20" },
    warmup: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, USAGE);
  if (values.help) return console.log(USAGE);
  const number = (name: string) => {
    const value = Number(values[name]);
    if (!(value > 0) || !Number.isFinite(value)) {
      throw new RangeError(`--${name} must be a positive number, got "${values[name]}"`);
    }
    return value;
  };
  const minutes = number("minutes");
  const clients = Math.max(2, Math.round(number("clients")));
  const bound = number("bound");
  const durationMs = minutes * 60_000;
  const warmupMs = values.warmup === undefined
    ? Math.min(60_000, Math.max(5_000, durationMs / 10))
    : number("warmup") * 1000;
  const windowMs = Math.min(60_000, Math.max(5_000, durationMs / 5));
  if (warmupMs + 2 * windowMs > durationMs) {
    throw new RangeError(
      `the run must last at least two windows (${windowMs / 1000} s each) longer than its warm-up`,
    );
  }

  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./load_server.ts", import.meta.url).pathname,
      "--rate",
      String(number("rate")),
      "--symbols",
      String(SYMBOLS),
      "--max-connections",
      String(clients * 2),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let head = "";
  while (!head.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error("the load server exited before listening");
    head += value;
  }
  lines.releaseLock();
  child.stdout.cancel().catch(() => {});
  const { port } = JSON.parse(head.split("\n")[0]) as { port: number };
  const base = `http://127.0.0.1:${port}/`;

  const churn: Churn = { websockets: 0, sse: 0, stalled: 0, messages: 0, errors: 0 };
  const samples: { at: number; rss: number }[] = [];
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  let running = true;
  const sampler = (async () => {
    while (running) {
      samples.push({ at: elapsed(), rss: await residentBytes(child.pid) });
      await sleep(1_000);
    }
  })();
  const slots = Array.from({ length: clients }, async (_, slot) => {
    let turn = 0;
    await sleep(Math.random() * 1_000); // spread the first connections
    while (elapsed() < durationMs) {
      const symbol = `SYM${(slot + turn) % SYMBOLS}-USD`;
      if (slot === 0) await stalledTurn(port, churn);
      else if (turn % 10 === 9) await sseTurn(base, symbol, churn);
      else await webSocketTurn(base, symbol, churn);
      turn++;
    }
  });
  await Promise.all(slots);
  running = false;
  await sampler;
  child.stdin.close();
  await child.status;

  const window = (from: number, to: number) =>
    samples.filter((s) => s.at >= from && s.at < to).map((s) => s.rss);
  const startWindow = window(warmupMs, warmupMs + windowMs);
  const endAt = samples[samples.length - 1].at;
  const endWindow = window(endAt - windowMs, endAt + 1);
  const start = median(startWindow.length ? startWindow : [samples[0].rss]);
  const end = median(endWindow);
  const peak = Math.max(...samples.map((s) => s.rss));
  const changePercent = (end - start) / start * 100;
  const pass = changePercent <= bound && churn.websockets > 0;
  console.log(JSON.stringify({
    name: "soak",
    minutes,
    clients,
    websockets: churn.websockets,
    sse: churn.sse,
    stalled: churn.stalled,
    messages: churn.messages,
    errors: churn.errors,
    rss_start_bytes: start,
    rss_end_bytes: end,
    rss_peak_bytes: peak,
    rss_change_percent: Number(changePercent.toFixed(1)),
    bound_percent: bound,
    window_seconds: windowMs / 1000,
    pass,
  }));
  if (!pass) Deno.exit(1);
}

if (import.meta.main) await runMain(() => main(Deno.args));
