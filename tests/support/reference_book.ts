/**
 * A deliberately simple L2 book for tests: two maps, sorted on demand. Independent of
 * `lib/book` (it is the reference our books are compared with) and keeps each level's
 * venue text, so fake servers can publish snapshots in the venue's own precision.
 * @module
 */

/** One level with the venue's text. */
export interface ReferenceLevel {
  readonly price: number;
  readonly size: number;
  readonly priceText: string;
  readonly sizeText: string;
}

/** A naive book: `set` with size 0 deletes; optional depth truncation after each message. */
export class ReferenceBook {
  readonly bids = new Map<number, ReferenceLevel>();
  readonly asks = new Map<number, ReferenceLevel>();

  /** Replaces the whole book. */
  replace(
    bids: readonly (readonly [string, string])[],
    asks: readonly (readonly [string, string])[],
  ): void {
    this.bids.clear();
    this.asks.clear();
    for (const [p, s] of bids) this.set("bid", p, s);
    for (const [p, s] of asks) this.set("ask", p, s);
  }

  /** Sets one level from venue text; size 0 deletes (absent deletes are ignored). */
  set(side: "bid" | "ask", priceText: string, sizeText: string): void {
    const map = side === "bid" ? this.bids : this.asks;
    const price = Number(priceText);
    const size = Number(sizeText);
    if (!Number.isFinite(price) || !Number.isFinite(size)) {
      throw new TypeError(`bad level ${priceText} ${sizeText}`);
    }
    if (size === 0) map.delete(price);
    else map.set(price, { price, size, priceText, sizeText });
  }

  /** Best `n` levels of a side, best first (all when `n` is omitted). */
  top(side: "bid" | "ask", n = Infinity): ReferenceLevel[] {
    const levels = [...(side === "bid" ? this.bids : this.asks).values()];
    levels.sort((a, b) => side === "bid" ? b.price - a.price : a.price - b.price);
    return n < levels.length ? levels.slice(0, n) : levels;
  }

  /** Keeps the best `depth` levels per side (Kraken sends no deletes past its depth). */
  truncate(depth: number): void {
    for (const side of ["bid", "ask"] as const) {
      const map = side === "bid" ? this.bids : this.asks;
      if (map.size <= depth) continue;
      for (const level of this.top(side).slice(depth)) map.delete(level.price);
    }
  }

  /** Best bid >= best ask. */
  get crossed(): boolean {
    let bestBid = -Infinity;
    for (const p of this.bids.keys()) if (p > bestBid) bestBid = p;
    let bestAsk = Infinity;
    for (const p of this.asks.keys()) if (p < bestAsk) bestAsk = p;
    return bestBid >= bestAsk;
  }

  /** `[price, size]` pairs of the best `n` levels per side, for comparisons. */
  pairs(n = Infinity): { bids: [number, number][]; asks: [number, number][] } {
    return {
      bids: this.top("bid", n).map((l) => [l.price, l.size]),
      asks: this.top("ask", n).map((l) => [l.price, l.size]),
    };
  }
}
