/**
 * Executes notebooks/02-microstructure.ipynb headless with the Deno kernel on the real
 * recorded Binance, Coinbase and Kraken sessions replayed into a temporary lake, and checks
 * the numbers it shows against an independent computation from the raw Binance capture: the
 * book rebuilt by a naive reference (`support/microstructure_reference.ts`), the trades read
 * straight from the capture's JSON, regressions and autocorrelation written out here.
 *
 * Needs `jupyter nbconvert` and the Deno kernel (scripts/install_deps.sh).
 */
import assert from "node:assert/strict";
import { cellErrors, executeNotebook, outputsOfType, visibleText } from "./support/jupyter.ts";
import { readHftbacktestFrames } from "./support/recorded.ts";
import { binanceSeconds } from "./support/microstructure_reference.ts";
import { replaySessions } from "./support/replay_sessions.ts";

const NOTEBOOK = new URL("../notebooks/02-microstructure.ipynb", import.meta.url).pathname;

const mean = (a: readonly number[]) => a.reduce((x, y) => x + y, 0) / a.length;

/** Ordinary least squares of y on x over the pairs where both are finite. */
function ols(xs: readonly number[], ys: readonly number[]) {
  const pairs = xs.map((x, i) => [x, ys[i]]).filter(([x, y]) =>
    Number.isFinite(x) && Number.isFinite(y)
  );
  const mx = mean(pairs.map((p) => p[0]));
  const my = mean(pairs.map((p) => p[1]));
  let sxy = 0, sxx = 0, syy = 0;
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  return { n: pairs.length, slope: sxy / sxx, r2: (sxy * sxy) / (sxx * syy) };
}

/** Binance trades from the raw capture, in (trade time, id) order, signed by the taker. */
async function binanceTrades() {
  const trades: { t: number; id: number; price: number; size: number; sign: number }[] = [];
  for (const frame of await readHftbacktestFrames("binance-spot-btcusdt-20240808.gz")) {
    const m = JSON.parse(frame.text);
    if (!String(m.stream).endsWith("@trade")) continue;
    const d = m.data;
    // `m`: the buyer is the maker, so the taker sold.
    trades.push({ t: d.T, id: d.t, price: Number(d.p), size: Number(d.q), sign: d.m ? -1 : 1 });
  }
  return trades.sort((a, b) => a.t - b.t || a.id - b.id);
}

/** The figures the notebook shows, computed from the capture alone. */
async function reference() {
  const seconds = await binanceSeconds();
  const known = seconds.filter((s) => Number.isFinite(s.bid) && Number.isFinite(s.ask));
  const mid = seconds.map((s) => (s.bid + s.ask) / 2);
  const ofi = seconds.map((s) => s.ofi);
  const trades = await binanceTrades();
  const signs = trades.map((t) => t.sign);
  const m = mean(signs);
  const den = signs.reduce((a, s) => a + (s - m) ** 2, 0);
  let lag1 = 0;
  for (let i = 0; i + 1 < signs.length; i++) lag1 += (signs[i] - m) * (signs[i + 1] - m);
  const kyle = ols(
    trades.slice(1).map((t) => t.sign * t.size),
    trades.slice(1).map((t, i) => t.price - trades[i].price),
  );
  return {
    seconds: known.length,
    spread: mean(known.map((s) => s.ask - s.bid)),
    microGap: mean(known.map((s) => {
      const micro = (s.bid * s.askSize + s.ask * s.bidSize) / (s.bidSize + s.askSize);
      return Math.abs(micro - (s.bid + s.ask) / 2);
    })),
    imbalance1: mean(known.map((s) => (s.bidSize - s.askSize) / (s.bidSize + s.askSize))),
    same: ols(ofi.slice(1), mid.slice(1).map((x, i) => x - mid[i])),
    next: ols(ofi.slice(0, -1), mid.slice(1).map((x, i) => x - mid[i])),
    trades: trades.length,
    buys: signs.filter((s) => s === 1).length,
    lag1: lag1 / den,
    kyle,
  };
}

