/**
 * `deno task demo [--duration 20s] [--speed 60] [--seed 42] [--port 8787] [--lake DIR]
 * [--serve]`: the whole data path, offline, on a **synthetic** market.
 *
 * 1. A local exchange simulator on 127.0.0.1 speaks the Coinbase Exchange protocol (seeded
 *    random-walk fair value, an L2 book, taker orders hitting it; simulated time runs
 *    `--speed` times faster than real time so a short run yields many 1-minute bars).
 * 2. The Coinbase collector connects to it over a real websocket exactly as to Coinbase,
 *    keeps the books, and writes trades to the Parquet lake.
 * 3. The server streams the live trades and serves a live chart page.
 * 4. At the end: an offline HTML report with charts, a summary table, where everything is.
 * @module
 */
import { parseArgs, runMain } from "../lib/cli/args.ts";
import { ProgressLine } from "../lib/cli/progress.ts";
import { defaultLakeRoot } from "../lib/config.ts";
import { parseDuration } from "../lib/market/time.ts";
import { LakeRepository } from "../lib/repositories/mod.ts";
import { candlestickChart, htmlReport } from "../lib/charts/mod.ts";
import { DEMO_PRODUCTS, startCoinbaseSimulator } from "../lib/simulator/mod.ts";
import { assembleFeed } from "../collectors/runtime/feed.ts";
import { StreamHub } from "../server/hub.ts";
import { startServer } from "../server/mod.ts";

const USAGE = `usage: deno task demo [options]

  --duration 20s   how long to collect (real time; default 20s)
  --speed 60       simulated seconds per real second (default 60: 20 s -> 20 minutes of market)
  --seed 42        simulator seed (same seed, same market)
  --port 8787      server port (0 picks a free one)
  --lake DIR       Parquet lake (default: $ALPHAPULSE_LAKE or ./data/lake)
  --report DIR     where the HTML report goes (default: ./data/reports)
  --serve          keep the simulator, collector and server running until Ctrl-C`;

if (import.meta.main) {
  await runMain(async () => {
    const { values } = parseArgs(Deno.args, {
      duration: { type: "string", default: "20s" },
      speed: { type: "string", default: "60" },
      seed: { type: "string", default: "42" },
      port: { type: "string", default: "8787" },
      lake: { type: "string" },
      report: { type: "string", default: "data/reports" },
      serve: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    }, USAGE);
    if (values.help) return console.log(USAGE);
    const durationMs = parseDuration(values.duration as string) / 1000;
    const speed = Number(values.speed);
    const seed = Number(values.seed);
    const port = Number(values.port);
    if (!(speed > 0)) throw new RangeError(`--speed must be a positive number`);
    if (!Number.isInteger(seed)) throw new RangeError(`--seed must be an integer`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`bad --port`);

    const lakeRoot = (values.lake as string) ?? defaultLakeRoot();
    const symbols = DEMO_PRODUCTS.map((p) => p.id);
    // Simulated time ends about now: the run covers the last `duration * speed` of market.
    const sim = startCoinbaseSimulator({
      seed,
      speed,
      startTs: Date.now() * 1000 - durationMs * 1000 * speed,
    });
    // The demo reads its report back from the lake: the lake is the store whatever
    // DATABASE_URL says, with every kind (book changes included).
    const hub = new StreamHub();
    const feed = await assembleFeed({
      venues: [{ exchange: "coinbase", url: sim.url, symbols }],
      databaseUrl: false,
      lake: lakeRoot,
      bookChanges: true,
      extraSinks: [hub],
      connectionLog: () => {},
    });
    const [collector] = feed.collectors;
    const repository = await LakeRepository.open({ root: lakeRoot });
    const server = await startServer({ repository, hub, port, hostname: "127.0.0.1" })
      .catch((error) => {
        if (!(error instanceof Deno.errors.AddrInUse)) throw error;
        console.log(`port ${port} is in use: serving on a free port instead`);
        return startServer({ repository, hub, port: 0, hostname: "127.0.0.1" });
      });
    console.log(`AlphaPulse demo: SYNTHETIC market (seed ${seed}, ${speed}x real time)`);
    console.log(`  exchange simulator  ${sim.url}  (Coinbase Exchange protocol)`);
    console.log(`  live chart          ${server.url}`);
    console.log(`  lake                ${lakeRoot}`);
    feed.start();

    const progress = new ProgressLine();
    const started = Date.now();
    const ticker = setInterval(() => {
      const s = collector.pipeline.summary();
      progress.update(
        (Date.now() - started) / durationMs,
        `${s.messages.toLocaleString("en-US")} msgs, ${s.trades.toLocaleString("en-US")} trades, ` +
          `${s.rows_written.toLocaleString("en-US")} rows in the lake`,
      );
    }, 250);
    const stopSignal = Promise.withResolvers<void>();
    const onSignal = () => stopSignal.resolve();
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
    await Promise.race([
      new Promise((resolve) => setTimeout(resolve, durationMs)),
      stopSignal.promise,
    ]);
    clearInterval(ticker);
    progress.done();
    if (values.serve) {
      console.log(`collecting; live chart at ${server.url} (Ctrl-C or SIGTERM to stop)`);
      await stopSignal.promise;
    }
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    const [summary] = await feed.stop();
    await sim.shutdown();

    // Report: 1-minute candles per symbol from the lake, through the repository.
    const sections = [];
    const rows = [];
    for (const symbol of symbols) {
      const bars = await repository.bars({ exchange: "coinbase", symbol, interval: 60_000_000 })
        .rows();
      const trades = bars.reduce((n, b) => n + b.trades, 0);
      const volume = bars.reduce((v, b) => v + b.volume, 0);
      const notional = bars.reduce((v, b) => v + b.vwap * b.volume, 0);
      rows.push({
        symbol,
        bars: bars.length,
        trades,
        volume: volume.toFixed(4),
        vwap: volume > 0 ? (notional / volume).toFixed(2) : "",
        first: bars[0]?.open ?? "",
        last: bars.at(-1)?.close ?? "",
      });
      sections.push({
        heading: `${symbol} (synthetic), 1-minute candles`,
        chart: candlestickChart(bars, { title: `${symbol} synthetic`, volume: true }),
      });
    }
    const summaryRows = Object.entries(summary).map(([name, value]) => ({ name, value }));
    const reportDir = values.report as string;
    await Deno.mkdir(reportDir, { recursive: true });
    const reportPath = `${reportDir}/demo-${new Date().toISOString().replace(/[:.]/g, "-")}.html`;
    await Deno.writeTextFile(
      reportPath,
      htmlReport({
        title: "AlphaPulse demo (synthetic market)",
        sections: [
          { heading: "Instruments", table: rows },
          ...sections,
          { heading: "Feed summary", table: summaryRows },
        ],
      }),
    );
    await server.shutdown();
    await repository.close();

    console.log("");
    console.table(rows);
    console.log(`feed: ${JSON.stringify(summary)}`);
    console.log(`report   ${reportPath}`);
    console.log(`lake     ${lakeRoot}  (query it: deno task notebook, or DuckDB/Polars)`);
    if (summary.trades === 0 || summary.rows_written === 0) {
      throw new Error("the demo collected no trades: see the log lines above");
    }
  });
}
