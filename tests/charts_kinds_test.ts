/**
 * Every chart kind drawn in headless Chromium in both themes, read back through the
 * lightweight-charts API in the page: panes, series, point counts, values, markers, the
 * heatmap's painted cells and the theme's background. Expected numbers are computed here
 * from the inputs by hand, not by the chart code.
 *
 * `ALPHAPULSE_CHART_SCREENSHOT_DIR=/tmp/x` also writes a screenshot per kind and theme.
 */
import assert from "node:assert/strict";
import {
  candlestickChart,
  type Chart,
  depthHeatmap,
  equityChart,
  htmlReport,
  lineChart,
  type ThemeName,
} from "../lib/charts/mod.ts";

const MINUTE = 60_000_000;
const T0 = Date.UTC(2024, 0, 2, 14, 0) * 1000;
const THEMES: readonly ThemeName[] = ["light", "dark"];

function bars(n: number) {
  const out = [];
  let price = 100;
  for (let i = 0; i < n; i++) {
    const close = price + Math.sin(i / 5) * 0.8 + 0.05;
    out.push({
      ts: T0 + i * MINUTE,
      open: price,
      high: Math.max(price, close) + 0.3,
      low: Math.min(price, close) - 0.3,
      close,
      volume: 10 + (i % 7),
    });
    price = close;
  }
  return out;
}

/** What the page reads back from one chart element. */
interface Readback {
  background: string;
  panes: number;
  series: {
    type: string;
    pane: number;
    points: number;
    firstValue: number | null;
    lastValue: number | null;
    markers: number;
    markerTimes: number[];
  }[];
  heatmapDrawn: number | null;
}

const READBACK = `<script>
setTimeout(function () {
  var out = [];
  document.querySelectorAll("[data-theme][id]").forEach(function (el) {
    var chart = el.alphapulseChart;
    if (!chart) { out.push(null); return; }
    var series = [];
    chart.panes().forEach(function (pane, p) {
      pane.getSeries().forEach(function (s) {
        var data = s.data(), index = series.length;
        var m = el.alphapulseMarkers[index];
        var first = data[0], last = data[data.length - 1];
        series.push({
          type: s.seriesType(), pane: p, points: data.length,
          firstValue: first ? (first.value !== undefined ? first.value : first.close) : null,
          lastValue: last ? (last.value !== undefined ? last.value : last.close) : null,
          markers: m ? m.markers().length : 0,
          markerTimes: m ? m.markers().map(function (x) { return x.time; }) : [],
        });
      });
    });
    out.push({
      background: chart.options().layout.background.color,
      panes: chart.panes().length,
      series: series,
      heatmapDrawn: el.alphapulseHeatmap ? el.alphapulseHeatmap.drawn : null,
    });
  });
  var pre = document.createElement("pre");
  pre.id = "readback";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 1500);
</script>`;

