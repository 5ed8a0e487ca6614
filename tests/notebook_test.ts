/**
 * Executes notebooks/01-quickstart.ipynb headless with the Deno Jupyter kernel against a lake
 * of synthetic trades, and checks what a researcher would see: no errors, a Polars frame of
 * trades, an inline offline candlestick chart and statistics that match the data.
 *
 * Needs `jupyter nbconvert` and the Deno kernel (scripts/install_deps.sh); without them the
 * test fails.
 */
import assert from "node:assert/strict";
import { ParquetLake } from "../lib/lake/mod.ts";
import type { Trade } from "../lib/market/types.ts";
import {
  cellErrors,
  executeNotebook,
  joinText,
  type Notebook,
  NotebookExecutionError,
  outputsOfType,
  visibleText,
} from "./support/jupyter.ts";

const QUICKSTART = new URL("../notebooks/01-quickstart.ipynb", import.meta.url).pathname;
const TIMEOUT_MS = 240_000;
const EXCHANGE = "synthetic";

/** A small deterministic PRNG (mulberry32), so the synthetic market is the same every run. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface WalkOptions {
  readonly symbol: string;
  readonly seed: number;
  /** First trade time, microseconds. */
  readonly start: number;
  readonly hours: number;
  readonly startPrice: number;
  /** Mean time between trades, milliseconds. */
  readonly meanGapMs: number;
  /** Standard deviation of the log price change per trade. */
  readonly sigma: number;
}

/**
 * SYNTHETIC trades: a seeded geometric random walk with exponential inter-trade gaps and
 * sizes, prices rounded to cents. Not market data; only shaped so 1-minute candles look real.
 */
