import assert from "node:assert/strict";
import pl from "nodejs-polars";
import {
  forwardReturns,
  forwardTradeReturns,
  logReturns,
  realizedVariance,
  signedVolume,
  timeBars,
} from "../lib/research/mod.ts";
import {
  assertClose,
  column,
  randomTrades,
  T0,
  timeSeries,
  tradeFrame,
} from "./research_fixtures.ts";

const MIN = 60_000_000;

Deno.test("logReturns: ln(p_i / p_{i-1}) by hand, first row null, per group", () => {
  const frame = pl.DataFrame([
    pl.Series("sym", ["a", "b", "a", "b", "a"]),
    pl.Series("price", [100, 50, 110, 40, 99]),
    timeSeries("ts", [1, 2, 3, 4, 5]),
  ]);
  const all = logReturns(frame);
  assertClose(column(all, "log_return"), [
    null,
    Math.log(50 / 100),
    Math.log(110 / 50),
    Math.log(40 / 110),
    Math.log(99 / 40),
  ], "ungrouped");
  const grouped = logReturns(frame, { by: "sym", name: "r" });
  assertClose(column(grouped, "r"), [
    null,
    null,
    Math.log(1.1),
    Math.log(40 / 50),
    Math.log(99 / 110),
  ], "grouped");
});

Deno.test("logReturns: empty, single row, NaN, null, out of order, bad columns", () => {
  const empty = tradeFrame({ price: [], size: [], side: [], ts: [] });
  assert.equal(logReturns(empty).height, 0);
  assert.deepEqual(logReturns(empty).columns, [...empty.columns, "log_return"]);
  const one = tradeFrame({ price: [5], size: [1], side: ["buy"], ts: [T0] });
  assert.deepEqual(column(logReturns(one), "log_return"), [null]);
  const withNaN = pl.DataFrame([
    pl.Series("price", [1, NaN, 2, 3]),
    pl.Series("ts", [1, 2, 3, 4]),
  ]);
  assertClose(column(logReturns(withNaN), "log_return"), [null, NaN, NaN, Math.log(1.5)], "NaN");
  const withNull = pl.DataFrame([pl.Series("price", [1, null, 2]), pl.Series("ts", [1, 2, 3])]);
  assertClose(column(logReturns(withNull), "log_return"), [null, NaN, NaN], "null as NaN");
  const backwards = pl.DataFrame([pl.Series("price", [1, 2, 3]), pl.Series("ts", [1, 3, 2])]);
  assert.throws(() => logReturns(backwards), /column "ts" is out of time order at row 2/);
  const missingTime = pl.DataFrame([pl.Series("price", [1, 2]), pl.Series("ts", [1, null])]);
  assert.throws(() => logReturns(missingTime), /RangeError|missing time at row 1/);
  assert.throws(() => logReturns(backwards, { price: "close" }), {
    name: "TypeError",
    message: /column "close" is missing/,
  });
  const text = pl.DataFrame([pl.Series("price", ["1"]), pl.Series("ts", [1])]);
  assert.throws(() => logReturns(text), {
    name: "TypeError",
    message: /"price" must hold numbers/,
  });
  const zero = pl.DataFrame([pl.Series("price", [1, 0]), pl.Series("ts", [1, 2])]);
  assert.throws(() => logReturns(zero), {
    name: "RangeError",
    message: /"price" must be positive, got 0 at row 1/,
  });
  assert.throws(() => logReturns({} as pl.DataFrame), TypeError);
});

/** P(t) = price of the last trade with time <= t, by a backwards scan. */
function priceAt(ts: number[], price: number[], t: number): number | null {
  for (let j = ts.length - 1; j >= 0; j--) if (ts[j] <= t) return price[j];
  return null;
}

Deno.test("forwardReturns: matches an independent as-of scan on seeded trades", () => {
  const t = randomTrades(400);
  const out = forwardReturns(tradeFrame(t), { horizons: ["1m", 5 * MIN, 1_500] });
  assert.deepEqual(out.columns.slice(-3), ["fwd_1m", "fwd_5m", "fwd_1500us"]);
  const last = t.ts[t.ts.length - 1];
  for (const [name, h] of [["fwd_1m", MIN], ["fwd_5m", 5 * MIN], ["fwd_1500us", 1_500]] as const) {
    const expected = t.ts.map((ti, i) =>
      ti + h > last ? null : Math.log(priceAt(t.ts, t.price, ti + h)! / t.price[i])
    );
    assert.ok(expected.some((v) => v === null) && expected.some((v) => v !== null));
    assertClose(column(out, name), expected, name);
  }
  // Among trades sharing a time, P(t) takes the last one.
  const ties = pl.DataFrame([pl.Series("price", [10, 11, 12, 13]), pl.Series("ts", [0, 5, 5, 5])]);
  assertClose(column(forwardReturns(ties, { horizons: [5] }), "fwd_5us"), [
    Math.log(13 / 10),
    null,
    null,
    null,
  ], "ties");
});

