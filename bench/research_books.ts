/**
 * `deno task bench books` (or `research_books`): books rebuilt from the lake.
 *
 * - `research_book_rebuild`: changes/s of `bookSeries(repo, q, { levels: 10 })` over
 *   `BENCH_BOOK_CHANGES` (default 1,000,000) synthetic book changes (1 to 3 levels each,
 *   near the top of a 50-level book) plus one snapshot, stored in a fresh lake: reading the
 *   book change files (the lake's own, decoded straight into typed arrays by
 *   `lib/lake/parquet/decode.ts`; snapshots and statuses through Polars), rebuilding the book
 *   and writing a columnar top-10 series (typed arrays) with mid, spread, microprice,
 *   imbalance and OFI. `rebuild_ms` is the rebuild and sampling alone (events already in
 *   memory: `replayBookOn`, the ask side on the second thread as `bookSeries` does, derived
 *   columns included), `rebuild_one_thread_ms` the same on one thread (`replayBook`),
 *   `read_ms` the part before it (`loadBookEvents`).
 * - `research_book_rebuild_reuse`: the same, each run rebuilding into the memory of the run
 *   before (`bookSeries`' `reuse`, as a loop over days would): what remains when the output's
 *   ~400 MB of fresh memory is not paid again (its page faults cost about 12 us per 4 KB on
 *   this benchmark's VM, as much as the rebuild itself).
 * - `research_book_rebuild_polars`: the same into a Polars frame (`bookHistory`: the series
 *   copied into 43 Polars columns, derived columns by Polars expressions).
 * - `research_book_rebuild_clock`: `bookHistory` sampled every second.
 * - `research_book_rebuild_repeat`: `research_book_rebuild`'s call made 12 times in a row in
 *   the same process (as a notebook re-running a cell): the median, and the slowest of the
 *   last six (`slowest_late_ms`), with each call's minor page faults (fresh memory).
 *
 * Times are the best of three runs after a warm-up run; `cpu_ms` (and `read_cpu_ms`,
 * `rebuild_cpu_ms`) the least CPU time of the process (all threads) over the three runs, and
 * `cpu_changes_per_s` the rate on that CPU time: on a loaded machine the better measure of
 * the code. `loadavg` is `/proc/loadavg` after the runs.
 * @module
 */
import { ParquetLake } from "../lib/lake/mod.ts";
import type { BookChange, BookSnapshot, PriceLevel } from "../lib/market/types.ts";
import { LakeRepository } from "../lib/repositories/mod.ts";
import { bookHistory, loadBookEvents } from "../lib/research/book_history.ts";
import { type BookSeries, bookSeries } from "../lib/research/book_series.ts";
import { replayBook, replayBookOn } from "../lib/research/_book_replay.ts";
import { SIDE_REPLAYS } from "../lib/research/_side_replay_pool.ts";
import { Scratch } from "../lib/research/_scratch.ts";
import { emit } from "./_figure.ts";
import process from "node:process";

const round = (x: number) => Number(x.toPrecision(4));
const SYMBOL = { exchange: "coinbase", symbol: "BTC-USD" } as const;

/** A snapshot and `count` changes: a drifting mid, levels within 20 ticks of the touch. */
function syntheticBook(count: number): [BookSnapshot, ...BookChange[]] {
  const start = Date.UTC(2024, 7, 8, 12) * 1000;
  let seed = 11;
  const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  const tick = 0.01;
  let mid = 60_000;
  const px = (x: number) => Math.round(x * 100) / 100;
  const size = () => Math.round(rand() * 1e6) / 1e5 + 0.001;
  const side = (sign: number): PriceLevel[] =>
    Array.from({ length: 50 }, (_, k) => [px(mid + sign * (k + 0.5) * tick), size()]);
  const snapshot: BookSnapshot = {
    kind: "book_snapshot",
    ...SYMBOL,
    ts: start,
    recvTs: start + 500,
    bids: side(-1),
    asks: side(1),
  };
  const out: [BookSnapshot, ...BookChange[]] = [snapshot];
  for (let i = 0; i < count; i++) {
    if (rand() < 0.05) mid += (rand() < 0.5 ? -1 : 1) * tick;
    const levels: PriceLevel[] = [];
    const sign = rand() < 0.5 ? -1 : 1;
    for (let j = 1 + Math.floor(rand() * 3); j > 0; j--) {
      const k = Math.floor(rand() * rand() * 20);
      levels.push([px(mid + sign * (k + 0.5) * tick), rand() < 0.3 ? 0 : size()]);
    }
    const ts = start + 1_000 + i * 2_000;
    out.push({
      kind: "book_change",
      ...SYMBOL,
      ts,
      recvTs: ts + 500,
      bids: sign < 0 ? levels : [],
      asks: sign > 0 ? levels : [],
    });
  }
  return out;
}

/**
 * Best wall time of `runs` after one unmeasured warm-up run, the least CPU time (all
 * threads) of a run, and `keep` of the last result. The warm-up matters here: the first
 * runs of a process pay the page faults of memory the heap has not used yet (a 1M-row
 * top-10 series is about 350 MB of fresh typed arrays), whichever path runs first. No run's
 * result outlives it (only `keep` of it does): a run never measures with the previous run's
 * result still alive (but for `research_book_rebuild_reuse`, whose runs take the memory of the
 * run before on purpose).
 */
