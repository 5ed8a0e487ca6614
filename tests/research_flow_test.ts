import assert from "node:assert/strict";
import pl from "nodejs-polars";
import {
  amihudIlliquidity,
  kyleLambda,
  rollSpread,
  signedVolume,
  tickRule,
  timeBars,
  tradeSignAutocorrelation,
} from "../lib/research/mod.ts";
import { assertClose, column, randomTrades, tradeFrame } from "./research_fixtures.ts";

const MIN = 60_000_000;

Deno.test("tickRule: up, down, zero ticks carry the last sign, unknown until the first change", () => {
  const frame = pl.DataFrame([
    pl.Series("price", [10, 10, 11, 11, 10.5, 10.5, 12]),
    pl.Series("ts", [1, 2, 3, 4, 5, 6, 7]),
  ]);
  assert.deepEqual(column(tickRule(frame), "tick_sign"), [null, null, 1, 1, -1, -1, 1]);
  const nan = pl.DataFrame([
    pl.Series("price", [10, 11, NaN, 12, 12, 11]),
    pl.Series("ts", [1, 2, 3, 4, 5, 6]),
  ]);
  assertClose(column(tickRule(nan), "tick_sign"), [null, 1, NaN, NaN, NaN, -1], "NaN");
  assert.equal(tickRule(frame.head(0)).height, 0);
  assert.deepEqual(column(tickRule(frame.head(1)), "tick_sign"), [null]);
});

Deno.test("signedVolume: venue side first, tick rule for unknown sides, against a loop", () => {
  const t = randomTrades(300, 9);
  t.side[0] = "unknown";
  const out = signedVolume(tradeFrame(t));
  let last: number | null = null;
  const signs: (number | null)[] = [];
  for (let i = 0; i < t.price.length; i++) {
    if (i > 0 && t.price[i] > t.price[i - 1]) last = 1;
    if (i > 0 && t.price[i] < t.price[i - 1]) last = -1;
    signs.push(t.side[i] === "buy" ? 1 : t.side[i] === "sell" ? -1 : last);
  }
  assert.deepEqual(column(out, "sign"), signs);
  assertClose(
    column(out, "signed_volume"),
    signs.map((s, i) => s === null ? null : s * t.size[i]),
    "sv",
  );
  assert.equal(column(out, "sign")[0], null);
  const always = signedVolume(tradeFrame(t).drop("side"), { tickRule: "always" });
  assert.deepEqual(column(always, "sign"), column(tickRule(tradeFrame(t)), "tick_sign"));
  const never = signedVolume(tradeFrame(t), { tickRule: "never" });
  assert.deepEqual(
    column(never, "sign"),
    t.side.map((s) => s === "buy" ? 1 : s === "sell" ? -1 : null),
  );
  const odd = tradeFrame({ price: [1, 2], size: [1, 1], side: ["buy", "BUY"], ts: [1, 2] });
  assert.throws(() => signedVolume(odd), {
    name: "RangeError",
    message: /"side" holds "BUY" at row 1/,
  });
  assert.throws(
    () => signedVolume(tradeFrame(t), { tickRule: "sometimes" as "always" }),
    RangeError,
  );
  assert.throws(() => signedVolume(tradeFrame(t).drop("size")), {
    name: "TypeError",
    message: /"size"/,
  });
  const nullSide = pl.DataFrame([
    pl.Series("price", [1, 2]),
    pl.Series("size", [3, NaN]),
    pl.Series("side", [null, "sell"], pl.Utf8),
    pl.Series("ts", [1, 2]),
  ]);
  assertClose(column(signedVolume(nullSide), "signed_volume"), [null, NaN], "null side, NaN size");
});

Deno.test("tradeSignAutocorrelation: the ACF estimator by hand and against a loop", () => {
  // s = +1 +1 -1 -1 +1: mean 0.2, deviations .8 .8 -1.2 -1.2 .8, denominator 4.8.
  // lag 1: .64 - .96 + 1.44 - .96 = 0.16; lag 2: -.96 - .96 - .96 = -2.88.
  const frame = pl.DataFrame([pl.Series("sign", [1, 1, -1, -1, 1])]);
  const out = tradeSignAutocorrelation(frame, { lags: [1, 2, 5] });
  assertClose(column(out, "autocorrelation"), [0.16 / 4.8, -2.88 / 4.8, null], "hand");
  assert.deepEqual(column(out, "n"), [4, 3, 0]);
  const t = randomTrades(400, 21);
  const signed = signedVolume(tradeFrame(t));
  const s = (column(signed, "sign").filter((v) => v !== null)) as number[];
  const m = s.reduce((a, b) => a + b, 0) / s.length;
  const den = s.reduce((a, b) => a + (b - m) ** 2, 0);
  const lags = [1, 2, 3, 10];
  const expected = lags.map((k) => {
    let num = 0;
    for (let i = 0; i + k < s.length; i++) num += (s[i] - m) * (s[i + k] - m);
    return num / den;
  });
  assertClose(
    column(tradeSignAutocorrelation(signed, { lags }), "autocorrelation"),
    expected,
    "loop",
  );
  assert.deepEqual(
    column(tradeSignAutocorrelation(frame.head(0), { lags: [1] }), "autocorrelation"),
    [null],
  );
  assert.deepEqual(
    column(tradeSignAutocorrelation(frame.head(1), { lags: [1] }), "autocorrelation"),
    [null],
  );
  const constant = pl.DataFrame([pl.Series("sign", [1, 1, 1])]);
  assert.deepEqual(column(tradeSignAutocorrelation(constant, { lags: [1] }), "autocorrelation"), [
    null,
  ]);
  const nan = pl.DataFrame([pl.Series("sign", [1, NaN, -1])]);
  assert.ok(
    Number.isNaN(column(tradeSignAutocorrelation(nan, { lags: [1] }), "autocorrelation")[0]!),
  );
  assert.throws(() => tradeSignAutocorrelation(frame, { lags: [0] }), RangeError);
  assert.throws(() => tradeSignAutocorrelation(frame, { sign: "s" }), TypeError);
});

