/**
 * The "must hold" for every research function that reads a time series: empty
 * input, a single row, NaN and out-of-order input each give the documented result or a
 * clear error, never a silent number.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import * as research from "../lib/research/mod.ts";
import { column, timeSeries } from "./research_fixtures.ts";

const MIN = 60_000_000;
const T = 1_700_000_040_000_000; // a minute boundary

function trades(price: number[], ts: number[]): pl.DataFrame {
  return pl.DataFrame([
    pl.Series("price", price),
    pl.Series("size", price.map(() => 2)),
    pl.Series("side", price.map((_, i) => (i % 2 ? "sell" : "buy")), pl.Utf8),
    pl.Series("signed_volume", price.map((_, i) => (i % 2 ? -2 : 3 + i)), pl.Float64),
    timeSeries("ts", ts),
  ]);
}

function bars(close: number[], ts: number[]): pl.DataFrame {
  return pl.DataFrame([
    timeSeries("ts", ts),
    pl.Series("open", close),
    pl.Series("high", close.map((c) => c + 1)),
    pl.Series("low", close.map((c) => c - 1)),
    pl.Series("close", close),
    pl.Series("volume", close.map(() => 3)),
    pl.Series("vwap", close),
  ]);
}

/** Each function on a trade frame (t) or bar frame (b), with the column holding its value. */
const CASES: [string, "t" | "b", (f: pl.DataFrame) => pl.DataFrame, string][] = [
  ["logReturns", "t", (f) => research.logReturns(f), "log_return"],
  ["forwardReturns", "t", (f) => research.forwardReturns(f, { horizons: ["1m"] }), "fwd_1m"],
  ["forwardTradeReturns", "t", (f) => research.forwardTradeReturns(f, { horizons: [1] }), "fwd_1t"],
  [
    "timeBars",
    "t",
    (f) => research.timeBars(f, { every: "1m", realizedVariance: true }),
    "realized_variance",
  ],
  [
    "realizedVariance",
    "t",
    (f) => research.realizedVariance(f, { every: "1m" }),
    "realized_variance",
  ],
  ["bipowerVariation", "t", (f) => research.bipowerVariation(f), "bipower_variation"],
  ["tickRule", "t", (f) => research.tickRule(f), "tick_sign"],
  ["signedVolume", "t", (f) => research.signedVolume(f, { tickRule: "always" }), "sign"],
  ["kyleLambda", "t", (f) => research.kyleLambda(f), "lambda"],
  ["rollSpread", "t", (f) => research.rollSpread(f), "autocovariance"],
  ["markouts", "t", (f) => research.markouts(f, { horizons: ["1m"] }), "markout_1m"],
  ["parkinson", "b", (f) => research.parkinson(f, { window: 2 }), "parkinson"],
  ["garmanKlass", "b", (f) => research.garmanKlass(f, { window: 2 }), "garman_klass"],
  ["rogersSatchell", "b", (f) => research.rogersSatchell(f, { window: 2 }), "rogers_satchell"],
  ["yangZhang", "b", (f) => research.yangZhang(f, { window: 2 }), "yang_zhang"],
  ["amihudIlliquidity", "b", (f) => research.amihudIlliquidity(f), "amihud"],
];

const frame = (kind: "t" | "b", prices: number[], ts: number[]) =>
  kind === "t" ? trades(prices, ts) : bars(prices, ts);

for (const [name, kind, fn, value] of CASES) {
  Deno.test(`${name}: empty, single row, NaN, out of order`, () => {
    const empty = fn(frame(kind, [], []));
    assert.equal(empty.height, 0, "empty in, empty out");
    assert.ok(empty.columns.includes(value), `empty result has ${value}`);

    const one = fn(frame(kind, [100], [T]));
    assert.equal(one.height, 1);
    const v = column(one, value)[0];
    // One row: nothing needs two rows only for per-bar range estimators without a window,
    // and the bar of one trade (no return: null variance).
    assert.ok(v === null, `${name} on one row gives null, got ${v}`);

    const times = [0, 1, 2, 3, 4, 5].map((i) => T + i * MIN);
    const prices = [100, 101, 102, 101, 103, 104];
    const clean = column(fn(frame(kind, prices, times)), value);
    const nanPrices = prices.map((p, i) => (i === 2 ? NaN : p));
    const withNaN = column(fn(frame(kind, nanPrices, times)), value);
    const changed = withNaN.filter((x, i) =>
      !(x === clean[i] || (x !== null && clean[i] !== null && Math.abs(x - clean[i]!) < 1e-12))
    );
    assert.ok(changed.length > 0, `${name}: a NaN price changes something`);
    for (const x of changed) {
      assert.ok(x !== null && Number.isNaN(x), `${name}: changed values are NaN, got ${x}`);
    }

    const shuffled = [times[0], times[2], times[1], ...times.slice(3)];
    assert.throws(() => fn(frame(kind, prices, shuffled)), {
      name: "RangeError",
      message: /column "ts" is out of time order at row 2/,
    });
  });
}
