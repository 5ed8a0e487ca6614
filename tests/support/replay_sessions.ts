/**
 * Replays the recorded Binance, Coinbase and Kraken sessions (`../shared/data/`) through the
 * collector code into a lake, as `deno task replay` does: one ({@linkcode replaySession}), or
 * all of them keeping every level of each book snapshot (`bookDepth` 1000) so books rebuilt
 * from the lake stay known far from the snapshot's touch ({@linkcode replaySessions}).
 * @module
 */
import { replayFiles } from "../../collectors/replay/replay.ts";
import { FeedDiagnostics } from "../../collectors/runtime/diagnostics.ts";
import { LakeSink, ParquetLake } from "../../lib/lake/mod.ts";
import { SHARED_DATA } from "./recorded.ts";

/** The recordings, one replay each (a replay detects one venue per run). */
export const MICROSTRUCTURE_SESSIONS = [
  "binance-spot-btcusdt-20240808.gz",
  "coinbase-exchange-ws-20210417.txt",
  "kraken-v1-book-ws-20210417.txt",
  "kraken-v1-trade-ws-20210417.txt",
] as const;

/** Replays every session into the lake at `root`; resolves to the trades each replay read. */
export async function replaySessions(root: string): Promise<number[]> {
  const trades: number[] = [];
  for (const name of MICROSTRUCTURE_SESSIONS) {
    trades.push(await replaySession(root, name, { bookDepth: 1000 }));
  }
  return trades;
}

/**
 * Replays the recording `name` (in `../shared/data/`) into the lake at `root` (with the
 * lake's `bookDepth`, default the lake's own); resolves to the trades the replay read.
 */
export async function replaySession(
  root: string,
  name: string,
  options: { readonly bookDepth?: number } = {},
): Promise<number> {
  const lake = await ParquetLake.open({ root, ...options });
  try {
    const summary = await replayFiles({
      files: [new URL(name, SHARED_DATA).pathname],
      sinks: [new LakeSink(lake)],
      diagnostics: new FeedDiagnostics({ log: () => {} }),
    });
    return summary.trades;
  } finally {
    await lake.close();
  }
}
