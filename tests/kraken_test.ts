/**
 * Kraken: the recorded v1 session verifies every checksum, corruption is detected, and the
 * same updates converted to v2 messages (JSON numbers) verify too.
 */
import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { replayFiles } from "../collectors/replay/replay.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import {
  KrakenAdapter,
  type KrakenAdapterOptions,
  krakenPair,
  parseKrakenAssetPairs,
} from "../collectors/venues/kraken.ts";
import type { BookKeeper } from "../lib/book/mod.ts";
import { venueBookKeeper } from "../collectors/venues/mod.ts";
import type { FeedStatus, MarketEvent } from "../lib/market/types.ts";

const data = (name: string) => new URL(`../../shared/data/${name}`, import.meta.url).pathname;
const BOOK_CAPTURE = data("kraken-v1-book-ws-20210417.txt");
const TRADE_CAPTURE = data("kraken-v1-trade-ws-20210417.txt");
const ASSET_PAIRS = data("kraken-rest-assetpairs-20210417.txt");

/** Received frames of a cryptofeed text capture. */
function frames(path: string): string[] {
  return Deno.readTextFileSync(path).split("\n").filter((l) => /^\d/.test(l))
    .map((l) => l.slice(l.indexOf(": ") + 2));
}

/** Runs frames through a Kraken adapter and a book keeper. */
function run(input: string[], options: Partial<KrakenAdapterOptions> = {}) {
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  const adapter = new KrakenAdapter({ diagnostics, ...options });
  const keeper = venueBookKeeper("kraken");
  const statuses: FeedStatus[] = [];
  const events: MarketEvent[] = [];
  for (const frame of input) {
    const out: MarketEvent[] = [];
    adapter.parse(frame, 1_618_678_133_000_000, out);
    for (const event of out) {
      events.push(event);
      const status = keeper.apply(event);
      if (status) statuses.push(status);
    }
  }
  return { keeper, statuses, events, diagnostics };
}

/** Checksum-bearing update messages per pair in the v1 capture. */
function checksumsPerPair(input: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const frame of input) {
    if (!frame.startsWith("[") || !frame.includes('"c":')) continue;
    const msg = JSON.parse(frame);
    const pair = msg[msg.length - 1];
    counts.set(pair, (counts.get(pair) ?? 0) + 1);
  }
  return counts;
}

Deno.test("replay of the recorded Kraken v1 session: 4,269 checksums verify", async () => {
  let keeper: BookKeeper | undefined;
  const summary = await replayFiles({
    files: [BOOK_CAPTURE],
    books: (exchange) => (keeper = venueBookKeeper(exchange)),
    diagnostics: new FeedDiagnostics({ log: () => {} }),
  });
  assert.equal(summary.checksum_ok, 4_269);
  assert.equal(summary.checksum_failed, 0);
  assert.equal(summary.crossed, 0);
  assert.equal(summary.gaps, 0);
  assert.equal(summary.errors, 0);
  assert.equal(summary.snapshots, 10);
  assert.equal(summary.book_updates, 4_269);
  assert.equal(keeper!.stats.checksumUnverified, 0);
  assert.equal(keeper!.symbols().length, 10);
  assert.ok(keeper!.book("XMR-USD")!.bidDepth > 10);
});

Deno.test("a corrupted level is detected by the next checksum", async (t) => {
  const input = frames(BOOK_CAPTURE);
  const perPair = checksumsPerPair(input);
  const xmr = perPair.get("XMR/USD")!;

  await t.step("a wrong size in a snapshot", () => {
    const i = input.findIndex((f) => f.includes('"as":') && f.endsWith('"XMR/USD"]'));
    const msg = JSON.parse(input[i]);
    msg[1].as[4][1] = "9.99999999"; // the 5th best ask: inside the checksummed top 10
    const corrupted = input.with(i, JSON.stringify(msg));
    const { keeper, statuses } = run(corrupted, { version: 1 });
    assert.equal(keeper.stats.checksumFailed, 1);
    assert.equal(keeper.stats.checksumOk, 4_269 - xmr);
    assert.equal(keeper.stats.ignored, xmr - 1); // the rest wait for a new snapshot
    assert.equal(statuses.length, 1);
    assert.equal(statuses[0].status, "reset");
    assert.equal(statuses[0].symbol, "XMR-USD");
    assert.equal(keeper.book("XMR-USD"), undefined);
  });

  await t.step("a wrong price in an update", () => {
    const i = input.findIndex((f) => f.includes('"b":[["354.15000000"'));
    const corrupted = input.with(i, input[i].replace('"354.15000000"', '"354.14000000"'));
    const { keeper, statuses } = run(corrupted);
    assert.equal(keeper.stats.checksumFailed, 1);
    assert.equal(statuses[0].symbol, "XMR-USD");
    assert.match(statuses[0].reason, /checksum mismatch/);
  });
});