Deno.test("forwardReturns: groups never cross, and edge cases", () => {
  const frame = pl.DataFrame([
    pl.Series("sym", ["a", "b", "a", "b", "a", "b"]),
    pl.Series("price", [100, 10, 101, 11, 102, 12]),
    pl.Series("ts", [0, 0, 10, 10, 20, 25]),
  ]);
  const out = forwardReturns(frame, { horizons: [10], by: "sym" });
  assertClose(column(out, "fwd_10us"), [
    Math.log(1.01),
    Math.log(1.1),
    Math.log(102 / 101),
    Math.log(11 / 11), // b at 20: last b trade at or before 20 is 11 (ts 10)
    null,
    null,
  ], "grouped");
  // Sorted within each group but not overall.
  const blocks = pl.DataFrame([
    pl.Series("sym", ["a", "a", "b", "b", "a", "b"]),
    pl.Series("price", [100, 101, 10, 11, 102, 12]),
    pl.Series("ts", [0, 10, 5, 6, 20, 30]),
  ]);
  assertClose(column(forwardReturns(blocks, { horizons: [10], by: ["sym"] }), "fwd_10us"), [
    Math.log(1.01),
    Math.log(102 / 101),
    Math.log(11 / 10),
    Math.log(11 / 11),
    null,
    null,
  ], "blocks");
  const empty = frame.head(0);
  assert.equal(forwardReturns(empty, { horizons: [10] }).height, 0);
  assert.deepEqual(column(forwardReturns(frame.head(1), { horizons: [10] }), "fwd_10us"), [null]);
  assert.throws(() => forwardReturns(frame, { horizons: [] }), RangeError);
  assert.throws(() => forwardReturns(frame, { horizons: [0] }), RangeError);
  assert.throws(() => forwardReturns(frame, { horizons: ["5 minutes"] }), RangeError);
  assert.throws(() => forwardReturns(frame, { horizons: [10, "10us"] }), /duplicates/);
  const unsorted = pl.DataFrame([
    pl.Series("sym", ["a", "b", "a"]),
    pl.Series("price", [1, 2, 3]),
    pl.Series("ts", [5, 0, 4]),
  ]);
  assert.throws(() => forwardReturns(unsorted, { horizons: [10] }), /out of time order at row 1/);
  assert.throws(
    () => forwardReturns(unsorted, { horizons: [10], by: "sym" }),
    /out of time order at row 2 \(within sym\)/,
  );
  const nan = pl.DataFrame([pl.Series("price", [1, NaN, 2]), pl.Series("ts", [0, 1, 2])]);
  assertClose(column(forwardReturns(nan, { horizons: [1] }), "fwd_1us"), [NaN, NaN, null], "NaN");
});

Deno.test("forwardTradeReturns: ln(p_{i+k} / p_i), null on the last k rows", () => {
  const t = randomTrades(50, 3);
  const out = forwardTradeReturns(tradeFrame(t), { horizons: [1, 7] });
  for (const k of [1, 7]) {
    const expected = t.price.map((p, i) =>
      i + k < t.price.length ? Math.log(t.price[i + k] / p) : null
    );
    assertClose(column(out, `fwd_${k}t`), expected, `k=${k}`);
  }
  assert.throws(() => forwardTradeReturns(tradeFrame(t), { horizons: [1.5] }), RangeError);
  const one = forwardTradeReturns(tradeFrame(t).head(1), { horizons: [1] });
  assert.deepEqual(column(one, "fwd_1t"), [null]);
});

