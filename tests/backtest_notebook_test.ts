/**
 * Executes notebooks/backtest.ipynb headless with the Deno kernel on the real recorded data
 * (`../shared/data`): no cell errors, the four market-maker runs, the charts, the report file
 * and the SPY heatmap are there, and the numbers it shows agree with the data.
 *
 * Needs `jupyter nbconvert` and the Deno kernel (scripts/install_deps.sh).
 */
import assert from "node:assert/strict";
import { cellErrors, executeNotebook, outputsOfType, visibleText } from "./support/jupyter.ts";
import { SHARED_DATA } from "./support/recorded.ts";

const NOTEBOOK = new URL("../notebooks/backtest.ipynb", import.meta.url).pathname;
const REPORT = new URL("../data/reports/backtest-binance-market-maker.html", import.meta.url);

Deno.test("backtest notebook on the Binance session and SPY daily", async () => {
  await Deno.remove(REPORT).catch(() => {});
  const notebook = await executeNotebook(NOTEBOOK, { timeoutMs: 240_000 });
  const errors = cellErrors(notebook).map(({ cell, output }) =>
    `cell ${cell}: ${output.ename}: ${output.evalue}`
  );
  assert.deepEqual(errors, []);
  const text = visibleText(notebook);
  // 9,757 trades in the Binance capture (the data README); SPY rows counted here.
  assert.match(text, /trades in the session: 9757/);
  const csv = await Deno.readTextFile(new URL("spy-daily-1999-2020.csv", SHARED_DATA));
  const rows = csv.split("\n").filter((l) => /^\d+,\d{4}-/.test(l)).length;
  assert.match(text, new RegExp(`49 parameter sets x ${rows} bars`));
  // Each of the four runs filled quotes (queue and latency change which and when: the
  // counts are path dependent, not ordered).
  const maker = /maker fills: queue off (\d+), queue on (\d+) \(with latency: (\d+), (\d+)\)/
    .exec(text);
  assert.ok(maker, text);
  for (const n of maker.slice(1)) assert.ok(Number(n) > 0);
  const html = outputsOfType(notebook, "text/html");
  for (const name of ["queue off, no latency", "queue on, latency"]) {
    assert.ok(html.some((h) => h.includes(name)), `no row for ${name}`);
  }
  assert.ok(html.filter((h) => h.includes("LightweightCharts")).length >= 4, "charts");
  assert.ok(html.some((h) => h.includes("bt-heatmap")), "heatmap");
  const report = await Deno.readTextFile(REPORT);
  assert.match(report, /Market maker, queue on, latency/);
});
