/**
 * `deno task collect --exchange NAME --symbols A,B [--channels C,D] [--url WS_URL]
 * [--rest-url URL] [--lake DIR] [--duration 60s] [--record DIR] [--metrics-port [HOST:]PORT]`
 * or `deno task collect --config FILE.json` (several venues, see `runtime/config.ts`).
 *
 * Collects venues' live feeds into the Parquet lake (with `DATABASE_URL`: the PostgreSQL
 * hot buffer; see `runtime/feed.ts`) until stopped (SIGINT/SIGTERM flush
 * everything in flight, then exit 0; a second signal exits at once) or until `--duration`
 * has passed. Prints one JSON summary line per venue on exit.
 * @module
 */
import { parseArgs, runMain } from "../lib/cli/args.ts";
import { parseDuration } from "../lib/market/time.ts";
import { type CollectConfig, parseCollectConfig, type VenueConfig } from "./runtime/config.ts";
import { venue, VENUES } from "./venues/mod.ts";
import { assembleFeed, bookChangesFlag } from "./runtime/feed.ts";
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
  --book-changes     store every book change in the lake (the default for venues whose
                     feed sends them: coinbase, coinbase-advanced, kraken, binance,
                     alpaca-crypto; trades, quotes, book snapshots and feed statuses
                     always are stored; DATABASE_URL stores all)
  --no-book-changes  leave book changes out of the lake
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
      "no-book-changes": { type: "boolean" },
      "no-backfill": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    }, USAGE);
    if (values.help) return console.log(USAGE);
    const bookChanges = bookChangesFlag(values);
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
    const metrics = new CollectorMetrics();
    // DATABASE_URL set: the PostgreSQL buffer; unset: the lake's one writer (exit 75 when
    // another process writes it). Book changes go to the lake for venues that send them,
    // within a queue budget (BOOK_CHANGES_QUEUE_CAPACITY), unless --no-book-changes.
    const feed = await assembleFeed({
      venues: config.venues,
      lake: config.lake,
      bookChanges,
      recorder: config.record
        ? (exchange) => new RecordingWriter({ dir: config.record!, exchange })
        : undefined,
      metrics,
      backfill: !values["no-backfill"],
    });
    const metricsServer = metricsListen ? serveMetrics(metrics, metricsListen) : undefined;
    const stopWhen = stopSignals(duration);
    feed.start();
    console.error(
      JSON.stringify({
        level: "info",
        msg: "collecting",
        venues: config.venues.map((v) => ({ exchange: v.exchange, symbols: v.symbols })),
        store: feed.store,
        lake: feed.lake?.root,
        record: config.record,
        metricsPort: metricsServer?.port,
      }),
    );
    const why = await stopWhen.reason;
    console.error(JSON.stringify({ level: "info", msg: "stopping: flushing", why }));
    const summaries = await feed.stop();
    stopWhen.dispose();
    await metricsServer?.shutdown();
    summaries.forEach((summary, i) =>
      console.log(JSON.stringify({ exchange: config.venues[i].exchange, ...summary }))
    );
  });
}

/**
 * Why the run stops: the first SIGINT or SIGTERM (a second one exits at once, code 130), or
 * the end of `durationMs`. `dispose` removes the signal listeners.
 */
function stopSignals(durationMs: number | undefined): {
  reason: Promise<string>;
  dispose(): void;
} {
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
  const timer = durationMs ? setTimeout(() => done.resolve("duration"), durationMs) : undefined;
  return {
    reason: done.promise.finally(() => clearTimeout(timer)),
    dispose: () => {
      Deno.removeSignalListener("SIGINT", onInt);
      Deno.removeSignalListener("SIGTERM", onTerm);
    },
  };
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
