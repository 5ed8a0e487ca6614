/**
 * Fees: a maker and a taker rate per venue, as fractions of the traded notional
 * (`0.0001` is 1 basis point). A negative rate is a rebate.
 * @module
 */
import type { Liquidity } from "./types.ts";

/** Maker and taker fee rates of a venue; negative means a rebate. */
export interface FeeSpec {
  readonly maker: number;
  readonly taker: number;
}

/** Fees by venue, with a default for venues not listed. */
export interface FeeSchedule {
  readonly default?: FeeSpec;
  readonly venues?: Readonly<Record<string, FeeSpec>>;
}

const FREE: FeeSpec = { maker: 0, taker: 0 };

/**
 * The fee spec of `exchange`.
 * @throws {RangeError} when a rate is not finite.
 */
export function feeSpecFor(schedule: FeeSchedule | undefined, exchange: string): FeeSpec {
  const spec = schedule?.venues?.[exchange] ?? schedule?.default ?? FREE;
  if (!Number.isFinite(spec.maker) || !Number.isFinite(spec.taker)) {
    throw new RangeError(`fee rates of ${exchange} must be finite numbers`);
  }
  return spec;
}

/** The fee of a fill: `price * size * rate`; negative for a rebate. */
export function feeOf(spec: FeeSpec, liquidity: Liquidity, price: number, size: number): number {
  return price * size * (liquidity === "maker" ? spec.maker : spec.taker);
}
