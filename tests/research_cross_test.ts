import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import pl from "nodejs-polars";
import {
  asofAlign,
  icDecay,
  informationCoefficient,
  leadLag,
  markouts,
  quantileReturns,
} from "../lib/research/mod.ts";
import { SeededRandom } from "../lib/simulator/random.ts";
import { assertClose, column, randomTrades, timeSeries, tradeFrame } from "./research_fixtures.ts";

const SEC = 1_000_000;

/** Value of the last row with time <= t, or null. */
function asof(ts: number[], values: number[], t: number): number | null {
  let out: number | null = null;
  for (let j = 0; j < ts.length && ts[j] <= t; j++) out = values[j];
  return out;
}

Deno.test("markouts: against trades and against a quote mid, by a loop", () => {
  const t = randomTrades(300, 17);
  const trades = tradeFrame(t);
  const last = t.ts[t.ts.length - 1];
  const out = markouts(trades, { horizons: ["30s", 5 * SEC] });
  const sign = t.side.map((s) => (s === "buy" ? 1 : s === "sell" ? -1 : null));
  for (const [name, h] of [["markout_30s", 30 * SEC], ["markout_5s", 5 * SEC]] as const) {
    const expected = t.ts.map((ti, i) =>
      sign[i] === null || ti + h > last
        ? null
        : sign[i]! * (asof(t.ts, t.price, ti + h)! - t.price[i])
    );
    assert.ok(expected.filter((v) => v !== null).length > 100);
    assertClose(column(out, name), expected, name);
  }
  // Against quotes: mid = (bid + ask) / 2, in basis points, quotes starting after some trades.
  const r = new SeededRandom(3);
  const qts: number[] = [];
  const mid: number[] = [];
  for (let q = t.ts[10]; q < last - 60 * SEC; q += r.int(1, 7) * SEC) {
    qts.push(q);
    mid.push(100 + r.int(-50, 50) / 100);
  }
  const quotes = pl.DataFrame([
    timeSeries("ts", qts),
    pl.Series("bid_price", mid.map((m) => m - 0.005)),
    pl.Series("ask_price", mid.map((m) => m + 0.005)),
  ]).withColumns(pl.col("bid_price").add(pl.col("ask_price")).div(2).alias("mid"));
  const vsMid = markouts(trades, {
    horizons: ["10s"],
    reference: quotes,
    referencePrice: "mid",
    bps: true,
  });
  const lastQ = qts[qts.length - 1];
  const expected = t.ts.map((ti, i) => {
    const m = asof(qts, mid, ti + 10 * SEC);
    if (sign[i] === null || ti + 10 * SEC > lastQ || m === null) return null;
    return sign[i]! * (m - t.price[i]) / t.price[i] * 1e4;
  });
  assert.equal(expected[0], null);
  assertClose(column(vsMid, "markout_10s"), expected, "mid bps", 1e-8);
  // Sign column instead of side; edge cases.
  const signed = trades.withColumns(pl.Series("s", sign.map((s) => s ?? 1), pl.Float64));
  assert.ok(
    markouts(signed, { horizons: [SEC], sign: "s" }).getColumn("markout_1s").nullCount() < 300,
  );
  const bad = trades.withColumns(pl.lit(2).alias("s"));
  assert.throws(() => markouts(bad, { horizons: [SEC], sign: "s" }), /must be \+1 or -1/);
  assert.equal(markouts(trades.head(0), { horizons: [SEC] }).height, 0);
  assert.deepEqual(column(markouts(trades.head(1), { horizons: [SEC] }), "markout_1s"), [null]);
  const empty = markouts(trades, {
    horizons: [SEC],
    reference: quotes.head(0),
    referencePrice: "mid",
  });
  assert.equal(empty.getColumn("markout_1s").nullCount(), 300);
  assert.throws(
    () => markouts(trades, { horizons: [SEC], reference: quotes.reverse(), referencePrice: "mid" }),
    /out of time order/,
  );
});