/** A reference book on the venue's text, for building v2 checksums independently. */
class TextBook {
  readonly bids = new Map<string, string>();
  readonly asks = new Map<string, string>();
  constructor(readonly depth: number) {}
  apply(side: "bid" | "ask", levels: string[][]) {
    const book = side === "bid" ? this.bids : this.asks;
    for (const [price, qty] of levels) {
      if (Number(qty) === 0) book.delete(price);
      else book.set(price, qty);
    }
    while (book.size > this.depth) book.delete(this.best(side, this.depth + 1).at(-1)![0]);
  }
  /** The best `n` levels, best first (a simple insertion selection). */
  best(side: "bid" | "ask", n: number): string[][] {
    const better = (a: number, b: number) => side === "bid" ? a > b : a < b;
    const top: [number, string, string][] = [];
    for (const [price, qty] of side === "bid" ? this.bids : this.asks) {
      const p = Number(price);
      if (top.length === n && !better(p, top[n - 1][0])) continue;
      let i = top.length;
      while (i > 0 && better(p, top[i - 1][0])) i--;
      top.splice(i, 0, [p, price, qty]);
      if (top.length > n) top.pop();
    }
    return top.map(([, price, qty]) => [price, qty]);
  }
  /** Kraken's checksum with each text re-formatted by `format`, CRC from `node:zlib`. */
  checksum(format: (text: string, kind: "price" | "qty") => string): number {
    const strip = (t: string) => t.replace(".", "").replace(/^0+/, "");
    let text = "";
    for (const side of ["ask", "bid"] as const) {
      for (const [price, qty] of this.best(side, 10)) {
        text += strip(format(price, "price")) + strip(format(qty, "qty"));
      }
    }
    return crc32(text);
  }
}

/** `text` with exactly `decimals` digits after the point; only zeros may be cut. */
function withDecimals(text: string, decimals: number): string {
  const [int, frac = ""] = text.split(".");
  const cut = frac.slice(decimals);
  assert.match(cut, /^0*$/, `${text} has more than ${decimals} decimals`);
  const digits = frac.slice(0, decimals).padEnd(decimals, "0");
  return decimals > 0 ? `${int}.${digits}` : int;
}

/**
 * The v1 capture rewritten as the v2 messages Kraken would send for the same books:
 * objects, `{price, qty}` levels as JSON numbers, subscribe acknowledgements with the
 * depth, and v2 checksums, which format numbers with the pair's precision from REST
 * `AssetPairs` (v1 texts have more price decimals, e.g. `"354.80000000"` for XMR/USD at 2).
 * The checksums come from an independent text book that first reproduces every v1 `"c"`.
 * `keepZeros` writes numbers with the pair's decimals (`354.80`, as Kraken does);
 * otherwise as JavaScript prints them (`354.8`), so only metadata can format them.
 */
