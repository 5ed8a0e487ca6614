/**
 * The values a strategy and the backtester exchange: order requests, orders, fills and the
 * reports that tell a strategy what happened to its orders.
 *
 * Times are microseconds since the epoch (see `lib/market/types.ts`); prices and sizes are
 * doubles in the venue's units. Order ids are whole numbers given out in submission order,
 * so the same run gives the same ids.
 * @module
 */

/** The side of an order or a fill. */
export type OrderSide = "buy" | "sell";

/**
 * What an order does on arrival: `market` takes whatever the book offers; `limit` takes up to
 * its price and rests the remainder (unless IOC); `stop` waits until a trade reaches its
 * `stopPrice`, then acts as a market order (or as a limit order when `price` is given).
 */
export type OrderType = "market" | "limit" | "stop";

/** How long an order lives: until cancelled, or only its immediate part (`ioc`). */
export type TimeInForce = "gtc" | "ioc";

/** Whether a fill added liquidity to the book (`maker`) or took it (`taker`). */
export type Liquidity = "maker" | "taker";

/** What a strategy asks for. */
export interface OrderRequest {
  readonly exchange: string;
  readonly symbol: string;
  readonly side: OrderSide;
  readonly type: OrderType;
  /** Positive size in the instrument's units. */
  readonly size: number;
  /** Limit price: required for `limit`, optional for `stop` (a stop-limit). */
  readonly price?: number;
  /** Trigger price of a `stop` order. */
  readonly stopPrice?: number;
  /** Default `gtc`; market orders are always immediate. */
  readonly timeInForce?: TimeInForce;
  /** Rejected instead of taking liquidity when it would cross the book on arrival. */
  readonly postOnly?: boolean;
  /** May only reduce the position; its size is cut to the position it closes. */
  readonly reduceOnly?: boolean;
  /** Free text carried to the order's rows (the strategy's own label). */
  readonly tag?: string;
}

/** A change to a resting order: a new price and/or a new total size. */
export interface OrderAmendment {
  readonly price?: number;
  readonly size?: number;
}

/** Where an order stands, as the strategy last heard. */
export type OrderStatus =
  | "pending" // sent, not yet acknowledged by the exchange
  | "open" // resting (or a stop waiting for its trigger)
  | "filled"
  | "cancelled"
  | "rejected";

/** An order as the strategy sees it (updated when reports arrive). */
export interface Order {
  readonly id: number;
  readonly exchange: string;
  readonly symbol: string;
  readonly side: OrderSide;
  readonly type: OrderType;
  /** Limit price; NaN for a market order or a plain stop. */
  price: number;
  /** Trigger price; NaN unless a stop. */
  readonly stopPrice: number;
  /** Total size asked for (after amendments). */
  size: number;
  /** Size filled so far. */
  filled: number;
  /** Size-weighted average fill price; NaN before the first fill. */
  avgPrice: number;
  readonly timeInForce: TimeInForce;
  readonly postOnly: boolean;
  readonly reduceOnly: boolean;
  status: OrderStatus;
  /** Why it was rejected or cancelled, when it was. */
  reason: string;
  /** Strategy time of submission, microseconds. */
  readonly submittedAt: number;
  /** Time of the last report received about it, microseconds. */
  updatedAt: number;
  readonly tag: string;
}

/** One execution of (part of) an order. */
export interface Fill {
  /** Sequence number of the fill in the run, from 1. */
  readonly id: number;
  readonly orderId: number;
  readonly exchange: string;
  readonly symbol: string;
  readonly side: OrderSide;
  readonly price: number;
  readonly size: number;
  /** Fee paid in quote currency; negative for a rebate. */
  readonly fee: number;
  readonly liquidity: Liquidity;
  /** Exchange time of the fill, microseconds. */
  readonly ts: number;
}

/** What the exchange says about an order; reports reach the strategy after the response latency. */
export type OrderReport =
  | { readonly kind: "accepted"; readonly orderId: number; readonly ts: number }
  | {
    readonly kind: "rejected" | "cancelled";
    readonly orderId: number;
    readonly ts: number;
    readonly reason: string;
  }
  | {
    readonly kind: "amended";
    readonly orderId: number;
    readonly ts: number;
    readonly price: number;
    readonly size: number;
  }
  | { readonly kind: "triggered"; readonly orderId: number; readonly ts: number }
  | { readonly kind: "fill"; readonly orderId: number; readonly ts: number; readonly fill: Fill };

/** A timer set by a strategy. */
export interface Timer {
  readonly id: number;
  /** Time it fires, microseconds. */
  readonly at: number;
  /** Whatever the strategy attached. */
  readonly data: unknown;
}
