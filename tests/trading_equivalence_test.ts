/**
 * Must hold: the same strategy over the same recorded session makes the same orders (and the
 * same venue reports and fills) through the simulated broker as in the backtest, same seed,
 * the wall clock aside. The reference is the backtester (`lib/backtest/engine.ts`), a separate
 * engine from the live runner.
 */
import assert from "node:assert/strict";
import { backtest, marketMaker, type Strategy } from "../lib/backtest/mod.ts";
import type { ActionEntry } from "../lib/backtest/action_log.ts";
import type { MarketEvent } from "../lib/market/types.ts";
import { LiveRunner, Scheduler, SimBroker } from "../lib/trading/mod.ts";
import { binanceSessionEvents } from "./support/binance_session.ts";

const EX = "binance";
const SYM = "BTC-USDT";
const INSTRUMENTS = [{ exchange: EX, symbol: SYM, tickSize: 0.01, lotSize: 0.00001 }];
const FEES = { default: { maker: -0.0001, taker: 0.0004 } };
const EVENTS: MarketEvent[] = binanceSessionEvents().slice(0, 60_000);

/** A market maker plus an occasional taker, so both fill paths and amends are used. */
function strategy(): Strategy {
  const mm = marketMaker({ exchange: EX, symbol: SYM, size: 0.002, maxPosition: 0.01, tick: 0.01 });
  let trades = 0;
  return {
    ...mm,
    name: "mm-and-taker",
    onTrade(_t, ctx) {
      if (++trades % 500 !== 0) return;
      const side = trades % 1000 === 0 ? "buy" : "sell";
      ctx.submit({ exchange: EX, symbol: SYM, side, type: "market", size: 0.001 });
    },
  };
}

/** The log without its ts (wall clock) and without start/stop (different configs). */
function actions(entries: ActionEntry[], withTs: boolean): unknown[][] {
  return entries
    .filter((e) => e.action !== "start" && e.action !== "stop" && e.action !== "warning")
    .map((e) => withTs ? [e.ts, e.action, e.data] : [e.action, e.data]);
}

async function* live(events: readonly MarketEvent[]): AsyncGenerator<MarketEvent> {
  for (let i = 0; i < events.length; i++) {
    if (i % 5000 === 0) await new Promise((r) => setTimeout(r, 0)); // let the loop breathe
    yield events[i];
  }
}

for (
  const [name, latency, clock] of [
    ["zero latency, wall clock", undefined, "wall"],
    ["order-entry and response latency, event clock", {
      orderEntry: { kind: "empirical" as const, samples: [150, 300, 450, 2000] },
      response: 250,
    }, "event"],
    ["market-data, order-entry and response latency, event clock", {
      marketData: { kind: "empirical" as const, samples: [0, 80, 400, 1500] },
      orderEntry: 200,
      response: { kind: "empirical" as const, samples: [100, 700] },
    }, "event"],
  ] as const
) {
  Deno.test(`sim broker = backtest on the Binance session: ${name}`, async () => {
    const bt = await backtest({
      instruments: INSTRUMENTS,
      clock: "receive",
      latency,
      fees: FEES,
      queue: { kind: "probabilistic", power: 2 },
      seed: 7,
      strategy: strategy(),
      feed: EVENTS,
    });
    const scheduler = new Scheduler({ clock });
    const broker = new SimBroker({
      instruments: INSTRUMENTS,
      scheduler,
      latency: latency && { orderEntry: latency.orderEntry, response: latency.response },
      fees: FEES,
      queue: { kind: "probabilistic", power: 2 },
      seed: 7,
    });
    const runner = new LiveRunner({
      strategy: strategy(),
      broker,
      instruments: INSTRUMENTS,
      scheduler,
      eventTime: "receive",
      marketDataLatency: latency !== undefined && "marketData" in latency
        ? latency.marketData
        : undefined,
      seed: 7,
    });
    const rec = await runner.run(live(EVENTS));
    assert.equal(rec.error, undefined);
    assert.equal(bt.error, undefined);
    const a = actions(bt.log.entries(), clock === "event");
    const b = actions(rec.log.entries(), clock === "event");
    // Not a trivial run: amends, maker and taker fills on both sides.
    const count = (kind: string) => a.filter((x) => x[clock === "event" ? 1 : 0] === kind).length;
    assert.ok(
      count("order") > 50 && count("amended") > 50,
      `${count("order")} ${count("amended")}`,
    );
    const liq = new Set(bt.fills.map((f) => `${f.side}-${f.liquidity}`));
    assert.deepEqual([...liq].sort(), ["buy-maker", "buy-taker", "sell-maker", "sell-taker"]);
    assert.equal(b.length, a.length);
    for (let i = 0; i < a.length; i++) assert.deepEqual(b[i], a[i], `entry ${i}`);
    assert.deepEqual(
      rec.orders.map((o) => [o.id, o.side, o.price, o.size, o.filled, o.status]),
      bt.orders.map((o) => [o.id, o.side, o.price, o.size, o.filled, o.status]),
    );
    // Every order ended cancelled, filled or rejected: the clean stop left none open.
    assert.equal((await broker.openOrders()).length, 0);
    assert.ok(rec.orders.every((o) => o.status !== "open" && o.status !== "pending"));
  });
}
