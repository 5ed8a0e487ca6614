import assert from "node:assert/strict";
import pl from "nodejs-polars";
import {
  bipowerVariation,
  garmanKlass,
  parkinson,
  realizedVariance,
  rogersSatchell,
  yangZhang,
} from "../lib/research/mod.ts";
import { assertClose, column, randomTrades, timeSeries, tradeFrame } from "./research_fixtures.ts";

const MIN = 60_000_000;

/** Per-minute RV and BV by a loop: returns attributed to the minute of their end trade. */
function loopRealized(ts: number[], price: number[], every: number) {
  const rv = new Map<number, { n: number; s: number }>();
  const bv = new Map<number, { n: number; s: number }>();
  for (let i = 0; i < ts.length; i++) {
    const b = Math.floor(ts[i] / every) * every;
    if (!rv.has(b)) {
      rv.set(b, { n: 0, s: 0 });
      bv.set(b, { n: 0, s: 0 });
    }
    if (i === 0) continue;
    const r = Math.log(price[i] / price[i - 1]);
    rv.get(b)!.n++;
    rv.get(b)!.s += r * r;
    if (i >= 2 && Math.floor(ts[i - 1] / every) * every === b) {
      const r1 = Math.log(price[i - 1] / price[i - 2]);
      bv.get(b)!.n++;
      bv.get(b)!.s += Math.abs(r) * Math.abs(r1) * Math.PI / 2;
    }
  }
  const keys = [...rv.keys()].sort((a, b) => a - b);
  return {
    keys,
    rvN: keys.map((k) => rv.get(k)!.n),
    rv: keys.map((k) => (rv.get(k)!.n === 0 ? null : rv.get(k)!.s)),
    bvN: keys.map((k) => bv.get(k)!.n),
    bv: keys.map((k) => (bv.get(k)!.n === 0 ? null : bv.get(k)!.s)),
  };
}

Deno.test("realizedVariance and bipowerVariation: per minute against a loop", () => {
  const t = randomTrades(600, 5);
  const frame = tradeFrame(t);
  const expected = loopRealized(t.ts, t.price, MIN);
  const rv = realizedVariance(frame, { every: "1m" });
  assert.deepEqual(rv.columns, ["ts", "n", "realized_variance"]);
  assert.deepEqual(column(rv, "ts"), expected.keys);
  assert.deepEqual(column(rv, "n"), expected.rvN);
  assertClose(column(rv, "realized_variance"), expected.rv, "rv");
  const bv = bipowerVariation(frame, { every: MIN });
  assert.deepEqual(column(bv, "n"), expected.bvN);
  assertClose(column(bv, "bipower_variation"), expected.bv, "bv");
  // One window over everything: the sum of all squared returns.
  const whole = realizedVariance(frame);
  assert.equal(whole.height, 1);
  assert.equal(column(whole, "ts")[0], t.ts[0]);
  let sum = 0;
  for (let i = 1; i < t.price.length; i++) sum += Math.log(t.price[i] / t.price[i - 1]) ** 2;
  assertClose(column(whole, "realized_variance"), [sum], "whole");
});