function toV2(
  input: string[],
  instruments: Map<string, { priceDecimals: number; sizeDecimals: number }>,
  keepZeros: boolean,
): { frames: string[]; v1Verified: number } {
  const books = new Map<string, TextBook>();
  const frames: string[] = [];
  let v1Verified = 0;
  for (const frame of input) {
    const msg = JSON.parse(frame);
    if (!Array.isArray(msg)) {
      if (msg.event === "subscriptionStatus") {
        books.set(msg.pair, new TextBook(msg.subscription.depth));
        frames.push(JSON.stringify({
          method: "subscribe",
          result: { channel: "book", depth: msg.subscription.depth, symbol: krakenPair(msg.pair) },
          success: true,
        }));
      }
      continue;
    }
    const pair = msg[msg.length - 1];
    const { priceDecimals, sizeDecimals } = instruments.get(krakenPair(pair).replace("/", "-"))!;
    const v2Text = (text: string, kind: "price" | "qty") =>
      withDecimals(text, kind === "price" ? priceDecimals : sizeDecimals);
    const num = (text: string, kind: "price" | "qty") =>
      keepZeros ? v2Text(text, kind) : JSON.stringify(Number(text));
    const book = books.get(pair)!;
    const parts = msg.slice(1, -2);
    const snapshot = parts[0].as !== undefined;
    const bids = snapshot ? parts[0].bs : parts.flatMap((p: { b?: string[][] }) => p.b ?? []);
    const asks = snapshot ? parts[0].as : parts.flatMap((p: { a?: string[][] }) => p.a ?? []);
    if (snapshot) {
      book.bids.clear();
      book.asks.clear();
    }
    book.apply("bid", bids);
    book.apply("ask", asks);
    const v1Checksum = parts.at(-1).c;
    if (v1Checksum !== undefined) {
      assert.equal(book.checksum((t) => t), Number(v1Checksum), "reference book vs v1 c");
      v1Verified++;
    }
    const levels = (raw: string[][]) =>
      `[${raw.map((l) => `{"price":${num(l[0], "price")},"qty":${num(l[1], "qty")}}`)}]`;
    frames.push(
      `{"channel":"book","type":"${snapshot ? "snapshot" : "update"}","data":[{"symbol":"${
        krakenPair(pair)
      }","bids":${levels(bids)},"asks":${levels(asks)},"checksum":${book.checksum(v2Text)},` +
        `"timestamp":"2021-04-17T16:48:53.000000Z"}]}`,
    );
  }
  return { frames, v1Verified };
}

Deno.test("the same updates as Kraken v2 messages verify", async (t) => {
  const input = frames(BOOK_CAPTURE);
  // Line 1 is the REST answer (`URL -> EPOCH: {json}`), line 2 cryptofeed's configuration.
  const rest = Deno.readTextFileSync(ASSET_PAIRS).split("\n")[0];
  const instruments = parseKrakenAssetPairs(rest.slice(rest.indexOf(": ") + 2));
  const plain = toV2(input, instruments, false);
  assert.equal(plain.v1Verified, 4_269);
  const messages = 10 + 4_269; // snapshots and updates, each with a checksum

  await t.step("numbers without trailing zeros, precision from REST AssetPairs", () => {
    assert.ok(plain.frames.some((f) => f.includes('"qty":5}'))); // "5.00000000"
    const { keeper, diagnostics } = run(plain.frames, { instruments });
    assert.equal(keeper.stats.checksumOk, messages);
    assert.equal(keeper.stats.checksumFailed, 0);
    assert.equal(keeper.stats.crossed, 0);
    assert.equal(diagnostics.errors, 0);
  });

  await t.step("with the wrong precision they cannot verify", () => {
    const wrong = new Map(
      [...instruments].map(([s, i]) => [s, { ...i, priceDecimals: i.priceDecimals + 1 }]),
    );
    const { keeper, statuses } = run(plain.frames, { instruments: wrong });
    assert.equal(keeper.stats.checksumOk, 0);
    assert.equal(keeper.stats.checksumFailed, 10); // each pair's snapshot; then ignored
    assert.equal(statuses.length, 10);
  });

  await t.step("numbers with the pair's trailing zeros verify without metadata", () => {
    const { frames } = toV2(input, instruments, true);
    assert.ok(frames.some((f) => f.includes('"price":354.80,')));
    const { keeper } = run(frames);
    assert.equal(keeper.stats.checksumOk, messages);
    assert.equal(keeper.stats.checksumFailed, 0);
  });
});

