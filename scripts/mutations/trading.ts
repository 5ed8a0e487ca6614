/** Deliberate bugs in the paper-trading area: runner, server routes, panel (see `types.ts`). */
import type { Mutation } from "./types.ts";

const SERVER_TEST = "tests/trading_server_test.ts";

export const mutations: readonly Mutation[] = [
  {
    id: "trading/routes-read-scope",
    description: "the trading routes (kill switch included) accept a read-only token",
    file: "server/app.ts",
    find: 'path.startsWith(TRADING_PREFIX) ? "trade" : "read"',
    replace: '"read"',
    tests: [SERVER_TEST],
  },
  {
    id: "trading/kill-route-does-not-kill",
    description: "POST /api/trading/kill answers but never pulls the kill switch",
    file: "server/trading_routes.ts",
    find: "desk.kill(reason, { by: options.principalOf?.(req)?.subject });",
    replace: "",
    tests: [SERVER_TEST],
  },
  {
    id: "trading/kill-leaves-orders",
    description: "the kill switch stops the runner but leaves its orders at the broker",
    file: "lib/trading/runner.ts",
    find: "    this.broker.cancelAll(reason);",
    replace: "",
    tests: [SERVER_TEST],
  },
  {
    id: "trading/market-data-latency-ignored",
    description: "the runner hands market data to the strategy at once, whatever its latency",
    file: "lib/trading/runner.ts",
    find: "if (this.#md.zero) this.#deliver(e);",
    replace: "if (true) this.#deliver(e);",
    tests: ["tests/trading_equivalence_test.ts"],
  },
  {
    id: "trading/panel-drops-live-fills",
    description: "the live page's trading panel ignores fills arriving on the stream",
    file: "server/trading_panel.ts",
    find: "st.fills.unshift(data);",
    replace: "",
    tests: ["tests/trading_panel_test.ts"],
  },
  {
    id: "trading/kill-by-not-logged",
    description: "the kill switch's log entry loses who pulled it (the token's name)",
    file: "lib/trading/runner.ts",
    find: "by === undefined ? { reason } : { reason, by },",
    replace: "{ reason },",
    tests: [SERVER_TEST],
  },
  {
    id: "trading/kill-principal-not-kept",
    description: "the server does not keep who made a request, so the kill is logged anonymous",
    file: "server/app.ts",
    find: "seen.principals.set(req, await auth.authenticate(credential, scope));",
    replace: "await auth.authenticate(credential, scope);",
    tests: [SERVER_TEST],
  },
];
