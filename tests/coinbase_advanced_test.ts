import assert from "node:assert/strict";
import { CoinbaseAdvancedAdapter } from "../collectors/venues/coinbase_advanced.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { FeedPipeline } from "../collectors/runtime/pipeline.ts";
import { guessExchange, venueBookKeeper } from "../collectors/venues/mod.ts";
import type { BookSnapshot, FeedStatus, MarketEvent, Trade } from "../lib/market/types.ts";

const RECV = 1_714_564_800_900_000;

function setup() {
  const logs: string[] = [];
  const diagnostics = new FeedDiagnostics({ log: (l) => logs.push(l) });
  const adapter = new CoinbaseAdvancedAdapter({ diagnostics });
  let seq = 0;
  /** Wraps events into a message with the next sequence_num (or the one given). */
  const message = (channel: string, events: unknown[], sequence = seq++) =>
    JSON.stringify({
      channel,
      client_id: "",
      timestamp: "2024-05-01T12:00:00.123456789Z",
      sequence_num: sequence,
      events,
    });
  const parse = (frame: string) => {
    const out: MarketEvent[] = [];
    adapter.parse(frame, RECV, out);
    return out;
  };
  return { adapter, diagnostics, logs, message, parse, skip: (n: number) => (seq += n) };
}

let tradeNo = 0;
/** A trade; each one made gets its own price, size and time. */
const trade = (id: string, side = "BUY", product = "BTC-USD") => {
  const k = ++tradeNo;
  return {
    trade_id: id,
    product_id: product,
    price: (60_000 + k * 1.25).toFixed(2),
    size: (0.005 * k).toFixed(3),
    side,
    time: `2024-05-01T12:00:${String(k % 60).padStart(2, "0")}.${k}00999Z`,
  };
};

Deno.test("coinbase-advanced: one subscribe message per channel, heartbeats without products", () => {
  const { adapter } = setup();
  const messages = adapter.subscribeMessages({ symbols: ["BTC-USD", "ETH-USD"] }).map((m) =>
    JSON.parse(m)
  );
  assert.deepEqual(messages, [
    { type: "subscribe", product_ids: ["BTC-USD", "ETH-USD"], channel: "level2" },
    { type: "subscribe", product_ids: ["BTC-USD", "ETH-USD"], channel: "market_trades" },
    { type: "subscribe", channel: "heartbeats" },
  ]);
});

Deno.test("coinbase-advanced: l2_data snapshot and update become book events (offer = ask)", () => {
  const { message, parse } = setup();
  const [snap] = parse(message("l2_data", [{
    type: "snapshot",
    product_id: "BTC-USD",
    updates: [
      {
        side: "bid",
        event_time: "1970-01-01T00:00:00Z",
        price_level: "59999.5",
        new_quantity: "1.25",
      },
      {
        side: "offer",
        event_time: "1970-01-01T00:00:00Z",
        price_level: "60000",
        new_quantity: "0.5",
      },
    ],
  }]));
  assert.equal(snap.kind, "book_snapshot");
  assert.deepEqual((snap as BookSnapshot).bids, [[59999.5, 1.25]]);
  assert.deepEqual((snap as BookSnapshot).asks, [[60000, 0.5]]);
  const [change] = parse(message("l2_data", [{
    type: "update",
    product_id: "BTC-USD",
    updates: [{ side: "offer", event_time: "x", price_level: "60000", new_quantity: "0" }],
  }]));
  assert.deepEqual(change, {
    kind: "book_change",
    exchange: "coinbase-advanced",
    symbol: "BTC-USD",
    ts: 1_714_564_800_123_456,
    recvTs: RECV,
    bids: [],
    asks: [[60000, 0]],
  });
});

