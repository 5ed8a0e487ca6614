/**
 * Every value an adapter emits comes from the right field of the raw frame: for each
 * recorded trade and book message of Coinbase Exchange, Coinbase Advanced Trade (the same
 * session in that protocol) and Binance, the event's price, size, side, levels, sequence
 * numbers, venue time (`ts`) and receive time (`recvTs`) equal what the test reads from the
 * frame itself (`JSON.parse`, `Number`, `Date.UTC`: see `support/raw_fields.ts`). Each frame
 * gets its own receive time, so venue and receive times cannot stand in for each other.
 */
import assert from "node:assert/strict";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { CoinbaseExchangeAdapter } from "../collectors/venues/coinbase_exchange.ts";
import { CoinbaseAdvancedAdapter } from "../collectors/venues/coinbase_advanced.ts";
import { BinanceAdapter } from "../collectors/venues/binance.ts";
import type { MarketEvent } from "../lib/market/types.ts";
import { readCaptureFrames, readHftbacktestFrames } from "./support/recorded.ts";
import { decimalText, isoTextMicros, textLevels } from "./support/raw_fields.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** A receive time per frame: the recorded one, in microseconds. */
const recvMicros = (seconds: number) => Math.round(seconds * 1e6);

/** Taker side from Coinbase Exchange's `side`, which names the maker's. */
const takerOfMaker = (side: string) => side === "buy" ? "sell" : "buy";

/** Book levels of Exchange `changes` (`[side, price, size]`) for one side. */
const changeLevels = (changes: string[][], side: "buy" | "sell") =>
  textLevels(changes.filter((c) => c[0] === side).map((c) => [c[1], c[2]]));

function parser<A extends { parse(f: string, r: number, o: MarketEvent[]): void }>(adapter: A) {
  return (frame: string, recvTs: number) => {
    const out: MarketEvent[] = [];
    adapter.parse(frame, recvTs, out);
    return out;
  };
}

Deno.test("coinbase exchange: every recorded match and book message, field by field, on both parse paths", async () => {
  const frames = await readCaptureFrames("coinbase-exchange-ws-20210417.txt");
  // As received (book messages take the byte-scanning fast path), and with a leading space
  // (the JSON.parse path).
  for (const pad of ["", " "]) {
    const diagnostics = new FeedDiagnostics({ log: () => {} });
    const parse = parser(new CoinbaseExchangeAdapter({ diagnostics }));
    const seen = { trade: 0, change: 0, snapshot: 0 };
    for (const f of frames) {
      const raw = JSON.parse(f.text);
      const recvTs = recvMicros(f.time);
      const out = parse(pad + f.text, recvTs);
      const header = { exchange: "coinbase", symbol: raw.product_id, recvTs };
      if (raw.type === "match" || raw.type === "last_match") {
        seen.trade++;
        assert.deepEqual(out, [{
          kind: "trade",
          ...header,
          id: String(raw.trade_id),
          price: decimalText(raw.price),
          size: decimalText(raw.size),
          side: takerOfMaker(raw.side),
          ts: isoTextMicros(raw.time),
        }], f.text);
      } else if (raw.type === "l2update") {
        seen.change++;
        assert.deepEqual(out, [{
          kind: "book_change",
          ...header,
          ts: isoTextMicros(raw.time),
          bids: changeLevels(raw.changes, "buy"),
          asks: changeLevels(raw.changes, "sell"),
        }], f.text);
      } else if (raw.type === "snapshot") {
        seen.snapshot++;
        // No venue time on a snapshot: the receive time stands in.
        assert.deepEqual(out, [{
          kind: "book_snapshot",
          ...header,
          ts: recvTs,
          bids: textLevels(raw.bids),
          asks: textLevels(raw.asks),
        }], f.text);
      }
    }
    assert.deepEqual(seen, { trade: 107, change: 9_719, snapshot: 10 }, `pad "${pad}"`);
    assert.equal(diagnostics.errors, 0);
  }
});

/** Recorded Exchange matches as Advanced Trade trades (taker side), nanosecond times. */
function advancedTrade(match: Json, k: number): Json {
  return {
    trade_id: String(match.trade_id),
    product_id: match.product_id,
    price: match.price,
    size: match.size,
    side: match.side === "buy" ? "SELL" : "BUY",
    // Advanced Trade times have up to nine digits: every other one gets three more.
    time: k % 2 === 0 ? match.time : match.time.replace("Z", "987Z"),
  };
}

