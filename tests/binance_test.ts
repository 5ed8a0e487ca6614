/**
 * Binance: the recorded hftbacktest session syncs from its REST snapshot and keeps a book
 * that agrees with the venue's own best bid/offer stream; the sync rules hold.
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { parseHftbacktestLine } from "../collectors/replay/hftbacktest.ts";
import { replayFiles } from "../collectors/replay/replay.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { BinanceAdapter, binanceDepthSnapshotUrl } from "../collectors/venues/binance.ts";
import type { BookKeeper } from "../lib/book/mod.ts";
import { venueBookKeeper } from "../collectors/venues/mod.ts";
import type { BookChange, BookSnapshot, FeedStatus, MarketEvent } from "../lib/market/types.ts";

const CAPTURE = new URL("../../shared/data/binance-spot-btcusdt-20240808.gz", import.meta.url)
  .pathname;

/** The capture's JSON messages, in order. */
function messages(): string[] {
  const text = new TextDecoder().decode(gunzipSync(Deno.readFileSync(CAPTURE)));
  return text.split("\n").filter((l) => l.length > 0).map((l) => l.slice(l.indexOf(" ") + 1));
}

function run(frames: string[]) {
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  const adapter = new BinanceAdapter({ diagnostics });
  const keeper = venueBookKeeper("binance");
  const statuses: FeedStatus[] = [];
  const events: MarketEvent[] = [];
  const onEvent = (event: MarketEvent) => {
    events.push(event);
    const status = keeper.apply(event);
    if (status) statuses.push(status);
  };
  for (const frame of frames) {
    const out: MarketEvent[] = [];
    adapter.parse(frame, 1_723_161_254_000_000, out);
    out.forEach(onEvent);
  }
  return { adapter, keeper, statuses, events, diagnostics, onEvent };
}

Deno.test("replay of the recorded Binance session: synced, 0 gaps, 9,757 trades", async () => {
  let keeper: BookKeeper | undefined;
  const summary = await replayFiles({
    files: [CAPTURE],
    books: (exchange) => (keeper = venueBookKeeper(exchange)),
    diagnostics: new FeedDiagnostics({ log: () => {} }),
  });
  assert.equal(summary.trades, 9_757);
  assert.equal(summary.gaps, 0);
  assert.equal(summary.crossed, 0);
  assert.equal(summary.errors, 0);
  assert.equal(summary.snapshots, 1);
  assert.equal(keeper!.stats.gaps, 0);
  assert.equal(keeper!.stats.ignored, 0);
  assert.equal(keeper!.stats.changes, summary.book_updates);
  const book = keeper!.book("BTC-USDT")!;
  assert.ok(book.bestBid < book.bestAsk);
});

Deno.test("the synced book agrees with every bookTicker of the same update id", () => {
  const frames = messages();
  const tickers = new Map<number, { bid: number; ask: number }>();
  for (const frame of frames) {
    const msg = JSON.parse(frame);
    if (msg.stream?.endsWith("@bookTicker")) {
      tickers.set(msg.data.u, { bid: Number(msg.data.b), ask: Number(msg.data.a) });
    }
  }
  const snapshotLine = frames.findIndex((f) => f.startsWith('{"lastUpdateId"'));
  const lastUpdateId = JSON.parse(frames[snapshotLine]).lastUpdateId;
  const diffsBefore = frames.slice(0, snapshotLine).filter((f) => f.includes("depthUpdate"));
  const adapter = new BinanceAdapter({ diagnostics: new FeedDiagnostics({ log: () => {} }) });
  const keeper = venueBookKeeper("binance");
  const statuses: FeedStatus[] = [];
  let compared = 0;
  let first: MarketEvent | undefined;
  const onEvent = (event: MarketEvent) => {
    const status = keeper.apply(event);
    if (status) statuses.push(status);
    if (event.kind !== "book_change") return;
    first ??= event;
    const ticker = tickers.get(event.sequence!);
    if (ticker === undefined) return;
    const book = keeper.book("BTC-USDT")!;
    assert.deepEqual({ bid: book.bestBid, ask: book.bestAsk }, ticker, `u=${event.sequence}`);
    compared++;
  };
  for (const frame of frames) {
    const out: MarketEvent[] = [];
    adapter.parse(frame, 0, out);
    out.forEach(onEvent);
  }
  assert.equal(statuses.length, 0);
  // The buffered diffs contained in the snapshot were dropped; the first applied straddles.
  assert.ok(diffsBefore.length > 0);
  assert.equal(
    adapter.staleDiffs,
    diffsBefore.filter((f) => JSON.parse(f).data.u <= lastUpdateId).length,
  );
  assert.ok(first?.kind === "book_change");
  assert.ok(first.firstSequence! <= lastUpdateId + 1 && lastUpdateId + 1 <= first.sequence!);
  assert.ok(compared > 100, `only ${compared} tickers share an update id with a diff`);
  assert.equal(keeper.stats.gaps, 0);
});

