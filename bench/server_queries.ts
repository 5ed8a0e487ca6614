/**
 * Bounded work per request (`deno task bench server_queries`), on a 10M-trade lake written
 * by DuckDB (ten days of 1,000,002 trades):
 *
 * - `server_trades_limit1_10m_ms`: `/api/trades?limit=1` (asc and desc alternately) over
 *   HTTP, the median of 40 requests, with p99, the first (cold) request, and the process's
 *   RSS growth over the 38 requests after one of each order (`rss_growth_cold_mb`: from
 *   before the first, library pages loaded by the first Polars scan included).
 * - `server_health_under_load_p99_ms`: `/health` probed every 10 ms while 8 clients (the
 *   default query concurrency) run the heaviest allowed queries back to back: JSON pages of
 *   100,000 trades, whole-range 1-minute bars, and NDJSON and Arrow streams of the whole
 *   range. The load clients and the prober run in two processes of their own
 *   (`_server_load_client.ts`), so the figure is the server's. With it: `loop_gap_*` (the
 *   server's event-loop gaps, a 5 ms timer's lateness), `loop_thread_busy_pct` and
 *   `loop_thread_runqueue_wait_pct` (the event-loop thread's time on a CPU and waiting for one,
 *   Linux schedstat: blocking versus a machine without a free core), `load_mb` (body bytes the
 *   clients received) and `heavy_queries` (finished).
 *
 * The routes run in a `QueryPool` of 8 workers (started before the server listens);
 * `ALPHAPULSE_BENCH_QUERY_WORKERS=0` runs them on the server's own thread instead, and
 * `ALPHAPULSE_BENCH_QUERY_NICE=N` sets the workers' nice value (default 10).
 *
 * Set `ALPHAPULSE_BENCH_LAKE` to reuse a lake folder between runs (it is built when empty).
 * @module
 */
import { LakeRepository } from "../lib/repositories/mod.ts";
import { createApp, StreamHub } from "../server/mod.ts";
import { QueryPool } from "../server/query_pool.ts";
import { BIG_LAKE_START, writeBigLake } from "./_big_lake.ts";
import { emit } from "./_figure.ts";
import type { LoadConfig, LoadResult } from "./_server_load_client.ts";

const DAYS = 10;
const PER_DAY = 1_000_002;
const DAY = 86_400_000_000;
const Q = "exchange=coinbase&symbol=BTC-USD";

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function lakeRoot(): Promise<{ root: string; temporary: boolean }> {
  const given = Deno.env.get("ALPHAPULSE_BENCH_LAKE");
  const root = given ?? await Deno.makeTempDir({ prefix: "alphapulse-bench-10m-" });
  let built = false;
  try {
    built = (await Deno.stat(`${root}/trades`)).isDirectory;
  } catch { /* not built yet */ }
  if (!built) await writeBigLake({ root, days: DAYS, perDay: PER_DAY });
  return { root, temporary: given === undefined };
}

/**
 * The heaviest allowed queries, as many at once as the query cap (8) allows: JSON pages of
 * 100,000 trades, whole-range 1-minute bars, and NDJSON and Arrow streams of the whole
 * range (ten million trades).
 */
function heavyPaths(): string[] {
  const end = BIG_LAKE_START + DAYS * DAY;
  const paths: string[] = [];
  for (const day of [0, 3, 7]) {
    paths.push(
      `/api/trades?${Q}&limit=100000&start=${BIG_LAKE_START + day * DAY}`,
      `/api/bars?${Q}&interval=1m`,
      `/api/trades?${Q}&format=ndjson&start=${BIG_LAKE_START}&end=${end}`,
      `/api/trades?${Q}&format=arrow&start=${BIG_LAKE_START}&end=${end}`,
    );
  }
  return paths;
}

/**
 * Runs the load client (`_server_load_client.ts`) in its own process and, while it probes,
 * the event loop's own gaps here (a 5 ms timer's lateness): blocking, as opposed to waiting
 * for a CPU on a loaded machine, which delays the timer and the probes alike.
 */
async function underLoad(base: string): Promise<
  LoadResult & {
    gaps: number[];
    thread?: { busy_pct: number; runqueue_wait_pct: number };
  }
