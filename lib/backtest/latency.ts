/**
 * Latency models: how long an order takes to reach the exchange, a report to come back, and
 * market data to reach the strategy.
 *
 * A model is plain data (so the event log can record it and `replay` rebuild it):
 * a constant, an empirical distribution drawn with a seeded generator, or (market data
 * only) the latency recorded with each event (`recvTs - ts`). Draws never reorder a channel:
 * a message is delivered no earlier than the one sent before it on the same channel, as on
 * one TCP connection.
 * @module
 */
import { Random } from "./_random.ts";
import type { MarketEvent } from "../market/types.ts";

/** A latency model as data. Microseconds. */
export type LatencySpec =
  | number
  | { readonly kind: "constant"; readonly us: number }
  | { readonly kind: "empirical"; readonly samples: readonly number[] }
  | { readonly kind: "recorded" };

/** Draws latencies for one channel. */
export class LatencyModel {
  readonly #constant: number;
  readonly #samples: Float64Array | undefined;
  readonly #recorded: boolean;
  readonly #random: Random;
  #last = -Infinity;

  /**
   * @throws {RangeError} for a negative or non-finite latency, or empty samples.
   * @throws {TypeError} for an unknown kind.
   */
  constructor(spec: LatencySpec, seed: number) {
    this.#random = new Random(seed);
    this.#constant = 0;
    this.#recorded = false;
    if (typeof spec === "number") this.#constant = checkLatency(spec);
    else if (spec?.kind === "constant") this.#constant = checkLatency(spec.us);
    else if (spec?.kind === "empirical") {
      if (!Array.isArray(spec.samples) || spec.samples.length === 0) {
        throw new RangeError("empirical latency needs at least one sample");
      }
      this.#samples = Float64Array.from(spec.samples, checkLatency);
    } else if (spec?.kind === "recorded") this.#recorded = true;
    else throw new TypeError(`unknown latency model ${JSON.stringify(spec)}`);
  }

  /** True when every draw is 0 (the engine takes a shortcut). */
  get zero(): boolean {
    return this.#samples === undefined && !this.#recorded && this.#constant === 0;
  }

  /**
   * When a message sent at `sent` arrives: `sent` plus a draw, never before the previous
   * arrival on this channel. `event` gives the recorded latency of a market event.
   */
  arrival(sent: number, event?: MarketEvent): number {
    let latency = this.#constant;
    const samples = this.#samples;
    if (samples !== undefined) {
      latency = samples[Math.floor(this.#random.next() * samples.length)];
    } else if (this.#recorded && event !== undefined) {
      latency = Math.max(0, event.recvTs - event.ts);
    }
    const at = Math.max(sent + latency, this.#last);
    this.#last = at;
    return at;
  }
}

function checkLatency(us: number): number {
  if (typeof us !== "number" || !Number.isFinite(us) || us < 0) {
    throw new RangeError(`latency must be a finite number of microseconds >= 0, got ${us}`);
  }
  return us;
}
