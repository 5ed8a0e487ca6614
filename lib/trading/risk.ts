/**
 * Pre-trade risk checks of a live run. Every order passes {@linkcode checkRisk} before it can
 * leave the runner; a breach is a rejection with a reason (logged as `risk_reject`), never an
 * order at the broker.
 *
 * Positions are checked at their worst case: the position plus every open order on the same
 * side (as if they all filled) plus the new order.
 * @module
 */
import type { BookView } from "../backtest/strategy.ts";
import type { OrderRequest } from "../backtest/types.ts";

/** Limits of a live run; a limit left out is not checked. */
export interface RiskLimits {
  /** Largest absolute position per instrument (instrument units). */
  readonly maxPosition?: number;
  /** Largest sum of absolute positions over all instruments. */
  readonly maxTotalPosition?: number;
  /** Largest absolute position value per instrument (quote currency). */
  readonly maxNotional?: number;
  /** Largest sum of absolute position values over all instruments. */
  readonly maxTotalNotional?: number;
  /** Most orders in any 1 s window of the run's clock. */
  readonly maxOrdersPerSecond?: number;
  /** Farthest a limit price may be from the book's mid, in basis points. */
  readonly priceBandBps?: number;
  /** Loss (negative PnL, quote currency) at which the run refuses new orders. */
  readonly maxLoss?: number;
}

/** One instrument's exposure as the runner sees it. */
export interface Exposure {
  readonly exchange: string;
  readonly symbol: string;
  readonly position: number;
  /** Remaining size of open buy orders. */
  readonly openBuy: number;
  /** Remaining size of open sell orders. */
  readonly openSell: number;
  /** Price to value it at (mid, else NaN). */
  readonly mark: number;
}

/** What {@linkcode checkRisk} looks at. */
export interface RiskInput {
  readonly request: OrderRequest;
  /** The book of the request's instrument, if any. */
  readonly book: BookView | undefined;
  /** Every instrument with a position or open orders (the request's included when it has). */
  readonly exposures: readonly Exposure[];
  /** Orders sent in the last second of the run clock. */
  readonly recentOrders: number;
  /** Profit and loss so far (cash change plus positions at mark). */
  readonly pnl: number;
}

/**
 * Checks the limits.
 * @throws {RangeError} when a limit is not a positive number.
 */
export function validateLimits(limits: RiskLimits): RiskLimits {
  for (const [name, v] of Object.entries(limits ?? {})) {
    if (v !== undefined && (typeof v !== "number" || !(v > 0))) {
      throw new RangeError(`risk limit ${name} must be a positive number, got ${v}`);
    }
  }
  return limits ?? {};
}

/** Why the request breaches a limit, or "" when it passes. */
export function checkRisk(limits: RiskLimits, input: RiskInput): string {
  const { request: r, book } = input;
  if (limits.maxLoss !== undefined && input.pnl <= -limits.maxLoss) {
    return `loss limit: pnl ${input.pnl} at or below -${limits.maxLoss}`;
  }
  if (limits.maxOrdersPerSecond !== undefined && input.recentOrders >= limits.maxOrdersPerSecond) {
    return `order rate limit: ${input.recentOrders} orders in the last second`;
  }
  const mid = book?.mid ?? NaN;
  if (limits.priceBandBps !== undefined) {
    if (!(mid > 0)) return "price band: no two-sided book";
    for (const p of [r.price, r.stopPrice]) {
      if (p === undefined || r.type === "market" && p === r.price) continue;
      const bps = Math.abs(p / mid - 1) * 1e4;
      if (bps > limits.priceBandBps + 1e-9) {
        return `price band: ${p} is ${bps.toFixed(1)} bps from mid ${mid}`;
      }
    }
  }
  const sign = r.side === "buy" ? 1 : -1;
  let totalPos = 0;
  let totalNotional = 0;
  let found = false;
  for (const x of input.exposures) {
    const mine = x.exchange === r.exchange && x.symbol === r.symbol;
    const long = x.position + x.openBuy + (mine && sign > 0 ? r.size : 0);
    const short = x.position - x.openSell - (mine && sign < 0 ? r.size : 0);
    const worst = Math.max(Math.abs(long), Math.abs(short));
    const price = mine ? priceOf(r, x.mark) : x.mark;
    totalPos += worst;
    totalNotional += worst * (price === price ? price : 0);
    if (!mine) continue;
    found = true;
    const r1 = instrumentLimits(limits, worst, price);
    if (r1 !== "") return r1;
  }
  if (!found) {
    const price = priceOf(r, mid);
    totalPos += r.size;
    totalNotional += r.size * (price === price ? price : 0);
    const r1 = instrumentLimits(limits, r.size, price);
    if (r1 !== "") return r1;
  }
  if (limits.maxTotalPosition !== undefined && totalPos > limits.maxTotalPosition + 1e-12) {
    return `total position limit: ${totalPos} > ${limits.maxTotalPosition}`;
  }
  if (limits.maxTotalNotional !== undefined && totalNotional > limits.maxTotalNotional + 1e-9) {
    return `total notional limit: ${totalNotional} > ${limits.maxTotalNotional}`;
  }
  return "";
}

function instrumentLimits(limits: RiskLimits, worst: number, price: number): string {
  if (limits.maxPosition !== undefined && worst > limits.maxPosition + 1e-12) {
    return `position limit: ${worst} > ${limits.maxPosition}`;
  }
  if (limits.maxNotional !== undefined) {
    if (!(price > 0)) return "notional limit: no price to value the order at";
    if (worst * price > limits.maxNotional + 1e-9) {
      return `notional limit: ${worst * price} > ${limits.maxNotional}`;
    }
  }
  return "";
}

/** The price an order is valued at: its limit, else the mark. */
function priceOf(r: OrderRequest, mark: number): number {
  return r.type !== "market" && r.price !== undefined ? r.price : mark;
}