Deno.test("realizedVariance: hand-computed windows, groups, edge cases", () => {
  // Prices 100, 110, 99 at 0, 10, 25 with 20-microsecond windows:
  // window 0 holds r1 = ln(1.1); window 20 holds r2 = ln(0.9).
  const frame = pl.DataFrame([
    pl.Series("sym", ["x", "x", "x", "y"]),
    pl.Series("price", [100, 110, 99, 7]),
    pl.Series("ts", [0, 10, 25, 26]),
  ]);
  const rv = realizedVariance(frame, { every: 20, by: "sym" });
  assert.deepEqual(rv.columns, ["sym", "ts", "n", "realized_variance"]);
  assert.deepEqual(rv.getColumn("sym").toArray(), ["x", "x", "y"]);
  assert.deepEqual(column(rv, "ts"), [0, 20, 20]);
  assertClose(
    column(rv, "realized_variance"),
    [Math.log(1.1) ** 2, Math.log(0.9) ** 2, null],
    "hand",
  );
  const bv = bipowerVariation(frame.head(3), { every: 100 });
  assertClose(
    column(bv, "bipower_variation"),
    [Math.PI / 2 * Math.log(1.1) * -Math.log(0.9)],
    "bv",
  );
  assert.equal(realizedVariance(frame.head(0), { every: 20 }).height, 0);
  const one = realizedVariance(frame.head(1));
  assert.deepEqual(column(one, "n"), [0]);
  assert.deepEqual(column(one, "realized_variance"), [null]);
  const nan = pl.DataFrame([
    pl.Series("price", [1, 2, NaN, 4, 5]),
    pl.Series("ts", [0, 1, 2, 10, 11]),
  ]);
  assertClose(column(realizedVariance(nan, { every: 10 }), "realized_variance"), [NaN, NaN], "NaN");
  assert.throws(() => realizedVariance(nan, { every: -1 }), RangeError);
  const back = pl.DataFrame([pl.Series("price", [1, 2]), pl.Series("ts", [5, 1])]);
  assert.throws(() => bipowerVariation(back), /"ts" is out of time order at row 1/);
});

interface Bar {
  o: number;
  h: number;
  l: number;
  c: number;
}

const BARS: Bar[] = [
  { o: 100, h: 104, l: 99, c: 103 },
  { o: 103.5, h: 106, l: 101, c: 102 },
  { o: 101, h: 103, l: 97, c: 98 },
  { o: 98.5, h: 100, l: 96, c: 99.5 },
  { o: 99, h: 105, l: 98.5, c: 104 },
  { o: 104.2, h: 107, l: 103, c: 106 },
];

function barFrame(bars: Bar[]): pl.DataFrame {
  return pl.DataFrame([
    timeSeries("ts", bars.map((_, i) => 1_700_000_000_000_000 + i * MIN)),
    pl.Series("open", bars.map((b) => b.o)),
    pl.Series("high", bars.map((b) => b.h)),
    pl.Series("low", bars.map((b) => b.l)),
    pl.Series("close", bars.map((b) => b.c)),
  ]);
}

const ln = Math.log;
const pk = (b: Bar) => ln(b.h / b.l) ** 2 / (4 * ln(2));
const gk = (b: Bar) => 0.5 * ln(b.h / b.l) ** 2 - (2 * ln(2) - 1) * ln(b.c / b.o) ** 2;
const rs = (b: Bar) => ln(b.h / b.c) * ln(b.h / b.o) + ln(b.l / b.c) * ln(b.l / b.o);

function trailingMean(values: number[], w: number): (number | null)[] {
  return values.map((_, i) => {
    if (i < w - 1) return null;
    let s = 0;
    for (let j = i - w + 1; j <= i; j++) s += values[j];
    return s / w;
  });
}

Deno.test("Parkinson, Garman-Klass, Rogers-Satchell: per bar and over windows", () => {
  const frame = barFrame(BARS);
  // First bar by hand: ln(104/99) = 0.049271..., squared / 4 ln 2.
  const first = 0.049271049007 ** 2 / 2.772588722; // ln(104 / 99) ** 2 / (4 ln 2)
  assertClose([column(parkinson(frame), "parkinson")[0]], [first], "by hand", 1e-10);
  assertClose(column(parkinson(frame), "parkinson"), BARS.map(pk), "parkinson");
  assertClose(column(garmanKlass(frame), "garman_klass"), BARS.map(gk), "garman-klass");
  assertClose(column(rogersSatchell(frame), "rogers_satchell"), BARS.map(rs), "rogers-satchell");
  assertClose(
    column(parkinson(frame, { window: 3 }), "parkinson"),
    trailingMean(BARS.map(pk), 3),
    "pk3",
  );
  assertClose(
    column(rogersSatchell(frame, { window: 2, name: "v" }), "v"),
    trailingMean(BARS.map(rs), 2),
    "rs2",
  );
});

