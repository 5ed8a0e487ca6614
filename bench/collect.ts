/**
 * `deno task bench collect`: the live collector path, each figure one JSON line.
 *
 * A feed process (`bench/_collect_feed.ts`) serves a pre-generated Coinbase Exchange stream
 * (10 products, snapshots of 1,000 levels a side, then 300,000 messages: `l2update`s and ~2%
 * `match`es) over a local websocket as fast as TCP takes it. In this process, in
 * interleaved rounds (best round reported):
 *
 * - `collect_messages_per_second`: our {@linkcode Collector} (websocket -> Coinbase adapter
 *   -> books with integrity checks -> trade-id ledger -> bounded queue -> `LakeSink` into a
 *   temporary Parquet lake (the tables `deno task collect` writes by default), plus metrics), frames per second from the first frame received
 *   to the last frame's events emitted; peer `bare-websocket`: the runtime's `WebSocket` on
 *   the same stream, only counting frames (the transport limit). Also per CPU-second of this
 *   process (`cpu_value`, `cpu_peer_value`, `cpu_ratio`), which a busy shared machine
 *   disturbs far less than the wall clock.
 * - `collect_frame_to_event_p99`: microseconds from a frame's receipt (`onmessage`, the
 *   events' `recvTs`) to its events reaching the sinks, 99th percentile over every frame of
 *   the best round (p50 and max alongside).
 * - `collect_rss_10x1000`: peak resident memory (`VmHWM`) of `deno task collect` run as its
 *   own process on the same stream (10 symbols, depth 1,000, lake sink storing trades,
 *   quotes, snapshots and statuses: `--no-book-changes`), MB;
 *   `collect_rss_10x1000_book_changes` the same with `--book-changes` (every book change
 *   written to the lake too: Coinbase's default). The value is the kernel's peak, the
 *   stricter reading of what holding the flood's events costs (a moment after the flood
 *   depends on when the collections ran); alongside, from samples every 100 ms through the
 *   flood and 3 s after it: RSS before the flood, at its end, the sampled peaks during and
 *   after it, the median after it (`rss_settled_median`), the peaks of the JS heap and of
 *   external memory, and the events the sink queue dropped with the rows stored. The
 *   collector stops reading while its queue is full (raw transport), so `dropped_events` is
 *   0 and `rows_written` every row of the stream; a full queue drops book changes only when
 *   it cannot pause (a low figure with many drops stored less, not less dearly).
 * - `collect_wss_messages_per_second`: the same stream over a local `wss://` server, our
 *   `RawWebSocket` (value) against the runtime's `WebSocket` (peer), both only
 *   counting frames, by the wall clock and per CPU-second (`bench/_collect_wss.ts`).
 * @module
 */
import { Collector } from "../collectors/runtime/collector.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { CollectorMetrics } from "../collectors/runtime/metrics.ts";
import { LakeSink, ParquetLake } from "../lib/lake/mod.ts";
import { LAKE_KINDS_BY_DEFAULT } from "../collectors/runtime/config.ts";
import { nowMicros } from "../lib/market/time.ts";
import type { EventSink, MarketEvent } from "../lib/market/mod.ts";
import { streamProducts } from "./_collect_feed.ts";
import { emit } from "./_figure.ts";
import { countFrames, cpuMs, type Rate } from "./_frame_rate.ts";
import { venueBookKeeper } from "../collectors/venues/mod.ts";
import { hasOpenssl, makeTestCertificate } from "./_tls_cert.ts";

const MESSAGES = Number(Deno.env.get("BENCH_COLLECT_MESSAGES") ?? 300_000);
const PRODUCTS = 10;
const DEPTH = 1000;
const ROUNDS = 5;

function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Starts the feed process (`wss://` with `tls`); resolves to its port and frame count. */
export async function startFeed(
  tls?: { certFile: string; keyFile: string },
): Promise<{ port: number; frames: number; child: Deno.ChildProcess }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./_collect_feed.ts", import.meta.url).pathname,
      "--messages",
      String(MESSAGES),
      "--products",
      String(PRODUCTS),
      "--depth",
      String(DEPTH),
      ...(tls === undefined ? [] : ["--tls-cert", tls.certFile, "--tls-key", tls.keyFile]),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("feed process ended before listening");
    text += value;
  }
  reader.releaseLock();
  const { port, frames } = JSON.parse(text.slice(0, text.indexOf("\n")));
  return { port, frames, child };
}

