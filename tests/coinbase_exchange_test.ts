import assert from "node:assert/strict";
import { CoinbaseExchangeAdapter } from "../collectors/venues/coinbase_exchange.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import type { MarketEvent, Trade } from "../lib/market/types.ts";

function setup() {
  const logs: string[] = [];
  const diagnostics = new FeedDiagnostics({ log: (l) => logs.push(l) });
  const adapter = new CoinbaseExchangeAdapter({ diagnostics });
  const parse = (msg: unknown) => {
    const out: MarketEvent[] = [];
    adapter.parse(typeof msg === "string" ? msg : JSON.stringify(msg), 1_618_677_817_200_000, out);
    return out;
  };
  return { adapter, diagnostics, logs, parse };
}

const match = (id: number, extra: Record<string, unknown> = {}) => ({
  type: "match",
  trade_id: id,
  side: "sell",
  size: "985",
  price: "0.00001305",
  product_id: "SKL-BTC",
  sequence: 1,
  time: "2021-04-17T16:43:37.089723Z",
  ...extra,
});

Deno.test("coinbase: a match becomes a trade with the taker side and exact values", () => {
  const { parse } = setup();
  const [t] = parse(match(280232)) as Trade[];
  assert.deepEqual(t, {
    kind: "trade",
    exchange: "coinbase",
    symbol: "SKL-BTC",
    id: "280232",
    price: 0.00001305,
    size: 985,
    side: "buy", // maker sold, so the taker bought
    ts: 1_618_677_817_089_723,
    recvTs: 1_618_677_817_200_000,
  });
});

Deno.test("coinbase: l2update and snapshot become book events with absolute sizes", () => {
  const { parse } = setup();
  const [snap] = parse({
    type: "snapshot",
    product_id: "BTC-USD",
    bids: [["100.5", "1"]],
    asks: [["101", "2.5"]],
  });
  assert.equal(snap.kind, "book_snapshot");
  const [change] = parse({
    type: "l2update",
    product_id: "BTC-USD",
    changes: [["buy", "100.5", "0"], ["sell", "101.25", "3"]],
    time: "2021-04-17T16:43:37.075687Z",
  });
  assert.deepEqual(change, {
    kind: "book_change",
    exchange: "coinbase",
    symbol: "BTC-USD",
    ts: 1_618_677_817_075_687,
    recvTs: 1_618_677_817_200_000,
    bids: [[100.5, 0]],
    asks: [[101.25, 3]],
  });
});

Deno.test("coinbase: trade-id jumps and heartbeats ahead of us are gaps; repeats are dropped", () => {
  const { adapter, parse } = setup();
  assert.equal(parse(match(10)).length, 1);
  const jumped = parse(match(13));
  assert.equal(jumped[0].kind, "status");
  assert.match((jumped[0] as { reason: string }).reason, /10 -> 13/);
  assert.equal(jumped[1].kind, "trade");
  assert.equal(parse(match(13)).length, 0);
  assert.equal(adapter.duplicateTrades, 1);
  const hb = parse({ type: "heartbeat", product_id: "SKL-BTC", last_trade_id: 15, sequence: 1 });
  assert.equal(hb.length, 1);
  assert.equal((hb[0] as { status: string }).status, "gap");
  // The heartbeat moved the chain on: trade 16 follows without a new gap.
  assert.deepEqual(parse(match(16)).map((e) => e.kind), ["trade"]);
});

Deno.test("coinbase: bad input is counted, logged once per reason, and never emitted", () => {
  const { diagnostics, logs, parse } = setup();
  assert.deepEqual(parse("{not json"), []);
  assert.deepEqual(parse("{not json either"), []);
  assert.deepEqual(parse({ type: "mystery" }), []);
  assert.deepEqual(parse(match(1, { time: "0001-01-01T00:00:00.000000Z" })), []);
  assert.deepEqual(parse(match(2, { size: "0.-10000" })), []);
  assert.deepEqual(parse(match(3, { price: "-5" })), []);
  assert.deepEqual(parse(match(4, { trade_id: "x" })), []);
  assert.deepEqual(parse([1, 2]), []);
  assert.equal(diagnostics.errors, 8);
  // One line per distinct reason: malformed JSON, unknown type, impossible values (3x),
  // invalid trade_id, not an object.
  assert.equal(logs.length, 5);
  assert.ok(logs.every((l) => JSON.parse(l).reason));
});

Deno.test("coinbase: a bad level change resets the book instead of skipping silently", () => {
  const { diagnostics, parse } = setup();
  const out = parse({
    type: "l2update",
    product_id: "BTC-USD",
    changes: [["buy", "100", "1"], ["sell", "abc", "1"]],
    time: "2021-04-17T16:43:37.075687Z",
  });
  assert.equal(out.length, 1);
  assert.equal(out[0].kind, "status");
  assert.equal((out[0] as { status: string }).status, "reset");
  assert.equal(diagnostics.errors, 1);
});

Deno.test("coinbase: subscribe message uses the public channels by default", () => {
  const { adapter } = setup();
  assert.deepEqual(JSON.parse(adapter.subscribeMessages({ symbols: ["BTC-USD"] })[0]), {
    type: "subscribe",
    product_ids: ["BTC-USD"],
    channels: ["level2_batch", "matches", "heartbeat"],
  });
  assert.throws(() => adapter.subscribeMessages({ symbols: [] }), RangeError);
});
