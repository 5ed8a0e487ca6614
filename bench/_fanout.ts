/**
 * The live fan-out benchmark of `deno task bench server`, across processes:
 *
 * - the server runs in a child process (`scripts/load_server.ts`): `startServer` whose hub
 *   gets 10,000 trades/s over 10 symbols, one `hub.write` every 10 ms, each trade stamped
 *   with its publish time just before the write;
 * - 1,000 WebSocket clients run in two more child processes, 500 each, client `i` subscribed
 *   to symbol `i % 10` (100 clients a symbol, 1,000 trades/s each), each recording
 *   publish-to-receive latency per event: by default the C client (`bench/fanout_client.c`,
 *   built on demand by `bench/_fanout_c.ts`), which leaves the server most of the 2 cores the
 *   Deno clients (`bench/_fanout_clients.ts`, `clients: "deno"`, also the fallback when no C
 *   compiler is found) took much of;
 * - this process only orchestrates, on the same connected clients:
 *   1. `pairs` A/B pairs of windows, `baseline` (nothing else happens) and `stalled` (one
 *      more WebSocket, a raw TCP handshake subscribed to every symbol, connects at the
 *      window's start and never reads; the server must drop it as slow within the window,
 *      and a drop seen up to 5 s later is reported with its time but not as within it),
 *      in the order B S, S B, B S, ... so that a drift of the machine's load over the run
 *      weighs on both kinds alike. Each stalled window has a fresh stalled socket. Every
 *      window polls `/health` at the same pace (the drop is seen there), and a short pause
 *      follows each window so the closing of a stalled socket does not leak into the next.
 *      Before the pairs, one warm-up stalled window (`warmup`, default on) runs and is
 *      reported but not counted: whatever the first stalled socket of a server process pays
 *      once (the hub's first group without a symbol filter, the first slow disconnect and
 *      forced close, the kernel's first few MB of unread send buffer) cannot land in a
 *      counted window, as it otherwise does in the first stalled one;
 *   2. `cap_flood`: the server's stream cap is full and this process makes 5,000 more
 *      WebSocket upgrade attempts (50 at a time), each answered 503.
 *
 * Each window reports p50/p99 over every event the 1,000 clients received in it (histogram
 * of 0.1 ms buckets), and the events lost or out of order. The stalled client's effect is
 * the median over the pairs of each pair's p99 increase; the windows of each kind pooled
 * into one histogram give a second reading. How far that figure can be trusted is reported
 * next to it: the spread of the baseline windows' p99s, and the A/A increases (between two
 * adjacent baseline windows, where nothing differs), which show what the machine's own load
 * changes make of the same comparison.
 * @module
 */
import {
  abbaOrder,
  addCounts,
  type Histogram,
  increasePercent,
  median,
  pool,
  quantile,
} from "./_stats.ts";
import { buildFanoutClient } from "./_fanout_c.ts";