Deno.test("asofAlign: two venues on a 1 s grid, on one venue's clock, with a tolerance", () => {
  const a = pl.DataFrame([
    timeSeries("ts", [0.5 * SEC, 1 * SEC, 2.2 * SEC, 2.2 * SEC]),
    pl.Series("price", [10, 11, 12, 13]),
  ]);
  const b = pl.DataFrame([
    timeSeries("ts", [1.5 * SEC, 4.1 * SEC]),
    pl.Series("price", [20, 21]),
    pl.Series("size", [1, 2]),
  ]);
  const grid = asofAlign({ a, b }, { clock: "1s" });
  assert.deepEqual(grid.columns, ["ts", "a_price", "b_price", "b_size"]);
  assert.deepEqual(column(grid, "ts"), [0, 1, 2, 3, 4].map((s) => s * SEC));
  assert.deepEqual(column(grid, "a_price"), [null, 11, 11, 13, 13]);
  assert.deepEqual(column(grid, "b_price"), [null, null, 20, 20, 20]);
  const onA = asofAlign({ a, b }, { clock: "a", columns: { a: ["price"], b: ["price"] } });
  assert.deepEqual(column(onA, "ts"), [0.5, 1, 2.2, 2.2].map((s) => s * SEC));
  assert.deepEqual(column(onA, "b_price"), [null, null, 20, 20]);
  const fresh = asofAlign({ a, b }, { clock: "1s", tolerance: "1s", columns: ["price"] });
  assert.deepEqual(column(fresh, "b_price"), [null, null, 20, null, null]);
  assert.deepEqual(column(fresh, "a_price"), [null, 11, 11, 13, null]);
  const series = asofAlign({ b }, { clock: pl.Series("t", [0, 2 * SEC, 5 * SEC]) });
  assert.deepEqual(column(series, "b_size"), [null, 1, 2]);
  assert.equal(asofAlign({ a: a.head(0) }, { clock: "1s" }).height, 0);
  assert.throws(() => asofAlign({}, { clock: "1s" }), TypeError);
  assert.throws(() => asofAlign({ a }, { clock: "soon" }), RangeError);
  assert.throws(
    () => asofAlign({ a, b: b.reverse() }, { clock: "1s" }),
    /source "b".*out of time order/,
  );
  assert.throws(() => asofAlign({ a }, { clock: "1s", columns: ["size"] }), /"size" is missing/);
});

Deno.test("leadLag: recovers a planted delay, correlations against a loop", () => {
  const r = new SeededRandom(5);
  const n = 500;
  const delay = 3;
  const x = Array.from({ length: n }, () => r.normal());
  const y = x.map((_, i) => (i >= delay ? x[i - delay] : 0) + 0.5 * r.normal());
  const frame = pl.DataFrame([pl.Series("x", x), pl.Series("y", y)]);
  const out = leadLag(frame, { x: "x", y: "y", maxLag: 5 });
  assert.equal(out.lag, delay);
  const corr = (a: number[], b: number[]) => {
    const ma = a.reduce((s, v) => s + v, 0) / a.length;
    const mb = b.reduce((s, v) => s + v, 0) / b.length;
    let sab = 0, saa = 0, sbb = 0;
    for (let i = 0; i < a.length; i++) {
      sab += (a[i] - ma) * (b[i] - mb);
      saa += (a[i] - ma) ** 2;
      sbb += (b[i] - mb) ** 2;
    }
    return sab / Math.sqrt(saa * sbb);
  };
  const expected = [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5].map((k) => {
    const xs: number[] = [], ys: number[] = [];
    for (let i = 0; i < n; i++) if (i + k >= 0 && i + k < n) xs.push(x[i]), ys.push(y[i + k]);
    return corr(xs, ys);
  });
  assertClose(column(out.table, "correlation"), expected, "corr", 1e-9);
  assert.equal(out.correlation, column(out.table, "correlation")[8]);
  // Reversed roles give the negative lag.
  assert.equal(leadLag(frame, { x: "y", y: "x", lags: [-4, -3, 0, 3] }).lag, -3);
  // Nulls (before a venue's first value) are left out pairwise; NaN is never picked.
  const gaps = frame.withColumns(
    pl.when(pl.col("x").gt(2)).then(pl.lit(null)).otherwise(pl.col("x")).alias("x"),
  );
  assert.equal(leadLag(gaps, { x: "x", y: "y", maxLag: 5 }).lag, delay);
  const nan = pl.DataFrame([pl.Series("x", [1, NaN, 3, 4]), pl.Series("y", [1, 2, 3, 5])]);
  const none = leadLag(nan, { x: "x", y: "y", lags: [0] });
  assert.equal(none.lag, null);
  assert.ok(Number.isNaN(column(none.table, "correlation")[0]!));
  const tiny = leadLag(frame.head(2), { x: "x", y: "y", lags: [0, 1] });
  assert.deepEqual(column(tiny.table, "correlation"), [null, null]);
  assert.equal(tiny.lag, null);
  assert.throws(() => leadLag(frame, { x: "x", y: "y", lags: [0.5] }), RangeError);
  assert.throws(() => leadLag(frame, { x: "x", y: "z" }), TypeError);
});

