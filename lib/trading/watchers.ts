/**
 * What a live runner tells whoever watches it (the server's trading routes and panel): order
 * changes, fills, the end of the run; and the positions it shows them.
 * @module
 */
import type { Fill, Order } from "../backtest/types.ts";

/** What a runner tells its watchers (see `LiveRunner.watch`). */
export type RunnerUpdate =
  | { readonly type: "order"; readonly order: Readonly<Order> }
  | { readonly type: "fill"; readonly fill: Fill }
  | { readonly type: "stopped"; readonly reason: string };

/** A position of the strategy's view, marked at its book's mid. */
export interface RunnerPosition {
  readonly exchange: string;
  readonly symbol: string;
  /** Signed size, positive long. */
  readonly position: number;
  /** Mid of the strategy's book, NaN when it has none. */
  readonly mark: number;
}

/** A set of watchers; one that throws is ignored (a panel never stops a run). */
export class Watchers {
  readonly #fns = new Set<(update: RunnerUpdate) => void>();

  /** How many watch. */
  get size(): number {
    return this.#fns.size;
  }

  /** Adds `fn`; returns the function that removes it. */
  add(fn: (update: RunnerUpdate) => void): () => void {
    if (typeof fn !== "function") throw new TypeError("watch needs a function");
    this.#fns.add(fn);
    return () => this.#fns.delete(fn);
  }

  /** Tells every watcher. */
  notify(update: RunnerUpdate): void {
    for (const fn of this.#fns) {
      try {
        fn(update);
      } catch {
        // ignored: see the class comment
      }
    }
  }
}
