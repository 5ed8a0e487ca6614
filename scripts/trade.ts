/**
 * `deno task trade`: runs a strategy live through a broker, on the wall clock, with the risk
 * gate and the backtester's action log. SIGINT / SIGTERM pull the kill switch: every open
 * order is cancelled and the run stops. The last line on stdout is a JSON summary.
 *
 * Brokers: `sim` (the backtester's fill model on the fed books) and `alpaca-paper` (keys from
 * `ALPACA_API_KEY` / `ALPACA_API_SECRET`, never printed; base URL from `--base-url` or
 * `ALPACA_PAPER_URL`). Feeds: a live venue through the collector (`--exchange NAME --url WS`), the
 * offline exchange simulator through the collector (`--simulator`), or the backtester's
 * synthetic L2 stream (`--synthetic N`, paced at `--rate` events per second).
 *
 * `--serve PORT` serves the run while it lasts: the live page with its paper-trading panel,
 * `/api/trading/*` (positions, orders, fills, PnL, a live stream) and `POST /api/trading/kill`,
 * the kill switch; the feed's events go to the page's live stream. Those routes need the
 * `trade` scope when credentials are configured (the server's `--api-tokens-file` ...).
 * @module
 */
import { parseArgs, runMain } from "../lib/cli/args.ts";
import {
  type InstrumentSpec,
  marketMaker,
  type MarketMakerParams,
  type Strategy,
  syntheticL2Feed,
} from "../lib/backtest/mod.ts";
import type { MarketEvent } from "../lib/market/types.ts";
import { parseDuration } from "../lib/market/time.ts";
import { DEMO_PRODUCTS, startCoinbaseSimulator } from "../lib/simulator/mod.ts";
import { Collector } from "../collectors/runtime/collector.ts";
import {
  ALPACA_PAPER_URL,
  AlpacaPaperBroker,
  type Broker,
  LiveFeed,
  LiveRunner,
  type RiskLimits,
  Scheduler,
  SimBroker,
} from "../lib/trading/mod.ts";
import { venueBookKeeper } from "../collectors/venues/mod.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { loadServerSecurity, SECURITY_FLAGS, SECURITY_USAGE } from "../server/config.ts";
import { type RunningServer, startServer } from "../server/start.ts";
import { StreamHub } from "../server/hub.ts";

const USAGE = `usage: deno task trade --strategy NAME|MODULE --broker sim --symbols A,B [options]

  --strategy S       market-maker | path to a module whose default export is
                     (params) => Strategy
  --params JSON      parameters for the strategy factory
  --broker B         sim | alpaca-paper (keys: ALPACA_API_KEY, ALPACA_API_SECRET)
  --base-url URL     Alpaca REST base (default $ALPACA_PAPER_URL or the paper API)
  --stream-url URL   Alpaca trade_updates websocket (default <base-url>/stream)
  --symbols A,B      instruments to trade (the synthetic feed quotes the first)
  --exchange NAME    live feed: the venue to collect from (with --url)
  --url WS           live feed: the venue's websocket URL
  --simulator        feed: the offline Coinbase-protocol exchange simulator, collected
  --seed N           simulator seed (default 42)
  --tick T           price step of the instruments (default 0.5 on synthetic feeds)
  --duration 60s     stop cleanly after this long (default: until the feed ends or a signal)
  --synthetic N      feed N synthetic L2 events
  --rate R           synthetic events per second (default 1000)
  --risk JSON        risk limits (maxPosition, maxNotional, maxOrdersPerSecond, priceBandBps,
                     maxLoss, maxTotalPosition, maxTotalNotional)
  --config FILE      JSON with latency (marketData, orderEntry, response), queue, fees,
                     seed for the simulated broker
  --log FILE         action log path (default data/trading/trade-<strategy>.jsonl)
  --run-id ID        prefix of client order ids (default <strategy>-<epoch ms>)
  --resume FILE      the action log of an earlier run of this --run-id: order ids continue
                     after it, positions come from the broker, its open orders are cancelled
  --serve PORT       serve the live page with the trading panel, /api/trading/* and
                     POST /api/trading/kill while the run lasts (0: a free port, printed)
  --hostname H       interface of --serve (default 127.0.0.1; others need credentials)
${SECURITY_USAGE}`;

