/**
 * `deno task backtest`: runs a strategy over a range of the lake (or a synthetic L2 stream)
 * and writes an offline HTML report and the action log (a JSON lines file, and with
 * `--log-to-lake` also the lake's `actions` table); the last line on stdout is a JSON summary.
 *
 * The strategy is a built-in example (`market-maker`, `ma-cross`) or a module whose default
 * export is a factory `(params) => Strategy`; `--params` is JSON handed to it. Everything
 * else of the run (latency, queue model, fees, seed, ...) comes from `--config FILE.json`
 * (a `BacktestConfig` without `instruments`) and the flags below.
 * @module
 */
import { parseArgs, runMain } from "../lib/cli/args.ts";
import { defaultLakeRoot } from "../lib/config.ts";
import { parseDuration, parseIsoMicros } from "../lib/market/time.ts";
import { LakeRepository } from "../lib/repositories/mod.ts";
import { ParquetLake } from "../lib/lake/mod.ts";
import {
  actionLogRows,
  backtest,
  type BacktestConfig,
  backtestReport,
  type BacktestResult,
  type FeedSource,
  marketMaker,
  type MarketMakerParams,
  movingAverageCross,
  type MovingAverageParams,
  repositoryFeed,
  type Strategy,
  syntheticL2Feed,
} from "../lib/backtest/mod.ts";

const USAGE = `usage: deno task backtest --strategy NAME|MODULE [options]

  --strategy S       market-maker | ma-cross | path to a module whose default export is
                     (params) => Strategy
  --params JSON      parameters for the strategy factory (exchange and symbol default to
                     the first instrument)
  --config FILE      JSON BacktestConfig (latency, queue, fees, seed, initialCash, ...)
  --lake DIR         lake root (default $ALPHAPULSE_LAKE or ./data/lake)
  --exchange NAME    venue of the instruments
  --symbols A,B      instruments to feed and trade
  --start ISO        range start (inclusive), --end ISO range end (exclusive)
  --bars 1m          feed time bars of this length instead of trades, quotes and books
  --synthetic N      feed N synthetic L2 events (sim:BTC-USD) instead of the lake
  --seed N           seed of the latency draws (overrides the config)
  --out FILE         report path (default data/reports/backtest-<strategy>.html)
  --log FILE         action log path (default next to the report, .jsonl)
  --log-to-lake      also store the action log in the lake (--lake) as the run
                     backtest/<run id>; read it back with LakeRepository.actionLog
  --run ID           the run id (default <strategy>-<hash of the log's last entry>)`;

const OPTIONS = {
  strategy: { type: "string" },
  params: { type: "string" },
  config: { type: "string" },
  lake: { type: "string" },
  exchange: { type: "string" },
  symbols: { type: "string" },
  start: { type: "string" },
  end: { type: "string" },
  bars: { type: "string" },
  synthetic: { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
  log: { type: "string" },
  "log-to-lake": { type: "boolean" },
  run: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

async function strategyOf(name: string, params: Record<string, unknown>): Promise<Strategy> {
  if (name === "market-maker") {
    return marketMaker({ size: 0.1, maxPosition: 1, ...params } as unknown as MarketMakerParams);
  }
  if (name === "ma-cross") {
    return movingAverageCross(
      { fast: 10, slow: 30, size: 1, ...params } as unknown as MovingAverageParams,
    );
  }
  const url = new URL(name, `file://${Deno.cwd()}/`).href;
  const module = await import(url);
  if (typeof module.default !== "function") {
    throw new SyntaxError(`${name}: the default export must be (params) => Strategy`);
  }
  return module.default(params);
}

async function main(): Promise<void> {
  const { values } = parseArgs(Deno.args, OPTIONS, USAGE);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const v = values as Record<string, string | undefined>;
  if (!v.strategy) throw new SyntaxError(`--strategy is required\n\n${USAGE}`);
  const fileConfig = v.config ? JSON.parse(await Deno.readTextFile(v.config)) : {};
  const synthetic = v.synthetic !== undefined ? Number(v.synthetic) : undefined;
  if (synthetic !== undefined && !(synthetic >= 1)) {
    throw new RangeError("--synthetic needs N >= 1");
  }
  const exchange = synthetic ? "sim" : v.exchange;
  const symbols = synthetic ? ["BTC-USD"] : (v.symbols ?? "").split(",").filter(Boolean);
  if (!exchange || symbols.length === 0) {
    throw new SyntaxError(`--exchange and --symbols are required (or --synthetic)\n\n${USAGE}`);
  }
  const instruments = symbols.map((symbol) => ({
    exchange,
    symbol,
    ...(synthetic ? { tickSize: 0.5 } : {}),
  }));
  const params = { exchange, symbol: symbols[0], ...JSON.parse(v.params ?? "{}") };
  const strategy = await strategyOf(v.strategy, params);
  const config: BacktestConfig = {
    ...fileConfig,
    instruments,
    ...(v.seed !== undefined ? { seed: Number(v.seed) } : {}),
  };
  let repo: LakeRepository | undefined;
  let feed: FeedSource;
  if (synthetic) feed = syntheticL2Feed({ events: synthetic, seed: config.seed ?? 1 });
  else {
    repo = await LakeRepository.open({ root: v.lake ?? defaultLakeRoot() });
    const start = v.start ? parseIsoMicros(v.start) : undefined;
    const end = v.end ? parseIsoMicros(v.end) : undefined;
    feed = repositoryFeed(repo, {
      instruments: symbols.map((symbol) => ({ exchange, symbol, start, end })),
      ...(v.bars ? { barInterval: parseDuration(v.bars) } : {}),
    });
  }
  try {
    const result = await backtest({ ...config, strategy, feed });
    const out = v.out ?? `data/reports/backtest-${strategy.name}.html`;
    const logPath = v.log ?? out.replace(/\.html?$/, "") + ".jsonl";
    for (const path of [out, logPath]) {
      const dir = path.replace(/[^/]*$/, "");
      if (dir) await Deno.mkdir(dir, { recursive: true });
    }
    await Deno.writeTextFile(out, backtestReport(result));
    await Deno.writeFile(logPath, result.log.toBytes());
    const lakeLog = values["log-to-lake"]
      ? await logToLake(result, v.lake ?? defaultLakeRoot(), v.run)
      : undefined;
    const m = result.metrics();
    console.log(JSON.stringify({
      strategy: strategy.name,
      events: result.events,
      orders: result.orders.length,
      fills: result.fills.length,
      pnl: m.pnl,
      total_return: m.totalReturn,
      sharpe: m.sharpe,
      max_drawdown: m.maxDrawdown,
      fees: m.fees,
      log_entries: result.log.length,
      log_head: result.log.head,
      log_sha256: result.log.sha256(),
      error: result.error ?? null,
      report: out,
      log: logPath,
      ...(lakeLog ? { lake_log: lakeLog } : {}),
    }));
  } finally {
    await repo?.close();
  }
}

/**
 * Stores the run's action log in the lake's `actions` table; resolves to where (source, run)
 * and the rows newly stored.
 */
async function logToLake(
  result: BacktestResult,
  root: string,
  run: string | undefined,
): Promise<{ source: string; run: string; rows_written: number }> {
  const rows = actionLogRows(result.log, { run });
  const lake = await ParquetLake.open({ root });
  try {
    const written = await lake.writeActions(rows);
    const rejected = lake.lastWrite.rejected;
    if (rejected > 0) throw new RangeError(`the lake refused ${rejected} rows of the log`);
    return { source: rows[0].source, run: rows[0].run, rows_written: written };
  } finally {
    await lake.close();
  }
}

if (import.meta.main) await runMain(main);
