/**
 * `deno task bench book`: order book figures, each printed as one JSON line.
 *
 * - `book_replay_coinbase`: the real Coinbase capture (every received message) through our
 *   Coinbase adapter (parse + normalise) and `BookKeeper`, reading the top of the
 *   book after each message; peers, in the same run: `ccxt` (JSON.parse, then ccxt's
 *   `OrderBook`: snapshot, `store` per change, `bids[0]`/`asks[0]` read) and `JSON.parse`
 *   (parsing only, the floor).
 * - `book_preparsed_updates`: the capture's level changes, pre-parsed, applied one by one to
 *   the book with best bid and ask read after each; peer `ccxt` on the same updates.
 * - `book_kraken_checksum`: Kraken CRC32 at depth 10 on the real books of the Kraken v1
 *   capture, nanoseconds per message.
 *
 * Time is this process's CPU time (user + system, `process.cpuUsage`), so figures do not
 * depend on how busy the shared machine is; every contender runs in interleaved rounds and
 * each figure is its best round.
 * @module
 */
// A benchmark-only peer: pinned here, deliberately not in the project's import map.
// deno-lint-ignore no-import-prefix
import ccxt from "npm:ccxt@4.5.84";
import process from "node:process";
import { krakenChecksum, OrderBook } from "../lib/book/mod.ts";
import { CoinbaseExchangeAdapter } from "../collectors/venues/coinbase_exchange.ts";
import { KrakenAdapter } from "../collectors/venues/kraken.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { parseDecimal } from "../lib/market/decimal.ts";
import type { MarketEvent } from "../lib/market/types.ts";
import { emit } from "./_figure.ts";
import { venueBookKeeper } from "../collectors/venues/mod.ts";

const DATA = new URL("../../shared/data/", import.meta.url);
const ROUNDS = 5;

function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** The received frames of a cryptofeed text capture. */
function frames(name: string): string[] {
  return Deno.readTextFileSync(new URL(name, DATA)).split("\n").filter((l) => /^\d/.test(l))
    .map((l) => l.slice(l.indexOf(": ") + 2));
}

/** CPU time of this process in milliseconds. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Best rate (work units per second) of `passes` runs of `fn` over `rounds`. */
function best(contenders: Record<string, () => number>, passes: number): Record<string, number> {
  const rates: Record<string, number> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(contenders)) {
      let units = 0;
      const t0 = cpuMs();
      for (let p = 0; p < passes; p++) units += fn();
      const seconds = (cpuMs() - t0) / 1000;
      rates[name] = Math.max(rates[name] ?? 0, units / seconds);
    }
  }
  return rates;
}

// deno-lint-ignore no-explicit-any
type Json = any;
/** Keeps results observable so no work is optimised away. */
let sink = 0;

function replayBenchmark(messages: string[]): void {
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  const adapter = new CoinbaseExchangeAdapter({ diagnostics });
  const keeper = venueBookKeeper(adapter.exchange);
  const out: MarketEvent[] = [];
  const ours = () => {
    adapter.reset(); // each pass is a new session
    for (let i = 0; i < messages.length; i++) {
      out.length = 0;
      adapter.parse(messages[i], 1_618_677_817_000_000, out);
      let symbol: string | undefined;
      for (let k = 0; k < out.length; k++) {
        const event = out[k];
        if (event.kind === "book_change" || event.kind === "book_snapshot") {
          keeper.apply(event);
          symbol = event.symbol;
        }
      }
      if (symbol !== undefined) {
        const book = keeper.book(symbol);
        if (book !== undefined) sink += book.bestBid + book.bestAsk;
      }
    }
    return messages.length;
  };

  const exchange = new ccxt.pro.coinbaseexchange();
  const books = new Map<string, Json>();
  const toLevels = (raw: string[][]) => raw.map((l) => [parseFloat(l[0]), parseFloat(l[1])]);
  const viaCcxt = () => {
    for (let i = 0; i < messages.length; i++) {
      const msg = JSON.parse(messages[i]);
      if (msg.type === "snapshot") {
        const book = exchange.orderBook({ bids: toLevels(msg.bids), asks: toLevels(msg.asks) });
        books.set(msg.product_id, book);
        sink += book.bids[0][0] + book.asks[0][0];
      } else if (msg.type === "l2update") {
        const book = books.get(msg.product_id);
        const changes = msg.changes;
        for (let k = 0; k < changes.length; k++) {
          const c = changes[k];
          const side = c[0] === "buy" ? book.bids : book.asks;
          side.store(parseFloat(c[1]), parseFloat(c[2]));
        }
        sink += book.bids[0][0] + book.asks[0][0];
      }
    }
    return messages.length;
  };

  const parseOnly = () => {
    for (let i = 0; i < messages.length; i++) sink += JSON.parse(messages[i]).type.length;
    return messages.length;
  };

  const rates = best({ ours, ccxt: viaCcxt, "JSON.parse": parseOnly }, 6);
  for (const peer of ["ccxt", "JSON.parse"]) {
    emit({
      name: "book_replay_coinbase",
      unit: "messages/s",
      value: Math.round(rates.ours),
      peer,
      peer_value: Math.round(rates[peer]),
      ratio: round(rates.ours / rates[peer]),
    });
  }
}

