/**
 * Durable delivery for sinks that must not lose what they acknowledged: retry with
 * backoff, spill to synced segment files while the store is down, replay when it is back
 * ({@linkcode DurableDelivery}, over a bounded {@linkcode SpillStore}). The PostgreSQL
 * buffer writer sits behind it; any sink that turns events into batches of bytes can.
 *
 * @example
 * ```ts ignore
 * import { DurableDelivery } from "./mod.ts";
 * const delivery = new DurableDelivery({ deliver, probe, isUnavailable, spillDir: "data/spill/x" });
 * ```
 * @module
 */
export {
  type DeliveryStats,
  DurableDelivery,
  type DurableDeliveryOptions,
  type SpillableBatch,
} from "./durable_delivery.ts";
export { type SpillSegment, SpillStore } from "./spill_store.ts";
