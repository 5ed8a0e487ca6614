/**
 * The port between a live runner and where its orders go: a simulated venue (`SimBroker`) or
 * a real one (Alpaca paper). Orders carry the runner's id and a client order id derived from
 * it, so a restarted runner recognises its own orders at the broker and never sends one twice.
 *
 * Outcomes arrive on the update stream ({@linkcode BrokerListener}), never as return values:
 * `venue` when something happened at the venue (the runner logs it at once), `report` when the
 * news reaches the trader (the runner updates its view and tells the strategy).
 * @module
 */
import type { MarketEvent } from "../market/types.ts";
import type { OrderAmendment, OrderReport, OrderRequest, OrderSide } from "../backtest/types.ts";

/** An order as sent to a broker. */
export interface BrokerOrderRequest extends OrderRequest {
  /** The runner's order id (whole, from 1, in submission order). */
  readonly id: number;
  /** The id the broker keeps for the order; derived from the run and `id`. */
  readonly clientOrderId: string;
}

/** An order the broker holds. */
export interface BrokerOrder {
  readonly id: number;
  readonly clientOrderId: string;
  readonly exchange: string;
  readonly symbol: string;
  readonly side: OrderSide;
  /** Limit price, NaN for none. */
  readonly price: number;
  readonly size: number;
  readonly filled: number;
}

/** A position the broker holds. */
export interface BrokerPosition {
  readonly exchange: string;
  readonly symbol: string;
  /** Signed size, positive long. */
  readonly position: number;
  /** Average entry price (0 when flat). */
  readonly avgPrice: number;
}

/** The account as the broker sees it. */
export interface BrokerAccount {
  /** Cash in quote currency. */
  readonly cash: number;
  /** Cash plus positions at the broker's marks. */
  readonly equity: number;
}

/** Receives a broker's update stream. */
export interface BrokerListener {
  /** Something happened at the venue at `ts` (accepted, fill, cancelled, ...), to be logged. */
  venue(action: string, ts: number, data: Readonly<Record<string, unknown>>): void;
  /** A report about an order reaches the trader. */
  report(report: OrderReport): void;
}

/** Where a runner's orders go. */
export interface Broker {
  /** `sim`, `alpaca-paper`, ... (written to the action log). */
  readonly name: string;
  /** Sends an order; its fate arrives on the update stream. */
  submit(order: BrokerOrderRequest): void;
  /** Asks to change a resting order (NaN/undefined fields stay). */
  amend(id: number, amendment: OrderAmendment): void;
  /** Asks to cancel an order. */
  cancel(id: number): void;
  /** Cancels every open order at once (kill switch, end of run). */
  cancelAll(reason: string): void;
  /** Orders open at the broker. */
  openOrders(): Promise<readonly BrokerOrder[]>;
  /** Positions at the broker (non-zero ones). */
  positions(): Promise<readonly BrokerPosition[]>;
  account(): Promise<BrokerAccount>;
  /** Subscribes to the update stream; returns the unsubscribe function. */
  subscribe(listener: BrokerListener): () => void;
  /** Live market data, for a broker that simulates its venue (called before the strategy sees it). */
  onMarket?(event: MarketEvent, now: number): void;
  /** Releases connections and timers. */
  close(): Promise<void>;
}