> {
  const config: LoadConfig = { paths: heavyPaths(), clients: 8, warmupMs: 3000, probeMs: 10_000 };
  const client = (mode: "load" | "probe") =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./_server_load_client.ts", import.meta.url).pathname,
        mode,
        base,
        JSON.stringify(config),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  const load = client("load");
  const prober = client("probe");
  const gaps: number[] = [];
  let ticker: ReturnType<typeof setInterval> | undefined;
  let probed: { health: number[] } | undefined;
  let sched: { from: number[]; at: number } | undefined;
  let thread: { busy_pct: number; runqueue_wait_pct: number } | undefined;
  for await (const line of lines(prober.stdout)) {
    if (line === "probing") {
      sched = { from: schedStat(), at: performance.now() };
      let tickAt = performance.now();
      ticker = setInterval(() => {
        const now = performance.now();
        gaps.push(now - tickAt - 5);
        tickAt = now;
      }, 5);
    } else if (line.startsWith("{")) {
      clearInterval(ticker);
      probed = JSON.parse(line);
      if (sched !== undefined && sched.from.length === 2) {
        const [run, wait] = schedStat().map((v, i) => v - sched!.from[i]);
        const wallNs = (performance.now() - sched.at) * 1e6;
        thread = {
          busy_pct: Number((100 * run / wallNs).toFixed(1)),
          runqueue_wait_pct: Number((100 * wait / wallNs).toFixed(1)),
        };
      }
    }
  }
  clearInterval(ticker);
  await prober.stdin.close();
  await load.stdin.close(); // stops the load
  let loaded: { queries: number; refused: number; bytes: number } | undefined;
  for await (const line of lines(load.stdout)) {
    if (line.startsWith("{")) loaded = JSON.parse(line);
  }
  const ok = (await prober.status).success && (await load.status).success;
  if (!ok || probed === undefined || loaded === undefined) {
    throw new Error("a load client failed");
  }
  return { ...probed, ...loaded, gaps, thread };
}

/**
 * The event loop thread's time on a CPU and time waiting for one (ns, Linux
 * `/proc/thread-self/schedstat`; empty elsewhere): busy versus starved.
 */
function schedStat(): number[] {
  try {
    return Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ").slice(0, 2)
      .map(Number);
  } catch {
    return [];
  }
}

function lines(stream: ReadableStream<Uint8Array>): ReadableStream<string> {
  return stream.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
}

function lineSplitter(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const part of parts) controller.enqueue(part);
    },
    flush(controller) {
      if (rest) controller.enqueue(rest);
    },
  });
}

/** Runs the benchmark, printing one JSON line per figure. */
export async function run(): Promise<void> {
  const { root, temporary } = await lakeRoot();
  const repository = await LakeRepository.open({ root });
  // ALPHAPULSE_BENCH_QUERY_WORKERS=0 measures the routes on the server's own thread.
  const direct = Deno.env.get("ALPHAPULSE_BENCH_QUERY_WORKERS") === "0";
  // ALPHAPULSE_BENCH_QUERY_NICE: the workers' nice value (default the pool's, 10).
  const niceText = Deno.env.get("ALPHAPULSE_BENCH_QUERY_NICE");
  const nice = niceText === undefined ? undefined : Number(niceText);
  const queryPool = direct ? undefined : new QueryPool({ root, size: 8, nice });
  await queryPool?.start();
  const app = createApp({ repository, hub: new StreamHub(), queryPool });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => app(req, { remoteAddr: { hostname: info.remoteAddr.hostname } }),
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    // limit=1, asc and desc, from a cold server (RSS measured from before the first query).
    const rssBefore = Deno.memoryUsage().rss;
    let rssWarm = rssBefore;
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      const order = i % 2 === 0 ? "asc" : "desc";
      const t0 = performance.now();
      const res = await fetch(`${base}/api/trades?${Q}&limit=1&order=${order}`);
      const [row] = await res.json();
      times.push(performance.now() - t0);
      if (!row?.id) throw new Error("no trade");
      if (i === 1) rssWarm = Deno.memoryUsage().rss;
    }
    const rssAfter = Deno.memoryUsage().rss;
    emit({
      name: "server_trades_limit1_10m_ms",
      unit: "ms",
      value: Number(percentile(times, 50).toFixed(2)),
      p99_ms: Number(percentile(times, 99).toFixed(2)),
      first_ms: Number(times[0].toFixed(2)),
      rss_growth_mb: Number(((rssAfter - rssWarm) / 1048576).toFixed(1)),
      rss_growth_cold_mb: Number(((rssAfter - rssBefore) / 1048576).toFixed(1)),
      trades: DAYS * PER_DAY,
    });

    // /health while the heaviest allowed queries run, probed from another process.
    const load = await underLoad(base);
    emit({
      name: "server_health_under_load_p99_ms",
      unit: "ms",
      value: Number(percentile(load.health, 99).toFixed(2)),
      p50_ms: Number(percentile(load.health, 50).toFixed(2)),
      max_ms: Number(Math.max(...load.health).toFixed(2)),
      probes: load.health.length,
      loop_gap_p99_ms: Number(percentile(load.gaps, 99).toFixed(2)),
      loop_gap_max_ms: Number(Math.max(...load.gaps).toFixed(2)),
      loop_thread_busy_pct: load.thread?.busy_pct,
      loop_thread_runqueue_wait_pct: load.thread?.runqueue_wait_pct,
      load_average: Number(Deno.loadavg()[0].toFixed(2)),
      heavy_queries: load.queries,
      refused_queries: load.refused,
      load_mb: Number((load.bytes / 1048576).toFixed(1)),
      query_workers: queryPool !== undefined,
      query_nice: queryPool === undefined ? undefined : nice ?? 10,
    });
  } finally {
    await server.shutdown();
    queryPool?.close();
    await repository.close();
    if (temporary) await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) await run();