/** OLS slope / intercept / r2 by the two-pass textbook formulas. */
function ols(x: number[], y: number[]) {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  const slope = sxy / sxx;
  return { n, slope, intercept: my - slope * mx, r2: (sxy * sxy) / (sxx * syy) };
}

Deno.test("kyleLambda: hand-computed slope, and per-hour regressions on minute bars", () => {
  const hand = pl.DataFrame([
    pl.Series("price", [100, 101, 100, 102]),
    pl.Series("signed_volume", [5, 2, -1, 3]),
    pl.Series("ts", [0, 1, 2, 3]),
  ]);
  const k = kyleLambda(hand);
  // x = 2, -1, 3 (mean 4/3), y = 1, -1, 2 (mean 2/3):
  // sxy = (2/3)(1/3) + (-7/3)(-5/3) + (5/3)(4/3) = (2 + 35 + 20) / 9 = 57/9
  // sxx = 4/9 + 49/9 + 25/9 = 78/9; syy = 1/9 + 25/9 + 16/9 = 42/9
  assertClose(column(k, "lambda"), [57 / 78], "slope");
  assertClose(column(k, "intercept"), [2 / 3 - (57 / 78) * (4 / 3)], "intercept");
  assertClose(column(k, "r2"), [(57 * 57) / (78 * 42)], "r2");
  assert.deepEqual(column(k, "n"), [3]);

  const t = randomTrades(3000, 4);
  const bars = timeBars(signedVolume(tradeFrame(t)), { every: "1m", sums: ["signed_volume"] });
  const out = kyleLambda(bars, { every: "1h", price: "close" });
  const ts = column(bars, "ts") as number[];
  const close = column(bars, "close") as number[];
  const sv = column(bars, "signed_volume") as number[];
  const hours = new Map<number, { x: number[]; y: number[] }>();
  for (let i = 0; i < ts.length; i++) {
    const h = Math.floor(ts[i] / (60 * MIN)) * 60 * MIN;
    if (!hours.has(h)) hours.set(h, { x: [], y: [] });
    if (i === 0) continue;
    hours.get(h)!.x.push(sv[i]);
    hours.get(h)!.y.push(close[i] - close[i - 1]);
  }
  const keys = [...hours.keys()].sort((a, b) => a - b);
  assert.ok(keys.length >= 3);
  assert.deepEqual(column(out, "ts"), keys);
  const fits = keys.map((h) => ols(hours.get(h)!.x, hours.get(h)!.y));
  assert.deepEqual(column(out, "n"), fits.map((f) => f.n));
  assertClose(column(out, "lambda"), fits.map((f) => f.slope), "lambda", 1e-8);
  assertClose(column(out, "intercept"), fits.map((f) => f.intercept), "intercept", 1e-8);
  assertClose(column(out, "r2"), fits.map((f) => f.r2), "r2", 1e-8);
});

Deno.test("kyleLambda: too few rows, constant volume, unsigned trades, NaN, order", () => {
  const one = kyleLambda(
    pl.DataFrame([pl.Series("price", [1]), pl.Series("signed_volume", [1]), pl.Series("ts", [0])]),
  );
  assert.deepEqual(column(one, "lambda"), [null]);
  assert.deepEqual(column(one, "n"), [0]);
  const flat = pl.DataFrame([
    pl.Series("price", [1, 2, 3]),
    pl.Series("signed_volume", [4, 4, 4]),
    pl.Series("ts", [0, 1, 2]),
  ]);
  assert.deepEqual(column(kyleLambda(flat), "lambda"), [null]);
  const unsigned = pl.DataFrame([
    pl.Series("price", [1, 2, 5, 3]),
    pl.Series("signed_volume", [1, 1, null, -1]),
    pl.Series("ts", [0, 1, 2, 3]),
  ]);
  // Pairs used: (x=1, dy=1) and (x=-1, dy=-2): slope 1.5.
  const u = kyleLambda(unsigned);
  assert.deepEqual(column(u, "n"), [2]);
  assertClose(column(u, "lambda"), [1.5], "unsigned left out");
  const nan = unsigned.withColumns(pl.Series("signed_volume", [1, NaN, 2, -1]));
  assert.ok(Number.isNaN(column(kyleLambda(nan), "lambda")[0]!));
  assert.equal(kyleLambda(flat.head(0), { every: 10 }).height, 0);
  assert.throws(() => kyleLambda(flat.reverse()), /out of time order/);
});