function sampleVariance(x: number[]): number {
  const m = x.reduce((a, b) => a + b, 0) / x.length;
  return x.reduce((a, b) => a + (b - m) ** 2, 0) / (x.length - 1);
}

Deno.test("yangZhang: against the definition computed window by window", () => {
  const n = 3;
  const out = column(yangZhang(barFrame(BARS), { window: n }), "yang_zhang");
  const k = 0.34 / (1.34 + (n + 1) / (n - 1));
  const expected = BARS.map((_, i) => {
    if (i < n) return null;
    const rows = BARS.slice(i - n + 1, i + 1);
    const o = rows.map((b, j) => ln(b.o / BARS[i - n + j].c));
    const c = rows.map((b) => ln(b.c / b.o));
    const vrs = rows.map(rs).reduce((a, b) => a + b, 0) / n;
    return sampleVariance(o) + k * sampleVariance(c) + (1 - k) * vrs;
  });
  assertClose(out, expected, "yang-zhang");
  assert.throws(() => yangZhang(barFrame(BARS), { window: 1 }), RangeError);
});

Deno.test("range estimators: bad bars, empty, single row, NaN, groups", () => {
  const bad = barFrame([{ o: 100, h: 99, l: 98, c: 98.5 }]);
  assert.throws(() => parkinson(bad), {
    name: "RangeError",
    message: /"high" is below open or close at row 0/,
  });
  const crossed = barFrame([{ o: 100, h: 99, l: 101, c: 100 }]);
  assert.throws(() => garmanKlass(crossed), /"high" is below column "low" at row 0/);
  const negative = barFrame([{ o: -1, h: 2, l: 1, c: 1 }]);
  assert.throws(() => rogersSatchell(negative), /"open" must be positive/);
  assert.throws(() => parkinson(barFrame(BARS).drop("low")), {
    name: "TypeError",
    message: /"low" is missing/,
  });
  assert.equal(yangZhang(barFrame([]), { window: 2 }).height, 0);
  assert.deepEqual(column(yangZhang(barFrame(BARS.slice(0, 1)), { window: 2 }), "yang_zhang"), [
    null,
  ]);
  const nan = barFrame(BARS).withColumns(
    pl.when(pl.col("open").eq(98.5)).then(pl.lit(NaN)).otherwise(pl.col("open")).alias("open"),
  );
  const gkNaN = column(garmanKlass(nan), "garman_klass");
  assert.ok(Number.isNaN(gkNaN[3]!) && !Number.isNaN(gkNaN[2]!));
  const yzNaN = column(yangZhang(nan, { window: 2 }), "yang_zhang");
  assert.ok(Number.isNaN(yzNaN[3]!) && Number.isNaN(yzNaN[4]!) && !Number.isNaN(yzNaN[5]!));
  // Two series interleaved: each gets its own window.
  const two = pl.concat([
    barFrame(BARS).withColumns(pl.lit("a").alias("sym")),
    barFrame(BARS.map((b) => ({ o: b.o * 2, h: b.h * 2, l: b.l * 2, c: b.c * 2 }))).withColumns(
      pl.lit("b").alias("sym"),
    ),
  ]).sort("ts");
  const yz = yangZhang(two, { window: 3, by: "sym" });
  const single = column(yangZhang(barFrame(BARS), { window: 3 }), "yang_zhang");
  const a = column(yz.filter(pl.col("sym").eq(pl.lit("a"))), "yang_zhang");
  const b = column(yz.filter(pl.col("sym").eq(pl.lit("b"))), "yang_zhang");
  assertClose(a, single, "group a");
  assertClose(b, single, "group b (scale-free)");
});
