/**
 * `deno task export [--lake DIR] [--every 1h] [--lag 5m] [--retain 7d | --retain off]
 * [--metrics-port 9465]`: moves closed ranges of every buffer table to the lake with the
 * {@linkcode Exporter} (`lib/buffer/exporter.ts`), then applies the buffer's retention.
 * With `--metrics-port`, serves Prometheus `/metrics` (see `scripts/export_metrics.ts`) on
 * 127.0.0.1 (or `HOST:PORT`) while it runs: the daemon mode is `--every`.
 * @module
 */
import postgres from "postgres";
import { parseDuration } from "../lib/market/time.ts";
import { parseArgs, runMain } from "../lib/cli/args.ts";
import { databaseUrl, defaultLakeRoot } from "../lib/config.ts";
import { ParquetLake } from "../lib/lake/mod.ts";
import { waitingLock } from "../lib/cli/lake_lock.ts";
import { Exporter, type ExportReport } from "../lib/buffer/exporter.ts";
import { ExportMetrics } from "./export_metrics.ts";

/** The JSON line `deno task export` prints per run. */
function reportJson(r: ExportReport): Record<string, unknown> {
  const iso = (micros: number | undefined) =>
    micros === undefined ? null : new Date(micros / 1000).toISOString();
  const kinds: Record<string, unknown> = {};
  let rowsRead = 0;
  let rowsWritten = 0;
  const unverified = new Set<string>();
  for (const [kind, k] of Object.entries(r.kinds)) {
    rowsRead += k.rowsRead;
    rowsWritten += k.rowsWritten;
    for (const day of k.unverifiedDays) unverified.add(day);
    kinds[kind] = {
      rows_read: k.rowsRead,
      rows_written: k.rowsWritten,
      watermark: iso(k.watermark),
      verified_days: k.verifiedDays,
      unverified_days: k.unverifiedDays,
    };
  }
  return {
    rows_read: rowsRead,
    rows_written: rowsWritten,
    unverified_days: [...unverified].sort(),
    seconds: Number((r.millis / 1000).toFixed(3)),
    kinds,
    ...(r.actions
      ? {
        actions: {
          runs: r.actions.runs,
          rows_read: r.actions.rowsRead,
          rows_written: r.actions.rowsWritten,
          unverified_runs: r.actions.unverifiedRuns,
        },
      }
      : {}),
  };
}

const USAGE =
  `usage: deno task export [--lake DIR] [--every 1h] [--lag 5m] [--retain 7d | --retain off] [--lock-wait 5m]
       [--metrics-port [HOST:]PORT]

Moves closed ranges of every buffer table to the lake (DATABASE_URL), verifies them, then
drops the buffer's expired days that are verified (\`buffer_drop_expired\`), unless
--retain off. Prints one JSON line per run. Waits up to --lock-wait for another writer of the
lake to finish (one writer per lake), then exits 75. With --metrics-port, serves Prometheus
/metrics there (runs, rows, watermarks, last success, process) while running.`;

/** `deno task export`: once, or every `--every`, until interrupted. */
async function main(args: readonly string[]): Promise<void> {
  const { values } = parseArgs(args, {
    lake: { type: "string" },
    every: { type: "string" },
    lag: { type: "string" },
    retain: { type: "string", default: "7d" },
    "lock-wait": { type: "string", default: "5m" },
    "metrics-port": { type: "string" },
    help: { type: "boolean", short: "h" },
  }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const url = databaseUrl();
  if (!url) {
    throw new SyntaxError(
      "DATABASE_URL is not set: collectors write the lake directly, nothing to export",
    );
  }
  const duration = (name: string) => {
    const text = values[name] as string | undefined;
    if (text === undefined) return undefined;
    try {
      return parseDuration(text);
    } catch (error) {
      throw new RangeError(`--${name}: ${(error as Error).message}`);
    }
  };
  const periodMicros = duration("every");
  const lag = duration("lag");
  const retain = values.retain === "off" ? undefined : duration("retain");
  const root = (values.lake as string | undefined) ?? defaultLakeRoot();
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  const lake = await ParquetLake.open({
    root,
    lock: waitingLock("export", values["lock-wait"] as string),
  });
  const exporter = new Exporter({ sql, lake, lag });
  const metrics = values["metrics-port"] === undefined ? undefined : new ExportMetrics();
  const metricsServer = metrics?.serve(listenOn(values["metrics-port"] as string));
  try {
    while (true) {
      let report: ExportReport;
      try {
        report = await exporter.run();
      } catch (error) {
        metrics?.observeError();
        throw error;
      }
      metrics?.observe(report);
      const line = reportJson(report);
      if (retain !== undefined) {
        // Drops only days that ended more than `retain` ago and that this or an earlier
        // run verified, still holding exactly the verified rows (see migrations.ts).
        const dropped = await sql<{ p: string }[]>`
          select buffer_drop_expired(${`${Math.round(retain / 1e6)} seconds`}::interval) as p`;
        line.retention_dropped = dropped.map((r) => r.p);
      }
      console.log(JSON.stringify(line));
      if (periodMicros === undefined) break;
      await new Promise((res) => setTimeout(res, periodMicros / 1000));
    }
  } finally {
    await metricsServer?.shutdown();
    await exporter.close();
    await lake.close();
    await sql.end();
  }
}

/** `PORT` or `HOST:PORT` (default host 127.0.0.1). */
function listenOn(text: string): { port: number; hostname?: string } {
  const m = /^(?:(.+):)?(\d+)$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port > 65_535) {
    throw new RangeError(`--metrics-port must be PORT or HOST:PORT, got "${text}"`);
  }
  return { port, hostname: m[1] };
}

if (import.meta.main) await runMain(() => main(Deno.args));
