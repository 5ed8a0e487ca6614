/**
 * The backtester on the real Binance BTCUSDT session: every fill is checked against an
 * independent map-based replay of the same events (taker fills at levels present with enough
 * size; maker fills only on a trade at or through the order's price).
 */
import assert from "node:assert/strict";
import { backtest, type Strategy } from "../lib/backtest/mod.ts";
import type { MarketEvent } from "../lib/market/types.ts";
import { binanceSessionEvents } from "./support/binance_session.ts";

const EX = "binance";
const SYM = "BTC-USDT";

Deno.test("real Binance session: taker and maker fills agree with an independent replay", async () => {
  const events = binanceSessionEvents();
  assert.ok(events.filter((e) => e.kind === "trade").length > 9_000);
  // Probe only on trades alone at their receive time, so the book the order met is the
  // book after that trade (several events can share a receive time).
  const perTime = new Map<number, number>();
  for (const e of events) perTime.set(e.recvTs, (perTime.get(e.recvTs) ?? 0) + 1);
  let n = 0;
  // Every 40th trade: an IOC buy or sell for 0.3 BTC (several levels deep) and a resting
  // post-only bid one tick below the best bid, cancelled 30 book changes later.
  const resting: number[] = [];
  const strategy: Strategy = {
    name: "prober",
    onTrade(t, ctx) {
      if (perTime.get(t.recvTs) !== 1 || ++n % 40 !== 0) return;
      const book = ctx.book(EX, SYM);
      if (!book || !(book.bestBid < book.bestAsk)) return;
      const side = n % 80 === 0 ? "buy" : "sell";
      ctx.submit({ exchange: EX, symbol: SYM, side, type: "market", size: 0.3 });
      const price = Math.round((book.bestBid - 0.01) * 100) / 100;
      resting.push(
        ctx.submit({
          exchange: EX,
          symbol: SYM,
          side: "buy",
          type: "limit",
          price,
          size: 0.05,
          postOnly: true,
        }),
      );
    },
    onBook(_e, ctx) {
      if (resting.length > 4) ctx.cancel(resting.shift()!);
    },
  };
  const result = await backtest({
    instruments: [{ exchange: EX, symbol: SYM, tickSize: 0.01, lotSize: 0.00001 }],
    clock: "receive",
    strategy,
    feed: events,
  });
  const taker = result.fills.filter((f) => f.liquidity === "taker");
  const maker = result.fills.filter((f) => f.liquidity === "maker");
  assert.ok(taker.length > 100 && maker.length > 5, `${taker.length} ${maker.length}`);
  assert.equal(result.error, undefined);
  // Independent replay: map-based book, consumed size per level until the venue changes it.
  const bids = new Map<number, number>();
  const asks = new Map<number, number>();
  const used = new Map<string, number>();
  const orders = new Map(result.orders.map((o) => [o.id, o]));
  // Lowest trade price at each receive time: a resting buy fills only on a trade at or
  // below its price.
  const lowest = new Map<number, number>();
  for (const e of events) {
    if (e.kind === "trade") {
      lowest.set(e.recvTs, Math.min(lowest.get(e.recvTs) ?? Infinity, e.price));
    }
  }
  for (const fill of maker) {
    assert.equal(fill.price, orders.get(fill.orderId)!.price);
    assert.ok(lowest.get(fill.ts)! <= fill.price, `maker buy at ${fill.price} without a trade`);
  }
  let f = 0;
  const check = (e: MarketEvent) => {
    for (; f < result.fills.length && result.fills[f].ts === e.recvTs; f++) {
      const fill = result.fills[f];
      if (fill.liquidity === "taker") {
        assert.equal(perTime.get(e.recvTs), 1);
        const side = fill.side === "buy" ? "ask" : "bid";
        const have = (side === "ask" ? asks : bids).get(fill.price);
        assert.ok(have !== undefined, `taker fill at ${fill.price}: no such level`);
        const key = side + fill.price;
        const taken = (used.get(key) ?? 0) + fill.size;
        assert.ok(taken <= have * (1 + 1e-12), `liquidity at ${fill.price} used twice`);
        used.set(key, taken);
        // Walking the book: every better level was used up.
        const better = [...(side === "ask" ? asks : bids)].filter(([p]) =>
          side === "ask" ? p < fill.price : p > fill.price
        );
        for (const [p, s] of better) assert.ok((used.get(side + p) ?? 0) >= s * (1 - 1e-12));
      }
    }
  };
  for (const e of events) {
    if (e.kind === "book_snapshot") {
      bids.clear();
      asks.clear();
      used.clear();
    }
    if (e.kind === "book_snapshot" || e.kind === "book_change") {
      for (const [p, s] of e.bids) {
        s === 0 ? bids.delete(p) : bids.set(p, s);
        used.delete("bid" + p);
      }
      for (const [p, s] of e.asks) {
        s === 0 ? asks.delete(p) : asks.set(p, s);
        used.delete("ask" + p);
      }
    }
    check(e);
  }
  assert.equal(f, result.fills.length, "every fill happened at an event's time");
});

Deno.test("real Binance session: the same resting orders fill no more with a longer queue", async () => {
  const events = binanceSessionEvents();
  // Orders that do not depend on fills: every 25th trade a post-only bid at the best bid,
  // cancelled 60 book changes later. Every model sees the same orders.
  const probe = (): Strategy => {
    let trades = 0;
    const live: [number, number][] = []; // [order id, book changes seen]
    return {
      name: "queue-probe",
      onTrade(_t, ctx) {
        if (++trades % 25 !== 0) return;
        const book = ctx.book(EX, SYM);
        if (!book || !(book.bestBid < book.bestAsk)) return;
        const id = ctx.submit({
          exchange: EX,
          symbol: SYM,
          side: "buy",
          type: "limit",
          price: book.bestBid,
          size: 0.2,
          postOnly: true,
        });
        live.push([id, 0]);
      },
      onBook(_e, ctx) {
        for (const entry of live) entry[1]++;
        while (live.length > 0 && live[0][1] >= 60) ctx.cancel(live.shift()![0]);
      },
    };
  };
  const filled = async (queue: "front" | "probabilistic" | "conservative") => {
    const r = await backtest({
      instruments: [{ exchange: EX, symbol: SYM, tickSize: 0.01 }],
      clock: "receive",
      queue: { kind: queue },
      strategy: probe(),
      feed: events,
    });
    return r.orders.map((o) => o.filled);
  };
  const front = await filled("front");
  const prob = await filled("probabilistic");
  const cons = await filled("conservative");
  assert.equal(front.length, cons.length);
  assert.ok(front.length > 300);
  let strictly = 0;
  for (let i = 0; i < front.length; i++) {
    assert.ok(cons[i] <= prob[i] + 1e-12 && prob[i] <= front[i] + 1e-12, `order ${i + 1}`);
    if (cons[i] < front[i]) strictly++;
  }
  assert.ok(strictly > 10, "the queue must matter on real data");
});
