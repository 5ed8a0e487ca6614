/**
 * A live runner on a hand-made book, for the server's trading routes and panel: a simulated
 * broker, a push feed, and a strategy whose orders and fills are worked out by hand.
 *
 * Book: bid 99 x 5, ask 101 x 5 (mid 100); taker fee 0.1 %, maker free.
 * - First book: buy 0.5 @ 101 (crosses: taker fill 0.5 @ 101, fee 0.0505), then resting
 *   buy 1 @ 99, buy 2 @ 98, sell 1 @ 102 (orders 2, 3, 4 stay open).
 * - Each later book: buy 0.25 @ 101 (taker fill 0.25 @ 101, fee 0.02525).
 * @module
 */
import type { Strategy } from "../../lib/backtest/mod.ts";
import type { MarketEvent } from "../../lib/market/types.ts";
import {
  LiveFeed,
  LiveRunner,
  type LiveRunRecord,
  Scheduler,
  SimBroker,
} from "../../lib/trading/mod.ts";

export const INST = { exchange: "sim", symbol: "A" };

/** Bid 99 x 5, ask 101 x 5 at `ts`. */
export function book(ts: number): MarketEvent {
  return { ...INST, ts, recvTs: ts, kind: "book_snapshot", bids: [[99, 5]], asks: [[101, 5]] };
}

const order = (side: "buy" | "sell", price: number, size: number) => ({
  ...INST,
  side,
  type: "limit" as const,
  price,
  size,
});

/** A running desk: push books with `feed.write([book(ts)])`; `run` ends on stop or kill. */
export interface TestDesk {
  readonly runner: LiveRunner;
  readonly broker: SimBroker;
  readonly feed: LiveFeed;
  readonly run: Promise<LiveRunRecord>;
}

/** Starts the runner on the first book and waits until its orders are placed. */
export async function startDesk(): Promise<TestDesk> {
  let books = 0;
  const strategy: Strategy = {
    name: "panel-test",
    onBook(_e, ctx) {
      if (++books === 1) {
        ctx.submit(order("buy", 101, 0.5));
        ctx.submit(order("buy", 99, 1));
        ctx.submit(order("buy", 98, 2));
        ctx.submit(order("sell", 102, 1));
      } else {
        ctx.submit(order("buy", 101, 0.25));
      }
    },
  };
  const scheduler = new Scheduler();
  const instruments = [{ ...INST, tickSize: 1 }];
  const broker = new SimBroker({
    instruments,
    scheduler,
    fees: { default: { maker: 0, taker: 0.001 } },
  });
  const feed = new LiveFeed();
  const runner = new LiveRunner({ strategy, broker, instruments, scheduler, runId: "panel" });
  const run = runner.run(feed);
  feed.write([book(1_000_000)]);
  for (let i = 0; i < 200 && runner.fills.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  if (runner.fills.length === 0) throw new Error("the desk did not start");
  return { runner, broker, feed, run };
}
