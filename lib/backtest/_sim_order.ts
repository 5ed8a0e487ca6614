/**
 * The exchange's own record of an order (private to the simulation).
 * @module
 */
import type { OrderType, TimeInForce } from "./types.ts";

/** Where a simulated order is. */
export const enum SimState {
  Resting = 1,
  Stop = 2,
  BarPending = 3,
  Done = 4,
}

/** The simulation's record of an order. */
export interface SimOrder {
  readonly id: number;
  /** +1 buy, -1 sell. */
  readonly sign: 1 | -1;
  type: OrderType;
  /** Limit price, NaN for none. */
  price: number;
  readonly stopPrice: number;
  size: number;
  filled: number;
  readonly timeInForce: TimeInForce;
  readonly postOnly: boolean;
  readonly reduceOnly: boolean;
  state: SimState;
  /** Estimated size ahead in the queue at `price`. */
  ahead: number;
  /** The level's visible size when last looked at. */
  levelSize: number;
  /** Size traded at the level since `levelSize` was last updated. */
  traded: number;
}
