/**
 * Queue position models for resting limit orders. The market book shows only the total size
 * of a level; a model estimates how much of it is ahead of our (simulated) order.
 *
 * On arrival the whole visible size of the level is ahead. Trades at the level always come
 * off the front. What a model decides is how much of a decrease *not* explained by trades
 * (a cancel) was ahead of us:
 *
 * - `conservative`: none of it, except that the queue ahead can never exceed the level's
 *   size (`ahead = min(ahead, size)`). We fill only when trades at our price exceed what is
 *   ahead.
 * - `probabilistic` (the idea of hftbacktest's probability queue models): a share
 *   `f(ahead) / (f(ahead) + f(behind))` of the cancelled size was ahead, with
 *   `f(x) = x^power` (power 1: proportional to where we stand; larger powers lean on the
 *   larger side). Deterministic: the expected value, no random draw.
 * - `front`: queue position switched off, we are always first at our price (optimistic; for
 *   side-by-side comparisons).
 * @module
 */

/** A queue model as data. */
export type QueueSpec =
  | { readonly kind: "conservative" }
  | { readonly kind: "probabilistic"; readonly power?: number }
  | { readonly kind: "front" };

/** Estimates the size ahead of a resting order after its level changed. */
export type QueueUpdate = (
  ahead: number,
  oldSize: number,
  newSize: number,
  tradedSinceLastChange: number,
) => number;

/**
 * The update function of a queue model.
 * @throws {TypeError} for an unknown kind; {RangeError} for a power that is not positive.
 */
export function queueModel(spec: QueueSpec): QueueUpdate {
  switch (spec?.kind) {
    case "conservative":
      return (ahead, _old, size) => ahead < size ? ahead : size;
    case "front":
      return () => 0;
    case "probabilistic": {
      const power = spec.power ?? 1;
      if (!(power > 0) || !Number.isFinite(power)) {
        throw new RangeError(`queue power must be positive, got ${power}`);
      }
      return (ahead, oldSize, size, traded) => {
        const cancelled = oldSize - size - traded;
        if (cancelled > 0 && ahead > 0) {
          const behind = Math.max(0, oldSize - traded - ahead);
          const f = ahead ** power;
          const g = behind ** power;
          ahead -= cancelled * (f / (f + g));
        }
        if (ahead > size) ahead = size;
        return ahead > 0 ? ahead : 0;
      };
    }
    default:
      throw new TypeError(`unknown queue model ${JSON.stringify(spec)}`);
  }
}