async function duckRows(sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(":memory:");
  const con = await db.connect();
  try {
    const reader = await con.runAndReadAll(sql);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

/** A cross-section: 40 times x 25 instruments, a noisy factor, returns, some ties and gaps. */
function crossSection() {
  const r = new SeededRandom(8);
  const rows: { t: number; f: number | null; r1: number | null; r5: number | null }[] = [];
  for (let t = 0; t < 40; t++) {
    for (let i = 0; i < 25; i++) {
      const f = Math.round(r.normal() * 4) / 4; // ties
      rows.push({
        t,
        f: r.next() < 0.03 ? null : f,
        r1: r.next() < 0.03 ? null : 0.3 * f + r.normal(),
        r5: t > 35 ? null : 0.05 * f + r.normal(),
      });
    }
  }
  return rows;
}

Deno.test("informationCoefficient and icDecay: Spearman IC against DuckDB", async () => {
  const rows = crossSection();
  const frame = pl.DataFrame([
    pl.Series("t", rows.map((x) => x.t), pl.Int64),
    pl.Series("f", rows.map((x) => x.f), pl.Float64),
    pl.Series("r1", rows.map((x) => x.r1), pl.Float64),
    pl.Series("r5", rows.map((x) => x.r5), pl.Float64),
  ]);
  const values = rows.map((x) => `(${x.t}, ${x.f ?? "NULL"}, ${x.r1 ?? "NULL"}, ${x.r5 ?? "NULL"})`)
    .join(",");
  const icSql = (col: string, by: boolean) => `
    WITH d AS (SELECT * FROM (VALUES ${values}) v(t, f, r1, r5)),
    p AS (SELECT t, f, ${col} AS r FROM d WHERE f IS NOT NULL AND ${col} IS NOT NULL),
    k AS (SELECT t, rank() OVER w1 + (count(*) OVER w1e - 1) / 2.0 AS rf,
                    rank() OVER w2 + (count(*) OVER w2e - 1) / 2.0 AS rr
          FROM p WINDOW w1 AS (${by ? "PARTITION BY t" : ""} ORDER BY f),
                        w1e AS (PARTITION BY ${by ? "t," : ""} f),
                        w2 AS (${by ? "PARTITION BY t" : ""} ORDER BY r),
                        w2e AS (PARTITION BY ${by ? "t," : ""} r))
    SELECT ${by ? "t," : ""} corr(rf, rr) AS ic, count(*) AS n FROM k ${
    by ? "GROUP BY t ORDER BY t" : ""
  }`;
  const pooled = informationCoefficient(frame, { factor: "f", returns: ["r1", "r5"] });
  assert.deepEqual(pooled.getColumn("return").toArray(), ["r1", "r5"]);
  for (const [i, col] of ["r1", "r5"].entries()) {
    const [duck] = await duckRows(icSql(col, false));
    assertClose([column(pooled, "ic")[i]], [duck.ic as number], `pooled ${col}`, 1e-9);
    assert.equal(column(pooled, "n")[i], Number(duck.n));
  }
  const perTime = informationCoefficient(frame, { factor: "f", returns: "r1", by: "t" });
  const duck = await duckRows(icSql("r1", true));
  assert.deepEqual(column(perTime, "t"), duck.map((d) => Number(d.t)));
  assertClose(column(perTime, "ic"), duck.map((d) => d.ic as number), "per time", 1e-9);
  const decay = icDecay(frame, { factor: "f", returns: ["r1", "r5"], by: "t" });
  const ics = column(perTime, "ic") as number[];
  const mean = ics.reduce((a, b) => a + b, 0) / ics.length;
  const std = Math.sqrt(ics.reduce((a, b) => a + (b - mean) ** 2, 0) / (ics.length - 1));
  assertClose(
    [column(decay, "ic_mean")[0], column(decay, "ic_std")[0], column(decay, "ic_ir")[0]],
    [mean, std, mean / std],
    "decay",
  );
  assert.deepEqual(column(decay, "groups"), [40, 36]);
  assert.ok(column(decay, "ic_mean")[0]! > column(decay, "ic_mean")[1]!, "IC decays");
  // Edge cases: empty, single row, NaN rows left out, constant factor.
  assert.deepEqual(
    column(informationCoefficient(frame.head(0), { factor: "f", returns: "r1" }), "ic"),
    [null],
  );
  assert.deepEqual(
    column(informationCoefficient(frame.head(1), { factor: "f", returns: "r1" }), "n"),
    [1],
  );
  const nan = pl.DataFrame([pl.Series("f", [1, 2, 3, NaN, 5]), pl.Series("r", [1, 2, 3, 4, NaN])]);
  const nanIc = informationCoefficient(nan, { factor: "f", returns: "r" });
  assert.deepEqual(column(nanIc, "n"), [3]);
  assertClose(column(nanIc, "ic"), [1], "NaN rows left out");
  const flat = pl.DataFrame([pl.Series("f", [1, 1, 1, 1]), pl.Series("r", [1, 2, 3, 4])]);
  assert.deepEqual(column(informationCoefficient(flat, { factor: "f", returns: "r" }), "ic"), [
    null,
  ]);
  assert.throws(() => informationCoefficient(frame, { factor: "f", returns: [] }), RangeError);
  assert.throws(() => informationCoefficient(frame, { factor: "g", returns: "r1" }), TypeError);
});

Deno.test("quantileReturns: buckets by min rank, means by hand and against DuckDB", async () => {
  // Factors 1..6 and a tie: ranks (min) 1,2,3,3,5,6 -> with Q = 3, m = 6:
  // q = floor(3 (rank - 1) / 6) + 1 = 1,1,2,2,3,3.
  const hand = pl.DataFrame([
    pl.Series("f", [5, 1, 3, 3, 2, 6, NaN]),
    pl.Series("r", [0.5, 0.1, 0.3, NaN, 0.2, 0.6, 9]),
  ]);
  const out = quantileReturns(hand, { factor: "f", returns: "r", quantiles: 3 });
  assert.deepEqual(column(out, "quantile"), [1, 2, 3]);
  assert.deepEqual(column(out, "n"), [2, 2, 2]);
  assertClose(column(out, "r"), [0.15, 0.3, 0.55], "means");
  assert.deepEqual(column(out, "r_n"), [2, 1, 2]);

  const rows = crossSection();
  const frame = pl.DataFrame([
    pl.Series("t", rows.map((x) => x.t), pl.Int64),
    pl.Series("f", rows.map((x) => x.f), pl.Float64),
    pl.Series("r1", rows.map((x) => x.r1), pl.Float64),
  ]);
  const values = rows.map((x) => `(${x.t}, ${x.f ?? "NULL"}, ${x.r1 ?? "NULL"})`).join(",");
  const duck = await duckRows(`
    WITH d AS (SELECT * FROM (VALUES ${values}) v(t, f, r1) WHERE f IS NOT NULL),
    q AS (SELECT *, floor(5 * (rank() OVER (PARTITION BY t ORDER BY f) - 1)
                     / count(*) OVER (PARTITION BY t)) + 1 AS q FROM d)
    SELECT q, count(*) AS n, avg(r1) AS r1, count(r1) AS r1_n FROM q GROUP BY q ORDER BY q`);
  const ours = quantileReturns(frame, { factor: "f", returns: ["r1"], by: "t" });
  assert.deepEqual(column(ours, "quantile"), duck.map((d) => Number(d.q)));
  assert.deepEqual(column(ours, "n"), duck.map((d) => Number(d.n)));
  assertClose(column(ours, "r1"), duck.map((d) => d.r1 as number), "vs duckdb", 1e-9);
  assert.ok(column(ours, "r1")[4]! > column(ours, "r1")[0]!, "top quantile earns more");
  assert.equal(quantileReturns(frame.head(0), { factor: "f", returns: "r1" }).height, 0);
  assert.deepEqual(
    column(quantileReturns(frame.head(1), { factor: "f", returns: "r1" }), "quantile"),
    [1],
  );
  assert.throws(
    () => quantileReturns(frame, { factor: "f", returns: "r1", quantiles: 1 }),
    RangeError,
  );
});