Deno.test("a lost diff is a gap: the book resets and stays invalid", () => {
  const frames = messages();
  const snapshotLine = frames.findIndex((f) => f.startsWith('{"lastUpdateId"'));
  const lost = frames.findIndex((f, i) => i > snapshotLine + 100 && f.includes("depthUpdate"));
  const { keeper, statuses } = run(frames.toSpliced(lost, 1));
  assert.equal(keeper.stats.gaps, 1);
  assert.equal(statuses.length, 1);
  assert.match(statuses[0].reason, /update id gap/);
  assert.equal(keeper.book("BTC-USDT"), undefined);
  assert.ok(keeper.stats.ignored > 0);
});

Deno.test("Binance adapter: sync rules, trades, snapshots, bad input", async (t) => {
  const diff = (U: number, u: number, bid = "100.5") =>
    JSON.stringify({
      stream: "btcusdt@depth@100ms",
      data: { e: "depthUpdate", E: 1723161255208, s: "BTCUSDT", U, u, b: [[bid, "1"]], a: [] },
    });
  const snapshot = (id: number) =>
    JSON.stringify({ lastUpdateId: id, bids: [["100.00", "2"]], asks: [["101.00", "3"]] });

  await t.step("a snapshot older than every buffered diff cannot sync", () => {
    const { statuses, keeper } = run([diff(20, 25), snapshot(10)]);
    assert.match(statuses[0].reason, /straddle/);
    assert.equal(keeper.isValid("BTC-USDT"), false);
  });

  await t.step(
    "stale rule: a buffered diff ending at lastUpdateId is dropped, one ending after it kept",
    () => {
      const diagnostics = new FeedDiagnostics({ log: () => {} });
      const adapter = new BinanceAdapter({ diagnostics });
      const out: MarketEvent[] = [];
      for (const [U, u] of [[1, 4], [5, 9], [10, 10], [11, 13]]) adapter.parse(diff(U, u), 7, out);
      assert.equal(out.length, 0, "buffered");
      adapter.parse(snapshot(10), 8, out);
      // u = 4, 9, 10 are in the snapshot (u <= 10); u = 13 is not.
      assert.deepEqual(
        out.map((e) => [e.kind, (e as BookChange).firstSequence ?? (e as BookSnapshot).sequence]),
        [["book_snapshot", 10], ["book_change", 11]],
      );
      assert.equal(adapter.staleDiffs, 3);
      // The keeper's own rule, for a diff that reaches it: u <= lastUpdateId is skipped as
      // stale (not applied, not a gap), u = lastUpdateId + 1 straddles and is applied.
      const keeper = venueBookKeeper("binance");
      const header = { exchange: "binance", symbol: "BTC-USDT", ts: 1, recvTs: 2 };
      keeper.apply({
        ...header,
        kind: "book_snapshot",
        bids: [[100, 1]],
        asks: [[102, 1]],
        sequence: 10,
      });
      const change = (U: number, u: number, size: number) =>
        keeper.apply({
          ...header,
          kind: "book_change",
          bids: [[100, size]],
          asks: [],
          firstSequence: U,
          sequence: u,
        });
      assert.equal(change(9, 10, 5), undefined);
      assert.equal(keeper.stats.stale, 1);
      assert.equal(keeper.book("BTC-USDT")?.bestBidSize, 1, "the stale diff was not applied");
      assert.equal(change(11, 11, 6), undefined);
      assert.deepEqual([keeper.stats.stale, keeper.stats.gaps], [1, 0]);
      assert.equal(keeper.book("BTC-USDT")?.bestBidSize, 6);
    },
  );

  await t.step(
    "a diff's venue time is its event time E (ms) in microseconds, not the receive time",
    () => {
      const diagnostics = new FeedDiagnostics({ log: () => {} });
      const adapter = new BinanceAdapter({ diagnostics });
      const out: MarketEvent[] = [];
      adapter.parse(diff(5, 8), 1_723_161_255_000_000, out); // stale once the snapshot comes
      adapter.parse(snapshot(10), 1_723_161_255_000_001, out);
      const frame = JSON.stringify({
        stream: "btcusdt@depth@100ms",
        data: {
          e: "depthUpdate",
          E: 1_723_161_255_208,
          s: "BTCUSDT",
          U: 11,
          u: 12,
          b: [["100.25", "0.5"]],
          a: [["101.75", "2"]],
        },
      });
      adapter.parse(frame, 1_723_161_255_300_123, out);
      assert.deepEqual(out[1], {
        kind: "book_change",
        exchange: "binance",
        symbol: "BTC-USDT",
        ts: 1_723_161_255_208_000,
        recvTs: 1_723_161_255_300_123,
        bids: [[100.25, 0.5]],
        asks: [[101.75, 2]],
        firstSequence: 11,
        sequence: 12,
      });
      // A venue time a day before the receive time is kept as sent (no clamping to recvTs).
      adapter.parse(frame.replace("1723161255208", "1723074855208"), 1_723_161_255_300_124, out);
      assert.equal(out[2].ts, 1_723_074_855_208_000);
    },
  );

  await t.step("resync buffers again until the next snapshot", () => {
    const { adapter, keeper, onEvent } = run([diff(5, 12), snapshot(10), diff(13, 14)]);
    assert.equal(keeper.book("BTC-USDT")?.bestBid, 100.5);
    adapter.resync("BTC-USDT");
    for (const frame of [diff(15, 20, "100.7"), diff(21, 22, "100.8")]) {
      const out: MarketEvent[] = [];
      adapter.parse(frame, 0, out);
      assert.equal(out.length, 0);
    }
    const out: MarketEvent[] = [];
    adapter.parseDepthSnapshot("BTC-USDT", snapshot(20), 0, out);
    assert.deepEqual(out.map((e) => e.kind), ["book_snapshot", "book_change"]);
    out.forEach(onEvent);
    assert.equal(keeper.book("BTC-USDT")?.bestBid, 100.8);
  });

  await t.step("trades: m=true means the taker sold", () => {
    const { events } = run([
      '{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT",' +
      '"t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true}}',
    ]);
    assert.deepEqual(events, [{
      kind: "trade",
      exchange: "binance",
      symbol: "BTC-USDT",
      ts: 1_723_161_255_342_000,
      recvTs: 1_723_161_254_000_000,
      id: "3735683259",
      price: 61837.63,
      size: 0.02,
      side: "sell",
    }]);
  });

  await t.step("bad input is counted, never thrown", () => {
    const { diagnostics, events } = run([
      "not json",
      '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","s":"BTCUSDT","U":1}}',
      snapshot(3), // no symbol is waiting for a snapshot
      '{"stream":"x","data":{"e":"kline"}}',
    ]);
    assert.equal(diagnostics.errors, 4);
    assert.equal(events.length, 0);
  });

  await t.step("live: one snapshot fetch per symbol, and again on resync", () => {
    const { adapter, keeper, onEvent } = run([]);
    adapter.subscribeMessages({ symbols: ["BTC-USDT"] });
    const parse = (frame: string) => {
      const out: MarketEvent[] = [];
      adapter.parse(frame, 0, out);
      out.forEach(onEvent);
    };
    parse(diff(5, 8));
    parse(diff(9, 12));
    const url = "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000";
    assert.deepEqual(adapter.takeRequests(), [{ kind: "fetch", url, symbol: "BTC-USDT" }]);
    assert.equal(adapter.takeRequests(), undefined);
    const out: MarketEvent[] = [];
    adapter.parseFetched({ kind: "fetch", url, symbol: "BTC-USDT" }, snapshot(10), 0, out);
    out.forEach(onEvent);
    assert.equal(keeper.book("BTC-USDT")?.bestBid, 100.5);
    assert.deepEqual(adapter.resyncRequests("BTC-USDT"), [
      { kind: "fetch", url, symbol: "BTC-USDT" },
    ]);
    parse(diff(13, 14));
    assert.equal(adapter.takeRequests(), undefined); // the resync's fetch is under way
  });

  await t.step("subscribe message and snapshot URL", () => {
    const adapter = new BinanceAdapter({ diagnostics: new FeedDiagnostics() });
    assert.deepEqual(JSON.parse(adapter.subscribeMessages({ symbols: ["BTC-USDT"] })[0]), {
      method: "SUBSCRIBE",
      params: ["btcusdt@trade", "btcusdt@depth@100ms"],
      id: 1,
    });
    assert.equal(
      binanceDepthSnapshotUrl("BTC-USDT"),
      "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=1000",
    );
  });
});

Deno.test("hftbacktest lines: exact microseconds from nanoseconds", () => {
  assert.deepEqual(parseHftbacktestLine('1723161253937085768 {"a":1}', 1), {
    kind: "recv",
    recvTs: 1_723_161_253_937_085,
    data: '{"a":1}',
  });
  assert.equal(parseHftbacktestLine("garbage", 2)?.kind, "unreadable");
  assert.equal(parseHftbacktestLine("", 3), undefined);
});