async function chromium(args: string[]): Promise<string> {
  const out = await new Deno.Command("chromium", {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--virtual-time-budget=6000",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

/**
 * Draws `charts` in one report of `theme` (one browser run for all: the machine is shared),
 * reads them back, and screenshots the page when asked.
 */
async function drawn(charts: Chart[], theme: ThemeName, name: string): Promise<Readback[]> {
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-chart-kinds-" });
  try {
    const sections = charts.map((chart) => ({ chart }));
    const html = htmlReport({ title: `${name} (${theme})`, theme, sections })
      .replace("</body>", `${READBACK}</body>`);
    const file = `${dir}/page.html`;
    await Deno.writeTextFile(file, html);
    const dom = await chromium(["--window-size=1000,800", "--dump-dom", `file://${file}`]);
    const m = /<pre id="readback">(.*?)<\/pre>/s.exec(dom);
    assert.ok(m, "readback written");
    const text = m[1].replace(/&quot;/g, '"').replace(/&amp;/g, "&");
    const back = JSON.parse(text) as (Readback | null)[];
    assert.equal(back.length, charts.length);
    back.forEach((b, i) => assert.ok(b, `chart ${i} drawn`));
    const shots = Deno.env.get("ALPHAPULSE_CHART_SCREENSHOT_DIR");
    if (shots) {
      await Deno.mkdir(shots, { recursive: true });
      await chromium([
        `--window-size=1000,${charts.reduce((h, c) => h + c.spec.height + 90, 120)}`,
        "--hide-scrollbars",
        `--screenshot=${shots}/${name}-${theme}.png`,
        `file://${file}`,
      ]);
    }
    return back as Readback[];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const BACKGROUND = { light: "#ffffff", dark: "#131722" };

type Case = (theme: ThemeName) => { chart: Chart; check: (r: Readback) => void };
const cases: Case[] = [];

cases.push((theme) => { // candlestick with overlay, indicator pane and markers
  const b = bars(60);
  // A 5-bar simple moving average of closes, by hand.
  const sma = b.slice(4).map((_, i) => ({
    ts: b[i + 4].ts,
    sma: (b[i].close + b[i + 1].close + b[i + 2].close + b[i + 3].close + b[i + 4].close) / 5,
  }));
  const range = b.map((x) => ({ ts: x.ts, value: x.high - x.low }));
  const trades = [
    { ts: b[10].ts + 20_000_000, price: b[10].close, size: 1, side: "buy" },
    { ts: b[30].ts + 59_000_000, price: b[30].close, size: 2, side: "sell" },
    { ts: T0 - MINUTE, price: 1, size: 1, side: "buy" }, // before the first bar: skipped
  ];
  const signals = [{ ts: b[20].ts, side: "buy", text: "long" }];
  const warn = console.warn;
  console.warn = () => {};
  let chart: Chart;
  try {
    chart = candlestickChart(b, {
      theme,
      title: "candles",
      overlays: [{ name: "SMA 5", data: sma, value: "sma" }],
      panes: [{ name: "range", data: range, style: "histogram" }],
      markers: [{ kind: "trade", data: trades }, { kind: "signal", data: signals }],
    });
  } finally {
    console.warn = warn;
  }
  return {
    chart,
    check: (r: Readback) => {
      assert.equal(r.background, BACKGROUND[theme]);
      assert.equal(r.panes, 3, "candles, volume, range");
      assert.deepEqual(
        r.series.map((s) => [s.type, s.pane, s.points]),
        [["Candlestick", 0, 60], ["Line", 0, 56], ["Histogram", 1, 60], ["Histogram", 2, 60]],
      );
      assert.equal(r.series[0].lastValue, b[59].close);
      assert.ok(Math.abs(r.series[1].firstValue! - sma[0].sma) < 1e-12);
      assert.equal(r.series[3].lastValue, b[59].high - b[59].low);
      assert.equal(r.series[0].markers, 3, "two trades and a signal");
      // Each marker sits on the bar that holds it.
      assert.deepEqual(
        r.series[0].markerTimes,
        [b[10].ts, b[20].ts, b[30].ts].map((t) => t / 1e6),
      );
    },
  };
});

cases.push((theme) => { // line and area series with a pane
  const mid = [0, 1, 2, 3, 4].map((i) => ({ ts: T0 + i * MINUTE, value: 100 + i / 4 }));
  const spread = [0, 1, 2, 3, 4].map((i) => ({ ts: T0 + i * MINUTE, value: 0.01 * (i + 1) }));
  const chart = lineChart([
    { name: "mid", data: mid },
    { name: "fair", data: mid.map((p) => ({ ts: p.ts, value: p.value + 0.1 })), style: "area" },
  ], { theme, title: "lines", panes: [{ name: "spread", data: spread }] });
  return {
    chart,
    check: (r: Readback) => {
      assert.equal(r.background, BACKGROUND[theme]);
      assert.equal(r.panes, 2);
      assert.deepEqual(
        r.series.map((s) => [s.type, s.pane, s.points, s.lastValue]),
        [["Line", 0, 5, 101], ["Area", 0, 5, 101.1], ["Line", 1, 5, 0.05]],
      );
    },
  };
});

cases.push((theme) => { // equity with a drawdown pane
  const equity = [100, 110, 99, 104, 121, 115].map((e, i) => ({
    ts: T0 + i * MINUTE,
    equity: e,
  }));
  const chart = equityChart(equity, { theme, title: "equity" });
  assert.match(String(chart), /max drawdown -10\.00%/, "110 -> 99 is -10%");
  return {
    chart,
    check: (r: Readback) => {
      assert.equal(r.panes, 2);
      assert.deepEqual(r.series.map((s) => [s.type, s.pane, s.points]), [
        ["Line", 0, 6],
        ["Area", 1, 6],
      ]);
      assert.equal(r.series[0].lastValue, 115);
      // Drawdown at the last point: 115 below the peak 121, by hand.
      assert.ok(Math.abs(r.series[1].lastValue! - 100 * (115 / 121 - 1)) < 1e-9);
      assert.equal(r.series[1].firstValue, 0);
    },
  };
});

cases.push((theme) => { // depth heatmap from a bookHistory-shaped frame
  // 40 times x 5 levels per side, tick 0.5; sizes grow away from the touch.
  const rows: Record<string, number>[] = [];
  for (let i = 0; i < 40; i++) {
    const mid = 100 + Math.round(Math.sin(i / 6) * 4) / 2 + 0.25;
    const row: Record<string, number> = { ts: T0 + i * 1_000_000, mid };
    for (let k = 1; k <= 5; k++) {
      row[`bid_price_${k}`] = mid - 0.25 - (k - 1) * 0.5;
      row[`bid_size_${k}`] = k;
      row[`ask_price_${k}`] = mid + 0.25 + (k - 1) * 0.5;
      row[`ask_size_${k}`] = k === 3 ? 0 : 2 * k; // level 3 of the ask side is empty
    }
    rows.push(row);
  }
  const chart = depthHeatmap(rows, { theme, title: "depth" });
  // 40 times x (5 bids + 4 non-empty asks) cells on a 0.5 grid.
  assert.match(String(chart), /40 times x \d+ price buckets of 0\.5, 360 cells/);
  return {
    chart,
    check: (r: Readback) => {
      assert.equal(r.background, BACKGROUND[theme]);
      assert.equal(r.panes, 1);
      assert.deepEqual(r.series.map((s) => [s.type, s.points]), [["Line", 40]]);
      assert.equal(r.series[0].lastValue, rows[39].mid);
      assert.equal(r.heatmapDrawn, 360, "every cell painted");
    },
  };
});

for (const theme of THEMES) {
  Deno.test(`candlestick, line/area, equity and depth heatmap drawn and read back (${theme})`, async () => {
    const built = cases.map((c) => c(theme));
    const back = await drawn(built.map((b) => b.chart), theme, "kinds");
    built.forEach((b, i) => b.check(back[i]));
  });
}

Deno.test("depthHeatmap: long rows bucketed, bad rows counted, bad options rejected", () => {
  const rows = [
    { ts: T0, price: 10.0, size: 1, side: "bid" },
    { ts: T0, price: 10.1, size: 2, side: "bid" },
    { ts: T0, price: 10.5, size: 3, side: "ask" },
    { ts: T0 + 1e6, price: 10.5, size: 4, side: "sell" },
    { ts: "nope", price: 1, size: 1, side: "bid" },
    { ts: T0, price: 11, size: 1, side: "middle" },
  ];
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (m: string) => warnings.push(m);
  try {
    const chart = depthHeatmap(rows, { priceStep: 0.5 });
    const spec = chart.spec.series[0].heatmap!;
    // 10.0 and 10.1 share the 10.0 bucket: 1 + 2 = 3.
    const cells = spec.cells.t.map((t, i) => [t, spec.cells.price[i], spec.cells.size[i]]);
    assert.deepEqual(cells.sort(), [[0, 10, 3], [0, 10.5, 3], [1, 10.5, 4]].sort());
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /skipped 2 rows/);
  } finally {
    console.warn = warn;
  }
  assert.throws(() => depthHeatmap(rows, { priceStep: 0 }), RangeError);
  assert.throws(() => depthHeatmap(rows, { theme: "blue" as ThemeName }), RangeError);
});