Deno.test("timeBars: signed volume and realized variance in the bar pass equal the functions", () => {
  const t = randomTrades(700, 19);
  const frame = tradeFrame(t);
  const fused = timeBars(frame, { every: "1m", signedVolume: true, realizedVariance: true });
  const separate = timeBars(signedVolume(frame), { every: "1m", sums: ["signed_volume"] });
  assert.deepEqual(column(fused, "ts"), column(separate, "ts"));
  assertClose(column(fused, "signed_volume"), column(separate, "signed_volume"), "signed volume");
  // By a loop: bar sums of sign * size, unsigned trades skipped.
  const signs = column(signedVolume(frame), "sign");
  const sums = new Map<number, number>();
  t.ts.forEach((ts, i) => {
    const b = Math.floor(ts / MIN) * MIN;
    sums.set(b, (sums.get(b) ?? 0) + (signs[i] === null ? 0 : signs[i]! * t.size[i]));
  });
  assertClose(
    column(fused, "signed_volume"),
    (column(fused, "ts") as number[]).map((b) => sums.get(b)!),
    "loop",
  );
  const rv = realizedVariance(frame, { every: "1m" });
  assertClose(column(fused, "realized_variance"), column(rv, "realized_variance"), "rv");
  const never = timeBars(frame, { every: "1m", signedVolume: { tickRule: "never" } });
  const neverSep = timeBars(signedVolume(frame, { tickRule: "never" }), {
    every: "1m",
    sums: ["signed_volume"],
  });
  assertClose(column(never, "signed_volume"), column(neverSep, "signed_volume"), "never");
  // A lazy source gives the same bars, checks included.
  const lazy = timeBars(frame.lazy(), { every: "1m", signedVolume: true, realizedVariance: true });
  assert.deepEqual(lazy.columns, fused.columns);
  for (const c of fused.columns) assertClose(column(lazy, c), column(fused, c), `lazy ${c}`);
  const lazyOdd = tradeFrame({ ...t, side: t.side.map((s, i) => (i === 5 ? "BUY" : s)) }).lazy();
  assert.throws(
    () => timeBars(lazyOdd, { every: 1, signedVolume: true }),
    /"side" holds "BUY" at row 5/,
  );
  const swapped = tradeFrame({ ...t, ts: t.ts.map((v, i) => (i === 7 ? t.ts[9] + 1 : v)) });
  assert.throws(() => timeBars(swapped.lazy(), { every: 1 }), /out of time order at row 8/);
  assert.throws(() => timeBars(frame.lazy(), { every: 1, price: "p" }), /"p" is missing/);
  const odd = tradeFrame({ price: [1], size: [1], side: ["Buy"], ts: [0] });
  assert.throws(
    () => timeBars(odd, { every: 1, signedVolume: true }),
    /"side" holds "Buy" at row 0/,
  );
  assert.throws(
    () => timeBars(frame, { every: 1, signedVolume: true, sums: ["signed_volume"] }),
    TypeError,
  );
  const zero = tradeFrame({ price: [1, 0], size: [1, 1], side: ["buy", "buy"], ts: [0, 1] });
  assert.throws(() => timeBars(zero, { every: 1, realizedVariance: true }), /must be positive/);
});

Deno.test("timeBars: one series' typed-array pass equals the grouped Polars pass, across slices", () => {
  // 300,000 trades cross the pass's slices of 262,144 rows; `by` takes the Polars pass.
  const t = randomTrades(300_000, 23);
  const other = randomTrades(1_000, 29);
  // A NaN price and a null size in the series (after the slice boundary).
  t.price[270_000] = Number.NaN;
  const a = tradeFrame(t).withColumns(
    pl.lit("a").alias("sym"),
    pl.Series("size", t.size.map((v, i) => (i === 280_000 ? null : v)), pl.Float64),
    pl.col("size").mul(2).alias("extra"),
  );
  const b = tradeFrame(other).withColumns(pl.lit("b").alias("sym"), pl.col("size").alias("extra"));
  const both = pl.concat([a, b.select(...a.columns)]).sort("ts", false, true);
  const options = { every: "1m", signedVolume: true, realizedVariance: true, sums: ["extra"] };
  const single = timeBars(a.drop("sym"), options);
  const grouped = timeBars(both, { ...options, by: "sym" }).filter(pl.col("sym").eq(pl.lit("a")));
  assert.deepEqual(grouped.drop("sym").columns, single.columns);
  assert.ok(single.height > 1_000);
  // Sums with cancellation differ in the last bits between summation orders: the signed
  // volume is compared on the scale of the bar's volume.
  const volume = column(single, "volume") as number[];
  const onScale = (x: (number | null)[], y: (number | null)[], what: string) =>
    x.forEach((v, i) =>
      assert.ok(
        Number.isNaN(v) && Number.isNaN(y[i]) ||
          Math.abs(v! - y[i]!) <= 1e-12 * ((Number.isNaN(volume[i]) ? 0 : volume[i]) + 1),
        `${what}[${i}]: ${v} vs ${y[i]}`,
      )
    );
  for (const c of single.columns) {
    if (c === "signed_volume") onScale(column(single, c), column(grouped, c), c);
    else assertClose(column(single, c), column(grouped, c), `typed-array vs Polars ${c}`);
  }
  const never = { every: "5m", signedVolume: { tickRule: "never" as const } };
  const always = { every: "5m", signedVolume: { tickRule: "always" as const } };
  for (const o of [never, always]) {
    const x = timeBars(a.drop("sym"), o);
    const y = timeBars(both, { ...o, by: "sym" }).filter(pl.col("sym").eq(pl.lit("a")));
    onScale(column(x, "signed_volume"), column(y, "signed_volume"), o.signedVolume.tickRule);
  }
});