function syntheticTrades(options: WalkOptions): Trade[] {
  const random = seededRandom(options.seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const end = options.start + options.hours * 3_600_000_000;
  const trades: Trade[] = [];
  let logPrice = Math.log(options.startPrice);
  let ts = options.start;
  let id = 5_000_000;
  while (ts < end) {
    const drift = normal() * options.sigma;
    logPrice += drift;
    const side = random() < 0.5 + (drift > 0 ? 0.15 : -0.15) ? "buy" : "sell";
    trades.push({
      kind: "trade",
      exchange: EXCHANGE,
      symbol: options.symbol,
      ts,
      recvTs: ts + 800 + Math.floor(random() * 400),
      id: String(id++),
      price: Math.round(Math.exp(logPrice) * 100) / 100,
      size: Math.max(1e-8, Math.round(-Math.log(1 - random()) * 0.05 * 1e8) / 1e8),
      side,
    });
    ts += 1 + Math.floor(-Math.log(1 - random()) * options.meanGapMs * 1_000);
  }
  return trades;
}

/** The number a `label` in shown text is followed by (`VWAP 61234.56` -> 61234.56). */
function numberAfter(text: string, label: string): number {
  const match = new RegExp(`${label} (-?[0-9.]+)`).exec(text);
  assert.ok(match, `no "${label} <number>" in notebook output:\n${text}`);
  return Number(match[1]);
}

/** Per code cell, the kinds of its outputs (`3: stream, display_data[text/html]`), for messages. */
function outputSummary(notebook: Notebook): string {
  return notebook.cells.flatMap((cell, index) =>
    cell.cell_type === "code"
      ? [
        `${index}: ${
          (cell.outputs ?? []).map((o) =>
            o.data ? `${o.output_type}[${Object.keys(o.data).join(",")}]` : o.output_type
          ).join(", ")
        }`,
      ]
      : []
  ).join("\n");
}

/**
 * What the quickstart should show but does not: every code cell that displays something
 * has output, and with data, the trades table, the chart, the statistics and the taker
 * volume table are there.
 */
function missingOutputs(notebook: Notebook, withData: boolean): string[] {
  const missing: string[] = [];
  notebook.cells.forEach((cell, index) => {
    const displays = cell.cell_type === "code" && /\b(say|show)\(/.test(joinText(cell.source));
    if (displays && (cell.outputs ?? []).length === 0) missing.push(`cell ${index} output`);
  });
  if (withData) {
    const html = outputsOfType(notebook, "text/html");
    if (!html.some(isTradesTable)) missing.push("trades table");
    if (!html.some(isChart)) missing.push("chart");
    if (!html.some((h) => h.includes("<th>share</th>"))) missing.push("taker volume table");
    if (!/VWAP/.test(visibleText(notebook))) missing.push("statistics line");
  }
  return missing;
}

function isTradesTable(html: string): boolean {
  return html.startsWith("<table") && html.includes("<th>price</th>") &&
    html.includes("<th>side</th>");
}

function isChart(html: string): boolean {
  return html.includes("LightweightCharts") && html.includes("alphapulse-chart");
}

function assertNoErrors(notebook: Notebook): void {
  const errors = cellErrors(notebook).map(({ cell, output }) =>
    `cell ${cell}: ${output.ename}: ${output.evalue}`
  );
  assert.deepEqual(errors, []);
}

Deno.test("quickstart notebook on a synthetic lake", async (t) => {
  const lakeRoot = await Deno.makeTempDir({ prefix: "alphapulse-nb-lake-" });
  try {
    const start = Date.UTC(2024, 7, 8, 14, 0, 0) * 1_000;
    const btc = syntheticTrades({
      symbol: "BTC-USD",
      seed: 7,
      start,
      hours: 3,
      startPrice: 61_000,
      meanGapMs: 2_000,
      sigma: 0.0004,
    });
    const eth = syntheticTrades({
      symbol: "ETH-USD",
      seed: 11,
      start,
      hours: 3,
      startPrice: 2_600,
      meanGapMs: 5_000,
      sigma: 0.0006,
    });
    const lake = await ParquetLake.open({ root: lakeRoot });
    try {
      assert.equal(await lake.writeTrades([...btc, ...eth]), btc.length + eth.length);
    } finally {
      await lake.close();
    }

    await t.step("runs without errors and shows the busiest instrument", async (t) => {
      const notebook = await executeNotebook(QUICKSTART, {
        env: { ALPHAPULSE_LAKE: lakeRoot },
        timeoutMs: TIMEOUT_MS,
        complete: (nb) => missingOutputs(nb, true).length === 0,
      });
      assertNoErrors(notebook);
      assert.deepEqual(missingOutputs(notebook, true), [], outputSummary(notebook));
      const shown = visibleText(notebook);

      await t.step("picks the instrument with the most trades", () => {
        assert.ok(btc.length > eth.length);
        assert.match(shown, new RegExp(`${EXCHANGE} BTC-USD\\*\\*: ${btc.length} trades`));
      });

      await t.step("shows the first trades as a Polars frame", () => {
        const tables = outputsOfType(notebook, "text/html").filter(isTradesTable);
        assert.ok(tables.length > 0, `no Polars trades table in:\n${outputSummary(notebook)}`);
        const head = tables[0];
        assert.equal(head.match(/<tr>/g)?.length, 1 + 10, "header row plus head(10)");
        assert.ok(head.includes(`<td>${btc[0].id}</td>`), "first trade id missing");
      });

      await t.step("draws an offline candlestick chart", () => {
        const charts = outputsOfType(notebook, "text/html").filter(isChart);
        assert.equal(charts.length, 1, `want one chart in:\n${outputSummary(notebook)}`);
        const chart = charts[0];
        assert.ok(chart.includes("Candlestick"), "candlestick series missing");
        assert.ok(chart.includes("createChart"), "lightweight-charts library not inlined");
        assert.doesNotMatch(chart, /<script[^>]+src=/i, "chart must not load scripts remotely");
      });

      await t.step("reports bars and statistics that match the data", () => {
        const minutes = new Set(btc.map((trade) => Math.floor(trade.ts / 60_000_000)));
        assert.match(shown, new RegExp(`\\b${minutes.size} one-minute bars`));

        let notional = 0;
        let volume = 0;
        for (const trade of btc) {
          notional += trade.price * trade.size;
          volume += trade.size;
        }
        assert.ok(Math.abs(numberAfter(shown, "VWAP") - notional / volume) < 0.01);
        const volatility = numberAfter(shown, "1m return volatility");
        assert.ok(volatility > 0 && volatility < 5, `1m volatility ${volatility}%`);
      });

      await t.step("splits taker volume by side", () => {
        const sides = outputsOfType(notebook, "text/html").filter((html) =>
          html.includes("<th>share</th>")
        );
        assert.equal(sides.length, 1);
        assert.ok(sides[0].includes("<td>buy</td>") && sides[0].includes("<td>sell</td>"));
      });
    });
  } finally {
    await Deno.remove(lakeRoot, { recursive: true });
  }
});

Deno.test("quickstart notebook says so clearly when the lake is empty", async () => {
  const emptyRoot = await Deno.makeTempDir({ prefix: "alphapulse-nb-empty-" });
  try {
    const notebook = await executeNotebook(QUICKSTART, {
      env: { ALPHAPULSE_LAKE: emptyRoot },
      timeoutMs: TIMEOUT_MS,
      complete: (nb) => missingOutputs(nb, false).length === 0,
    });
    assertNoErrors(notebook);
    assert.deepEqual(missingOutputs(notebook, false), [], outputSummary(notebook));
    assert.match(visibleText(notebook), /holds no trades yet/);
    const markdown = notebook.cells
      .filter((cell) => cell.cell_type === "markdown")
      .map((cell) => joinText(cell.source))
      .join("\n");
    assert.match(markdown, /empty/);
  } finally {
    await Deno.remove(emptyRoot, { recursive: true });
  }
});

Deno.test("executeNotebook rejects a notebook whose cell throws, with the error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-nb-fail-" });
  try {
    const path = `${dir}/fails.ipynb`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        cells: [{
          cell_type: "code",
          id: "fails",
          metadata: {},
          execution_count: null,
          outputs: [],
          source: ['throw new Error("synthetic failure " + (6 * 7));'],
        }],
        metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
        nbformat: 4,
        nbformat_minor: 5,
      }),
    );
    await assert.rejects(
      () => executeNotebook(path, { timeoutMs: TIMEOUT_MS }),
      (error: unknown) =>
        error instanceof NotebookExecutionError && error.stderr.includes("synthetic failure 42"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("executeNotebook executes again while outputs are missing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-nb-retry-" });
  try {
    const path = `${dir}/tiny.ipynb`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        cells: [{
          cell_type: "code",
          id: "tiny",
          metadata: {},
          execution_count: null,
          outputs: [],
          source: ["await Deno.jupyter.display({ 'text/plain': 'x' }, { raw: true });"],
        }],
        metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
        nbformat: 4,
        nbformat_minor: 5,
      }),
    );
    let checks = 0;
    const notebook = await executeNotebook(path, {
      timeoutMs: TIMEOUT_MS,
      attempts: 2,
      complete: () => ++checks > 5, // never complete: runs exactly `attempts` times
    });
    assert.equal(checks, 1, "complete is consulted before each re-run, not after the last");
    assert.equal(notebook.cells.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
