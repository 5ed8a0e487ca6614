/**
 * Every value the Kraken (v1 and v2) and Alpaca (stocks and crypto) adapters emit comes
 * from the right field of the raw frame: each trade's price, size, side, id and both times,
 * each book event's levels, checksum and both times, against what the test reads from the
 * frame itself (see `support/raw_fields.ts`). Kraken v1 frames are the recorded sessions;
 * Kraken v2 and Alpaca frames are built from recorded values (Kraken, Binance, Coinbase),
 * so prices and sizes vary as on a real feed. Each frame gets its own receive time.
 */
import assert from "node:assert/strict";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { KrakenAdapter } from "../collectors/venues/kraken.ts";
import { AlpacaAdapter } from "../collectors/venues/alpaca.ts";
import type { MarketEvent } from "../lib/market/types.ts";
import { readCaptureFrames, readHftbacktestFrames } from "./support/recorded.ts";
import {
  decimalText,
  isoTextMicros,
  microsIsoText,
  secondsTextMicros,
  textLevels,
} from "./support/raw_fields.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const recvMicros = (seconds: number) => Math.round(seconds * 1e6);

/** Kraken v1 pair to the canonical symbol (`XBT` is Bitcoin). */
const canonical = (pair: string) => pair.replace("/", "-").replace("XBT", "BTC");

/** The latest level time of v1 levels `[price, size, time, ("r")]`, in microseconds. */
const latest = (levels: string[][]) =>
  levels.reduce((max, l) => Math.max(max, secondsTextMicros(l[2])), 0);

/** Most digits after the point among `texts`. */
const decimals = (texts: string[]) =>
  texts.reduce((max, t) => Math.max(max, t.includes(".") ? t.length - t.indexOf(".") - 1 : 0), 0);

function collect(adapter: { parse(f: string, r: number, o: MarketEvent[]): void }) {
  return (frame: string, recvTs: number) => {
    const out: MarketEvent[] = [];
    adapter.parse(frame, recvTs, out);
    return out;
  };
}

/** The recorded v1 data messages (arrays) of a Kraken capture, with receive times. */
async function krakenV1(name: string): Promise<{ raw: Json[]; text: string; recvTs: number }[]> {
  const frames = await readCaptureFrames(name);
  return frames.filter((f) => f.text.startsWith("[")).map((f) => ({
    raw: JSON.parse(f.text),
    text: f.text,
    recvTs: recvMicros(f.time),
  }));
}

Deno.test("kraken v1: every recorded trade, field by field", async () => {
  const parse = collect(new KrakenAdapter({ diagnostics: new FeedDiagnostics(), version: 1 }));
  let trades = 0;
  for (const { raw, text, recvTs } of await krakenV1("kraken-v1-trade-ws-20210417.txt")) {
    const pair = raw.at(-1);
    const expected = raw[1].map((t: string[], i: number) => ({
      kind: "trade",
      exchange: "kraken",
      symbol: canonical(pair),
      ts: secondsTextMicros(t[2]),
      recvTs,
      id: `${t[2]}-${i}`,
      price: decimalText(t[0]),
      size: decimalText(t[1]),
      side: t[3] === "b" ? "buy" : "sell",
    }));
    assert.deepEqual(parse(text, recvTs), expected, text);
    trades += expected.length;
  }
  assert.equal(trades, 10);
});

