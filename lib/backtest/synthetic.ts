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
  const walk = new L2Walk(options, depth);
  while (walk.out.length < n) walk.step(n);
  return walk.out;
}

/** The book being walked and the events so far (see the module documentation). */
class L2Walk {
  readonly out: MarketEvent[] = [];
  readonly #rnd: Random;
  readonly #exchange: string;
  readonly #symbol: string;
  readonly #tick: number;
  readonly #depth: number;
  #ts: number;
  #bestBid: number;
  /** `bids[i]` at `bestBid - i * tick`, `asks[i]` at `bestBid + (i + 1) * tick`. */
  readonly #bids: number[];
  readonly #asks: number[];

  constructor(options: SyntheticL2Options, depth: number) {
    this.#rnd = new Random(options.seed ?? 1);
    this.#exchange = options.exchange ?? "sim";
    this.#symbol = options.symbol ?? "BTC-USD";
    this.#tick = options.tick ?? 0.5;
    this.#depth = depth;
    this.#ts = options.start ?? 1_704_067_200_000_000;
    this.#bestBid = options.price ?? 50_000;
    this.#bids = Array.from({ length: depth }, () => this.#size());
    this.#asks = Array.from({ length: depth }, () => this.#size());
    const snapshot: BookSnapshot = {
      kind: "book_snapshot",
      ...this.#header(),
      bids: this.#bids.map((s, i): PriceLevel => [this.#bidAt(i), s]),
      asks: this.#asks.map((s, i): PriceLevel => [this.#askAt(i), s]),
    };
    this.out.push(snapshot);
  }

  /** One step: a size change, a trade, or a tick move; `n` caps the events. */
  step(n: number): void {
    this.#ts += this.#rnd.int(1, 100);
    const u = this.#rnd.next();
    if (u < 0.84) this.#resize();
    else if (u < 0.96) this.#trade(n);
    else if (this.#rnd.next() < 0.5) this.#tickUp();
    else this.#tickDown();
  }

  #size(): number {
    return Math.round((0.1 + this.#rnd.next() * 4.9) * 1000) / 1000;
  }

  #bidAt(i: number): number {
    return round(this.#bestBid - i * this.#tick, this.#tick);
  }

  #askAt(i: number): number {
    return round(this.#bestBid + (i + 1) * this.#tick, this.#tick);
  }

  #header() {
    const ts = this.#ts;
    return {
      exchange: this.#exchange,
      symbol: this.#symbol,
      ts,
      recvTs: ts + 200 + this.#rnd.int(0, 800),
    };
  }

  #change(bids: PriceLevel[], asks: PriceLevel[]): BookChange {
    return { kind: "book_change", ...this.#header(), bids, asks };
  }

  #resize(): void {
    const i = this.#rnd.int(0, Math.min(4, this.#depth - 1));
    const s = this.#size();
    if (this.#rnd.next() < 0.5) {
      this.#bids[i] = s;
      this.out.push(this.#change([[this.#bidAt(i), s]], []));
    } else {
      this.#asks[i] = s;
      this.out.push(this.#change([], [[this.#askAt(i), s]]));
    }
  }

  #trade(n: number): void {
    const buy = this.#rnd.next() < 0.5;
    const level = buy ? this.#asks : this.#bids;
    const traded = Math.round(level[0] * this.#rnd.next() * 1000) / 1000 || 0.001;
    const price = buy ? this.#askAt(0) : this.#bidAt(0);
    this.out.push({
      kind: "trade",
      ...this.#header(),
      id: `${this.out.length}`,
      price,
      size: traded,
      side: buy ? "buy" : "sell",
    });
    if (this.out.length >= n) return;
    this.#ts += 1;
    level[0] = Math.max(0.001, Math.round((level[0] - traded) * 1000) / 1000);
    const levels: PriceLevel[] = [[price, level[0]]];
    this.out.push(buy ? this.#change([], levels) : this.#change(levels, []));
  }

  /** Up a tick: the best ask becomes the best bid. */
  #tickUp(): void {
    const depth = this.#depth;
    const oldAsk = this.#askAt(0);
    const farBid = this.#bidAt(depth - 1);
    this.#asks.shift();
    this.#asks.push(this.#size());
    this.#bids.pop();
    this.#bids.unshift(this.#size());
    this.#bestBid = oldAsk;
    this.out.push(this.#change(
      [[oldAsk, this.#bids[0]], [farBid, 0]],
      [[oldAsk, 0], [this.#askAt(depth - 1), this.#asks[depth - 1]]],
    ));
  }

  /** Down a tick: the best bid becomes the best ask. */
  #tickDown(): void {
    const depth = this.#depth;
    const oldBid = this.#bidAt(0);
    const farAsk = this.#askAt(depth - 1);
    this.#bids.shift();
    this.#bids.push(this.#size());
    this.#asks.pop();
    this.#asks.unshift(this.#size());
    this.#bestBid = round(this.#bestBid - this.#tick, this.#tick);
    this.out.push(this.#change(
      [[oldBid, 0], [this.#bidAt(depth - 1), this.#bids[depth - 1]]],
      [[oldBid, this.#asks[0]], [farAsk, 0]],
    ));
  }
}

function round(price: number, tick: number): number {
  return Math.round(price / tick) * tick;
}
