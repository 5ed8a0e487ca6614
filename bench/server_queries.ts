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
 *   100,000 trades at random days, whole-range 1-minute bars, and NDJSON streams of a
 *   whole day.
 *
 * Set `ALPHAPULSE_BENCH_LAKE` to reuse a lake folder between runs (it is built when empty).
 * @module
 */
import { LakeRepository } from "../lib/repositories/mod.ts";
import { createApp, StreamHub } from "../server/mod.ts";
import { BIG_LAKE_START, writeBigLake } from "./_big_lake.ts";
import { emit } from "./_figure.ts";

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

/** Runs the benchmark, printing one JSON line per figure. */
export async function run(): Promise<void> {
  const { root, temporary } = await lakeRoot();
  const repository = await LakeRepository.open({ root });
  const app = createApp({ repository, hub: new StreamHub() });
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

    // /health while the heaviest allowed queries run.
    let stop = false;
    let queries = 0;
    const heavy = [
      (i: number) => `/api/trades?${Q}&limit=100000&start=${BIG_LAKE_START + (i % DAYS) * DAY}`,
      () => `/api/bars?${Q}&interval=1m`,
      (i: number) =>
        `/api/trades?${Q}&format=ndjson&start=${BIG_LAKE_START + (i % DAYS) * DAY}&end=${
          BIG_LAKE_START + ((i % DAYS) + 1) * DAY
        }`,
    ];
    const clients = Array.from({ length: 8 }, async (_, c) => {
      for (let i = c; !stop; i += 8) {
        const res = await fetch(base + heavy[i % heavy.length](i));
        await res.body?.pipeTo(new WritableStream());
        queries++;
      }
    });
    await new Promise((r) => setTimeout(r, 1000)); // let the load build up
    // The event loop's own gaps (a 5 ms timer's lateness): blocking, as opposed to waiting
    // for a CPU on a loaded machine, which delays the timer and the probes alike.
    const gaps: number[] = [];
    let tickAt = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      gaps.push(now - tickAt - 5);
      tickAt = now;
    }, 5);
    const health: number[] = [];
    const until = performance.now() + 10_000;
    while (performance.now() < until) {
      const t0 = performance.now();
      const res = await fetch(`${base}/health`);
      await res.body?.cancel();
      health.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
    stop = true;
    clearInterval(ticker);
    await Promise.all(clients);
    emit({
      name: "server_health_under_load_p99_ms",
      unit: "ms",
      value: Number(percentile(health, 99).toFixed(2)),
      p50_ms: Number(percentile(health, 50).toFixed(2)),
      max_ms: Number(Math.max(...health).toFixed(2)),
      probes: health.length,
      loop_gap_p99_ms: Number(percentile(gaps, 99).toFixed(2)),
      loop_gap_max_ms: Number(Math.max(...gaps).toFixed(2)),
      load_average: Number(Deno.loadavg()[0].toFixed(2)),
      heavy_queries: queries,
    });
  } finally {
    await server.shutdown();
    await repository.close();
    if (temporary) await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) await run();