function numberAfter(text: string, label: string): number {
  const m = new RegExp(`${label.replace(/[|^()]/g, "\\$&")} (-?[0-9.]+(?:e[-+][0-9]+)?)`).exec(
    text,
  );
  assert.ok(m, `no "${label} <number>" in:\n${text}`);
  return Number(m[1]);
}

/** `got` as shown with `decimals` decimals equals `want` rounded the same way (within a unit). */
function shown(got: number, want: number, decimals: number, what: string): void {
  assert.ok(Math.abs(got - want) <= 0.5 * 10 ** -decimals + 1e-12, `${what}: ${got} vs ${want}`);
}

/** `got` as shown with 5 significant digits (`toExponential(4)`). */
function shownSignificant(got: number, want: number, what: string): void {
  assert.ok(Math.abs(got - want) <= 5e-5 * Math.abs(want), `${what}: ${got} vs ${want}`);
}

Deno.test("microstructure notebook on the recorded Binance, Coinbase and Kraken sessions", async () => {
  const lake = await Deno.makeTempDir({ prefix: "alphapulse-nb02-" });
  try {
    const replayed = await replaySessions(lake);
    const want = await reference();
    assert.equal(replayed[0], want.trades, "the replay read every Binance trade");

    const notebook = await executeNotebook(NOTEBOOK, {
      env: { ALPHAPULSE_LAKE: lake },
      timeoutMs: 300_000,
      complete: (nb) => /books rebuilt/.test(visibleText(nb)),
    });
    const errors = cellErrors(notebook).map(({ cell, output }) =>
      `cell ${cell}: ${output.ename}: ${output.evalue}`
    );
    assert.deepEqual(errors, []);
    const text = visibleText(notebook);

    assert.match(text, new RegExp(`Binance BTC-USDT: ${want.seconds} one-second samples`));
    shown(numberAfter(text, "mean spread"), want.spread, 4, "mean spread");
    shown(numberAfter(text, "mean |microprice - mid|"), want.microGap, 4, "microprice gap");
    shown(numberAfter(text, "mean imbalance level 1"), want.imbalance1, 4, "imbalance");

    const regression = (label: string) => {
      const m = new RegExp(`${label}: slope (\\S+), R\\^2 (\\S+) \\(n (\\d+)\\)`).exec(text);
      assert.ok(m, `no ${label} regression in:\n${text}`);
      return { slope: Number(m[1]), r2: Number(m[2]), n: Number(m[3]) };
    };
    for (const [label, ref] of [["same-second", want.same], ["next-second", want.next]] as const) {
      const got = regression(`OFI -> ${label} mid change`);
      assert.equal(got.n, ref.n, `${label} pairs`);
      shownSignificant(got.slope, ref.slope, `${label} slope`);
      shown(got.r2, ref.r2, 4, `${label} R^2`);
    }
    // The flow explains a good part of the same second's move and little of the next one's.
    assert.ok(want.same.r2 > 0.1 && want.next.r2 < want.same.r2 / 4);

    assert.match(text, new RegExp(`${want.trades} trades \\(${want.buys} buyer-initiated\\)`));
    shown(numberAfter(text, "trade-sign autocorrelation at lag 1"), want.lag1, 4, "lag-1 ACF");
    shownSignificant(numberAfter(text, "Kyle's lambda"), want.kyle.slope, "Kyle's lambda");
    const kyle = /USDT per BTC \(R\^2 ([0-9.]+), n (\d+)\)/.exec(text);
    assert.ok(kyle, text);
    shown(Number(kyle[1]), want.kyle.r2, 4, "Kyle R^2");
    assert.equal(Number(kyle[2]), want.kyle.n);

    // One book per snapshotted instrument: 1 Binance, 10 Coinbase, 10 Kraken (data README).
    assert.match(text, /21 books rebuilt on 3 venues/);
    const charts = outputsOfType(notebook, "text/html").filter((h) =>
      h.includes("alphapulse-chart")
    );
    assert.equal(charts.length, 2, "mid/microprice and depth charts");
  } finally {
    await Deno.remove(lake, { recursive: true });
  }
});
