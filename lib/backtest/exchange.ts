/**
 * A simulated exchange for one instrument: matches our orders against the recorded market.
 *
 * - **Taker orders walk the L2 book** level by level, best first, up to their limit. The size
 *   they take is remembered per level and is not available again until the venue's next
 *   change of that level (or a snapshot) refreshes it, so two orders never take the same
 *   liquidity. Our orders never change the recorded book itself (no market impact).
 * - **Resting limit orders** join the back of their level; a queue model
 *   (`queue.ts`) estimates what is ahead. A trade at our price first eats what is ahead,
 *   the excess fills us (shared in time priority among our orders at that price); a trade
 *   at a price through ours fills us completely. Fills are at our limit price.
 * - **Stops** trigger on a trade at or through the stop price, then act as market (or limit)
 *   orders on the book at that moment.
 * - **Bars**: an instrument fed with bars has no book. An order waits for the next bar and
 *   fills at its open (a limit when the bar trades through it, at the better of open and
 *   limit; a stop at the worse of open and stop). With `sameBarClose` a market order fills at
 *   the close of the bar the strategy just saw: that uses a price the strategy could not have
 *   traded at, a look-ahead the engine warns about.
 * - **Quotes** stand in for a one-level book while no L2 data has arrived (sizes NaN: unlimited).
 * @module
 */
import { OrderBook } from "../book/order_book.ts";
import type { Bar, BookChange, BookSnapshot, PriceLevel, Quote, Trade } from "../market/types.ts";
import { type SimOrder, SimState } from "./_sim_order.ts";
import type { QueueUpdate } from "./queue.ts";
import { addSize } from "./_account.ts";
import type { Liquidity } from "./types.ts";

/** What the exchange tells the engine. */
export interface ExchangeListener {
  /** `order` filled `size` at `price`; the exchange has already updated `order.filled`. */
  fill(order: SimOrder, price: number, size: number, liquidity: Liquidity, ts: number): void;
  /** The order is done without (completely) filling; `rejected` when it never was live. */
  closed(order: SimOrder, kind: "cancelled" | "rejected", reason: string, ts: number): void;
  /** The order is live on the exchange (resting, a waiting stop, or waiting for a bar). */
  accepted(order: SimOrder, ts: number): void;
  /** A stop order triggered. */
  triggered(order: SimOrder, ts: number): void;
}

/** Options of {@linkcode SimulatedExchange}. */
export interface SimulatedExchangeOptions {
  readonly queue: QueueUpdate;
  readonly listener: ExchangeListener;
  /** Bar instruments: fill market orders at the close of the last bar (look-ahead). */
  readonly sameBarClose?: boolean;
}

/** One instrument's simulated matching. */
export class SimulatedExchange {
  /** The recorded market's book at exchange time. */
  readonly book: OrderBook = new OrderBook();
  /** Signed position at the exchange. */
  position = 0;
  /** Last trade price, NaN before any. */
  lastTrade = NaN;
  /** The last bar seen, if any. */
  lastBar: Bar | undefined;
  readonly #consumedBid = new Map<number, number>();
  readonly #consumedAsk = new Map<number, number>();
  readonly #resting: SimOrder[] = [];
  readonly #stops: SimOrder[] = [];
  readonly #barOrders: SimOrder[] = [];
  readonly #queue: QueueUpdate;
  readonly #listener: ExchangeListener;
  readonly #sameBarClose: boolean;
  #hasDepth = false;

  constructor(options: SimulatedExchangeOptions) {
    this.#queue = options.queue;
    this.#listener = options.listener;
    this.#sameBarClose = options.sameBarClose ?? false;
  }

  /** The price to value a position at: mid, else last trade, else last bar close. */
  get mark(): number {
    const mid = this.book.mid;
    if (mid === mid) return mid;
    if (this.lastTrade === this.lastTrade) return this.lastTrade;
    return this.lastBar?.close ?? NaN;
  }