Deno.test("kraken v1: every recorded book snapshot and update, field by field", async () => {
  const parse = collect(new KrakenAdapter({ diagnostics: new FeedDiagnostics(), version: 1 }));
  const seen = { snapshot: 0, change: 0, checksums: 0 };
  for (const { raw, text, recvTs } of await krakenV1("kraken-v1-book-ws-20210417.txt")) {
    const parts = raw.slice(1, -2);
    const header = { exchange: "kraken", symbol: canonical(raw.at(-1)), recvTs };
    const out = parse(text, recvTs);
    if (parts[0].as !== undefined) {
      seen.snapshot++;
      const all = [...parts[0].as, ...parts[0].bs];
      assert.deepEqual(out, [{
        kind: "book_snapshot",
        ...header,
        ts: latest(all),
        bids: textLevels(parts[0].bs),
        asks: textLevels(parts[0].as),
        depth: Number(raw.at(-2).split("-")[1]),
        priceDecimals: decimals(all.map((l: string[]) => l[0])),
        sizeDecimals: decimals(all.map((l: string[]) => l[1])),
      }], text.slice(0, 200));
      continue;
    }
    seen.change++;
    const asks = parts.flatMap((p: Json) => p.a ?? []);
    const bids = parts.flatMap((p: Json) => p.b ?? []);
    const c = parts.at(-1).c;
    if (c !== undefined) seen.checksums++;
    assert.deepEqual(out, [{
      kind: "book_change",
      ...header,
      ts: latest([...asks, ...bids]),
      bids: textLevels(bids),
      asks: textLevels(asks),
      ...(c === undefined ? {} : { checksum: Number(c) }),
    }], text);
  }
  assert.deepEqual(seen, { snapshot: 10, change: 4_269, checksums: 4_269 });
});

Deno.test("kraken v2: recorded trades and book messages in v2 form (JSON numbers, ISO times), field by field", async () => {
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  const parse = collect(new KrakenAdapter({ diagnostics }));
  let tradeId = 80_000_000;
  let trades = 0;
  for (const { raw, recvTs } of await krakenV1("kraken-v1-trade-ws-20210417.txt")) {
    const symbol = raw.at(-1).replace("XBT", "BTC");
    const data = raw[1].map((t: string[]) => ({
      symbol,
      side: t[3] === "b" ? "buy" : "sell",
      price: Number(t[0]),
      qty: Number(t[1]),
      ord_type: t[4] === "l" ? "limit" : "market",
      trade_id: tradeId++,
      timestamp: microsIsoText(secondsTextMicros(t[2])),
    }));
    const frame = JSON.stringify({ channel: "trade", type: "update", data });
    // The expected values straight from the v1 text, not from the v2 frame built here.
    assert.deepEqual(
      parse(frame, recvTs),
      raw[1].map((t: string[], i: number) => ({
        kind: "trade",
        exchange: "kraken",
        symbol: canonical(raw.at(-1)),
        ts: secondsTextMicros(t[2]),
        recvTs,
        id: String(data[i].trade_id),
        price: decimalText(t[0]),
        size: decimalText(t[1]),
        side: t[3] === "b" ? "buy" : "sell",
      })),
    );
    trades += data.length;
  }
  assert.equal(trades, 10);

  const levels = (l: string[][]) => l.map(([p, q]) => ({ price: Number(p), qty: Number(q) }));
  let books = 0;
  for (const { raw, recvTs } of (await krakenV1("kraken-v1-book-ws-20210417.txt")).slice(0, 600)) {
    const parts = raw.slice(1, -2);
    const snapshot = parts[0].as !== undefined;
    const asks: string[][] = snapshot ? parts[0].as : parts.flatMap((p: Json) => p.a ?? []);
    const bids: string[][] = snapshot ? parts[0].bs : parts.flatMap((p: Json) => p.b ?? []);
    const checksum = 1_000_000 + books; // any checksum: carried, verified by the book keeper
    const ts = latest([...asks, ...bids]);
    const frame = JSON.stringify({
      channel: "book",
      type: snapshot ? "snapshot" : "update",
      data: [{
        symbol: raw.at(-1).replace("XBT", "BTC"),
        bids: levels(bids),
        asks: levels(asks),
        checksum,
        timestamp: microsIsoText(ts),
      }],
    });
    const out = parse(frame, recvTs);
    assert.equal(out.length, 1);
    const e = out[0] as Json;
    assert.deepEqual(
      [e.kind, e.exchange, e.symbol, e.ts, e.recvTs, e.bids, e.asks, e.checksum],
      [
        snapshot ? "book_snapshot" : "book_change",
        "kraken",
        canonical(raw.at(-1)),
        ts,
        recvTs,
        textLevels(bids),
        textLevels(asks),
        checksum,
      ],
      frame.slice(0, 200),
    );
    books++;
  }
  assert.equal(books, 600);
  assert.equal(diagnostics.errors, 0);
});

