/**
 * The strategy side of the port: what a strategy implements ({@linkcode Strategy}) and what
 * it is given ({@linkcode TradingContext}). The backtester gives it a simulated context; a
 * live runner gives it one backed by a broker. A strategy never sees a store, a socket or
 * the simulation itself, so the same object runs in both.
 * @module
 */
import type { Bar, BookChange, BookSnapshot, FeedStatus, Quote, Trade } from "../market/types.ts";
import type { Fill, Order, OrderAmendment, OrderReport, OrderRequest, Timer } from "./types.ts";

/** The read-only view of an L2 book a strategy gets (an `OrderBook` satisfies it). */
export interface BookView {
  readonly bestBid: number;
  readonly bestAsk: number;
  readonly bestBidSize: number;
  readonly bestAskSize: number;
  readonly mid: number;
  readonly spread: number;
  readonly bidDepth: number;
  readonly askDepth: number;
  priceAt(side: "bid" | "ask", i: number): number;
  sizeAt(side: "bid" | "ask", i: number): number;
  sizeAtPrice(side: "bid" | "ask", price: number): number;
}

/** An instrument's tradable description. */
export interface InstrumentSpec {
  readonly exchange: string;
  readonly symbol: string;
  /** Smallest price step; prices off this grid are rejected (default: any price). */
  readonly tickSize?: number;
  /** Smallest size step; sizes off this grid are rejected (default: any size). */
  readonly lotSize?: number;
}

/**
 * What a strategy may do and read. Times are the strategy's clock: the time the event it is
 * handling reached it (after market-data latency).
 */
export interface TradingContext {
  /** The strategy's current time, microseconds since the epoch. */
  now(): number;
  /** The book of an instrument as the strategy last saw it (undefined before any data). */
  book(exchange: string, symbol: string): BookView | undefined;
  /** Signed position (positive long) as the strategy last heard from fills. */
  position(exchange: string, symbol: string): number;
  /** Cash in quote currency as the strategy last heard (initial cash plus fills, minus fees). */
  cash(): number;
  /** Open and pending orders (optionally of one instrument), in id order. */
  openOrders(exchange?: string, symbol?: string): readonly Order[];
  /** An order by id, in any state. */
  order(id: number): Order | undefined;
  /**
   * Sends an order and returns its id. A request that fails the local checks (size not
   * positive, unknown instrument, price off tick, ...) is rejected at once with a reason:
   * its status is `rejected` and `onOrder` receives the rejection; it never fills.
   */
  submit(request: OrderRequest): number;
  /** Asks to change a resting order's price and/or size (a price change loses queue position). */
  amend(id: number, amendment: OrderAmendment): void;
  /** Asks to cancel an order. */
  cancel(id: number): void;
  /** Cancels every open order (of one instrument when given). */
  cancelAll(exchange?: string, symbol?: string): void;
  /** Calls `onTimer` at `at` (microseconds, strategy clock); returns the timer's id. */
  setTimer(at: number, data?: unknown): number;
  /** Forgets a timer that has not fired. */
  cancelTimer(id: number): void;
  /** The instruments the strategy may trade. */
  instruments(): readonly InstrumentSpec[];
}

/**
 * A trading strategy. Every handler is optional; each receives the context last. A handler
 * that throws stops the strategy: the error is logged and its open orders are cancelled.
 */
export interface Strategy {
  /** Name written to the event log. */
  readonly name: string;
  /** Code version written to the event log (a git commit, a semver). */
  readonly version?: string;
  /** Parameters written to the event log; must be JSON. */
  readonly params?: Readonly<Record<string, unknown>>;
  onStart?(ctx: TradingContext): void;
  onTrade?(trade: Trade, ctx: TradingContext): void;
  /** A book snapshot or change; `ctx.book(...)` already reflects it. */
  onBook?(event: BookSnapshot | BookChange, ctx: TradingContext): void;
  onQuote?(quote: Quote, ctx: TradingContext): void;
  /** A bar, delivered when it closes (`ts + interval`). */
  onBar?(bar: Bar, ctx: TradingContext): void;
  onStatus?(status: FeedStatus, ctx: TradingContext): void;
  onTimer?(timer: Timer, ctx: TradingContext): void;
  /** Every report about an order (accepted, rejected, amended, triggered, cancelled, fill). */
  onOrder?(report: OrderReport, ctx: TradingContext): void;
  /** A fill of one of its orders (after `onOrder` got the same fill). */
  onFill?(fill: Fill, ctx: TradingContext): void;
  onStop?(ctx: TradingContext): void;
}