  /** Live orders at the exchange, in id order. */
  liveOrders(): SimOrder[] {
    return [...this.#resting, ...this.#stops, ...this.#barOrders].sort((a, b) => a.id - b.id);
  }

  /** A book snapshot or change reaches the exchange. */
  applyBook(event: BookSnapshot | BookChange): void {
    this.#hasDepth = true;
    if (event.kind === "book_snapshot") {
      this.book.applySnapshot(event.bids, event.asks);
      this.#consumedBid.clear();
      this.#consumedAsk.clear();
    } else {
      this.book.applyChange(event.bids, event.asks);
      if (this.#consumedBid.size > 0) forget(this.#consumedBid, event.bids);
      if (this.#consumedAsk.size > 0) forget(this.#consumedAsk, event.asks);
    }
    if (this.#resting.length > 0) this.#requeue();
  }

  /** A quote reaches the exchange: a one-level book until L2 data arrives. */
  applyQuote(q: Quote): void {
    if (this.#hasDepth) return;
    const bid: PriceLevel[] = q.bidPrice > 0 ? [[q.bidPrice, size(q.bidSize)]] : [];
    const ask: PriceLevel[] = q.askPrice > 0 ? [[q.askPrice, size(q.askSize)]] : [];
    this.book.applySnapshot(bid, ask);
    this.#consumedBid.clear();
    this.#consumedAsk.clear();
    if (this.#resting.length > 0) this.#requeue();
  }

  /** A feed reset: the book is unknown until the next snapshot. */
  reset(): void {
    this.book.clear();
    this.#consumedBid.clear();
    this.#consumedAsk.clear();
  }

  /**
   * A public trade reaches the exchange at `now` (default its `ts`): resting fills, then stop
   * triggers.
   */
  applyTrade(t: Trade, now: number = t.ts): void {
    this.lastTrade = t.price;
    if (this.#resting.length > 0) this.#fillResting(t, now);
    if (this.#stops.length > 0) this.#triggerStops(t, now);
  }

  /** A bar reaches the exchange (at its close): orders waiting for it fill. */
  applyBar(bar: Bar): void {
    this.lastBar = bar;
    const waiting = this.#barOrders;
    if (waiting.length === 0) return;
    const keep: SimOrder[] = [];
    for (const o of waiting) {
      const price = barFillPrice(o, bar);
      if (price === price) this.#fill(o, price, o.size - o.filled, "taker", bar.ts);
      if (o.state !== SimState.Done) {
        if (o.timeInForce === "ioc" && o.type !== "stop") {
          this.#close(o, "cancelled", "ioc", bar.ts);
        } else keep.push(o);
      }
    }
    waiting.length = 0;
    waiting.push(...keep);
  }

  /** An order reaches the exchange. */
  arrive(o: SimOrder, ts: number): void {
    if (o.reduceOnly && !(o.sign * this.position < 0)) {
      this.#close(o, "rejected", "reduce_only would increase the position", ts);
      return;
    }
    if (this.lastBar !== undefined && !this.#hasDepth) {
      this.#arriveBar(o, ts);
      return;
    }
    if (o.type === "stop") {
      o.state = SimState.Stop;
      this.#stops.push(o);
      this.#listener.accepted(o, ts);
      return;
    }
    this.#execute(o, ts);
  }

  /** A cancel reaches the exchange; false when the order was no longer live. */
  cancel(id: number, ts: number, reason = "cancelled"): boolean {
    for (const list of [this.#resting, this.#stops, this.#barOrders]) {
      const i = list.findIndex((o) => o.id === id);
      if (i >= 0) {
        const [o] = list.splice(i, 1);
        this.#close(o, "cancelled", reason, ts);
        return true;
      }
    }
    return false;
  }

  /**
   * An amendment reaches the exchange. A smaller size at the same price keeps the queue
   * position; a new price or a larger size goes to the back (a new price may take liquidity).
   * Returns false when the order was no longer live or not a resting limit.
   */
  amend(id: number, price: number, newSize: number, ts: number): boolean {
    const i = this.#resting.findIndex((o) => o.id === id);
    if (i < 0) return false;
    const o = this.#resting[i];
    if (newSize <= o.filled) {
      this.#resting.splice(i, 1);
      this.#close(o, "cancelled", "amended to its filled size", ts);
      return true;
    }
    if (price === o.price && newSize <= o.size) {
      o.size = newSize;
      return true;
    }
    this.#resting.splice(i, 1);
    o.price = price;
    o.size = newSize;
    this.#execute(o, ts, true);
    return true;
  }

  /** Market, limit (and triggered stop) orders on the L2 book. */
  #execute(o: SimOrder, ts: number, amended = false): void {
    const limit = o.price;
    if (o.postOnly && limit === limit && this.#crosses(o.sign, limit)) {
      this.#close(o, "rejected", "post_only order would take liquidity", ts);
      return;
    }
    if (!amended) this.#listener.accepted(o, ts);
    this.#walk(o, limit, ts);
    if (o.state === SimState.Done) return;
    if (o.type === "market" || o.timeInForce === "ioc" || limit !== limit) {
      this.#close(o, "cancelled", o.type === "market" ? "no more liquidity" : "ioc", ts);
      return;
    }
    const side = o.sign > 0 ? "bid" : "ask";
    const consumed = (o.sign > 0 ? this.#consumedBid : this.#consumedAsk).get(limit) ?? 0;
    o.levelSize = this.book.sizeAtPrice(side, limit);
    o.ahead = Math.max(0, o.levelSize - consumed);
    o.ahead = this.#queue(o.ahead, o.levelSize, o.levelSize, 0);
    o.traded = 0;
    o.state = SimState.Resting;
    this.#resting.push(o);
  }

  /** Whether an order at `limit` would take liquidity now. */
  #crosses(sign: number, limit: number): boolean {
    const side = sign > 0 ? "ask" : "bid";
    const consumed = sign > 0 ? this.#consumedAsk : this.#consumedBid;
    for (let i = 0;; i++) {
      const p = this.book.priceAt(side, i);
      if (p !== p || (sign > 0 ? p > limit : p < limit)) return false;
      if (this.book.sizeAt(side, i) - (consumed.get(p) ?? 0) > 0) return true;
    }
  }

  /** Takes liquidity level by level up to `limit` (NaN: no limit). */
  #walk(o: SimOrder, limit: number, ts: number): void {
    const buy = o.sign > 0;
    const side = buy ? "ask" : "bid";
    const consumed = buy ? this.#consumedAsk : this.#consumedBid;
    const book = this.book;
    for (let i = 0; o.state !== SimState.Done && o.filled < o.size; i++) {
      const p = book.priceAt(side, i);
      if (p !== p) break;
      if (limit === limit && (buy ? p > limit : p < limit)) break;
      const used = consumed.get(p) ?? 0;
      const available = book.sizeAt(side, i) - used;
      if (!(available > 0)) continue;
      const remaining = o.size - o.filled;
      const take = remaining < available ? remaining : available;
      const taken = this.#fill(o, p, take, "taker", ts);
      consumed.set(p, used + taken);
    }
  }

  /** Fills `o` with up to `size` (cut for reduce-only); returns the size filled. */
  #fill(o: SimOrder, price: number, size: number, liquidity: Liquidity, ts: number): number {
    if (o.reduceOnly) {
      const closable = -o.sign * this.position;
      if (!(closable > 0)) {
        this.#remove(o);
        this.#close(o, "cancelled", "reduce_only: position closed", ts);
        return 0;
      }
      if (size > closable) size = closable;
    }
    const remaining = o.size - o.filled;
    o.filled = size >= remaining ? o.size : o.filled + size;
    this.position = addSize(this.position, o.sign * size);
    if (o.filled >= o.size) {
      this.#remove(o);
      o.state = SimState.Done;
    }
    this.#listener.fill(o, price, size, liquidity, ts);
    return size;
  }

  #remove(o: SimOrder): void {
    const list = o.state === SimState.Resting
      ? this.#resting
      : o.state === SimState.Stop
      ? this.#stops
      : o.state === SimState.BarPending
      ? this.#barOrders
      : undefined;
    if (list === undefined) return;
    const i = list.indexOf(o);
    if (i >= 0) list.splice(i, 1);
  }

  #close(o: SimOrder, kind: "cancelled" | "rejected", reason: string, ts: number): void {
    this.#remove(o);
    o.state = SimState.Done;
    this.#listener.closed(o, kind, reason, ts);
  }

  /** Resting orders see their level's new size. */
  #requeue(): void {
    const book = this.book;
    for (const o of this.#resting) {
      const size = book.sizeAtPrice(o.sign > 0 ? "bid" : "ask", o.price);
      if (size !== o.levelSize) {
        o.ahead = this.#queue(o.ahead, o.levelSize, size, o.traded);
        o.levelSize = size;
        o.traded = 0;
      }
    }
  }

  /** A trade reaches resting orders, in time priority. */
  #fillResting(t: Trade, now: number): void {
    let ours = 0; // size of this trade already given to our orders at its price
    for (const o of [...this.#resting]) {
      if (o.state !== SimState.Resting) continue;
      const buy = o.sign > 0;
      const through = buy ? t.price < o.price : t.price > o.price;
      if (through) {
        this.#fill(o, o.price, o.size - o.filled, "maker", now);
        continue;
      }
      if (t.price !== o.price || t.side === (buy ? "buy" : "sell")) continue;
      o.traded += t.size;
      const excess = t.size - o.ahead - ours;
      o.ahead = o.ahead > t.size ? o.ahead - t.size : 0;
      if (excess > 0) {
        const remaining = o.size - o.filled;
        ours += this.#fill(o, o.price, remaining < excess ? remaining : excess, "maker", now);
      }
    }
  }

  #triggerStops(t: Trade, now: number): void {
    for (const o of [...this.#stops]) {
      if (o.sign > 0 ? t.price >= o.stopPrice : t.price <= o.stopPrice) {
        this.#remove(o);
        o.type = o.price === o.price ? "limit" : "market";
        this.#listener.triggered(o, now);
        this.#walk(o, o.price, now);
        if (o.state === SimState.Done) continue;
        if (o.type === "limit" && o.timeInForce === "gtc") {
          this.#execute(o, now, true);
        } else this.#close(o, "cancelled", "no more liquidity", now);
      }
    }
  }

  #arriveBar(o: SimOrder, ts: number): void {
    this.#listener.accepted(o, ts);
    const bar = this.lastBar!;
    if (this.#sameBarClose && o.type !== "stop") {
      const c = bar.close;
      if (o.type === "market" || (o.sign > 0 ? c <= o.price : c >= o.price)) {
        this.#fill(o, c, o.size, "taker", ts);
        return;
      }
    }
    o.state = SimState.BarPending;
    this.#barOrders.push(o);
  }
}

/** The price an order waiting for `bar` fills at, NaN when it does not. */
function barFillPrice(o: SimOrder, bar: Bar): number {
  const buy = o.sign > 0;
  let price = bar.open;
  if (o.type === "stop") {
    const s = o.stopPrice;
    if (buy ? bar.open >= s : bar.open <= s) price = bar.open;
    else if (buy ? bar.high >= s : bar.low <= s) price = s;
    else return NaN;
  }
  const limit = o.price;
  if (limit !== limit) return price; // market, or a stop without limit
  if (buy ? price <= limit : price >= limit) return price;
  if (o.type === "stop") return NaN; // a stop-limit triggered beyond its limit: not in one bar
  return (buy ? bar.low <= limit : bar.high >= limit) ? limit : NaN;
}

function forget(consumed: Map<number, number>, levels: readonly PriceLevel[]): void {
  for (let i = 0; i < levels.length; i++) consumed.delete(levels[i][0]);
}

function size(s: number): number {
  return s === s ? s : Infinity;
}
