/** Deliberate bugs in the runtime area (see `types.ts`). */
import type { Mutation } from "./types.ts";

const CAPS = "tests/backoff_resync_test.ts";

export const mutations: readonly Mutation[] = [
  {
    id: "runtime/backoff-no-cap",
    description: "Backoff: the reconnect delay ceiling no longer capped at maxMs",
    file: "collectors/runtime/backoff.ts",
    find: "Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 30))",
    replace: "this.#initialMs * 2 ** Math.min(this.#attempt, 30)",
    tests: [CAPS],
  },
  {
    id: "runtime/backoff-no-jitter",
    description: "Backoff: the full ceiling every time (no jitter: a fleet reconnects in lockstep)",
    file: "collectors/runtime/backoff.ts",
    find: "return Math.floor(this.#random() * ceiling);",
    replace: "return ceiling;",
    tests: [CAPS],
  },
  {
    id: "runtime/backoff-doubles-from-second",
    description: "Backoff: the first delay already twice initialMs (attempt counted before use)",
    file: "collectors/runtime/backoff.ts",
    find: "    this.#attempt++;\n    return",
    replace: "    return",
    tests: [CAPS],
  },
  {
    id: "runtime/backoff-reset-keeps-attempts",
    description: "Backoff: reset only steps one attempt back",
    file: "collectors/runtime/backoff.ts",
    find: "  reset(): void {\n    this.#attempt = 0;",
    replace: "  reset(): void {\n    this.#attempt = Math.max(0, this.#attempt - 1);",
    tests: [CAPS],
  },
  {
    id: "runtime/resync-no-cap",
    description: "Resync scheduler: the interval keeps doubling past maxIntervalMs",
    file: "collectors/runtime/resync.ts",
    find: "? Math.min(this.#maxIntervalMs, state.intervalMs * 2)",
    replace: "? state.intervalMs * 2",
    tests: [CAPS],
  },
  {
    id: "runtime/resync-wait-from-now",
    description: "Resync scheduler: waits a whole interval from now, not from the last resync",
    file: "collectors/runtime/resync.ts",
    find: "const wait = state.lastRunAt + state.intervalMs - now;",
    replace: "const wait = state.intervalMs;",
    tests: [CAPS],
  },
  {
    id: "runtime/resync-quiet-spell-inclusive",
    description: "Resync scheduler: exactly twice the interval still counts as failing (<= for <)",
    file: "collectors/runtime/resync.ts",
    find: "now - state.lastRunAt < 2 * state.intervalMs",
    replace: "now - state.lastRunAt <= 2 * state.intervalMs",
    tests: [CAPS],
  },
  {
    id: "runtime/ledger-gap-off-by-one",
    description: "Trade ledger: a jump counts one trade more lost than were skipped",
    file: "collectors/runtime/trade_ledger.ts",
    find: "this.#skip(trade.symbol, last, id - 1);",
    replace: "this.#skip(trade.symbol, last, id);",
    tests: ["tests/collector_runtime_test.ts", "tests/coinbase_exchange_test.ts"],
  },
  {
    id: "runtime/ledger-repeat-of-last-not-duplicate",
    description: "Trade ledger: a repeat of the last id is not recognised as a duplicate",
    file: "collectors/runtime/trade_ledger.ts",
    find: "    if (id <= last) {",
    replace: "    if (id < last) {",
    tests: ["tests/collector_runtime_test.ts", "tests/coinbase_exchange_test.ts"],
  },
  {
    id: "runtime/sink-queue-room-ignores-backpressure",
    description: "SinkQueue.room does not wait for a sink that reports backpressure",
    file: "collectors/runtime/sink_queue.ts",
    find: "for (const sink of this.#backpressured) await sink.ready();",
    replace: "for (const sink of this.#backpressured) void sink;",
    tests: ["tests/durable_delivery_test.ts"],
  },
];
