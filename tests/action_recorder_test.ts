/**
 * Issue 11: a collector's start (with its configuration) and its resets in the action log,
 * through the `actions` rows of its store (`collectors/runtime/action_recorder.ts`).
 */
import assert from "node:assert/strict";
import { ActionRecorder } from "../collectors/runtime/action_recorder.ts";
import { verifyActionLog } from "../lib/backtest/action_log.ts";
import { actionLines, type ActionRow } from "../lib/schema/action_rows.ts";
import type { FeedStatus, MarketEvent } from "../lib/market/types.ts";

const T0 = Date.UTC(2024, 7, 8, 12) * 1000;

function status(i: number, value: FeedStatus["status"], symbol = "BTC-USD"): FeedStatus {
  return {
    kind: "status",
    exchange: "coinbase",
    symbol,
    ts: T0 + i,
    recvTs: T0 + i + 7,
    status: value,
    reason: `why ${i}`,
  };
}

Deno.test("ActionRecorder: start with the config, resets and disconnects, stored once each", async () => {
  const stored: ActionRow[] = [];
  let calls = 0;
  const recorder = new ActionRecorder({
    exchange: "coinbase",
    config: { symbols: ["BTC-USD", "ETH-USD"], url: "ws://fake" },
    store: {
      writeActions: (rows) => {
        calls++;
        stored.push(...rows);
        return Promise.resolve(rows.length);
      },
    },
    now: () => T0,
    run: "collect-test",
  });
  const trade = {
    kind: "trade",
    exchange: "coinbase",
    symbol: "BTC-USD",
    id: "1",
    price: 1,
    size: 1,
    side: "buy",
    ts: T0,
    recvTs: T0,
  } as MarketEvent;
  recorder.write([trade, status(1, "connected"), status(2, "reset")]);
  assert.equal(await recorder.flush(), 2, "start and one reset");
  assert.equal(await recorder.flush(), 0);
  assert.equal(calls, 1, "nothing new, nothing written");
  recorder.write([status(3, "gap"), status(4, "disconnected", "*"), status(5, "reset")]);
  await recorder.close();
  assert.equal(calls, 2);

  assert.deepEqual(stored.map((r) => [r.seq, r.action, r.ts]), [
    [1, "start", T0],
    [2, "reset", T0 + 9],
    [3, "reset", T0 + 11],
    [4, "reset", T0 + 12],
  ]);
  assert.ok(stored.every((r) => r.source === "coinbase" && r.run === "collect-test"));
  const lines = actionLines(stored);
  assert.deepEqual(verifyActionLog(lines), { ok: true, entries: 4 });
  assert.deepEqual(JSON.parse(stored[0].payload), {
    exchange: "coinbase",
    symbols: ["BTC-USD", "ETH-USD"],
    url: "ws://fake",
  });
  assert.deepEqual(JSON.parse(stored[2].payload), {
    symbol: "*",
    status: "disconnected",
    reason: "why 4",
    ts: T0 + 4,
  });
  assert.throws(() => new ActionRecorder({ exchange: "x", config: {}, store: {} as never }));
});