/** The peer: a websocket client that only counts frames. */
function bareWebsocket(url: string, frames: number): Promise<Rate> {
  return countFrames(new WebSocket(url), frames, "bare");
}

/** Records, per frame, the time from receipt to its events reaching the sinks. */
class LatencyProbe implements EventSink {
  readonly samples: Float64Array;
  count = 0;
  firstRecv = 0;
  firstCpu = 0;
  lastEmit = 0;
  lastCpu = 0;
  readonly done = Promise.withResolvers<void>();
  constructor(readonly frames: number) {
    this.samples = new Float64Array(frames);
  }
  write(events: readonly MarketEvent[]): void {
    const now = nowMicros();
    const recvTs = events[0].recvTs;
    if (this.count === 0) {
      this.firstRecv = recvTs;
      this.firstCpu = cpuMs();
    }
    if (this.count < this.frames) this.samples[this.count] = now - recvTs;
    this.lastEmit = now;
    if (++this.count === this.frames) {
      this.lastCpu = cpuMs();
      this.done.resolve();
    }
  }
  flush(): Promise<number> {
    return Promise.resolve(0);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Ours: the full collector path into a lake. */
async function ours(
  url: string,
  frames: number,
): Promise<{ rate: Rate; samples: Float64Array }> {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-bench-collect-" });
  const lake = await ParquetLake.open({ root });
  const probe = new LatencyProbe(frames);
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  const collector = new Collector({
    exchange: "coinbase",
    url,
    symbols: streamProducts(PRODUCTS),
    // What `deno task collect --no-book-changes` stores (the tables of the figures from
    // before book changes became the default for venues that send them, kept comparable).
    sinks: [new LakeSink(lake, { kinds: LAKE_KINDS_BY_DEFAULT }), probe],
    books: venueBookKeeper("coinbase"),
    metrics: new CollectorMetrics(),
    diagnostics,
    connection: { log: () => {} },
  });
  try {
    collector.start();
    await probe.done.promise;
    const seconds = (probe.lastEmit - probe.firstRecv) / 1e6;
    const cpuSeconds = (probe.lastCpu - probe.firstCpu) / 1000;
    return { rate: { wall: frames / seconds, cpu: frames / cpuSeconds }, samples: probe.samples };
  } finally {
    await collector.stop();
    await lake.close();
    await Deno.remove(root, { recursive: true });
  }
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Milliseconds between memory samples of the collector process. */
const SAMPLE_MS = 100;
/** How long the collector is sampled after the flood's last frame was counted. */
const SETTLE_MS = 3_000;

/** Where the stream was when a memory sample was taken (as the collector last told). */
export type FloodPhase = "before" | "flood" | "after";

/** One sample of the collector process, MB: `/proc` and the latest of its `/metrics`. */
export interface MemorySample {
  /** Milliseconds since the collector process started. */
  readonly t: number;
  readonly phase: FloodPhase;
  /** `VmRSS`, read from `/proc` (never late: the collector's event loop is not asked). */
  readonly rss: number;
  /** The JS heap in use and external memory, from the latest `/metrics` answered. */
  readonly heapUsed: number;
  readonly external: number;
}

/** What {@linkcode collectorRss} measured (MB unless said). */
export interface CollectorMemory {
  /** `VmHWM`: the highest resident memory of the process's life (kept by the kernel). */
  readonly peak: number;
  /** Resident memory just before the first frame was counted. */
  readonly beforeFlood: number;
  /** Resident memory when the last frame was counted. */
  readonly atEnd: number;
  /** Highest resident memory sampled during the flood and after it. */
  readonly floodPeak: number;
  readonly afterPeak: number;
  /** Median of the samples over {@linkcode SETTLE_MS} after the flood. */
  readonly settledMedian: number;
  /** Highest JS heap in use and external (array buffer) memory sampled. */
  readonly heapPeak: number;
  readonly externalPeak: number;
  /** Events the sink queue dropped (a full queue drops book events first). */
  readonly dropped: number;
  /** Rows stored when sampling stopped. */
  readonly rowsWritten: number;
  /** Seconds from the first to the last frame counted (as seen by polling). */
  readonly floodSeconds: number;
  readonly samples: readonly MemorySample[];
}

const MB = 1024 * 1024;

function metric(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return match === null ? NaN : Number(match[1]);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Memory of `deno task collect` on the stream. Two loops: one reads the process's resident
 * memory from `/proc` every {@linkcode SAMPLE_MS} (from its start, through the flood, and
 * for {@linkcode SETTLE_MS} after the last frame was counted); the other polls its
 * `/metrics` (frames counted, JS heap, external memory, rows stored, events dropped),
 * which a busy collector answers late. At the end, the kernel's peak (`VmHWM`).
 */
export async function collectorRss(
  port: number,
  frames: number,
  extraArgs: readonly string[] = [],
): Promise<CollectorMemory> {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-bench-rss-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../collectors/main.ts", import.meta.url).pathname,
      "--exchange",
      "coinbase",
      "--symbols",
      streamProducts(PRODUCTS).join(","),
      "--url",
      `ws://127.0.0.1:${port}`,
      "--lake",
      root,
      "--metrics-port",
      "0",
      ...extraArgs,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const started = performance.now();
  let stderr = "";
  const drained = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (stderr += chunk) }),
  );
  const status = async () => {
    const text = await Deno.readTextFile(`/proc/${child.pid}/status`);
    return (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)![1]) / 1024;
  };
  // The collector's latest answer.
  const told = { phase: "before" as FloodPhase, heapUsed: NaN, external: NaN, text: "" };
  let first = NaN;
  let end = NaN;
  let beforeFlood = NaN; // read when the collector last said it had no frame yet
  let failed: Error | undefined;
  const deadline = Date.now() + 120_000;
  const poll = async () => {
    let metricsPort: string | undefined;
    while (Number.isNaN(end) || performance.now() - end < SETTLE_MS) {
      if (Date.now() > deadline) throw new Error(`collector did not finish:\n${stderr}`);
      metricsPort ??= /"metricsPort":(\d+)/.exec(stderr)?.[1];
      if (metricsPort !== undefined) {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        const messages = metric(text, "alphapulse_collector_messages_total");
        const now = performance.now();
        if (messages > 0 && Number.isNaN(first)) first = now;
        if (messages >= frames && Number.isNaN(end)) end = now;
        told.phase = messages >= frames ? "after" : messages > 0 ? "flood" : "before";
        if (messages === 0) beforeFlood = (await status())("VmRSS");
        told.heapUsed = metric(text, "nodejs_heap_size_used_bytes") / MB;
        told.external = metric(text, "nodejs_external_memory_bytes") / MB;
        told.text = text;
      }
      await sleep(SAMPLE_MS);
    }
  };
  const samples: MemorySample[] = [];
  let atEnd = NaN;
  const sample = async () => {
    while (failed === undefined && (Number.isNaN(end) || performance.now() - end < SETTLE_MS)) {
      const rss = (await status())("VmRSS");
      if (told.phase === "after" && Number.isNaN(atEnd)) atEnd = rss;
      const { phase, heapUsed, external } = told;
      samples.push({ t: performance.now() - started, phase, rss, heapUsed, external });
      await sleep(SAMPLE_MS);
    }
  };
  try {
    await Promise.all([
      poll().catch((err) => {
        failed = err;
        throw err;
      }),
      sample(),
    ]);
    const peak = (await status())("VmHWM");
    const of = (phase: FloodPhase) => samples.filter((s) => s.phase === phase);
    const rssOf = (phase: FloodPhase) => of(phase).map((s) => s.rss);
    return {
      peak,
      beforeFlood,
      atEnd,
      floodPeak: Math.max(...rssOf("flood")),
      afterPeak: Math.max(...rssOf("after")),
      settledMedian: median(rssOf("after")),
      heapPeak: Math.max(...samples.filter((s) => s.heapUsed >= 0).map((s) => s.heapUsed)),
      externalPeak: Math.max(...samples.filter((s) => s.external >= 0).map((s) => s.external)),
      dropped: metric(told.text, "alphapulse_collector_sink_dropped_events_total"),
      rowsWritten: metric(told.text, "alphapulse_collector_rows_written_total"),
      floodSeconds: (end - first) / 1000,
      samples,
    };
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await drained;
    await Deno.remove(root, { recursive: true });
  }
}

