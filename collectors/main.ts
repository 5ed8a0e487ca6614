/**
 * `deno task collect --exchange NAME --symbols A,B [--channels C,D] [--url WS_URL]
 * [--rest-url URL] [--lake DIR] [--duration 60s] [--record DIR] [--metrics-port [HOST:]PORT]`
 * or `deno task collect --config FILE.json` (several venues, see `runtime/config.ts`).
 *
 * Collects venues' live feeds into the Parquet lake until stopped (SIGINT/SIGTERM flush
 * everything in flight, then exit 0; a second signal exits at once) or until `--duration`
 * has passed. Prints one JSON summary line per venue on exit.
 * @module
 */
import { parseArgs, runMain } from "../lib/cli/args.ts";
import { defaultLakeRoot } from "../lib/config.ts";
import { LakeSink, ParquetLake } from "../lib/lake/mod.ts";
import { openBufferFromEnv } from "../lib/buffer/from_env.ts";
import { parseDuration } from "../lib/market/time.ts";
import { Collector } from "./runtime/collector.ts";
import {
  BOOK_CHANGES_QUEUE_CAPACITY,
  type CollectConfig,
  LAKE_KINDS_BY_DEFAULT,
  parseCollectConfig,
  type VenueConfig,
} from "./runtime/config.ts";
import { venue, venueBookKeeper, VENUES } from "./venues/mod.ts";
import { RecordingWriter } from "./replay/recording.ts";
import { CollectorMetrics } from "./runtime/metrics.ts";
import { serveMetrics } from "./runtime/metrics_server.ts";

const USAGE = `usage: deno task collect --exchange NAME --symbols A,B [options]
       deno task collect --config FILE.json [--lake DIR] [--duration 60s] [--record DIR]
                         [--metrics-port P]

  --exchange NAME    one of: ${Object.keys(VENUES).join(", ")}
  --symbols A,B      canonical symbols, e.g. BTC-USD,ETH-USD
  --channels C,D     venue channels (default: the venue's public trade and book channels)
  --url WS_URL       websocket URL (default: the venue's public feed)
  --rest-url URL     REST base URL for snapshots (Binance) and trade backfill (default: the
                     venue's public API)
  --no-backfill      do not fetch missed trades from the venue's REST trade history (on by
                     default for coinbase, coinbase-advanced, binance, kraken)
  --transport T      websocket client: raw (ours) or native (the runtime's WebSocket);
                     default raw (about 2.4 times the frames/s of native over wss://)
  --config FILE      several venues: {"lake", "metricsPort", "record", "duration",
                     "venues": [{"exchange", "symbols", "channels", "url", "restUrl"}]}
  --lake DIR         Parquet lake (default: $ALPHAPULSE_LAKE or ./data/lake)
  --book-changes     also store every book change in the lake (trades, quotes, book
                     snapshots and feed statuses always are; DATABASE_URL stores all)
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
      "rest-url": { type: "string" },
      transport: { type: "string" },
      config: { type: "string" },
      lake: { type: "string" },
      duration: { type: "string" },
      record: { type: "string" },
      "metrics-port": { type: "string" },
      "book-changes": { type: "boolean" },
      "no-backfill": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    }, USAGE);
    if (values.help) return console.log(USAGE);
    const config = await configFrom(values);
    for (const v of config.venues) {
      // Checked before anything opens, so a typo is one usage line (exit 2), not a stack.
      if (v.url !== undefined && !/^wss?:\/\/[^/\s]+/i.test(v.url)) {
        throw new RangeError(`--url must be a ws:// or wss:// URL, got "${v.url}"`);
      }
    }
    const duration = config.duration ? parseDuration(config.duration) / 1000 : undefined;
    const metricsListen = config.metricsPort === undefined
      ? undefined
      : parseListen(String(config.metricsPort));
    const buffer = await openBufferFromEnv(); // DATABASE_URL set: write PostgreSQL, not the lake
    // The lake's one writer: refuses (exit 75) when another process writes it.
    const lake = buffer
      ? undefined
      : await ParquetLake.open({ root: config.lake ?? defaultLakeRoot() });
    const metrics = new CollectorMetrics();
    const metricsServer = metricsListen ? serveMetrics(metrics, metricsListen) : undefined;
    // Book changes are most of a feed's messages; in the lake they are opt-in (they
    // multiply the Parquet writes, and the memory a flood of them needs).
    const lakeKinds = values["book-changes"] ? undefined : LAKE_KINDS_BY_DEFAULT;
    const collectors = config.venues.map((v) => {
      const spec = venue(v.exchange);
      return new Collector({
        exchange: v.exchange,
        url: v.url ?? spec.url,
        restUrl: v.restUrl,
        symbols: v.symbols,
        channels: v.channels,
        sinks: [buffer ? buffer.writer(v.exchange) : new LakeSink(lake!, { kinds: lakeKinds })],
        books: venueBookKeeper(v.exchange),
        recorder: config.record
          ? new RecordingWriter({ dir: config.record, exchange: v.exchange })
          : undefined,
        metrics,
        // A flood of book changes is buffered within a memory budget (see the constant).
        queue: values["book-changes"] && !buffer
          ? { capacity: BOOK_CHANGES_QUEUE_CAPACITY }
          : undefined,
        connection: { watchdogMs: v.watchdogMs, transport: v.transport },
        // Trades missed live are fetched from the venue's REST history (marked backfilled).
        backfill: values["no-backfill"] ? undefined : { baseUrl: v.restUrl },
      });
    });
    const done = Promise.withResolvers<string>();
    let stopping = false;
    const stop = (signal: string) => () => {
      if (stopping) {
        console.error(JSON.stringify({ level: "error", msg: `second ${signal}: exiting now` }));
        Deno.exit(130);
      }
      stopping = true;
      done.resolve(signal);
    };
    const onInt = stop("SIGINT");
    const onTerm = stop("SIGTERM");
    Deno.addSignalListener("SIGINT", onInt);
    Deno.addSignalListener("SIGTERM", onTerm);
    const timer = duration ? setTimeout(() => done.resolve("duration"), duration) : undefined;
    for (const c of collectors) c.start();
    console.error(
      JSON.stringify({
        level: "info",
        msg: "collecting",
        venues: config.venues.map((v) => ({ exchange: v.exchange, symbols: v.symbols })),
        lake: lake?.root,
        record: config.record,
        metricsPort: metricsServer?.port,
      }),
    );
    const why = await done.promise;
    clearTimeout(timer);
    console.error(JSON.stringify({ level: "info", msg: "stopping: flushing", why }));
    const summaries = await Promise.all(collectors.map((c) => c.stop()));
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onTerm);
    await metricsServer?.shutdown();
    await lake?.close();
    await buffer?.close();
    summaries.forEach((summary, i) =>
      console.log(JSON.stringify({ exchange: config.venues[i].exchange, ...summary }))
    );
  });
}