Deno.test("coinbase-advanced: trades keep the taker side and are ordered by id; numeric ids all go on", () => {
  const { adapter, message, parse } = setup();
  // Newest first, as the venue batches them.
  const out = parse(message("market_trades", [{
    type: "update",
    trades: [trade("12", "SELL"), trade("11", "BUY")],
  }]));
  assert.deepEqual(out.map((e) => [(e as Trade).id, (e as Trade).side]), [
    ["11", "buy"],
    ["12", "sell"],
  ]);
  // The snapshot of recent trades after a reconnect repeats 12, and 15 skips 13, 14: the
  // adapter passes both on in id order, without a gap status (the ledger's job).
  const next = parse(message("market_trades", [{
    type: "snapshot",
    trades: [trade("15"), trade("12")],
  }]));
  assert.deepEqual(next.map((e) => e.kind === "trade" ? e.id : e.kind), ["12", "15"]);
  assert.equal(adapter.duplicateTrades, 0);
  // Ids the ledger cannot check (not decimal integers) are deduplicated here.
  const uuid = "34b080bf-fcfd-445a-832b-46b5ddc65601";
  assert.equal(parse(message("market_trades", [{ trades: [trade(uuid)] }])).length, 1);
  assert.equal(parse(message("market_trades", [{ trades: [trade(uuid)] }])).length, 0);
  assert.equal(adapter.duplicateTrades, 1);
});

Deno.test("coinbase-advanced: each trade of a batch keeps its own price, size, side and times", () => {
  const { message, parse } = setup();
  const raw = [trade("22", "SELL"), trade("21", "BUY"), trade("20", "UNKNOWN_ORDER_SIDE")];
  const out = parse(message("market_trades", [{ type: "update", trades: raw }]));
  // Read back from the raw values: decimal text, ISO time (nanoseconds cut to micros).
  const micros = (iso: string) => {
    const [, fraction] = /\.(\d+)Z$/.exec(iso)!;
    return Date.parse(iso.replace(/\.\d+Z$/, "Z")) * 1_000 +
      Number(fraction.slice(0, 6).padEnd(6, "0"));
  };
  const sides: Record<string, string> = { BUY: "buy", SELL: "sell", UNKNOWN_ORDER_SIDE: "unknown" };
  assert.deepEqual(
    out,
    raw.toReversed().map((t) => ({
      kind: "trade",
      exchange: "coinbase-advanced",
      symbol: "BTC-USD",
      id: t.trade_id,
      price: Number(t.price),
      size: Number(t.size),
      side: sides[t.side],
      ts: micros(t.time),
      recvTs: RECV,
    })),
  );
  assert.notEqual((out[0] as Trade).price, (out[1] as Trade).price, "the values differ");
  assert.notEqual((out[0] as Trade).size, (out[0] as Trade).price);
});

Deno.test("coinbase-advanced through the pipeline: a skipped trade a later snapshot brings is passed on and not lost", () => {
  const { adapter, message } = setup();
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  // No `tradeIds` option: VENUES["coinbase-advanced"] declares sequential trade ids.
  const pipeline = new FeedPipeline({ adapter, diagnostics });
  const trades = (type: string, ids: string[]) =>
    pipeline.handleFrame(
      message("market_trades", [{ type, trades: ids.map((id) => trade(id)) }]),
      RECV,
    )
      .map((e) => e.kind === "trade" ? e.id : e.kind === "status" ? e.status : e.kind);
  const counts = () => {
    const s = pipeline.summary();
    return [s.trades, s.gaps, s.trades_lost, s.trades_duplicate, s.trades_recovered];
  };
  assert.deepEqual(trades("update", ["11"]), ["11"]);
  // 12 and 13 never came: one gap status for the symbol, counted once.
  const gap = pipeline.handleFrame(
    message("market_trades", [{ type: "update", trades: [trade("14")] }]),
    RECV,
  );
  assert.deepEqual(gap.map((e) => e.kind), ["status", "trade"]);
  assert.deepEqual([(gap[0] as FeedStatus).status, gap[0].symbol], ["gap", "BTC-USD"]);
  assert.match((gap[0] as FeedStatus).reason, /trade_id gap 11 -> 14: 2 trade/);
  assert.deepEqual(counts(), [2, 1, 2, 0, 0]);
  // After a reconnect the venue's snapshot of recent trades holds 13 (late), 14 (a repeat)
  // and 15 (new): 13 is passed on and no longer lost, 14 dropped once.
  pipeline.handleReconnect(RECV, "reconnected");
  assert.deepEqual(trades("snapshot", ["15", "14", "13"]), ["13", "15"]);
  assert.deepEqual(counts(), [4, 1, 1, 1, 1]);
  // The same snapshot again (a re-sent frame): all repeats.
  assert.deepEqual(trades("snapshot", ["15", "14", "13"]), []);
  assert.deepEqual(counts(), [4, 1, 1, 4, 1]);
});

