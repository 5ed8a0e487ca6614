/**
 * Executes notebooks/04-equities.ipynb headless with the Deno kernel on SPY daily bars
 * imported from the CSV into a temporary lake, and checks the numbers it shows against the
 * same figures computed independently from the CSV by Python and NumPy.
 *
 * Needs `jupyter nbconvert`, the Deno kernel and python3 with NumPy (scripts/install_deps.sh).
 */
import assert from "node:assert/strict";
import { importFile } from "../lib/importers/mod.ts";
import { cellErrors, executeNotebook, outputsOfType, visibleText } from "./support/jupyter.ts";
import { SHARED_DATA } from "./support/recorded.ts";

const NOTEBOOK = new URL("../notebooks/04-equities.ipynb", import.meta.url).pathname;
const SPY = new URL("spy-daily-1999-2020.csv", SHARED_DATA).pathname;

/** The figures the notebook shows, from the CSV alone: Python's csv module and NumPy. */
const REFERENCE = `
import csv, json, sys
import numpy as np
rows = list(csv.reader(open(sys.argv[1])))[1:]
dates = [r[1] for r in rows]
close = np.array([float(r[5]) for r in rows])
lr = np.diff(np.log(close))
vol = np.array([lr[i - 20:i + 1].std(ddof=1) for i in range(20, len(lr))]) * np.sqrt(252)
peak = int(vol.argmax())
dd = close / np.maximum.accumulate(close) - 1
trough = int(dd.argmin())
top = int(close[:trough + 1].argmax())
back = next(i for i in range(trough, len(close)) if close[i] >= close[top])
print(json.dumps({
  "bars": len(rows), "total": close[-1] / close[0] - 1,
  "vol": lr.std(ddof=1) * np.sqrt(252), "worst": lr.min(), "best": lr.max(),
  "peak_vol": vol[peak], "peak_day": dates[peak + 21],
  "calm": int((vol < 0.15).sum()), "normal": int(((vol >= 0.15) & (vol < 0.30)).sum()),
  "stressed": int((vol >= 0.30).sum()),
  "mdd": dd[trough], "trough": dates[trough], "top": dates[top], "recovered": dates[back],
}))
`;

function percentAfter(text: string, label: string): number {
  const m = new RegExp(`${label} (-?[0-9.]+)%`).exec(text);
  assert.ok(m, `no "${label} N%" in:\n${text}`);
  return Number(m[1]) / 100;
}

Deno.test("equities notebook on SPY daily imported from CSV", async () => {
  const lake = await Deno.makeTempDir({ prefix: "alphapulse-nb04-" });
  try {
    await importFile({ root: lake, file: SPY, table: "bars", exchange: "nyse", symbol: "SPY" });
    const py = await new Deno.Command("python3", { args: ["-c", REFERENCE, SPY] }).output();
    assert.equal(py.code, 0, new TextDecoder().decode(py.stderr));
    const want = JSON.parse(new TextDecoder().decode(py.stdout));

    const notebook = await executeNotebook(NOTEBOOK, {
      env: { ALPHAPULSE_LAKE: lake },
      timeoutMs: 240_000,
      complete: (nb) => /recovered/.test(visibleText(nb)),
    });
    const errors = cellErrors(notebook).map(({ cell, output }) =>
      `cell ${cell}: ${output.ename}: ${output.evalue}`
    );
    assert.deepEqual(errors, []);
    const text = visibleText(notebook);
    assert.match(text, new RegExp(`SPY\\*\\*: ${want.bars} daily bars, 1999-11-01 .. 2020-08-28`));
    // Shown with two decimals of a percent: within half a unit of the last digit.
    const near = (got: number, expected: number, what: string) =>
      assert.ok(Math.abs(got - expected) <= 0.00005 + 1e-12, `${what}: ${got} vs ${expected}`);
    near(percentAfter(text, "total return"), want.total, "total return");
    near(percentAfter(text, "annualised volatility"), want.vol, "annualised volatility");
    near(percentAfter(text, "worst day"), want.worst, "worst day");
    near(percentAfter(text, "best day"), want.best, "best day");
    near(percentAfter(text, "peak 21-day volatility"), want.peak_vol, "peak volatility");
    assert.match(text, new RegExp(`peak 21-day volatility [0-9.]+% on ${want.peak_day}`));
    assert.match(
      text,
      new RegExp(`calm ${want.calm}, normal ${want.normal}, stressed ${want.stressed}`),
    );
    near(percentAfter(text, "max drawdown"), want.mdd, "max drawdown");
    assert.match(
      text,
      new RegExp(`peak ${want.top}, trough ${want.trough}, recovered ${want.recovered}`),
    );
    const charts = outputsOfType(notebook, "text/html").filter((h) =>
      h.includes("alphapulse-chart")
    );
    assert.equal(charts.length, 3, "candles, rolling volatility, drawdown");
  } finally {
    await Deno.remove(lake, { recursive: true });
  }
});
