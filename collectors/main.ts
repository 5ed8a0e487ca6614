/**
 * `deno task collect --exchange NAME --symbols A,B [--channels C,D] [--url WS_URL]
 * [--lake DIR] [--duration 60s] [--record DIR] [--metrics-port [HOST:]PORT]`
 *
 * Collects a venue's live feed into the Parquet lake until stopped (SIGINT/SIGTERM flush
 * everything in flight) or until `--duration` has passed. Prints the feed summary on exit.
 * @module
 */
import { parseArgs, runMain } from "../lib/cli/args.ts";
import { defaultLakeRoot } from "../lib/config.ts";
import { LakeSink, ParquetLake } from "../lib/lake/mod.ts";
import { parseDuration } from "../lib/market/time.ts";
import { BookKeeper } from "../lib/book/mod.ts";
import { Collector } from "./runtime/collector.ts";
import { venue, VENUES } from "./venues/mod.ts";
import { RecordingWriter } from "./replay/recording.ts";
import { CollectorMetrics } from "./runtime/metrics.ts";
import { serveMetrics } from "./runtime/metrics_server.ts";

const USAGE = `usage: deno task collect --exchange NAME --symbols A,B [options]

  --exchange NAME    one of: ${Object.keys(VENUES).join(", ")}
  --symbols A,B      canonical symbols, e.g. BTC-USD,ETH-USD
  --channels C,D     venue channels (default: the venue's public trade and book channels)
  --url WS_URL       websocket URL (default: the venue's public feed)
  --lake DIR         Parquet lake (default: $ALPHAPULSE_LAKE or ./data/lake)
  --duration 60s     stop after this long (default: run until SIGINT/SIGTERM)
  --record DIR       also store every raw frame (receive time in ns), gzip, rotated hourly
  --metrics-port P   serve /metrics and /health on 127.0.0.1:P (or HOST:P)`;

if (import.meta.main) {
  await runMain(async () => {
    const { values } = parseArgs(Deno.args, {
      exchange: { type: "string" },
      symbols: { type: "string" },
      channels: { type: "string" },
      url: { type: "string" },
      lake: { type: "string" },
      duration: { type: "string" },
      record: { type: "string" },
      "metrics-port": { type: "string" },
      help: { type: "boolean", short: "h" },
    }, USAGE);
    if (values.help) return console.log(USAGE);
    const exchange = values.exchange as string | undefined;
    const symbols = (values.symbols as string | undefined)?.split(",").filter(Boolean) ?? [];
    if (!exchange || symbols.length === 0) {
      throw new SyntaxError(`--exchange and --symbols are required\n\n${USAGE}`);
    }
    const spec = venue(exchange);
    const lake = await ParquetLake.open({ root: (values.lake as string) ?? defaultLakeRoot() });
    const recorder = values.record
      ? new RecordingWriter({ dir: values.record as string, exchange })
      : undefined;
    const metrics = new CollectorMetrics();
    const metricsServer = values["metrics-port"]
      ? serveMetrics(metrics, parseListen(values["metrics-port"] as string))
      : undefined;
    const collector = new Collector({
      exchange,
      url: (values.url as string) ?? spec.url,
      symbols,
      channels: (values.channels as string | undefined)?.split(",").filter(Boolean),
      sinks: [new LakeSink(lake)],
      books: new BookKeeper({ exchange }),
      recorder,
      metrics,
    });
    const done = Promise.withResolvers<void>();
    const stop = () => done.resolve();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    const duration = values.duration ? parseDuration(values.duration as string) / 1000 : undefined;
    const timer = duration ? setTimeout(stop, duration) : undefined;
    collector.start();
    console.error(
      JSON.stringify({
        level: "info",
        msg: "collecting",
        exchange,
        symbols,
        lake: lake.root,
        record: recorder?.dir,
        metricsPort: metricsServer?.port,
      }),
    );
    await done.promise;
    clearTimeout(timer);
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    const summary = await collector.stop();
    await metricsServer?.shutdown();
    await lake.close();
    console.log(JSON.stringify(summary));
  });
}

/** `PORT` or `HOST:PORT` for the metrics endpoint. */
function parseListen(text: string): { hostname?: string; port: number } {
  const colon = text.lastIndexOf(":");
  const port = Number(colon < 0 ? text : text.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new SyntaxError(`--metrics-port must be PORT or HOST:PORT, got "${text}"`);
  }
  return colon < 0 ? { port } : { hostname: text.slice(0, colon), port };
}
