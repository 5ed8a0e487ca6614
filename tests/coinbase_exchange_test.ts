import assert from "node:assert/strict";
import { CoinbaseExchangeAdapter } from "../collectors/venues/coinbase_exchange.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { FeedPipeline } from "../collectors/runtime/pipeline.ts";
import type { FeedStatus, MarketEvent, Trade } from "../lib/market/types.ts";

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

Deno.test("coinbase: every match goes on (repeats and gaps are the ledger's); heartbeats leave marks", () => {
  const { adapter, parse } = setup();
  assert.deepEqual(parse(match(10)).map((e) => e.kind), ["trade"]);
  assert.deepEqual(parse(match(13)).map((e) => e.kind), ["trade"], "no gap status of its own");
  assert.deepEqual(parse(match(13)).map((e) => e.kind), ["trade"], "a repeat too");
  assert.deepEqual(parse({ ...match(11), type: "last_match" }).map((e) => e.kind), ["trade"]);
  assert.equal(adapter.takeTradeIdMarks(), undefined, "no heartbeat yet");
  const heartbeat = (lastTradeId: unknown, product = "SKL-BTC") =>
    parse({ type: "heartbeat", product_id: product, last_trade_id: lastTradeId, sequence: 1 });
  assert.deepEqual(heartbeat(15), [], "a heartbeat emits nothing");
  assert.deepEqual(heartbeat(14), []);
  heartbeat(3, "BTC-USD");
  heartbeat("16"); // not an integer: ignored
  heartbeat(-1);
  assert.deepEqual(
    [...adapter.takeTradeIdMarks()!],
    [["SKL-BTC", 15], ["BTC-USD", 3]],
    "the highest last_trade_id per symbol",
  );
  assert.equal(adapter.takeTradeIdMarks(), undefined, "taken once");
  adapter.reset();
  heartbeat(20);
  assert.deepEqual([...adapter.takeTradeIdMarks()!], [["SKL-BTC", 20]]);
});

Deno.test("coinbase through the pipeline: the ledger drops repeats, counts each gap once, takes late trades back", () => {
  const { adapter, diagnostics } = setup();
  // No `tradeIds` option: the pipeline checks trade ids because VENUES.coinbase says so.
  const pipeline = new FeedPipeline({ adapter, diagnostics });
  let recvTs = 1_618_677_817_200_000;
  const frame = (msg: unknown) => pipeline.handleFrame(JSON.stringify(msg), recvTs++);
  const shape = (events: MarketEvent[]) =>
    events.map((e) => e.kind === "trade" ? e.id : e.kind === "status" ? e.status : e.kind);
  const counts = () => {
    const s = pipeline.summary();
    return {
      trades: s.trades,
      gaps: s.gaps,
      lost: s.trades_lost,
      duplicate: s.trades_duplicate,
      recovered: s.trades_recovered,
    };
  };
  assert.deepEqual(shape(frame(match(10))), ["10"]);
  // 11 and 12 skipped: one gap status, before the trade, counted once.
  const jumped = frame(match(13));
  assert.deepEqual(shape(jumped), ["gap", "13"]);
  assert.match((jumped[0] as FeedStatus).reason, /trade_id gap 10 -> 13: 2 trade\(s\) missed/);
  assert.deepEqual(counts(), { trades: 2, gaps: 1, lost: 2, duplicate: 0, recovered: 0 });
  // A repeat (the same frame again) is dropped and counted as a duplicate, once.
  assert.deepEqual(frame(match(13)), []);
  // 12 arrives late after all: passed on, no longer lost; a second copy is a repeat.
  assert.deepEqual(shape(frame(match(12))), ["12"]);
  assert.deepEqual(frame(match(12)), []);
  assert.deepEqual(counts(), { trades: 3, gaps: 1, lost: 1, duplicate: 2, recovered: 1 });

  // A heartbeat ahead of us: 14 and 15 were missed while nothing arrived. One status, now.
  const hb = frame({ type: "heartbeat", product_id: "SKL-BTC", last_trade_id: 15, sequence: 2 });
  assert.deepEqual(shape(hb), ["gap"]);
  assert.equal(hb[0].symbol, "SKL-BTC");
  assert.match((hb[0] as FeedStatus).reason, /13 -> 15.*2 trade\(s\) missed/);
  assert.deepEqual(counts(), { trades: 3, gaps: 2, lost: 3, duplicate: 2, recovered: 1 });
  // The same heartbeat again, and one for a product without trades yet: nothing to count.
  assert.deepEqual(
    frame({ type: "heartbeat", product_id: "SKL-BTC", last_trade_id: 15, sequence: 3 }),
    [],
  );
  assert.deepEqual(
    frame({ type: "heartbeat", product_id: "BTC-USD", last_trade_id: 99, sequence: 3 }),
    [],
  );
  // The next trade follows the heartbeat's id: no second gap for the same trades.
  assert.deepEqual(shape(frame(match(16))), ["16"]);
  // After a reconnect, the last_match of a trade we have is a repeat; one the heartbeat said
  // we missed is passed on and taken back.
  pipeline.handleReconnect(recvTs++, "test reconnect");
  assert.deepEqual(frame({ ...match(16), type: "last_match" }), []);
  assert.deepEqual(shape(frame({ ...match(15), type: "last_match" })), ["15"]);
  assert.deepEqual(counts(), { trades: 5, gaps: 2, lost: 2, duplicate: 3, recovered: 2 });
});

Deno.test("coinbase through the pipeline with tradeIds unchecked: trades pass as parsed", () => {
  const { adapter, diagnostics } = setup();
  const pipeline = new FeedPipeline({ adapter, diagnostics, tradeIds: "unchecked" });
  const ids = [10, 10, 13].flatMap((id) =>
    pipeline.handleFrame(JSON.stringify(match(id)), 1).map((e) => e.kind === "trade" && e.id)
  );
  assert.deepEqual(ids, ["10", "10", "13"]);
  assert.equal(pipeline.summary().trades_lost, undefined);
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