const OPTIONS = {
  strategy: { type: "string" },
  params: { type: "string" },
  broker: { type: "string" },
  "base-url": { type: "string" },
  "stream-url": { type: "string" },
  symbols: { type: "string" },
  synthetic: { type: "string" },
  exchange: { type: "string" },
  url: { type: "string" },
  simulator: { type: "boolean" },
  seed: { type: "string" },
  tick: { type: "string" },
  duration: { type: "string" },
  rate: { type: "string" },
  risk: { type: "string" },
  config: { type: "string" },
  log: { type: "string" },
  "run-id": { type: "string" },
  resume: { type: "string" },
  serve: { type: "string" },
  hostname: { type: "string" },
  help: { type: "boolean", short: "h" },
  ...SECURITY_FLAGS,
} as const;

async function strategyOf(name: string, params: Record<string, unknown>): Promise<Strategy> {
  if (name === "market-maker") {
    return marketMaker({ size: 0.1, maxPosition: 1, ...params } as unknown as MarketMakerParams);
  }
  const module = await import(new URL(name, `file://${Deno.cwd()}/`).href);
  if (typeof module.default !== "function") {
    throw new SyntaxError(`${name}: the default export must be (params) => Strategy`);
  }
  return module.default(params);
}

async function* paced(events: readonly MarketEvent[], rate: number): AsyncGenerator<MarketEvent> {
  const start = performance.now();
  for (let i = 0; i < events.length; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    yield events[i];
  }
}

type Values = Record<string, string | undefined>;

/** The broker named by `--broker`. */
async function brokerOf(
  v: Values,
  instruments: readonly InstrumentSpec[],
  scheduler: Scheduler,
  file: Record<string, unknown>,
  runId: string,
): Promise<Broker> {
  if ((v.broker ?? "sim") === "sim") return new SimBroker({ ...file, instruments, scheduler });
  const key = Deno.env.get("ALPACA_API_KEY");
  const secret = Deno.env.get("ALPACA_API_SECRET");
  if (!key || !secret) {
    throw new TypeError("--broker alpaca-paper needs ALPACA_API_KEY and ALPACA_API_SECRET");
  }
  const alpaca = new AlpacaPaperBroker({
    key,
    secret,
    baseUrl: v["base-url"] ?? Deno.env.get("ALPACA_PAPER_URL") ?? ALPACA_PAPER_URL,
    streamUrl: v["stream-url"],
    clientOrderPrefix: `${runId}-`,
  });
  await alpaca.connect();
  return alpaca;
}

/** The feed: synthetic, or collected from the simulator or a venue; `stops` end it. */
function feedOf(
  v: Values,
  exchange: string,
  symbols: readonly string[],
  stops: (() => Promise<unknown>)[],
  seed: number,
): AsyncIterable<MarketEvent> {
  if (v.url === undefined && v.simulator === undefined) {
    const events = syntheticL2Feed({
      events: Number(v.synthetic),
      seed,
      exchange,
      symbol: symbols[0],
    });
    return paced(events, Number(v.rate ?? "1000"));
  }
  const live = new LiveFeed();
  let url = v.url;
  if (v.simulator !== undefined) {
    const sim = startCoinbaseSimulator({ seed: Number(v.seed ?? "42") });
    stops.push(() => sim.shutdown());
    url = sim.url;
  }
  const collector = new Collector({
    exchange,
    url: url!,
    symbols,
    sinks: [live],
    books: venueBookKeeper(exchange),
    connection: { log: () => {} },
  });
  collector.start();
  stops.unshift(async () => {
    await collector.stop();
    await live.close();
  });
  return live;
}

/** `--serve`: the server over the runner; the feed's events also go to its live stream. */
async function serveRun(
  v: Values,
  runner: LiveRunner,
): Promise<{ server: RunningServer; hub: StreamHub }> {
  const port = Number(v.serve);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`--serve must be a port from 0 to 65535, got "${v.serve}"`);
  }
  const security = await loadServerSecurity(v);
  const hub = new StreamHub();
  const server = await startServer({
    repository: new MemoryRepository(),
    hub,
    port,
    hostname: v.hostname ?? "127.0.0.1",
    auth: security.auth,
    allowedOrigins: security.allowedOrigins,
    allowedHosts: security.allowedHosts,
    limits: security.limits,
    trading: runner,
  });
  console.error(`serving the run at ${server.url} (${security.summary})`);
  return { server, hub };
}

/** Passes a feed through, writing each event to `hub` as well. */
async function* teed(feed: AsyncIterable<MarketEvent>, hub: StreamHub) {
  for await (const e of feed) {
    hub.write([e]);
    yield e;
  }
}

