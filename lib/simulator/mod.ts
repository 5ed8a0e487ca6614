/**
 * A seeded synthetic market and a local server speaking the Coinbase Exchange protocol.
 * Synthetic data only: used by the offline demo, tests and benchmarks.
 * @module
 */
export { SeededRandom } from "./random.ts";
export {
  DEMO_PRODUCTS,
  SyntheticMarket,
  type SyntheticMarketOptions,
  type SyntheticProduct,
} from "./synthetic_market.ts";
export {
  type CoinbaseSimulator,
  type CoinbaseSimulatorOptions,
  startCoinbaseSimulator,
} from "./coinbase_simulator_server.ts";
export {
  type LaggedVenue,
  type LaggedVenueMarket,
  type LaggedVenuesOptions,
  laggedVenueTrades,
} from "./lagged_venues.ts";