Deno.test("timeBars: OHLCV and VWAP per minute against a loop over the trades", () => {
  const t = randomTrades(500, 11);
  const bars = timeBars(tradeFrame(t), { every: "1m" });
  const expected = new Map<
    number,
    { o: number; h: number; l: number; c: number; v: number; pv: number; n: number }
  >();
  for (let i = 0; i < t.ts.length; i++) {
    const b = Math.floor(t.ts[i] / MIN) * MIN;
    const e = expected.get(b);
    const p = t.price[i];
    if (!e) expected.set(b, { o: p, h: p, l: p, c: p, v: t.size[i], pv: p * t.size[i], n: 1 });
    else {
      e.h = Math.max(e.h, p);
      e.l = Math.min(e.l, p);
      e.c = p;
      e.v += t.size[i];
      e.pv += p * t.size[i];
      e.n++;
    }
  }
  const keys = [...expected.keys()].sort((a, b) => a - b);
  assert.deepEqual(column(bars, "ts"), keys);
  assert.equal(bars.schema.ts.variant, "Datetime");
  const get = (
    f: (
      e: { o: number; h: number; l: number; c: number; v: number; pv: number; n: number },
    ) => number,
  ) => keys.map((k) => f(expected.get(k)!));
  assertClose(column(bars, "open"), get((e) => e.o), "open");
  assertClose(column(bars, "high"), get((e) => e.h), "high");
  assertClose(column(bars, "low"), get((e) => e.l), "low");
  assertClose(column(bars, "close"), get((e) => e.c), "close");
  assertClose(column(bars, "volume"), get((e) => e.v), "volume");
  assertClose(column(bars, "vwap"), get((e) => e.pv / e.v), "vwap");
  assert.deepEqual(column(bars, "trades"), get((e) => e.n));
  // Integer-microsecond time stays integer.
  const ints = timeBars(tradeFrame(t).withColumns(pl.col("ts").cast(pl.Int64)), { every: MIN });
  assert.equal(ints.schema.ts.variant, "Int64");
  assert.deepEqual(column(ints, "ts"), keys);
  assert.equal(timeBars(tradeFrame(t).head(0), { every: "1m" }).height, 0);
  // NaN prices make the bar's price values NaN; the other bars are untouched.
  const nan = tradeFrame({ ...t, price: t.price.map((p, i) => (i === 3 ? NaN : p)) });
  const nanBars = timeBars(nan, { every: "1m" });
  const k = keys.indexOf(Math.floor(t.ts[3] / MIN) * MIN);
  for (const c of ["high", "low", "vwap"]) assert.ok(Number.isNaN(column(nanBars, c)[k]!), c);
  assert.deepEqual(column(nanBars, "close").slice(k + 1), column(bars, "close").slice(k + 1));
  assert.throws(() => timeBars(tradeFrame(t), { every: 0 }), RangeError);
  const swapped = tradeFrame({ ...t, ts: t.ts.map((v, i) => (i === 7 ? t.ts[9] + 1 : v)) });
  assert.throws(() => timeBars(swapped, { every: "1m" }), /"ts" is out of time order at row 8/);
  const gap = pl.DataFrame([
    pl.Series("price", [1, 2]),
    pl.Series("size", [1, 1]),
    pl.Series("ts", [1, null]),
  ]);
  assert.throws(
    () => timeBars(gap, { every: 10, realizedVariance: true }),
    /missing time at row 1/,
  );
});