/** Checks the flags; the venue name and symbols of the run. */
function checkFlags(v: Values): { exchange: string; symbols: string[] } {
  if (!v.strategy) throw new SyntaxError(`--strategy is required\n\n${USAGE}`);
  const brokerName = v.broker ?? "sim";
  if (brokerName !== "sim" && brokerName !== "alpaca-paper") {
    throw new RangeError(`--broker must be sim or alpaca-paper, got ${brokerName}`);
  }
  const simulator = v.simulator !== undefined;
  if (!simulator && !v.url && !(Number(v.synthetic ?? "0") >= 1)) {
    throw new SyntaxError(`a feed is required: --url, --simulator or --synthetic N\n\n${USAGE}`);
  }
  if (!(Number(v.rate ?? "1000") > 0)) throw new RangeError("--rate must be positive");
  const exchange = v.url
    ? v.exchange
    : simulator
    ? "coinbase"
    : brokerName === "sim"
    ? "sim"
    : "alpaca";
  if (!exchange) throw new SyntaxError("--url needs --exchange");
  const symbols = (v.symbols ?? (simulator ? DEMO_PRODUCTS[0].id : "BTC-USD")).split(",")
    .filter(Boolean);
  return { exchange, symbols };
}

async function main(): Promise<void> {
  const { values } = parseArgs(Deno.args, OPTIONS, USAGE);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const v: Values = { ...values, simulator: values.simulator ? "yes" : undefined } as Values;
  const { exchange, symbols } = checkFlags(v);
  const tick = v.tick !== undefined ? Number(v.tick) : v.synthetic ? 0.5 : undefined;
  if (tick !== undefined && !(tick > 0)) throw new RangeError("--tick must be positive");
  const instruments = symbols.map((symbol) => ({ exchange, symbol, tickSize: tick }));
  const params = { exchange, symbol: symbols[0], ...JSON.parse(v.params ?? "{}") };
  const strategy = await strategyOf(v.strategy!, params);
  const file = v.config ? JSON.parse(await Deno.readTextFile(v.config)) : {};
  const risk: RiskLimits = JSON.parse(v.risk ?? "{}");
  const scheduler = new Scheduler({ clock: "wall" });
  const runId = v["run-id"] ?? `${strategy.name}-${Date.now()}`;
  const resume = v.resume ? await Deno.readTextFile(v.resume) : undefined;
  const broker = await brokerOf(v, instruments, scheduler, file, runId);
  const runner = new LiveRunner({
    strategy,
    broker,
    instruments,
    scheduler,
    risk,
    runId,
    resume,
    // a simulated venue: the strategy hears of market data as late as in the backtester
    marketDataLatency: broker instanceof SimBroker ? file.latency?.marketData : undefined,
    seed: file.seed,
  });
  const signals = (["SIGINT", "SIGTERM"] as const).map((s) => [s, () => runner.kill(s)] as const);
  for (const [s, f] of signals) Deno.addSignalListener(s, f);
  const stops: (() => Promise<unknown>)[] = [];
  const duration = v.duration ? parseDuration(v.duration) / 1000 : undefined;
  const timer = duration ? setTimeout(() => runner.stop(), duration) : undefined;
  const served = v.serve !== undefined ? await serveRun(v, runner) : undefined;
  try {
    const feed = feedOf(v, exchange, symbols, stops, file.seed ?? 1);
    const rec = await runner.run(served ? teed(feed, served.hub) : feed);
    const path = v.log ?? `data/trading/trade-${strategy.name}.jsonl`;
    const dir = path.replace(/[^/]*$/, "");
    if (dir) await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(path, rec.log.toBytes());
    const account = await broker.account();
    console.log(JSON.stringify({
      strategy: strategy.name,
      broker: broker.name,
      reason: rec.reason,
      events: rec.events,
      orders: rec.orders.length,
      fills: rec.fills.length,
      risk_rejects: rec.log.entries().filter((e) => e.action === "risk_reject").length,
      open_at_broker: (await broker.openOrders()).length,
      cash: account.cash,
      equity: account.equity,
      log: path,
    }));
  } finally {
    clearTimeout(timer);
    for (const [s, f] of signals) Deno.removeSignalListener(s, f);
    await served?.server.shutdown();
    await served?.hub.close();
    for (const stop of stops) await stop();
    await broker.close();
  }
}

if (import.meta.main) runMain(main);
