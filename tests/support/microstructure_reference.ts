/**
 * An independent rebuild of the recorded Binance BTCUSDT book for the microstructure
 * notebook's test: straight from the raw capture (REST snapshot + depth diffs, the standard
 * Binance sync) with the naive {@linkcode ReferenceBook}, sampled at every whole second of
 * venue time. Shares no code with `lib/book` or `lib/research`.
 * @module
 */
import { ReferenceBook } from "./reference_book.ts";
import { readHftbacktestFrames } from "./recorded.ts";

/**
 * The book at one whole second: best levels (NaN when not known), and the order-flow
 * imbalance of the second (the diffs with a known book before and after).
 */
export interface SecondSample {
  readonly ts: number;
  readonly bid: number;
  readonly bidSize: number;
  readonly ask: number;
  readonly askSize: number;
  readonly ofi: number;
}

interface Best {
  readonly bid: number;
  readonly bidSize: number;
  readonly ask: number;
  readonly askSize: number;
}

/**
 * The best levels, or `undefined` when a side is empty or its best price is past the
 * snapshot's worst level on that side (levels there that no diff named are not known).
 */
function best(book: ReferenceBook, floor: number, ceiling: number): Best | undefined {
  if (book.bids.size === 0 || book.asks.size === 0) return undefined;
  const bid = Math.max(...book.bids.keys());
  const ask = Math.min(...book.asks.keys());
  if (bid < floor || ask > ceiling) return undefined;
  return { bid, bidSize: book.bids.get(bid)!.size, ask, askSize: book.asks.get(ask)!.size };
}

/** Cont, Kukanov and Stoikov's e_n from the best levels before and after one diff. */
function flow(p: Best, n: Best): number {
  return (n.bid >= p.bid ? n.bidSize : 0) - (n.bid <= p.bid ? p.bidSize : 0) -
    (n.ask <= p.ask ? n.askSize : 0) + (n.ask >= p.ask ? p.askSize : 0);
}

/**
 * One sample per whole second (venue time, microseconds) from the first second after the
 * snapshot to the last second before the last diff: the book after every diff up to and including that second, and
 * the summed flow of the diffs in it.
 */
export async function binanceSeconds(): Promise<SecondSample[]> {
  const frames = await readHftbacktestFrames("binance-spot-btcusdt-20240808.gz");
  type Diff = { E: number; U: number; u: number; b: [string, string][]; a: [string, string][] };
  let snapshot: { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] };
  let snapshotTime = 0;
  const diffs: Diff[] = [];
  for (const frame of frames) {
    const message = JSON.parse(frame.text);
    if (typeof message.lastUpdateId === "number") {
      snapshot = message;
      snapshotTime = frame.time * 1e6;
    } else if (String(message.stream).includes("@depth")) diffs.push(message.data);
  }
  const book = new ReferenceBook();
  book.replace(snapshot!.bids, snapshot!.asks);
  const floor = Math.min(...snapshot!.bids.map(([p]) => Number(p)));
  const ceiling = Math.max(...snapshot!.asks.map(([p]) => Number(p)));
  const live = diffs.filter((d) => d.u > snapshot!.lastUpdateId);
  const SECOND = 1_000_000;
  const out: SecondSample[] = [];
  let tick = Math.ceil(snapshotTime / SECOND) * SECOND;
  let ofi = 0;
  const emit = () => {
    const b = best(book, floor, ceiling) ?? { bid: NaN, bidSize: NaN, ask: NaN, askSize: NaN };
    out.push({ ts: tick, ...b, ofi });
    ofi = 0;
    tick += SECOND;
  };
  for (const d of live) {
    const ts = d.E * 1000;
    while (ts > tick) emit();
    const before = best(book, floor, ceiling);
    for (const [p, s] of d.b) book.set("bid", p, s);
    for (const [p, s] of d.a) book.set("ask", p, s);
    const after = best(book, floor, ceiling);
    if (before && after) ofi += flow(before, after);
  }
  // Seconds after the last diff are not sampled (no event closes them).
  return out;
}
