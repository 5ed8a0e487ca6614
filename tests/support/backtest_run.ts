/**
 * A small seeded backtest whose action log and fills go to stdout: the determinism test runs
 * it in two processes and compares the bytes.
 * @module
 */
import { backtest, marketMaker, syntheticL2Feed } from "../../lib/backtest/mod.ts";

export const RUN = {
  feed: () => syntheticL2Feed({ events: 20_000, seed: 42 }),
  strategy: () =>
    marketMaker({ exchange: "sim", symbol: "BTC-USD", size: 0.5, maxPosition: 2, tick: 0.5 }),
  config: {
    instruments: [{ exchange: "sim", symbol: "BTC-USD", tickSize: 0.5 }],
    latency: {
      marketData: { kind: "recorded" as const },
      orderEntry: { kind: "empirical" as const, samples: [150, 300, 450, 2000] },
      response: 250,
    },
    queue: { kind: "probabilistic" as const, power: 2 },
    fees: { default: { maker: -0.0001, taker: 0.0004 } },
    seed: 9,
  },
};

if (import.meta.main) {
  const result = await backtest({ ...RUN.config, strategy: RUN.strategy(), feed: RUN.feed() });
  const out = result.log.toJsonl() + JSON.stringify(result.fills) + "\n";
  await Deno.stdout.write(new TextEncoder().encode(out));
}