Deno.test("alpaca crypto: recorded Binance trades and diffs as Alpaca messages, field by field", async () => {
  const frames = (await readHftbacktestFrames("binance-spot-btcusdt-20240808.gz"))
    .map((f) => JSON.parse(f.text));
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  const parse = collect(new AlpacaAdapter({ diagnostics, market: "crypto" }));
  // Nanosecond times: the venue's milliseconds plus six more digits, cut to microseconds.
  const nanos = (ms: number, k: number) =>
    microsIsoText(ms * 1_000).replace(/Z$/, String(k % 1_000).padStart(3, "0") + "Z");
  const trades = frames.filter((m) => m.data?.e === "trade").slice(0, 800).map((m) => m.data);
  let k = 0;
  for (let i = 0; i < trades.length; i += 4) {
    const batch = trades.slice(i, i + 4).map((d: Json) => ({
      T: "t",
      S: "BTC/USD",
      p: Number(d.p),
      s: Number(d.q),
      t: nanos(d.T, k++),
      i: d.t,
      tks: d.m ? "S" : "B",
    }));
    const recvTs = 1_723_161_300_000_000 + i * 11;
    assert.deepEqual(
      parse(JSON.stringify(batch), recvTs),
      batch.map((m: Json, j: number) => ({
        kind: "trade",
        exchange: "alpaca-crypto",
        symbol: "BTC-USD",
        id: String(trades[i + j].t),
        price: decimalText(trades[i + j].p),
        size: decimalText(trades[i + j].q),
        side: trades[i + j].m ? "sell" : "buy",
        ts: isoTextMicros(m.t),
        recvTs,
      })),
    );
  }
  const book = (levels: string[][]) => levels.map(([p, s]) => ({ p: Number(p), s: Number(s) }));
  const snapshot = frames.find((m) => m.lastUpdateId !== undefined);
  const diffs = frames.filter((m) => m.data?.e === "depthUpdate").slice(0, 400).map((m) => m.data);
  const messages = [
    { raw: { E: diffs[0].E, b: snapshot.bids.slice(0, 50), a: snapshot.asks.slice(0, 50) } },
    ...diffs.map((d: Json) => ({ raw: d })),
  ];
  for (let j = 0; j < messages.length; j++) {
    const { raw } = messages[j];
    const m = { T: "o", S: "BTC/USD", t: nanos(raw.E, j), b: book(raw.b), a: book(raw.a) };
    const recvTs = 1_723_161_400_000_000 + j * 13;
    assert.deepEqual(parse(JSON.stringify([j === 0 ? { ...m, r: true } : m]), recvTs), [{
      kind: j === 0 ? "book_snapshot" : "book_change",
      exchange: "alpaca-crypto",
      symbol: "BTC-USD",
      ts: isoTextMicros(m.t),
      recvTs,
      bids: textLevels(raw.b),
      asks: textLevels(raw.a),
    }]);
  }
  assert.equal(diagnostics.errors, 0);
});

Deno.test("alpaca stocks: recorded Coinbase matches as stock trades, field by field", async () => {
  const matches = (await readCaptureFrames("coinbase-exchange-ws-20210417.txt"))
    .map((f) => ({ raw: JSON.parse(f.text), recvTs: recvMicros(f.time) }))
    .filter(({ raw }) => raw.type === "match" || raw.type === "last_match");
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  const parse = collect(new AlpacaAdapter({ diagnostics, market: "stocks" }));
  for (const [k, { raw, recvTs }] of matches.entries()) {
    const m = {
      T: "t",
      i: raw.trade_id,
      S: raw.product_id.replace("-", "").toLowerCase(),
      x: k % 2 === 0 ? "V" : "Q",
      p: Number(raw.price),
      s: Number(raw.size),
      t: raw.time.replace("Z", "321Z"),
      c: ["@"],
      z: "C",
    };
    assert.deepEqual(parse(JSON.stringify([m]), recvTs), [{
      kind: "trade",
      exchange: "alpaca",
      symbol: raw.product_id.replace("-", ""),
      id: `${m.x}:${raw.trade_id}`,
      price: decimalText(raw.price),
      size: decimalText(raw.size),
      side: "unknown", // stock trades carry no aggressor side
      ts: isoTextMicros(raw.time),
      recvTs,
    }]);
  }
  assert.equal(matches.length, 107);
  assert.equal(diagnostics.errors, 0);
});
