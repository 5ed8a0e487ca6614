/**
 * The real query worker, crashing on request: a request whose URL has `crash=early` throws
 * before its response starts, `crash=late` on the first pull of its body (after the head).
 * For `tests/server_query_pool_test.ts`.
 * @module
 */
/// <reference lib="deno.worker" />
import "../../server/query_worker.ts";
import type { ToWorker } from "../../server/query_pool.ts";

const late = new Set<number>();
self.addEventListener("message", (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "request") {
    const crash = new URL(message.url).searchParams.get("crash");
    if (crash === "early") throw new Error("crash before the head");
    if (crash === "late") late.add(message.id);
  } else if (message.type === "pull" && late.has(message.id)) {
    throw new Error("crash in the body");
  }
});