function preparsedBenchmark(messages: string[]): void {
  // Symbols, snapshots and the flat list of level changes, parsed once up front.
  const symbols: string[] = [];
  const snapshots = new Map<number, { bids: [number, number][]; asks: [number, number][] }>();
  const sym: number[] = [];
  const bid: boolean[] = [];
  const price: number[] = [];
  const size: number[] = [];
  const parseLevels = (raw: string[][]) =>
    raw.map((l) => [parseDecimal(l[0]), parseDecimal(l[1])] as [number, number]);
  for (const frame of messages) {
    const msg = JSON.parse(frame);
    if (msg.type !== "snapshot" && msg.type !== "l2update") continue;
    let s = symbols.indexOf(msg.product_id);
    if (s < 0) s = symbols.push(msg.product_id) - 1;
    if (msg.type === "snapshot") {
      snapshots.set(s, { bids: parseLevels(msg.bids), asks: parseLevels(msg.asks) });
      continue;
    }
    for (const [side, p, q] of msg.changes) {
      sym.push(s);
      bid.push(side === "buy");
      price.push(parseDecimal(p));
      size.push(parseDecimal(q));
    }
  }
  const n = sym.length;
  const ourBooks = symbols.map(() => new OrderBook());
  const ccxtBooks: Json[] = [];
  const exchange = new ccxt.pro.coinbaseexchange();
  const contenders = {
    ours: () => {
      for (const [s, snap] of snapshots) ourBooks[s].applySnapshot(snap.bids, snap.asks);
      const t0 = cpuMs();
      for (let i = 0; i < n; i++) {
        const book = ourBooks[sym[i]];
        if (bid[i]) book.updateBid(price[i], size[i]);
        else book.updateAsk(price[i], size[i]);
        sink += book.bestBid + book.bestAsk;
      }
      return n / ((cpuMs() - t0) / 1000);
    },
    ccxt: () => {
      for (const [s, snap] of snapshots) {
        ccxtBooks[s] = exchange.orderBook({
          bids: snap.bids.map((l) => [...l]),
          asks: snap.asks.map((l) => [...l]),
        });
      }
      const t0 = cpuMs();
      for (let i = 0; i < n; i++) {
        const book = ccxtBooks[sym[i]];
        (bid[i] ? book.bids : book.asks).store(price[i], size[i]);
        sink += book.bids[0][0] + book.asks[0][0];
      }
      return n / ((cpuMs() - t0) / 1000);
    },
  };
  // Only the updates are timed (the snapshots that reset each pass are not).
  const rates: Record<string, number> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(contenders)) {
      for (let p = 0; p < 10; p++) rates[name] = Math.max(rates[name] ?? 0, fn());
    }
  }
  emit({
    name: "book_preparsed_updates",
    unit: "updates/s",
    value: Math.round(rates.ours),
    peer: "ccxt",
    peer_value: Math.round(rates.ccxt),
    ratio: round(rates.ours / rates.ccxt),
  });
}

function checksumBenchmark(): void {
  const diagnostics = new FeedDiagnostics({ log: () => {} });
  const adapter = new KrakenAdapter({ diagnostics });
  const keeper = venueBookKeeper("kraken");
  const decimals = new Map<string, { priceDecimals: number; sizeDecimals: number }>();
  const out: MarketEvent[] = [];
  for (const frame of frames("kraken-v1-book-ws-20210417.txt")) {
    out.length = 0;
    adapter.parse(frame, 0, out);
    for (const event of out) {
      keeper.apply(event);
      if (event.kind === "book_snapshot") {
        decimals.set(event.symbol, {
          priceDecimals: event.priceDecimals!,
          sizeDecimals: event.sizeDecimals!,
        });
      }
    }
  }
  if (keeper.stats.checksumFailed !== 0 || keeper.stats.checksumOk === 0) {
    throw new Error("Kraken capture did not verify: the benchmark would measure nothing real");
  }
  const books = keeper.symbols().map((s) => ({ book: keeper.book(s)!, options: decimals.get(s)! }));
  const calls = 200_000;
  let bestNs = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = cpuMs();
    for (let i = 0; i < calls; i++) {
      const { book, options } = books[i % books.length];
      sink += krakenChecksum(book, options);
    }
    bestNs = Math.min(bestNs, ((cpuMs() - t0) * 1e6) / calls);
  }
  emit({ name: "book_kraken_checksum", unit: "ns/message", value: round(bestNs, 1) });
}

/** Runs the group. */
export function run(): Promise<void> {
  const messages = frames("coinbase-exchange-ws-20210417.txt");
  replayBenchmark(messages);
  preparsedBenchmark(messages);
  checksumBenchmark();
  if (sink === 0.5) console.error(sink); // never true; keeps `sink` observable
  return Promise.resolve();
}

if (import.meta.main) await run();
