/**
 * The 7M bars x 10 parameter sets vectorized run of `bench/backtest.ts`, alone in its own
 * process: prints `{"peakMb": ..., "ms": ...}` with the process's peak resident memory
 * (VmHWM from /proc/self/status).
 * @module
 */
import { ohlc, vectorizedGrid } from "./backtest.ts";

const t0 = performance.now();
const result = vectorizedGrid(ohlc(7_000_000), true);
const ms = Math.round(performance.now() - t0);
if (result.equity?.length !== 10) throw new Error("expected 10 equity curves");
const status = Deno.readTextFileSync("/proc/self/status");
const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
console.log(JSON.stringify({ peakMb: Math.round(kb / 1024), ms }));