Deno.test("coinbase advanced: the recorded session as Advanced Trade messages, field by field", async () => {
  const frames = await readCaptureFrames("coinbase-exchange-ws-20210417.txt");
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  const parse = parser(new CoinbaseAdvancedAdapter({ diagnostics }));
  let sequence = 0;
  const message = (channel: string, timestamp: string, events: Json[]) =>
    JSON.stringify({ channel, client_id: "", timestamp, sequence_num: sequence++, events });
  const matches = frames.map((f) => JSON.parse(f.text)).filter((m) =>
    m.type === "match" || m.type === "last_match"
  );
  // Trades in batches of up to three of one product, newest first as the venue sends them.
  let trades = 0;
  for (let i = 0; i < matches.length;) {
    const batch = [matches[i++]];
    while (batch.length < 3 && matches[i]?.product_id === batch[0].product_id) {
      batch.push(matches[i++]);
    }
    const raw = batch.map(advancedTrade);
    const recvTs = 1_618_677_900_000_000 + i * 1_001;
    const out = parse(
      message("market_trades", "2021-04-17T16:44:00.5Z", [{
        type: "update",
        trades: raw.toReversed(),
      }]),
      recvTs,
    );
    // In id order again, each trade with its own values.
    const expected = raw.toSorted((a, b) => Number(a.trade_id) - Number(b.trade_id)).map((
      t,
    ) => ({
      kind: "trade",
      exchange: "coinbase-advanced",
      symbol: t.product_id,
      id: t.trade_id,
      price: decimalText(t.price),
      size: decimalText(t.size),
      side: t.side === "BUY" ? "buy" : "sell",
      ts: isoTextMicros(t.time),
      recvTs,
    }));
    assert.deepEqual(out, expected);
    trades += out.length;
  }
  assert.equal(trades, 107);
  assert.ok(new Set(matches.map((m) => m.price)).size > 20, "varied prices");
  assert.ok(new Set(matches.map((m) => m.size)).size > 20, "varied sizes");

  // Book messages: the snapshot and every l2update, `offer` the ask side, the message's
  // timestamp (nanoseconds, cut to microseconds) as the venue time.
  let books = 0;
  for (const f of frames) {
    const raw = JSON.parse(f.text);
    if (raw.type !== "snapshot" && raw.type !== "l2update") continue;
    const recvTs = recvMicros(f.time);
    const timestamp = (raw.time ?? "2021-04-17T16:43:37.000001Z").replace("Z", "456Z");
    const updates = raw.type === "snapshot"
      ? [
        ...raw.bids.map(([p, s]: string[]) => ({ side: "bid", price_level: p, new_quantity: s })),
        ...raw.asks.map(([p, s]: string[]) => ({ side: "offer", price_level: p, new_quantity: s })),
      ]
      : raw.changes.map(([side, p, s]: string[]) => ({
        side: side === "buy" ? "bid" : "offer",
        event_time: raw.time,
        price_level: p,
        new_quantity: s,
      }));
    const out = parse(
      message("l2_data", timestamp, [{
        type: raw.type === "snapshot" ? "snapshot" : "update",
        product_id: raw.product_id,
        updates,
      }]),
      recvTs,
    );
    assert.deepEqual(out, [{
      kind: raw.type === "snapshot" ? "book_snapshot" : "book_change",
      exchange: "coinbase-advanced",
      symbol: raw.product_id,
      ts: isoTextMicros(timestamp),
      recvTs,
      bids: raw.type === "snapshot" ? textLevels(raw.bids) : changeLevels(raw.changes, "buy"),
      asks: raw.type === "snapshot" ? textLevels(raw.asks) : changeLevels(raw.changes, "sell"),
    }]);
    books++;
  }
  assert.equal(books, 9_729);
  assert.equal(diagnostics.errors, 0);
});

Deno.test("binance: every recorded trade, diff and the REST snapshot, field by field; stale diffs dropped", async () => {
  const frames = await readHftbacktestFrames("binance-spot-btcusdt-20240808.gz");
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  const adapter = new BinanceAdapter({ diagnostics });
  const parse = parser(adapter);
  const header = { exchange: "binance", symbol: "BTC-USDT" };
  /** A diff as the adapter must emit it: `E` ms as the venue time, `U`/`u` as sequences. */
  const change = (d: Json, recvTs: number): Json => ({
    kind: "book_change",
    ...header,
    ts: d.E * 1_000,
    recvTs,
    bids: textLevels(d.b),
    asks: textLevels(d.a),
    firstSequence: d.U,
    sequence: d.u,
  });
  let buffered: Json[] | undefined = [];
  const seen = { trade: 0, change: 0, snapshot: 0, stale: 0 };
  for (let i = 0; i < frames.length; i++) {
    const raw = JSON.parse(frames[i].text);
    // Distinct receive times, a few microseconds apart (the capture's are nanoseconds).
    const recvTs = 1_723_161_253_000_000 + i * 3;
    const out = parse(frames[i].text, recvTs);
    const d = raw.data;
    if (d?.e === "trade") {
      seen.trade++;
      assert.deepEqual(out, [{
        kind: "trade",
        ...header,
        ts: d.T * 1_000,
        recvTs,
        id: String(d.t),
        price: decimalText(d.p),
        size: decimalText(d.q),
        side: d.m ? "sell" : "buy", // m: the buyer was the maker
      }], frames[i].text);
    } else if (d?.e === "depthUpdate") {
      seen.change++;
      if (buffered !== undefined) {
        assert.deepEqual(out, [], "buffered until the snapshot");
        buffered.push(change(d, recvTs));
      } else {
        assert.deepEqual(out, [change(d, recvTs)], frames[i].text);
      }
    } else if (raw.lastUpdateId !== undefined) {
      seen.snapshot++;
      const last: number = raw.lastUpdateId;
      const fresh: Json[] = buffered!.filter((c: Json) => c.sequence > last);
      seen.stale = buffered!.length - fresh.length;
      assert.deepEqual(out, [
        {
          kind: "book_snapshot",
          ...header,
          ts: recvTs, // the REST answer has no venue time
          recvTs,
          bids: textLevels(raw.bids),
          asks: textLevels(raw.asks),
          sequence: last,
        },
        ...fresh,
      ]);
      buffered = undefined;
    }
  }
  assert.equal(seen.trade, 9_757);
  assert.equal(seen.snapshot, 1);
  assert.ok(seen.stale > 0 && seen.change > 3_000, JSON.stringify(seen));
  assert.equal(adapter.staleDiffs, seen.stale);
  assert.equal(diagnostics.errors, 0);
});