/** The run's configuration: the config file (CLI options override its lake, ...) or flags. */
async function configFrom(
  values: Record<string, string | boolean | string[] | undefined>,
): Promise<CollectConfig> {
  const str = (name: string) => values[name] as string | undefined;
  const list = (name: string) => str(name)?.split(",").map((s) => s.trim()).filter(Boolean);
  const overrides = {
    ...(str("lake") ? { lake: str("lake") } : {}),
    ...(str("duration") ? { duration: str("duration") } : {}),
    ...(str("record") ? { record: str("record") } : {}),
    ...(str("metrics-port") ? { metricsPort: str("metrics-port") } : {}),
  };
  const path = str("config");
  if (path !== undefined) {
    const clash = ["exchange", "symbols", "channels", "url", "rest-url", "transport"].filter((
      k,
    ) => str(k));
    if (clash.length > 0) {
      throw new SyntaxError(
        `--config names the venues: drop ${clash.map((k) => `--${k}`).join(", ")}`,
      );
    }
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      throw new RangeError(`cannot read config ${path}: ${(error as Error).message}`);
    }
    return { ...parseCollectConfig(text, path), ...overrides };
  }
  const exchange = str("exchange");
  const symbols = list("symbols") ?? [];
  if (!exchange || symbols.length === 0) {
    throw new SyntaxError(`--exchange and --symbols (or --config) are required\n\n${USAGE}`);
  }
  venue(exchange); // RangeError for an unknown venue
  const single: VenueConfig = {
    exchange,
    symbols,
    ...(list("channels") ? { channels: list("channels") } : {}),
    ...(str("url") ? { url: str("url") } : {}),
    ...(str("rest-url") ? { restUrl: str("rest-url") } : {}),
  };
  const transport = str("transport");
  if (transport !== undefined) {
    if (transport !== "raw" && transport !== "native") {
      throw new SyntaxError(`--transport must be raw or native, got "${transport}"`);
    }
    return { venues: [{ ...single, transport }], ...overrides };
  }
  return { venues: [single], ...overrides };
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