/** Epoch microseconds, as the load server stamps them. */
function nowMicros(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

/** Settings of {@linkcode fanout}. */
export interface FanoutOptions {
  readonly clientCount?: number;
  readonly processes?: number;
  readonly rate?: number;
  readonly symbols?: number;
  readonly tickMs?: number;
  /**
   * Length of each measured window (default 10 s, the issue's bound for closing a client
   * that does not read). On a quiet machine the stalled socket's kernel send buffer (about
   * 4 MB on loopback) is full about 2.8 s after it connects, its 10,000-event queue about
   * 1 s later, when the server drops it (4008 sent at about 3.8 s, the forced close 3 s
   * later); a timeline of those phases showed no rise in the other clients' p99 at any of
   * them, so what moves this figure is the machine's load from window to window.
   */
  readonly phaseMs?: number;
  /** Baseline/stalled pairs of windows (default 3). */
  readonly pairs?: number;
  /** One stalled window before the pairs, reported but not counted (default true). */
  readonly warmup?: boolean;
  /** Connection attempts past the cap in the flood phase (default 5,000). */
  readonly floodAttempts?: number;
  /**
   * Put the connection guard in front of the server (`load_server.ts --guard`; default off,
   * as on a loopback bind), to measure what its extra hop costs.
   */
  readonly guard?: boolean;
  /**
   * Which clients generate the load: `"c"` (default; the Deno clients when it cannot be
   * built, see {@linkcode FanoutResult.clients}) or `"deno"`.
   */
  readonly clients?: "c" | "deno";
}

/** What one window (or several pooled) measured. */
export interface PhaseResult {
  readonly events: number;
  /** WebSocket messages the clients received (a message carries one or more ticks' events). */
  readonly messages: number;
  /** The server process's CPU (user + system) over the window, in cores. */
  readonly serverCores: number;
  /** Server CPU microseconds per message received by the clients. */
  readonly cpuMicrosPerMessage: number;
  /** The client processes' CPU (user + system, all of them together) over the window, in cores. */
  readonly clientCores: number;
  /**
   * CPU the rest of the machine used over the window (all processes' busy time in
   * `/proc/stat`, less the server's, the clients' and this process's), in cores: other
   * people's load, which `nice` does not keep from moving the latency.
   */
  readonly foreignCores: number;
  readonly expected: number;
  readonly breaks: number;
  /** Clients whose socket had closed by the window's end (dropped as slow). */
  readonly closed: number;
  readonly p50: number;
  readonly p99: number;
}

/** One window of the baseline/stalled sequence. */
export interface WindowResult extends PhaseResult {
  readonly kind: "baseline" | "stalled";
  /** Slow disconnects the server counted during the window (1 expected when stalled). */
  readonly slowDisconnects: number;
  /** Stalled windows: whether the server dropped the stalled socket within the window. */
  readonly droppedInWindow?: boolean;
  /**
   * Milliseconds from the stalled socket's connect to its drop being seen, when it was (within
   * the window or up to 5 s after it).
   */
  readonly dropMs?: number;
}

/** The pooled windows of each kind, every window in run order, and the flood. */
export interface FanoutResult {
  /** The clients that ran: the C client, or the Deno clients (asked for, or the fallback). */
  readonly clients: "c" | "deno";
  /** Why the C client was asked for but the Deno clients ran. */
  readonly clientsFallback?: string;
  /** All baseline windows pooled (`p99`), plus the median of their p99s. */
  readonly baseline: PhaseResult & { readonly medianP99: number };
  /**
   * All stalled windows pooled. `stalledDropped`: every stalled socket was dropped as slow
   * within its window; `increase`: the median of the pairs' p99 increases (percent);
   * `pooledIncrease`: pooled stalled p99 over pooled baseline p99 (percent).
   */
  readonly stalled: PhaseResult & {
    readonly stalledDropped: boolean;
    readonly increase: number;
    readonly pooledIncrease: number;
    readonly pairIncreases: readonly number[];
    /**
     * Increases (percent) between adjacent baseline windows (`…b b…` in the order): the same
     * comparison where nothing differs, the noise the pairs' increases carry.
     */
    readonly aaIncreases: readonly number[];
    /** (max - min) / median of the baseline windows' p99s, percent. */
    readonly baselineSpread: number;
  };
  /** The warm-up stalled window, not counted (absent when `warmup` is false). */
  readonly warmup?: WindowResult;
  readonly windows: readonly WindowResult[];
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

/** Runs a Deno script of this folder (`./x.ts`) or, as `{ binary }`, an executable. */
function spawn(program: string | { readonly binary: string }, args: string[]) {
  const [command, prefix] = typeof program === "string"
    ? [Deno.execPath(), ["run", "-A", new URL(program, import.meta.url).pathname]]
    : [program.binary, []];
  const child = new Deno.Command(command, {
    args: [...prefix, ...args],
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

type Child = ReturnType<typeof spawn>;

/** The server and client processes of one run, connected and warmed up. */
interface Setup {
  readonly server: Child;
  /** The server's process id, for its CPU time. */
  readonly pid: number;
  readonly workers: readonly Child[];
  readonly clientKind: "c" | "deno";
  readonly clientsFallback?: string;
  readonly port: number;
  readonly base: string;
  readonly clients: number;
  readonly rate: number;
  readonly symbols: number;
}

async function start(options: FanoutOptions): Promise<Setup> {
  const clients = options.clientCount ?? 1_000;
  const processes = options.processes ?? 2;
  const rate = options.rate ?? 10_000;
  const symbols = options.symbols ?? 10;
  const server = spawn("../scripts/load_server.ts", [
    ...["--rate", String(rate), "--symbols", String(symbols)],
    ...["--tick-ms", String(options.tickMs ?? 10), "--max-connections", String(clients + 1)],
    ...(options.guard ? ["--guard"] : []),
  ]);
  const { port, pid } = JSON.parse(await server.lines.next()) as { port: number; pid: number };
  const base = `http://127.0.0.1:${port}/`;
  const { program, clientKind, clientsFallback } = await clientProgram(options.clients ?? "c");
  const per = Math.ceil(clients / processes);
  const workers = Array.from({ length: processes }, (_, k) =>
    spawn(program, [
      ...["--url", base.replace("http", "ws"), "--symbols", String(symbols)],
      ...["--count", String(Math.min(per, clients - k * per)), "--offset", String(k * per)],
    ]));
  return { server, pid, workers, clientKind, clientsFallback, port, base, clients, rate, symbols };
}

/** The client program to run: the C client when asked for and it builds, else the Deno one. */
async function clientProgram(kind: "c" | "deno") {
  if (kind === "c") {
    const build = await buildFanoutClient();
    if (build.ok) return { program: { binary: build.path }, clientKind: "c" as const };
    console.error(`fanout: the Deno clients run instead of the C client: ${build.reason}`);
    return {
      program: "./_fanout_clients.ts",
      clientKind: "deno" as const,
      clientsFallback: build.reason,
    };
  }
  return { program: "./_fanout_clients.ts", clientKind: "deno" as const };
}

async function stop(setup: Setup): Promise<void> {
  for (const w of setup.workers) {
    await w.send("exit").catch(() => {});
    await w.close();
    await w.child.status;
  }
  await setup.server.close();
  await setup.server.child.status;
}

async function health(setup: Setup): Promise<Record<string, number>> {
  return (await (await fetch(`${setup.base}health`)).json()) as Record<string, number>;
}

/** Seconds of CPU (user + system) process `pid` has used, from `/proc/<pid>/stat` (Linux). */
function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, USER_HZ = 100
  } catch {
    return NaN; // not Linux
  }
}

/** Seconds of busy CPU (every core, every process) from `/proc/stat` (Linux). */
function machineCpu(): number {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
    const [user, nice, system, _idle, _iowait, irq, softirq, steal] = line.trim().split(/\s+/)
      .slice(1).map(Number);
    return (user + nice + system + irq + softirq + (steal || 0)) / 100;
  } catch {
    return NaN;
  }
}

/** Seconds of CPU the client processes have used, together. */
function clientCpu(setup: Setup): number {
  return setup.workers.reduce((sum, w) => sum + cpuSeconds(w.child.pid), 0);
}

/** Measures the clients while `during` runs: the window's figures and its histogram. */
async function measure(
  setup: Setup,
  during: () => Promise<void>,
): Promise<{ result: PhaseResult; histogram: Histogram }> {
  for (const w of setup.workers) await w.send("start");
  const from = nowMicros();
  const cpuFrom = cpuSeconds(setup.pid);
  const clientCpuFrom = clientCpu(setup);
  const machineFrom = machineCpu();
  const selfFrom = cpuSeconds(Deno.pid);
  await during();
  for (const w of setup.workers) await w.send("stop");
  const seconds = (nowMicros() - from) / 1e6;
  const cpu = cpuSeconds(setup.pid) - cpuFrom;
  const clientSeconds = clientCpu(setup) - clientCpuFrom;
  const clientCores = clientSeconds / seconds;
  const foreign = machineCpu() - machineFrom - cpu - clientSeconds -
    (cpuSeconds(Deno.pid) - selfFrom);
  const histogram: Histogram = new Map();
  let events = 0;
  let messages = 0;
  let breaks = 0;
  let closed = 0;
  for (const w of setup.workers) {
    const r = JSON.parse(await w.lines.next());
    events += r.events;
    messages += r.messages;
    breaks += r.breaks;
    closed += r.closed;
    addCounts(histogram, r.histogram as [number, number][]);
  }
  const expected = Math.round(seconds * setup.rate / setup.symbols * setup.clients);
  const result = {
    events,
    messages,
    serverCores: round3(cpu / seconds),
    cpuMicrosPerMessage: round3(cpu * 1e6 / messages),
    clientCores: round3(clientCores),
    foreignCores: round3(Math.max(0, foreign) / seconds),
    expected,
    breaks,
    closed,
    ...readHistogram(histogram),
  };
  return { result, histogram };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function readHistogram(histogram: Histogram): { p50: number; p99: number } {
  return { p50: quantile(histogram, 0.5), p99: quantile(histogram, 0.99) };
}

/** How often every window of the A/B sequence asks `/health` for the slow-disconnect count. */
const POLL_MS = 500;
/** Pause after each window of the A/B sequence. */
const GAP_MS = 1_000;

/** How long after its window a stalled socket not yet dropped is still watched for its drop. */
const LATE_MS = 5_000;

/**
 * One window of `phaseMs`, with a stalled socket connected at its start when `stalled`;
 * `/health` is polled every {@linkcode POLL_MS} either way. A stalled socket the server has
 * not dropped by the window's end is watched for up to {@linkcode LATE_MS} more (outside the
 * window) so its drop time is still reported, then closed.
 */
async function window(setup: Setup, phaseMs: number, stalled: boolean): Promise<Measured> {
  let slowDisconnects = 0;
  let dropMs: number | undefined;
  let conn: Deno.TcpConn | undefined;
  let before = 0;
  let started = 0;
  const poll = async () => {
    slowDisconnects = (await health(setup)).slowDisconnects - before;
    if (stalled && slowDisconnects > 0) dropMs ??= Math.round(performance.now() - started);
  };
  const measured = await measure(setup, async () => {
    before = (await health(setup)).slowDisconnects;
    started = performance.now();
    if (stalled) {
      conn = await Deno.connect({ hostname: "127.0.0.1", port: setup.port });
      await conn.write(upgradeRequest(setup.port, "/ws?kinds=trade"));
    }
    for (let left = phaseMs; left > 0; left = phaseMs - (performance.now() - started)) {
      await sleep(Math.min(POLL_MS, left));
      await poll();
    }
  });
  const inWindow = dropMs !== undefined;
  for (let waited = 0; stalled && dropMs === undefined && waited < LATE_MS; waited += POLL_MS) {
    await sleep(POLL_MS);
    await poll();
  }
  conn?.close();
  const result: WindowResult = {
    kind: stalled ? "stalled" : "baseline",
    ...measured.result,
    slowDisconnects,
    ...(stalled ? { droppedInWindow: inWindow } : {}),
    ...(dropMs === undefined ? {} : { dropMs }),
  };
  await sleep(GAP_MS);
  return { result, histogram: measured.histogram };
}

interface Measured {
  readonly result: WindowResult;
  readonly histogram: Histogram;
}

/** Pools windows' histograms and counts into one {@linkcode PhaseResult}. */
function pooled(windows: readonly Measured[]): PhaseResult {
  const histogram = pool(windows.map((w) => w.histogram));
  const sum = (key: "events" | "messages" | "expected" | "breaks") =>
    windows.reduce((n, w) => n + w.result[key], 0);
  const mean = (key: "serverCores" | "cpuMicrosPerMessage" | "clientCores" | "foreignCores") =>
    round3(windows.reduce((n, w) => n + w.result[key], 0) / windows.length);
  return {
    events: sum("events"),
    messages: sum("messages"),
    serverCores: mean("serverCores"),
    cpuMicrosPerMessage: mean("cpuMicrosPerMessage"),
    clientCores: mean("clientCores"),
    foreignCores: mean("foreignCores"),
    expected: sum("expected"),
    breaks: sum("breaks"),
    closed: Math.max(...windows.map((w) => w.result.closed)),
    ...readHistogram(histogram),
  };
}

/** The baseline/stalled pairs; see the module doc. */
async function abSequence(setup: Setup, phaseMs: number, pairs: number) {
  const runs: Measured[] = [];
  for (const kind of abbaOrder(pairs)) runs.push(await window(setup, phaseMs, kind === "b"));
  const of = (kind: WindowResult["kind"]) => runs.filter((w) => w.result.kind === kind);
  const baseline = pooled(of("baseline"));
  const stalledPooled = pooled(of("stalled"));
  const pairIncreases = Array.from({ length: pairs }, (_, k) => {
    const [a, b] = runs.slice(2 * k, 2 * k + 2).map((w) => w.result);
    const [base, stalled] = a.kind === "baseline" ? [a, b] : [b, a];
    return increasePercent(stalled.p99, base.p99);
  });
  const stalled = {
    ...stalledPooled,
    stalledDropped: of("stalled").every((w) => w.result.droppedInWindow === true),
    increase: Number(median(pairIncreases).toFixed(1)),
    pooledIncrease: increasePercent(stalledPooled.p99, baseline.p99),
    pairIncreases,
  };
  const baselineP99s = of("baseline").map((w) => w.result.p99);
  const medianP99 = median(baselineP99s);
  const aaIncreases = runs.slice(1).flatMap((w, k) =>
    w.result.kind === "baseline" && runs[k].result.kind === "baseline"
      ? [increasePercent(w.result.p99, runs[k].result.p99)]
      : []
  );
  const range = Math.max(...baselineP99s) - Math.min(...baselineP99s);
  const baselineSpread = Number((range / medianP99 * 100).toFixed(1));
  return {
    baseline: { ...baseline, medianP99 },
    stalled: { ...stalled, aaIncreases, baselineSpread },
    windows: runs.map((w) => w.result),
  };
}

/** Fills the stream cap with reading clients, then floods it with upgrade attempts. */
async function capFlood(setup: Setup, phaseMs: number, attempts: number) {
  // One filler, unless clients were dropped as slow; wait for stalled sockets to go first.
  let open = (await health(setup)).openStreams;
  for (let i = 0; i < 50 && open > setup.clients; i++) {
    await sleep(100);
    open = (await health(setup)).openStreams;
  }
  const fillers = Array.from(
    { length: Math.max(0, setup.clients + 1 - open) },
    () => new WebSocket(`${setup.base.replace("http", "ws")}ws?kinds=trade&symbol=none`),
  );
  await Promise.all(fillers.map((f) => new Promise((r) => f.onopen = r)));
  let refused = 0;
  const { result } = await measure(setup, async () => {
    const started = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: 50 }, async () => {
      while (next < attempts) {
        next++;
        if (await upgradeStatus(setup.port, "/ws?kinds=trade") === 503) refused++;
      }
    }));
    const left = phaseMs - (performance.now() - started);
    if (left > 0) await sleep(left);
  });
  for (const f of fillers) f.close();
  return { ...result, refused, attempts };
}

/** Runs the A/B sequence and the cap flood; see the module doc. */
export async function fanout(options: FanoutOptions = {}): Promise<FanoutResult> {
  const phaseMs = options.phaseMs ?? 10_000;
  const setup = await start(options);
  try {
    for (const w of setup.workers) {
      const line = await w.lines.next();
      if (line !== "ready") throw new Error(`clients: ${line}`);
    }
    await sleep(2_000); // warm-up
    const warmup = options.warmup ?? true ? (await window(setup, phaseMs, true)).result : undefined;
    const ab = await abSequence(setup, phaseMs, options.pairs ?? 3);
    const capFlooded = await capFlood(setup, phaseMs, options.floodAttempts ?? 5_000);
    return {
      clients: setup.clientKind,
      ...(setup.clientsFallback === undefined ? {} : { clientsFallback: setup.clientsFallback }),
      ...ab,
      ...(warmup === undefined ? {} : { warmup }),
      capFlood: capFlooded,
    };
  } finally {
    await stop(setup);
  }
}