/**
 * `collect_wss_messages_per_second`: our `RawWebSocket` against the runtime's
 * `WebSocket` on the same stream over a local `wss://` server (a certificate made here with
 * `openssl`), both only counting frames, in a process of their own started with `--cert`.
 */
async function wssFigure(): Promise<void> {
  if (!(await hasOpenssl())) return;
  const cert = await makeTestCertificate();
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-bench-wss-" });
  const certFile = `${dir}/server.pem`;
  const keyFile = `${dir}/server.key`;
  await Deno.writeTextFile(certFile, cert.cert);
  await Deno.writeTextFile(keyFile, cert.key);
  const feed = await startFeed({ certFile, keyFile });
  try {
    const { stdout, success } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--cert",
        cert.caFile,
        new URL("./_collect_wss.ts", import.meta.url).pathname,
        "--url",
        `wss://localhost:${feed.port}/`,
        "--frames",
        String(feed.frames),
        "--rounds",
        "3",
        "--ca",
        cert.caFile,
      ],
      stderr: "inherit",
    }).output();
    if (!success) throw new Error("bench/_collect_wss.ts failed");
    const best = JSON.parse(new TextDecoder().decode(stdout)) as Record<"raw" | "native", Rate>;
    emit({
      name: "collect_wss_messages_per_second",
      unit: "messages/s",
      value: Math.round(best.raw.wall),
      peer: "native-websocket-wss",
      peer_value: Math.round(best.native.wall),
      ratio: round(best.raw.wall / best.native.wall),
      cpu_value: Math.round(best.raw.cpu),
      cpu_peer_value: Math.round(best.native.cpu),
      cpu_ratio: round(best.raw.cpu / best.native.cpu),
      frames: feed.frames,
      rounds: 3,
    });
  } finally {
    feed.child.kill("SIGTERM");
    await feed.child.status;
    await cert.remove();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs the group. */
export async function run(): Promise<void> {
  const feed = await startFeed();
  const url = `ws://127.0.0.1:${feed.port}`;
  try {
    const peer: Rate = { wall: 0, cpu: 0 };
    let best: { rate: Rate; samples: Float64Array } = {
      rate: { wall: 0, cpu: 0 },
      samples: new Float64Array(0),
    };
    let bestCpu = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const bare = await bareWebsocket(url, feed.frames);
      peer.wall = Math.max(peer.wall, bare.wall);
      peer.cpu = Math.max(peer.cpu, bare.cpu);
      const result = await ours(url, feed.frames);
      if (result.rate.wall > best.rate.wall) best = result;
      bestCpu = Math.max(bestCpu, result.rate.cpu);
    }
    emit({
      name: "collect_messages_per_second",
      unit: "messages/s",
      value: Math.round(best.rate.wall),
      peer: "bare-websocket",
      peer_value: Math.round(peer.wall),
      ratio: round(best.rate.wall / peer.wall),
      // The same per CPU-second of this process: steady when the machine is shared.
      cpu_value: Math.round(bestCpu),
      cpu_peer_value: Math.round(peer.cpu),
      cpu_ratio: round(bestCpu / peer.cpu),
      frames: feed.frames,
      rounds: ROUNDS,
    });
    const sorted = best.samples.slice().sort();
    emit({
      name: "collect_frame_to_event_p99",
      unit: "us",
      value: round(percentile(sorted, 0.99), 1),
      p50: round(percentile(sorted, 0.5), 1),
      max: round(sorted[sorted.length - 1], 1),
    });
    for (
      const [name, args] of [
        ["", ["--no-book-changes"]],
        ["_book_changes", ["--book-changes"]],
      ] as const
    ) {
      const rss = await collectorRss(feed.port, feed.frames, args);
      if (Deno.env.get("BENCH_COLLECT_SAMPLES")) {
        for (const s of rss.samples) console.error(JSON.stringify({ figure: name, ...s }));
      }
      emit({
        name: `collect_rss_10x1000${name}`,
        unit: "MB",
        // The peak (VmHWM): what holding the flood's events costs at its worst.
        value: round(rss.peak, 1),
        rss_before: round(rss.beforeFlood, 1),
        rss_after: round(rss.atEnd, 1),
        rss_flood_peak_sampled: round(rss.floodPeak, 1),
        rss_after_peak_sampled: round(rss.afterPeak, 1),
        rss_settled_median: round(rss.settledMedian, 1),
        heap_used_peak: round(rss.heapPeak, 1),
        external_peak: round(rss.externalPeak, 1),
        dropped_events: rss.dropped,
        rows_written: rss.rowsWritten,
        flood_seconds: round(rss.floodSeconds, 2),
        samples: rss.samples.length,
        symbols: PRODUCTS,
        depth: DEPTH,
      });
    }
  } finally {
    feed.child.kill("SIGTERM");
    await feed.child.status;
  }
  await wssFigure();
}

if (import.meta.main) await run();