Deno.test("amihudIlliquidity: |r| / traded value per bar and over windows", () => {
  const bars = pl.DataFrame([
    pl.Series("ts", [0, 60, 120, 180]),
    pl.Series("close", [100, 102, 101, 101]),
    pl.Series("volume", [10, 5, 0, 4]),
    pl.Series("vwap", [100, 101, 101.5, 101]),
  ]);
  const out = column(amihudIlliquidity(bars, { scale: 1e6 }), "amihud");
  assertClose(out, [null, 1e6 * Math.log(1.02) / (5 * 101), NaN, 0], "per bar");
  const noVwap = column(amihudIlliquidity(bars.drop("vwap")), "amihud");
  assertClose(noVwap, [null, Math.log(1.02) / (5 * 102), NaN, 0], "close as price");
  const good = bars.withColumns(pl.Series("volume", [10, 5, 2, 4]));
  const r = [Math.log(1.02) / 505, Math.abs(Math.log(101 / 102)) / 203, 0];
  assertClose(column(amihudIlliquidity(good, { window: 2 }), "amihud"), [
    null,
    null,
    (r[0] + r[1]) / 2,
    (r[1] + r[2]) / 2,
  ], "window");
  assert.throws(
    () => amihudIlliquidity(bars.withColumns(pl.Series("volume", [1, -1, 1, 1]))),
    /"volume" is negative at row 1/,
  );
  assert.equal(amihudIlliquidity(bars.head(0)).height, 0);
  assert.throws(() => amihudIlliquidity(bars, { scale: 0 }), RangeError);
});

Deno.test("rollSpread: serial covariance of price changes, per window, against a loop", () => {
  // Bid-ask bounce 100 / 101: d = 1, -1, 1, -1 -> pairs (a, b) = (-1, 1), (1, -1), (-1, 1);
  // mean a = -1/3, mean b = 1/3; cov = sum (a - ma)(b - mb) / 2 = -(4/9 + 16/9 + 4/9) / 2 = -4/3.
  const bounce = pl.DataFrame([
    pl.Series("price", [100, 101, 100, 101, 100]),
    pl.Series("ts", [0, 1, 2, 3, 4]),
  ]);
  const out = rollSpread(bounce);
  assertClose(column(out, "autocovariance"), [-4 / 3], "cov");
  assertClose(column(out, "roll_spread"), [2 * Math.sqrt(4 / 3)], "spread");
  assert.deepEqual(column(out, "n"), [3]);
  const trend = pl.DataFrame([
    pl.Series("price", [1, 2, 4, 7, 11]),
    pl.Series("ts", [0, 1, 2, 3, 4]),
  ]);
  const tr = rollSpread(trend);
  assert.ok(column(tr, "autocovariance")[0]! >= 0);
  assert.deepEqual(column(tr, "roll_spread"), [null]);

  const t = randomTrades(800, 13);
  const win = rollSpread(tradeFrame(t), { every: "10m" });
  const W = 10 * MIN;
  const groups = new Map<number, { a: number[]; b: number[] }>();
  for (let i = 0; i < t.ts.length; i++) {
    const w = Math.floor(t.ts[i] / W) * W;
    if (!groups.has(w)) groups.set(w, { a: [], b: [] });
    if (i >= 2 && Math.floor(t.ts[i - 1] / W) * W === w) {
      groups.get(w)!.a.push(t.price[i] - t.price[i - 1]);
      groups.get(w)!.b.push(t.price[i - 1] - t.price[i - 2]);
    }
  }
  const keys = [...groups.keys()].sort((x, y) => x - y);
  const cov = keys.map((w) => {
    const { a, b } = groups.get(w)!;
    if (a.length < 2) return null;
    const ma = a.reduce((s, v) => s + v, 0) / a.length;
    const mb = b.reduce((s, v) => s + v, 0) / b.length;
    return a.reduce((s, v, i) => s + (v - ma) * (b[i] - mb), 0) / (a.length - 1);
  });
  assert.deepEqual(column(win, "ts"), keys);
  assertClose(column(win, "autocovariance"), cov, "cov", 1e-8);
  assertClose(
    column(win, "roll_spread"),
    cov.map((c) => c !== null && c < 0 ? 2 * Math.sqrt(-c) : null),
    "spread",
    1e-8,
  );
  assert.equal(rollSpread(bounce.head(0)).height, 0);
  assert.deepEqual(column(rollSpread(bounce.head(1)), "autocovariance"), [null]);
  const nan = bounce.withColumns(pl.Series("price", [100, 101, NaN, 101, 100]));
  assert.ok(Number.isNaN(column(rollSpread(nan), "roll_spread")[0]!));
});