async function best<T, K>(
  runs: number,
  task: () => Promise<T>,
  keep: (result: T) => K,
): Promise<[number, K, number]> {
  await task();
  let fastest = Infinity;
  let leastCpu = Infinity;
  let kept: K | undefined;
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    kept = keep(await task());
    fastest = Math.min(fastest, performance.now() - t0);
    const cpu = process.cpuUsage(c0);
    leastCpu = Math.min(leastCpu, (cpu.user + cpu.system) / 1000);
  }
  return [fastest, kept!, leastCpu];
}

/** `runs` calls of `task` in a row: wall times, minor page faults, median, slowest late. */
async function repeated(runs: number, task: () => Promise<unknown>) {
  const ms: number[] = [];
  const faults: number[] = [];
  for (let i = 0; i < runs; i++) {
    const f0 = process.resourceUsage().minorPageFault;
    const t0 = performance.now();
    await task();
    ms.push(Math.round(performance.now() - t0));
    faults.push(process.resourceUsage().minorPageFault - f0);
  }
  const sorted = [...ms].sort((a, b) => a - b);
  const median = (sorted[(runs - 1) >> 1] + sorted[runs >> 1]) / 2;
  return { ms, faults, median, slowestLate: Math.max(...ms.slice(runs >> 1)) };
}

/** Runs the figures above. */
export async function run(): Promise<void> {
  const count = Number(Deno.env.get("BENCH_BOOK_CHANGES") ?? 1_000_000);
  const root = await Deno.makeTempDir({ prefix: "alphapulse-bench-books-" });
  try {
    const lake = await ParquetLake.open({ root });
    await lake.writeEvents(syntheticBook(count));
    await lake.close();
    const repo = await LakeRepository.open({ root });
    try {
      const options = { levels: 10 };
      const rows = (s: { rows: number }) => s.rows;
      const height = (f: { height: number }) => f.height;
      const [totalMs, seriesRows, totalCpu] = await best(
        3,
        () => bookSeries(repo, SYMBOL, options),
        rows,
      );
      let previous: BookSeries | undefined;
      const [reuseMs, , reuseCpu] = await best(
        3,
        async () => (previous = await bookSeries(repo, SYMBOL, { ...options, reuse: previous })),
        rows,
      );
      previous = undefined;
      const [frameMs, frameRows, frameCpu] = await best(
        3,
        () => bookHistory(repo, SYMBOL, options),
        height,
      );
      const [readMs, events, readCpu] = await best(
        3,
        () => loadBookEvents(repo, SYMBOL, "receive"),
        (e) => e,
      );
      const replay = {
        levels: 10,
        clock: "ts" as const,
        storedDepth: 50,
        venueDepth: () => Infinity,
        imbalanceLevels: [1, 10],
        // As bookSeries: the intermediates kept between calls.
        scratch: new Scratch(),
      };
      const [rebuildMs, , rebuildCpu] = await best(
        3,
        () => replayBookOn(SIDE_REPLAYS, events, replay),
        rows,
      );
      const [oneThreadMs] = await best(3, () => Promise.resolve(replayBook(events, replay)), rows);
      for (const rows of [frameRows, seriesRows]) {
        if (rows !== count + 1) throw new Error(`${rows} rows for ${count + 1}`);
      }
      const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
      const clocked = { levels: 10, every: 1_000_000 };
      const [clockMs, sampled] = await best(3, () => bookHistory(repo, SYMBOL, clocked), height);
      emit({
        name: "research_book_rebuild",
        unit: "changes/s",
        value: round(count / (totalMs / 1000)),
        changes: count,
        total_ms: round(totalMs),
        read_ms: round(readMs),
        rebuild_ms: round(rebuildMs),
        rebuild_changes_per_s: round(count / (rebuildMs / 1000)),
        rebuild_one_thread_ms: round(oneThreadMs),
        cpu_ms: round(totalCpu),
        read_cpu_ms: round(readCpu),
        rebuild_cpu_ms: round(rebuildCpu),
        cpu_changes_per_s: round(count / (totalCpu / 1000)),
        loadavg: load,
      });
      emit({
        name: "research_book_rebuild_reuse",
        unit: "changes/s",
        value: round(count / (reuseMs / 1000)),
        changes: count,
        total_ms: round(reuseMs),
        cpu_ms: round(reuseCpu),
        cpu_changes_per_s: round(count / (reuseCpu / 1000)),
        loadavg: load,
      });
      emit({
        name: "research_book_rebuild_polars",
        unit: "changes/s",
        value: round(count / (frameMs / 1000)),
        changes: count,
        total_ms: round(frameMs),
        cpu_ms: round(frameCpu),
        cpu_changes_per_s: round(count / (frameCpu / 1000)),
        loadavg: load,
      });
      const repeat = await repeated(12, () => bookSeries(repo, SYMBOL, options));
      emit({
        name: "research_book_rebuild_repeat",
        unit: "changes/s",
        value: round(count / (repeat.median / 1000)),
        changes: count,
        median_ms: round(repeat.median),
        slowest_late_ms: round(repeat.slowestLate),
        ms: repeat.ms,
        faults: repeat.faults,
      });
      emit({
        name: "research_book_rebuild_clock",
        unit: "changes/s",
        value: round(count / (clockMs / 1000)),
        changes: count,
        rows: sampled,
        total_ms: round(clockMs),
      });
    } finally {
      await repo.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) await run();
