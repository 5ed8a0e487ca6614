/**
 * The real query worker, hanging on request: a request whose URL has `hang=early` spins
 * forever before its response starts, `hang=late` on the first pull of its body (after the
 * head). The spin blocks the worker's thread the way a stuck query would; only terminating
 * the worker ends it. For `tests/server_query_pool_test.ts`.
 * @module
 */
/// <reference lib="deno.worker" />
import "../../server/query_worker.ts";
import type { ToWorker } from "../../server/query_pool.ts";

function spin(): void {
  while (true) {
    // a query that never returns
  }
}

const late = new Set<number>();
self.addEventListener("message", (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "request") {
    const hang = new URL(message.url).searchParams.get("hang");
    if (hang === "early") spin();
    if (hang === "late") late.add(message.id);
  } else if (message.type === "pull" && late.has(message.id)) spin();
});
