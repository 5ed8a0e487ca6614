/**
 * A seeded synthetic L2 event stream for tests, benchmarks and examples: a book of `levels`
 * levels per side one tick apart, whose sizes change (84% of steps), whose best levels
 * trade (12%, a trade then the level's new size), and whose mid moves a tick (4%). Every book change is consistent with the book before it, so
 * a `BookKeeper` or `OrderBook` can follow it.
 * @module
 */
import { Random } from "./_random.ts";
import type { BookChange, BookSnapshot, MarketEvent, PriceLevel } from "../market/types.ts";

/** Options of {@linkcode syntheticL2Feed}. */
export interface SyntheticL2Options {
  readonly events: number;
  readonly seed?: number;
  readonly exchange?: string;
  readonly symbol?: string;
  /** First event time, microseconds (default 2024-01-01). */
  readonly start?: number;
  /** Best bid of the first snapshot (default 50,000). */
  readonly price?: number;
  /** Price step (default 0.5). */
  readonly tick?: number;
  /** Levels per side (default 10). */
  readonly levels?: number;
}

/**
 * The events (a snapshot first), time-ordered, each at least 1 µs after the one before.
 * @throws {RangeError} for fewer than one event or fewer than two levels.
 */
export function syntheticL2Feed(options: SyntheticL2Options): MarketEvent[] {
  const n = options.events;
  const depth = options.levels ?? 10;
  if (!(n >= 1) || !(depth >= 2)) throw new RangeError("need events >= 1 and levels >= 2");
  const rnd = new Random(options.seed ?? 1);
  const exchange = options.exchange ?? "sim";
  const symbol = options.symbol ?? "BTC-USD";
  const tick = options.tick ?? 0.5;
  let ts = options.start ?? 1_704_067_200_000_000;
  let bestBid = options.price ?? 50_000;
  const size = () => Math.round((0.1 + rnd.next() * 4.9) * 1000) / 1000;
  const bids = Array.from({ length: depth }, size); // bids[i] at bestBid - i * tick
  const asks = Array.from({ length: depth }, size); // asks[i] at bestBid + (i + 1) * tick
  const bidAt = (i: number) => round(bestBid - i * tick, tick);
  const askAt = (i: number) => round(bestBid + (i + 1) * tick, tick);
  const header = () => ({ exchange, symbol, ts, recvTs: ts + 200 + rnd.int(0, 800) });
  const out: MarketEvent[] = [];
  const snapshot: BookSnapshot = {
    kind: "book_snapshot",
    ...header(),
    bids: bids.map((s, i): PriceLevel => [bidAt(i), s]),
    asks: asks.map((s, i): PriceLevel => [askAt(i), s]),
  };
  out.push(snapshot);
  const change = (b: PriceLevel[], a: PriceLevel[]): BookChange => ({
    kind: "book_change",
    ...header(),
    bids: b,
    asks: a,
  });
  while (out.length < n) {
    ts += rnd.int(1, 100);
    const u = rnd.next();
    if (u < 0.84) {
      const i = rnd.int(0, Math.min(4, depth - 1));
      const s = size();
      if (rnd.next() < 0.5) {
        bids[i] = s;
        out.push(change([[bidAt(i), s]], []));
      } else {
        asks[i] = s;
        out.push(change([], [[askAt(i), s]]));
      }
    } else if (u < 0.96) {
      const buy = rnd.next() < 0.5;
      const level = buy ? asks : bids;
      const traded = Math.round(level[0] * rnd.next() * 1000) / 1000 || 0.001;
      const price = buy ? askAt(0) : bidAt(0);
      out.push({
        kind: "trade",
        ...header(),
        id: `${out.length}`,
        price,
        size: traded,
        side: buy ? "buy" : "sell",
      });
      if (out.length >= n) break;
      ts += 1;
      level[0] = Math.max(0.001, Math.round((level[0] - traded) * 1000) / 1000);
      out.push(buy ? change([], [[price, level[0]]]) : change([[price, level[0]]], []));
    } else if (rnd.next() < 0.5) {
      // up a tick: the best ask becomes the best bid.
      const oldAsk = askAt(0);
      const farBid = bidAt(depth - 1);
      asks.shift();
      asks.push(size());
      bids.pop();
      bids.unshift(size());
      bestBid = oldAsk;
      out.push(
        change([[oldAsk, bids[0]], [farBid, 0]], [[oldAsk, 0], [
          askAt(depth - 1),
          asks[depth - 1],
        ]]),
      );
    } else {
      const oldBid = bidAt(0);
      const farAsk = askAt(depth - 1);
      bids.shift();
      bids.push(size());
      asks.pop();
      asks.unshift(size());
      bestBid = round(bestBid - tick, tick);
      out.push(
        change([[oldBid, 0], [bidAt(depth - 1), bids[depth - 1]]], [[oldBid, asks[0]], [
          farAsk,
          0,
        ]]),
      );
    }
  }
  return out;
}

function round(price: number, tick: number): number {
  return Math.round(price / tick) * tick;
}
