/**
 * The recorded Binance BTCUSDT session (hftbacktest capture in `../shared/data/`) as
 * `MarketEvent`s, parsed by our Binance adapter: the REST snapshot, every depth diff after
 * it, trades, in the order they were received (`recvTs` from the capture).
 * @module
 */
import { gunzipSync } from "node:zlib";
import { parseHftbacktestLine } from "../../collectors/replay/hftbacktest.ts";
import { BinanceAdapter } from "../../collectors/venues/binance.ts";
import { FeedDiagnostics } from "../../collectors/runtime/diagnostics.ts";
import type { MarketEvent } from "../../lib/market/types.ts";
import { SHARED_DATA } from "./recorded.ts";

/** The session's events in receive order. */
export function binanceSessionEvents(): MarketEvent[] {
  const bytes = gunzipSync(
    Deno.readFileSync(new URL("binance-spot-btcusdt-20240808.gz", SHARED_DATA)),
  );
  const adapter = new BinanceAdapter({ diagnostics: new FeedDiagnostics({ log: () => {} }) });
  const events: MarketEvent[] = [];
  let n = 0;
  for (const line of new TextDecoder().decode(bytes).split("\n")) {
    const item = parseHftbacktestLine(line, ++n);
    if (item?.kind === "recv") adapter.parse(item.data, item.recvTs, events);
  }
  return events;
}