Deno.test("Kraken adapter: trades, symbols, subscriptions, bad input", async (t) => {
  await t.step("v1 trades from the recorded session", () => {
    const { events, diagnostics } = run(frames(TRADE_CAPTURE));
    const trades = events.filter((e) => e.kind === "trade");
    assert.equal(trades.length, 10);
    assert.equal(diagnostics.errors, 0);
    const first = trades[0];
    assert.equal(first.kind === "trade" && first.side, "sell");
    assert.equal(first.symbol, "XMR-USD");
    assert.equal(first.ts, 1_618_678_142_557_535);
    assert.equal(first.kind === "trade" && first.price, 354.11);
    assert.equal(new Set(trades.map((e) => e.kind === "trade" && e.id)).size, 10);
  });

  await t.step("v2 trade", () => {
    const { events } = run([
      '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":45285.2,' +
      '"qty":0.001,"ord_type":"market","trade_id":77,"timestamp":"2023-09-25T07:49:37.708706Z"}]}',
    ]);
    assert.deepEqual(events, [{
      kind: "trade",
      exchange: "kraken",
      symbol: "BTC-USD",
      ts: 1_695_628_177_708_706,
      recvTs: 1_618_678_133_000_000,
      id: "77",
      price: 45285.2,
      size: 0.001,
      side: "buy",
    }]);
  });

  await t.step("subscribe messages", () => {
    const diagnostics = new FeedDiagnostics({ log: () => {} });
    const v1 = new KrakenAdapter({ diagnostics, version: 1 }).subscribeMessages({
      symbols: ["BTC-USD"],
    });
    assert.deepEqual(v1.map((m) => JSON.parse(m)), [
      { event: "subscribe", pair: ["XBT/USD"], subscription: { name: "book", depth: 1000 } },
      { event: "subscribe", pair: ["XBT/USD"], subscription: { name: "trade" } },
    ]);
    const v2 = new KrakenAdapter({ diagnostics }).subscribeMessages({
      symbols: ["BTC-USD", "ETH-EUR"],
      channels: ["book-25"],
    });
    assert.deepEqual(JSON.parse(v2[0]).params, {
      channel: "book",
      symbol: ["BTC/USD", "ETH/EUR"],
      depth: 25,
      snapshot: true,
    });
    assert.throws(() => new KrakenAdapter({ diagnostics, depth: 7 }), RangeError);
  });

  await t.step("resync: resubscribe the book at its depth", () => {
    const diagnostics = new FeedDiagnostics({ log: () => {} });
    const v1 = new KrakenAdapter({ diagnostics, version: 1 });
    v1.parse(frames(BOOK_CAPTURE).find((f) => f.endsWith('"XMR/USD"]'))!, 0, []);
    assert.deepEqual(v1.resyncRequests("XMR-USD").map((r) => r.kind === "send" && r.frame), [
      '{"event":"unsubscribe","pair":["XMR/USD"],"subscription":{"name":"book","depth":1000}}',
      '{"event":"subscribe","pair":["XMR/USD"],"subscription":{"name":"book","depth":1000}}',
    ]);
    const v2 = new KrakenAdapter({ diagnostics });
    assert.deepEqual(
      v2.resyncRequests("BTC-USD").map((r) => r.kind === "send" && JSON.parse(r.frame)),
      [
        { method: "unsubscribe", params: { channel: "book", symbol: ["BTC/USD"], depth: 10 } },
        {
          method: "subscribe",
          params: { channel: "book", symbol: ["BTC/USD"], depth: 10, snapshot: true },
        },
      ],
    );
  });

  await t.step("bad input is counted and survived", () => {
    const { events, diagnostics } = run([
      "{oops",
      '[992,{"b":[["abc","1.0","1618678133.1"]],"c":"1"},"book-1000","XMR/USD"]',
      '[992,{"b":[["1.0","1.0","1618678133.1"]],"c":"x"},"book-1000","XMR/USD"]',
      '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":"1"}]}]}',
    ]);
    assert.equal(diagnostics.errors, 4);
    // Lost book messages reset the book.
    assert.deepEqual(events.map((e) => e.kind === "status" && e.status), [
      "reset",
      "reset",
      "reset",
    ]);
  });
});
