import assert from "node:assert/strict";
import {
  candlestickChart,
  Chart,
  htmlReport,
  lineChart,
  loadChartLibrary,
} from "../lib/charts/mod.ts";
import type { Bar } from "../lib/market/types.ts";

const MINUTE = 60_000_000;
const T0 = Date.UTC(2021, 3, 17, 16, 0) * 1000;

function makeBars(n: number): Bar[] {
  const bars: Bar[] = [];
  let price = 60_000;
  for (let i = 0; i < n; i++) {
    const open = price;
    const close = price + Math.round(Math.sin(i / 4) * 8000) / 100;
    bars.push({
      kind: "bar",
      exchange: "coinbase",
      symbol: "BTC-USD",
      ts: T0 + i * MINUTE,
      recvTs: T0 + i * MINUTE,
      interval: MINUTE,
      open,
      high: Math.max(open, close) + 20,
      low: Math.min(open, close) - 20,
      close,
      volume: 1 + (i % 9),
      vwap: (open + close) / 2,
      trades: 10 + i,
    });
    price = close;
  }
  return bars;
}

/** The JSON payload of the first chart script in `html`. */
function renderPayload(html: string): {
  series: { kind: string; pane: number; columns: Record<string, unknown[]> }[];
} {
  const m = /__alphapulseCharts\.render\(("[^"]+"), (\{.*\})\);<\/script>/.exec(html);
  assert.ok(m, "render call present");
  return JSON.parse(m[2]);
}

function scriptSources(html: string): string[] {
  return [...html.matchAll(/<script\b[^>]*\bsrc\s*=\s*["']?([^"' >]+)/gi)].map((m) => m[1]);
}

Deno.test("candlestickChart: offline HTML with the inlined library and embedded data", () => {
  const bars = makeBars(50);
  const html = candlestickChart(bars, { title: "BTC-USD 1m" }).toHTML();
  const lib = loadChartLibrary();
  assert.match(lib.version, /^5\./);
  assert.ok(html.includes(lib.source.slice(0, 2000)), "library source inlined");
  assert.ok(html.includes("if (!window.LightweightCharts)"), "library guarded");
  assert.ok(html.includes("createChart"));
  assert.deepEqual(scriptSources(html), [], "no external scripts");
  assert.doesNotMatch(html, /<script[^>]+src=["']?https?:/i);

  const payload = renderPayload(html);
  assert.deepEqual(payload.series.map((s) => [s.kind, s.pane]), [["Candlestick", 0], [
    "Histogram",
    1,
  ]]);
  const candles = payload.series[0].columns;
  assert.deepEqual(candles.time, bars.map((b) => b.ts / 1e6));
  assert.deepEqual(candles.close, bars.map((b) => b.close));
  assert.deepEqual(payload.series[1].columns.value, bars.map((b) => b.volume));
  assert.match(html, /<strong>BTC-USD 1m<\/strong>/);
});

Deno.test("candlestickChart: sorts, keeps the last of equal times, skips invalid rows", () => {
  const bars = makeBars(4);
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (msg: string) => warnings.push(msg);
  try {
    const rows = [
      bars[2],
      bars[0],
      { ...bars[1], close: Number.NaN },
      bars[3],
      { ...bars[0], close: 1 },
      { ts: "garbage", open: 1, high: 1, low: 1, close: 1 },
    ];
    const chart = candlestickChart(rows, { volume: false });
    const payload = renderPayload(chart.toHTML());
    assert.equal(payload.series.length, 1);
    const cols = payload.series[0].columns;
    assert.deepEqual(cols.time, [bars[0].ts, bars[2].ts, bars[3].ts].map((t) => t / 1e6));
    assert.equal(cols.close[0], 1, "later row with the same time wins");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /2 rows with a missing or invalid/);
    assert.match(warnings[0], /1 rows repeating/);
  } finally {
    console.warn = warn;
  }
});

Deno.test("candlestickChart: accepts Date and ISO times and DataFrame-like input", () => {
  const rows = [
    { ts: new Date(Date.UTC(2021, 3, 17, 16, 0)), open: 1, high: 2, low: 0.5, close: 1.5 },
    { ts: "2021-04-17T16:01:00Z", open: 1.5, high: 2, low: 1, close: 1.25, volume: 3n },
  ];
  const chart = candlestickChart({ toRecords: () => rows });
  const cols = renderPayload(chart.toHTML()).series[0].columns;
  assert.deepEqual(cols.time, [T0 / 1e6, T0 / 1e6 + 60]);
  assert.throws(() => candlestickChart(42 as never), TypeError);
  assert.throws(() => candlestickChart([], { height: 10 }), RangeError);
});

Deno.test("charts escape interpolated text and keep embedded JSON script-safe", () => {
  const evil = `</script><img src=x onerror="alert(1)">&`;
  const bars = makeBars(3).map((b) => ({ ...b, symbol: evil }));
  const html = candlestickChart(bars, { title: evil }).toHTML();
  assert.ok(!html.includes("<img"), "no raw tag from the title");
  assert.ok(html.includes("&lt;/script&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;"));
  const opens = html.match(/<script\b/gi)!.length;
  const closes = html.match(/<\/script>/gi)!.length;
  assert.equal(opens, closes, "every </script> closes one of our scripts");

  const line = lineChart([{ name: evil, data: [{ ts: T0, value: 1 }] }, {
    name: "b",
    data: [{ ts: T0, value: 2 }],
  }]);
  const lineHtml = line.toHTML();
  assert.ok(!lineHtml.includes("<img"));
  assert.equal(lineHtml.match(/<script\b/gi)!.length, lineHtml.match(/<\/script>/gi)!.length);
});

Deno.test("Jupyter.display returns HTML and a plain-text summary", () => {
  const chart = candlestickChart(makeBars(10), { title: "BTC" });
  const display = (chart as unknown as Record<symbol, () => Record<string, string>>)[
    Symbol.for("Jupyter.display")
  ]();
  assert.deepEqual(Object.keys(display).sort(), ["text/html", "text/plain"]);
  assert.ok(display["text/html"].includes("LightweightCharts"));
  assert.match(display["text/plain"], /Candlestick chart "BTC": 10 bars 2021-04-17T16:00:00/);
  const a = chart.toHTML();
  const b = chart.toHTML();
  const idOf = (h: string) => /<div id="([^"]+)"/.exec(h)![1];
  assert.notEqual(idOf(a), idOf(b), "each fragment has its own element id");
});

Deno.test("lineChart: one series from a value column, several named series", () => {
  const points = [0, 1, 2].map((i) => ({ ts: T0 + i * 250_000, mid: 100 + i / 8 }));
  const single = lineChart(points, { value: "mid", title: "mid" });
  const cols = renderPayload(single.toHTML()).series[0].columns;
  assert.deepEqual(cols.time, points.map((p) => p.ts / 1e6), "sub-second times kept");
  assert.deepEqual(cols.value, points.map((p) => p.mid));
  assert.match(String(single), /1 series \(mid\), 3 points/);

  const multi = lineChart([
    {
      name: "strategy",
      data: [{ ts: T0, equity: 1 }, { ts: T0 + MINUTE, equity: 2 }],
      value: "equity",
    },
    { name: "benchmark", data: [{ ts: T0, value: 1 }], color: "#123456" },
  ], { title: "Equity" });
  const payload = renderPayload(multi.toHTML());
  assert.deepEqual(payload.series.map((s) => s.columns.value), [[1, 2], [1]]);
  assert.ok(multi.toHTML().includes("#123456"));
  assert.ok(multi instanceof Chart);
});

Deno.test("htmlReport: one standalone document, library once, tables escaped", () => {
  const bars = makeBars(20);
  const html = htmlReport({
    title: "Session <1>",
    subtitle: "coinbase",
    sections: [
      {
        heading: "Instruments",
        table: [{ exchange: "coinbase", symbol: "<b>", first: T0, n: 1.5 }],
      },
      { heading: "Bars", text: ["two charts"], chart: [candlestickChart(bars), lineChart([])] },
    ],
  });
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  assert.ok(html.includes("<title>Session &lt;1&gt;</title>"));
  assert.equal(html.split("TradingView Lightweight Charts").length - 1, 1, "library once");
  assert.equal(html.match(/__alphapulseCharts\.render\(/g)!.length, 2);
  assert.ok(html.includes('<td class="text">&lt;b&gt;</td>'));
  assert.ok(html.includes("<td>2021-04-17T16:00:00.000000Z</td>"), "micros shown as ISO");
  assert.deepEqual(scriptSources(html), []);
  assert.throws(() => htmlReport({ title: "x", sections: [{ chart: {} as Chart }] }), TypeError);
});

async function runChromium(args: string[]): Promise<string> {
  const command = new Deno.Command("chromium", {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--virtual-time-budget=5000",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  });
  // A missing chromium throws NotFound here: that fails the test, it never skips.
  const out = await command.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test("charts render to canvases in headless chromium (offline file)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-charts-" });
  try {
    const html = htmlReport({
      title: "render check",
      sections: [
        { chart: candlestickChart(makeBars(120), { title: "coinbase BTC-USD 1m" }) },
        {
          chart: lineChart(
            [0, 1, 2, 3].map((i) => ({ ts: T0 + i * MINUTE, value: 10 + i })),
            { title: "line" },
          ),
        },
      ],
    });
    const file = `${dir}/report.html`;
    await Deno.writeTextFile(file, html);
    const dom = await runChromium(["--dump-dom", `file://${file}`]);
    const charts = dom.split('class="alphapulse-chart"').slice(1);
    assert.equal(charts.length, 2);
    for (const chart of charts) assert.ok(/<canvas/.test(chart), "a canvas per chart");
    assert.ok(!dom.includes(">lightweight-charts failed to load<"), "library loaded");
    const shot = Deno.env.get("ALPHAPULSE_CHART_SCREENSHOT");
    if (shot) {
      await runChromium(["--window-size=1200,1000", `--screenshot=${shot}`, `file://${file}`]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
