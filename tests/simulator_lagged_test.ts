/**
 * The two-venue simulator with a planted delay: prices follow the fair value as documented,
 * the run is reproducible, and a cross-correlation written out here (plain JavaScript, no
 * library code) finds the planted delay in the trades.
 */
import assert from "node:assert/strict";
import { laggedVenueTrades } from "../lib/simulator/mod.ts";
import type { Trade } from "../lib/market/types.ts";

const START = Date.UTC(2024, 0, 2) * 1000;

/** Last trade price at or before each grid time, then log returns of it. */
function gridReturns(trades: readonly Trade[], times: readonly number[]): number[] {
  const prices: number[] = [];
  let j = -1;
  for (const t of times) {
    while (j + 1 < trades.length && trades[j + 1].ts <= t) j++;
    prices.push(j < 0 ? NaN : trades[j].price);
  }
  return prices.slice(1).map((p, i) => Math.log(p / prices[i]));
}

function correlation(x: readonly number[], y: readonly number[]): number {
  const pairs = x.map((v, i) => [v, y[i]]).filter(([a, b]) =>
    Number.isFinite(a) && Number.isFinite(b)
  );
  const mx = pairs.reduce((s, p) => s + p[0], 0) / pairs.length;
  const my = pairs.reduce((s, p) => s + p[1], 0) / pairs.length;
  let sxy = 0, sxx = 0, syy = 0;
  for (const [a, b] of pairs) {
    sxy += (a - mx) * (b - my);
    sxx += (a - mx) ** 2;
    syy += (b - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

Deno.test("lagged venues: prices follow the fair value, the follower by the delay", () => {
  const delayUs = 300_000;
  const market = laggedVenueTrades({ startTs: START, durationUs: 60_000_000, delayUs, seed: 3 });
  assert.ok(market.leader.length > 900 && market.follower.length > 900);
  for (const t of market.leader) {
    assert.equal(t.price, Number((Math.round(market.fair(t.ts) * 100) / 100).toFixed(2)));
  }
  for (const t of market.follower) {
    assert.equal(t.price, Number((Math.round(market.fair(t.ts - delayUs) * 100) / 100).toFixed(2)));
  }
  for (const side of [market.leader, market.follower]) {
    for (let i = 1; i < side.length; i++) assert.ok(side[i].ts > side[i - 1].ts);
  }
  const again = laggedVenueTrades({ startTs: START, durationUs: 60_000_000, delayUs, seed: 3 });
  assert.deepEqual(again.follower.slice(0, 50), market.follower.slice(0, 50));
  assert.throws(
    () => laggedVenueTrades({ startTs: START, durationUs: 1e6, delayUs: -1 }),
    RangeError,
  );
});

Deno.test("lagged venues: cross-correlation of 50 ms returns peaks at the planted delay", () => {
  const delayUs = 250_000;
  const market = laggedVenueTrades({ startTs: START, durationUs: 600_000_000, delayUs });
  const step = 50_000;
  const times = Array.from({ length: 600_000_000 / step }, (_, i) => START + (i + 1) * step);
  const a = gridReturns(market.leader, times);
  const b = gridReturns(market.follower, times);
  let best = { lag: NaN, c: -Infinity };
  for (let k = -20; k <= 20; k++) {
    const x = k >= 0 ? a.slice(0, a.length - k) : a.slice(-k);
    const y = k >= 0 ? b.slice(k) : b.slice(0, b.length + k);
    const c = correlation(x, y);
    if (c > best.c) best = { lag: k, c };
  }
  assert.equal(best.lag * step, delayUs);
  assert.ok(best.c > 0.2, `peak correlation ${best.c}`);
});
