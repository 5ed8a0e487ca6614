/**
 * Two small example strategies: a market maker that joins the best bid and ask on every book
 * change, and a moving-average crossover on bars. Both only use the {@linkcode TradingContext},
 * so they run in the backtester and, later, live.
 * @module
 */
import type { Strategy, TradingContext } from "./strategy.ts";
import type { OrderSide } from "./types.ts";

/** Parameters of {@linkcode marketMaker}. */
export interface MarketMakerParams {
  readonly exchange: string;
  readonly symbol: string;
  /** Size of each quote. */
  readonly size: number;
  /** Stop quoting the side that would take the position beyond this. */
  readonly maxPosition: number;
  /** Quote this many ticks behind the best (default 0: join it). */
  readonly offsetTicks?: number;
  /** Price step (default 0.5). */
  readonly tick?: number;
}

/**
 * Joins (or sits `offsetTicks` behind) the best bid and ask with post-only limit orders,
 * moving them (amend) whenever the best price changes.
 */
export function marketMaker(p: MarketMakerParams): Strategy {
  let bidId = 0;
  let askId = 0;
  const asked = new Map<number, number>(); // order id -> the last price asked for
  const offset = (p.offsetTicks ?? 0) * (p.tick ?? 0.5);
  const quote = (ctx: TradingContext, id: number, side: OrderSide, price: number, on: boolean) => {
    const o = id > 0 ? ctx.order(id) : undefined;
    const live = o !== undefined && (o.status === "open" || o.status === "pending");
    if (!on) {
      if (live) ctx.cancel(id);
      return 0;
    }
    if (live) {
      if (o.status === "open" && asked.get(id) !== price) {
        ctx.amend(id, { price });
        asked.set(id, price);
      }
      return id;
    }
    asked.delete(id);
    const next = ctx.submit({
      exchange: p.exchange,
      symbol: p.symbol,
      side,
      type: "limit",
      price,
      size: p.size,
      postOnly: true,
    });
    asked.set(next, price);
    return next;
  };
  return {
    name: "market-maker",
    version: "1",
    params: { ...p },
    onBook(e, ctx) {
      if (e.symbol !== p.symbol || e.exchange !== p.exchange) return;
      const book = ctx.book(p.exchange, p.symbol)!;
      const bid = book.bestBid;
      const ask = book.bestAsk;
      if (!(bid < ask)) return;
      const pos = ctx.position(p.exchange, p.symbol);
      bidId = quote(ctx, bidId, "buy", bid - offset, pos + p.size <= p.maxPosition);
      askId = quote(ctx, askId, "sell", ask + offset, pos - p.size >= -p.maxPosition);
    },
  };
}

/** Parameters of {@linkcode movingAverageCross}. */
export interface MovingAverageParams {
  readonly exchange: string;
  readonly symbol: string;
  readonly fast: number;
  readonly slow: number;
  readonly size: number;
}

/**
 * Long `size` while the mean close of the last `fast` bars is above that of the last `slow`
 * bars, flat otherwise; market orders (they fill at the next bar's open).
 * @throws {RangeError} unless `0 < fast < slow` are whole numbers.
 */
export function movingAverageCross(p: MovingAverageParams): Strategy {
  if (!Number.isInteger(p.fast) || !Number.isInteger(p.slow) || !(0 < p.fast && p.fast < p.slow)) {
    throw new RangeError(`need whole 0 < fast < slow, got ${p.fast}, ${p.slow}`);
  }
  const closes = new Float64Array(p.slow);
  let n = 0;
  let fastSum = 0;
  let slowSum = 0;
  let long = false;
  return {
    name: "moving-average-cross",
    version: "1",
    params: { ...p },
    onBar(bar, ctx) {
      const i = n % p.slow;
      slowSum += bar.close - (n >= p.slow ? closes[i] : 0);
      fastSum += bar.close - (n >= p.fast ? closes[(n - p.fast) % p.slow] : 0);
      closes[i] = bar.close;
      n++;
      if (n < p.slow) return;
      const up = fastSum / p.fast > slowSum / p.slow;
      if (up === long) return;
      long = up;
      const side = up ? "buy" : "sell";
      ctx.submit({ exchange: p.exchange, symbol: p.symbol, side, type: "market", size: p.size });
    },
  };
}
