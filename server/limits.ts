/**
 * Caps on long-lived connections (WebSocket and SSE streams): in total and per client
 * address, so one host cannot take every slot.
 * @module
 */

/** Options for {@linkcode ConnectionLimiter}. */
export interface ConnectionLimits {
  /** Most open streams in total (default 5,000). */
  readonly maxConnections?: number;
  /** Most open streams from one address (default 100). */
  readonly maxConnectionsPerAddress?: number;
}

/** Why a slot was refused. */
export type LimitRefusal = "total" | "address";

/**
 * Counts open streams by address.
 *
 * @example
 * ```ts
 * import { ConnectionLimiter } from "./limits.ts";
 * import assert from "node:assert/strict";
 * const limiter = new ConnectionLimiter({ maxConnections: 2, maxConnectionsPerAddress: 1 });
 * const release = limiter.acquire("10.0.0.1");
 * assert.equal(typeof release, "function");
 * assert.equal(limiter.acquire("10.0.0.1"), "address");
 * ```
 */
export class ConnectionLimiter {
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  #byAddress = new Map<string, number>();
  #open = 0;
  #refused = 0;
  #refusedBy: Record<LimitRefusal, number> = { total: 0, address: 0 };

  constructor(limits: ConnectionLimits = {}) {
    this.maxConnections = count(limits.maxConnections ?? 5_000, "maxConnections");
    this.maxConnectionsPerAddress = count(
      limits.maxConnectionsPerAddress ?? 100,
      "maxConnectionsPerAddress",
    );
  }

  /** Streams open now. */
  get open(): number {
    return this.#open;
  }

  /** Streams refused so far. */
  get refused(): number {
    return this.#refused;
  }

  /** Streams refused so far, by why: the total cap or the per-address cap. */
  get refusedBy(): Readonly<Record<LimitRefusal, number>> {
    return { ...this.#refusedBy };
  }

  /** Takes a slot for `address`: a release function (idempotent), or why not. */
  acquire(address: string): (() => void) | LimitRefusal {
    const mine = this.#byAddress.get(address) ?? 0;
    if (this.#open >= this.maxConnections) return this.#refuse("total");
    if (mine >= this.maxConnectionsPerAddress) return this.#refuse("address");
    this.#open++;
    this.#byAddress.set(address, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
      const left = (this.#byAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#byAddress.set(address, left);
      else this.#byAddress.delete(address);
    };
  }

  #refuse(why: LimitRefusal): LimitRefusal {
    this.#refused++;
    this.#refusedBy[why]++;
    return why;
  }
}

function count(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer: ${value}`);
  }
  return value;
}