Deno.test("coinbase-advanced: a sequence_num hole resets every book and asks for a reconnect", () => {
  const { adapter, message, skip } = setup();
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  const books = venueBookKeeper("coinbase-advanced");
  const pipeline = new FeedPipeline({ adapter, diagnostics, books });
  adapter.subscribeMessages({ symbols: ["BTC-USD"] }); // live: requests are raised
  const snapshot = message("l2_data", [{
    type: "snapshot",
    product_id: "BTC-USD",
    updates: [
      { side: "bid", price_level: "100", new_quantity: "1" },
      { side: "offer", price_level: "101", new_quantity: "1" },
    ],
  }]);
  pipeline.handleFrame(snapshot, RECV);
  pipeline.handleFrame(message("heartbeats", [{ heartbeat_counter: 1 }]), RECV);
  assert.ok(books.isValid("BTC-USD"));
  assert.equal(adapter.takeRequests(), undefined);

  skip(3); // three messages lost
  const events = pipeline.handleFrame(
    message("l2_data", [{
      type: "update",
      product_id: "BTC-USD",
      updates: [{ side: "bid", price_level: "100.5", new_quantity: "2" }],
    }]),
    RECV,
  );
  const statuses = events.filter((e): e is FeedStatus => e.kind === "status");
  assert.deepEqual(statuses.map((s) => [s.status, s.symbol]), [["gap", "*"], ["reset", "*"]]);
  assert.match(statuses[0].reason, /5 after 1/);
  assert.equal(books.isValid("BTC-USD"), false, "book invalid after the hole");
  assert.equal(pipeline.summary().gaps, 1, "counted once");
  const requests = adapter.takeRequests();
  assert.equal(requests?.length, 1);
  assert.equal(requests?.[0].kind, "reconnect");
  assert.equal(adapter.takeRequests(), undefined, "drained");

  // After the reconnect the numbering starts again and a fresh snapshot rebuilds the book.
  pipeline.handleReconnect(RECV, "reconnected");
  pipeline.handleFrame(message("l2_data", JSON.parse(snapshot).events, 0), RECV);
  assert.ok(books.isValid("BTC-USD"));
  assert.equal(pipeline.summary().gaps, 1);
});

Deno.test("coinbase-advanced: replay never accumulates requests", () => {
  const { adapter, message, parse, skip } = setup();
  parse(message("heartbeats", []));
  skip(2);
  const out = parse(message("heartbeats", []));
  assert.equal(out.length, 2);
  assert.equal(adapter.takeRequests(), undefined);
});

Deno.test("coinbase-advanced: bad input is counted, logged once, and never thrown", () => {
  const { diagnostics, logs, message, parse } = setup();
  assert.deepEqual(parse("{oops"), []);
  assert.deepEqual(parse('{"channel":"l2_data","events":[]}'), []); // no sequence_num
  const bad = parse(message("l2_data", [{
    type: "update",
    product_id: "ETH-USD",
    updates: [{ side: "offer", price_level: "0.-1", new_quantity: "1" }],
  }]));
  assert.deepEqual(bad.map((e) => [e.kind, (e as FeedStatus).status, e.symbol]), [
    ["status", "reset", "ETH-USD"],
  ]);
  assert.deepEqual(parse(message("market_trades", [{ trades: [trade("1", "SIDEWAYS")] }])), []);
  parse(message("market_trades", [{ trades: [trade("2", "SIDEWAYS")] }]));
  assert.equal(diagnostics.errors, 5);
  assert.equal(logs.length, 4, "one log line per distinct reason");
});

Deno.test("venue guessing prefers the most specific match", () => {
  assert.equal(guessExchange("wss://advanced-trade-ws.coinbase.com"), "coinbase-advanced");
  assert.equal(guessExchange("wss://ws-feed.pro.coinbase.com"), "coinbase");
  assert.equal(guessExchange("kraken-v1-book-ws-20210417.txt"), "kraken");
});
