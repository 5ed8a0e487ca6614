import assert from "node:assert/strict";
import { bookToArrow, OrderBook } from "../lib/book/mod.ts";
import type { BookSide, PriceLevel } from "../lib/market/types.ts";

/** The obviously correct book: a Map per side, sorted on every read. */
class ReferenceBook {
  bids = new Map<number, number>();
  asks = new Map<number, number>();
  absentDeletes = 0;
  constructor(public depth = Infinity) {}
  set(side: BookSide, price: number, size: number) {
    const m = side === "bid" ? this.bids : this.asks;
    if (size === 0) {
      if (m.has(price)) m.delete(price);
      else this.absentDeletes++;
    } else {
      m.set(price, size);
    }
  }
  snapshot(bids: PriceLevel[], asks: PriceLevel[]) {
    this.bids.clear();
    this.asks.clear();
    this.change(bids, asks);
  }
  change(bids: PriceLevel[], asks: PriceLevel[]) {
    for (const [p, s] of bids) this.set("bid", p, s);
    for (const [p, s] of asks) this.set("ask", p, s);
    this.truncate(this.depth);
  }
  truncate(depth: number) {
    this.bids = new Map(this.levels("bid").slice(0, depth));
    this.asks = new Map(this.levels("ask").slice(0, depth));
  }
  levels(side: BookSide): PriceLevel[] {
    const m = side === "bid" ? this.bids : this.asks;
    return [...m].sort((a, b) => side === "bid" ? b[0] - a[0] : a[0] - b[0]);
  }
}

/** Deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function assertSame(book: OrderBook, ref: ReferenceBook, context: string) {
  const bids = ref.levels("bid");
  const asks = ref.levels("ask");
  const top = book.top(Infinity);
  assert.deepEqual(top.bids, bids, `${context}: bids`);
  assert.deepEqual(top.asks, asks, `${context}: asks`);
  assert.equal(book.bidDepth, bids.length, context);
  assert.equal(book.askDepth, asks.length, context);
  assert.equal(book.absentDeletes, ref.absentDeletes, `${context}: absent deletes`);
  assert.equal(book.bestBid, bids.length ? bids[0][0] : NaN, context);
  assert.equal(book.bestBidSize, bids.length ? bids[0][1] : NaN, context);
  assert.equal(book.bestAsk, asks.length ? asks[0][0] : NaN, context);
  assert.equal(book.bestAskSize, asks.length ? asks[0][1] : NaN, context);
  assert.equal(book.crossed, bids.length > 0 && asks.length > 0 && bids[0][0] >= asks[0][0]);
  for (const [i, level] of [[0, bids[0]], [3, bids[3]]] as const) {
    assert.equal(book.priceAt("bid", i), level ? level[0] : NaN, context);
    assert.equal(book.sizeAt("bid", i), level ? level[1] : NaN, context);
  }
  const n = 5;
  const sum = (levels: PriceLevel[]) => levels.slice(0, n).reduce((s, l) => s + l[1], 0);
  assert.equal(book.sizeOf("bid", n), sum(bids), context);
  assert.equal(book.sizeOf("ask", n), sum(asks), context);
  if (bids.length && asks.length) {
    const mid = (bids[0][0] + asks[0][0]) / 2;
    const bps = 150;
    const within = (levels: PriceLevel[], ok: (p: number) => boolean) =>
      levels.filter((l) => ok(l[0])).reduce((s, l) => s + l[1], 0);
    assert.equal(
      book.sizeWithinBps("bid", bps),
      within(bids, (p) => p >= mid * (1 - bps / 10_000)),
      context,
    );
    assert.equal(
      book.sizeWithinBps("ask", bps),
      within(asks, (p) => p <= mid * (1 + bps / 10_000)),
      context,
    );
  }
  if (bids.length) {
    assert.equal(book.sizeAtPrice("bid", bids[bids.length - 1][0]), bids[bids.length - 1][1]);
  }
}

Deno.test("OrderBook matches a naive reference over random operation sequences", () => {
  const sequences = 3000;
  let operations = 0;
  for (let seed = 1; seed <= sequences; seed++) {
    const rnd = prng(seed);
    const int = (n: number) => Math.floor(rnd() * n);
    // Some sequences use few prices (many collisions, deletes of absent levels), some many
    // (books larger than the initial storage, inserts at both ends of a side).
    const grid = [8, 40, 300][seed % 3];
    const depth = seed % 4 === 0 ? 1 + int(20) : Infinity;
    const book = new OrderBook({ depth });
    const ref = new ReferenceBook(depth);
    const price = () => (1000 + int(grid) * (seed % 2 ? 0.01 : 5)) / (seed % 5 === 0 ? 1e6 : 1);
    const size = () => (rnd() < 0.3 ? 0 : Math.round(rnd() * 1e6) / 1e4);
    const levels = (count: number): PriceLevel[] =>
      Array.from({ length: count }, () => [price(), size()]);
    const steps = 20 + int(60);
    for (let step = 0; step < steps; step++) {
      const context = `seed ${seed} step ${step}`;
      const op = rnd();
      if (op < 0.08) {
        // Venue-like snapshots (sorted, unique prices, best or worst first) take the bulk
        // path; the others (any order, duplicates, zero sizes) go level by level.
        const order = int(3);
        const shape = (raw: PriceLevel[], bid: boolean): PriceLevel[] => {
          if (order === 0) return raw;
          const unique = [...new Map(raw.filter((l) => l[1] > 0)).entries()];
          const bestFirst = unique.sort((a, b) => bid ? b[0] - a[0] : a[0] - b[0]);
          return order === 1 ? bestFirst : bestFirst.reverse();
        };
        const bids = shape(levels(int(grid)), true);
        const asks = shape(levels(int(grid)), false);
        book.applySnapshot(bids, asks);
        ref.snapshot(bids, asks);
      } else if (op < 0.7) {
        const bids = levels(int(6));
        const asks = levels(int(6));
        book.applyChange(bids, asks);
        ref.change(bids, asks);
      } else if (op < 0.9) {
        const side: BookSide = rnd() < 0.5 ? "bid" : "ask";
        const p = price();
        const s = size();
        if (rnd() < 0.5) book.update(side, p, s);
        else if (side === "bid") book.updateBid(p, s);
        else book.updateAsk(p, s);
        ref.set(side, p, s);
      } else if (op < 0.97) {
        const d = int(grid);
        book.truncate(d);
        ref.truncate(d);
      } else {
        book.clear();
        ref.bids.clear();
        ref.asks.clear();
      }
      operations++;
      assertSame(book, ref, context);
    }
  }
  assert.ok(operations > 100_000);
});

Deno.test("OrderBook analytics on a known book", () => {
  const book = new OrderBook();
  book.applySnapshot([[99, 2], [100, 1], [98, 5]], [[101, 3], [102, 1]]);
  assert.equal(book.mid, 100.5);
  assert.equal(book.spread, 1);
  assert.equal(book.microprice, (100 * 3 + 101 * 1) / 4);
  assert.equal(book.imbalance(1), (1 - 3) / 4);
  assert.equal(book.imbalance(2), (3 - 4) / 7);
  assert.equal(book.sizeWithinBps("bid", 100), 1); // >= 100.5 * 0.99 = 99.495
  assert.equal(book.sizeWithinBps("bid", 200), 1 + 2); // >= 98.49
  assert.equal(book.sizeWithinBps("ask", 100), 3); // <= 101.505
  assert.equal(book.sizeWithinBps("ask", 200), 3 + 1); // <= 102.51
  assert.equal(book.sizeAtPrice("ask", 102), 1);
  assert.equal(book.sizeAtPrice("ask", 103), 0);
  assert.deepEqual(book.toRows(2), [
    { side: "bid", level: 0, price: 100, size: 1 },
    { side: "bid", level: 1, price: 99, size: 2 },
    { side: "ask", level: 0, price: 101, size: 3 },
    { side: "ask", level: 1, price: 102, size: 1 },
  ]);
  book.update("ask", 100.5, 0); // absent
  assert.equal(book.absentDeletes, 1);
  assert.equal(new OrderBook().imbalance(3), NaN);
  assert.equal(new OrderBook().microprice, NaN);
});

Deno.test("OrderBook maxDepth truncates after each change; bad depths throw", () => {
  const book = new OrderBook({ depth: 2 });
  book.applySnapshot([[1, 1], [2, 1], [3, 1]], [[4, 1], [5, 1], [6, 1]]);
  assert.deepEqual(book.top(5), { bids: [[3, 1], [2, 1]], asks: [[4, 1], [5, 1]] });
  book.applyChange([[3, 0]], []);
  assert.deepEqual(book.top(5).bids, [[2, 1]]); // levels out of range are gone, not revived
  book.maxDepth = 1;
  book.applyChange([], [[3.5, 1]]);
  assert.deepEqual(book.top(5).asks, [[3.5, 1]]);
  assert.throws(() => new OrderBook({ depth: 0 }), RangeError);
  assert.throws(() => (book.maxDepth = -1), RangeError);
  assert.throws(() => book.truncate(NaN), RangeError);
});

Deno.test("bookToArrow exports sides best first", () => {
  const book = new OrderBook();
  book.applySnapshot([[100, 1], [99, 2]], [[101, 3], [102, 4]]);
  const table = bookToArrow(book, { levels: 1 });
  assert.equal(table.numRows, 2);
  assert.deepEqual(table.toArray().map((r) => ({ ...r.toJSON() })), [
    { side: "bid", level: 0, price: 100, size: 1 },
    { side: "ask", level: 0, price: 101, size: 3 },
  ]);
  const full = bookToArrow(book);
  assert.deepEqual([...full.getChild("price")!.toArray()], [100, 99, 101, 102]);
  assert.deepEqual([...full.getChild("level")!.toArray()], [0, 1, 0, 1]);
});
