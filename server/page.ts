/**
 * The live chart page served at `/`: history from `/api/bars`, then live 1-minute candles
 * built from trades arriving on `/ws`, a table of the latest trades, and (with a live runner
 * attached) the paper-trading panel of `./trading_panel.ts`. Light or dark after
 * `prefers-color-scheme`, with a toggle in the header (`./page_theme.ts`, the charts'
 * colours). The chart library is inlined, so the page works without internet access.
 * @module
 */
import { chartLibraryScript } from "../lib/charts/mod.ts";
import { TRADING_PANEL_HTML, TRADING_PANEL_SCRIPT, TRADING_PANEL_STYLE } from "./trading_panel.ts";
import { CHART_THEMES, THEME_SCRIPT, THEME_STYLE } from "./page_theme.ts";

/** Browser code of the page; reads `exchange`/`symbol` from the page's query string. */
const PAGE_SCRIPT = String.raw`
(function () {
  "use strict";
  var MINUTE = 60;
  var HISTORY_MICROS = 6 * 3600 * 1e6;
  var MAX_ROWS = 30;
  var L = window.LightweightCharts;
  var THEMES = ${JSON.stringify(CHART_THEMES)};
  var $ = function (id) { return document.getElementById(id); };
  var params = new URLSearchParams(location.search);
  // With authentication on, open the page as /#token=... (the fragment never reaches logs).
  var TOKEN = new URLSearchParams(location.hash.slice(1)).get("token");
  var state = { exchange: params.get("exchange"), symbol: params.get("symbol"), last: null,
    trades: 0, stale: 0, candles: null, volume: null, chart: null, retry: 1000 };
  window.alphapulseLive = state; // for debugging and the tests

  function setStatus(text, cls) { var s = $("status"); s.textContent = text; s.className = cls || ""; }
  function qs(obj) { return Object.keys(obj).filter(function (k) { return obj[k] != null; })
    .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(obj[k]); }).join("&"); }
  function fmtTime(micros) { return new Date(micros / 1000).toISOString().slice(11, 23); }
  function decimalsOf(values) {
    var d = 2, largest = 0;
    for (var i = 0; i < values.length && i < 2000; i++) {
      var abs = Math.abs(values[i]), t = String(Number(abs.toPrecision(10))), dot = t.indexOf(".");
      largest = Math.max(largest, abs);
      if (dot >= 0 && t.indexOf("e") < 0) d = Math.max(d, t.length - dot - 1);
    }
    var integerDigits = largest >= 1 ? Math.floor(Math.log10(largest)) + 1 : 0;
    return Math.max(2, Math.min(d, 8, 8 - integerDigits));
  }
  function colors() { return THEMES[document.documentElement.dataset.theme] || THEMES.light; }
  function volumeColor(bar) { var c = colors(); return bar.close >= bar.open ? c.upVolume : c.downVolume; }
  function chartTheme(c) {
    return { layout: { background: { color: c.background }, textColor: c.text },
      grid: { vertLines: { color: c.grid }, horzLines: { color: c.grid } },
      rightPriceScale: { borderColor: c.border }, timeScale: { borderColor: c.border } };
  }
  function candleTheme(c) {
    return { upColor: c.up, downColor: c.down, wickUpColor: c.up, wickDownColor: c.down };
  }
  function applyTheme() {
    var c = colors();
    state.chart.applyOptions(chartTheme(c));
    state.candles.applyOptions(candleTheme(c));
    $("theme-toggle").textContent = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  }

  function makeChart() {
    var c = colors();
    var chart = L.createChart($("chart"), Object.assign(chartTheme(c), { autoSize: true }));
    chart.applyOptions({ timeScale: { timeVisible: true, secondsVisible: false } });
    state.candles = chart.addSeries(L.CandlestickSeries,
      Object.assign(candleTheme(c), { borderVisible: false }));
    state.volume = chart.addSeries(L.HistogramSeries, { priceFormat: { type: "volume" },
      priceLineVisible: false }, 1);
    chart.panes()[1].setHeight(110);
    state.chart = chart;
    applyTheme();
    window.addEventListener("alphapulse-theme", applyTheme);
    $("theme-toggle").onclick = function () { window.alphapulseTheme.toggle(); };
  }

  async function getJson(url) {
    var res = await fetch(url, TOKEN ? { headers: { authorization: "Bearer " + TOKEN } } : {});
    var body = await res.json();
    if (!res.ok) throw new Error(body && body.error ? body.error : res.status + " " + url);
    return body;
  }

  async function loadInstruments() {
    var list = await getJson("/api/instruments");
    var select = $("instrument");
    list.forEach(function (inst) {
      var o = document.createElement("option");
      o.value = inst.exchange + " " + inst.symbol;
      o.textContent = inst.exchange + " " + inst.symbol + " (" + inst.trades + " trades)";
      select.appendChild(o);
    });
    if ((!state.exchange || !state.symbol) && list.length) {
      state.exchange = list[0].exchange; state.symbol = list[0].symbol;
    }
    var current = list.filter(function (i) {
      return i.exchange === state.exchange && i.symbol === state.symbol; })[0];
    if (state.exchange && state.symbol && !current) {
      var o = document.createElement("option");
      o.value = state.exchange + " " + state.symbol;
      o.textContent = state.exchange + " " + state.symbol + " (live only)";
      select.appendChild(o);
    }
    select.value = state.exchange + " " + state.symbol;
    select.onchange = function () {
      var parts = select.value.split(" ");
      location.search = "?" + qs({ exchange: parts[0], symbol: parts[1] });
    };
    return current;
  }

  async function loadHistory(inst) {
    var start = inst.last - HISTORY_MICROS;
    var bars = await getJson("/api/bars?" + qs({ exchange: state.exchange, symbol: state.symbol,
      interval: "1m", start: Math.max(inst.first, start) }));
    var candles = bars.map(function (b) {
      return { time: Math.floor(b.ts / 1e6), open: b.open, high: b.high, low: b.low, close: b.close }; });
    var decimals = decimalsOf(candles.map(function (c) { return c.close; }));
    state.candles.applyOptions({ priceFormat: { type: "price", precision: decimals, minMove: Math.pow(10, -decimals) } });
    state.candles.setData(candles);
    state.volume.setData(bars.map(function (b, i) {
      return { time: candles[i].time, value: b.volume, color: volumeColor(candles[i]) }; }));
    if (candles.length) state.last = { bar: candles[candles.length - 1], volume: bars[bars.length - 1].volume };
    state.chart.timeScale().fitContent();
    var trades = await getJson("/api/trades?" + qs({ exchange: state.exchange, symbol: state.symbol,
      order: "desc", limit: MAX_ROWS, start: inst.last - 3600 * 1e6 }));
    trades.reverse().forEach(addTradeRow);
  }

  function onTrade(t) {
    state.trades++;
    var time = Math.floor(t.ts / 1e6 / MINUTE) * MINUTE;
    var last = state.last;
    if (last && time < last.bar.time) { state.stale++; return; }
    if (!last || time > last.bar.time) {
      last = state.last = { bar: { time: time, open: t.price, high: t.price, low: t.price, close: t.price }, volume: 0 };
    } else {
      var b = last.bar;
      b.high = Math.max(b.high, t.price); b.low = Math.min(b.low, t.price); b.close = t.price;
    }
    last.volume += t.size;
    state.candles.update(Object.assign({}, last.bar));
    state.volume.update({ time: last.bar.time, value: last.volume, color: volumeColor(last.bar) });
    addTradeRow(t);
    $("count").textContent = state.trades + " live trades" + (state.stale ? ", " + state.stale + " late" : "");
  }

  function addTradeRow(t) {
    var tbody = $("trades");
    var tr = document.createElement("tr");
    [fmtTime(t.ts), t.side, String(t.price), String(t.size)].forEach(function (text, i) {
      var td = document.createElement("td");
      td.textContent = text;
      if (i === 1) td.className = t.side;
      tr.appendChild(td);
    });
    tbody.insertBefore(tr, tbody.firstChild);
    while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(tbody.rows.length - 1);
  }

  function connect() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws?" +
      qs({ exchange: state.exchange, symbol: state.symbol, kinds: "trade" });
    var ws = TOKEN ? new WebSocket(url, ["alphapulse", "bearer." + TOKEN]) : new WebSocket(url);
    ws.onopen = function () { state.retry = 1000; setStatus("live", "live"); };
    ws.onmessage = function (msg) {
      var events = JSON.parse(msg.data);
      for (var i = 0; i < events.length; i++) {
        var e = events[i];
        if (e.kind !== "trade") continue;
        if (!state.exchange) { state.exchange = e.exchange; state.symbol = e.symbol; $("title").textContent = e.exchange + " " + e.symbol; }
        if (e.exchange === state.exchange && e.symbol === state.symbol) onTrade(e);
      }
    };
    ws.onclose = function (ev) {
      var why = ev.code === 4008 ? "dropped (too slow)" : "disconnected";
      setStatus(why + ", retrying in " + Math.round(state.retry / 1000) + "s", "down");
      setTimeout(connect, state.retry);
      state.retry = Math.min(state.retry * 2, 30000);
    };
  }

  async function main() {
    makeChart();
    var inst = null;
    try { inst = await loadInstruments(); } catch (e) { setStatus("instruments: " + e.message, "down"); }
    $("title").textContent = state.exchange ? state.exchange + " " + state.symbol : "waiting for the first live trade";
    if (inst) {
      try { await loadHistory(inst); } catch (e) { setStatus("history: " + e.message, "down"); }
    }
    connect();
  }
  main();
})();
`;

const STYLE = `
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; }
header { display: flex; gap: 16px; align-items: center; padding: 10px 16px;
  border-bottom: 1px solid var(--border); }
header h1 { font-size: 16px; margin: 0; }
#status { padding: 2px 8px; border-radius: 10px; background: var(--panel); font-size: 12px; }
#status.live { background: var(--live-bg); color: var(--live); }
#status.down { background: var(--down-bg); color: var(--down); }
#count { color: var(--muted); font-size: 12px; }
main { display: grid; grid-template-columns: 1fr 320px; gap: 12px; padding: 12px 16px; }
#chart { height: 560px; position: relative; }
table { border-collapse: collapse; width: 100%; font-size: 12px; font-variant-numeric: tabular-nums; }
th, td { padding: 2px 6px; text-align: right; border-bottom: 1px solid var(--grid); }
th:first-child, td:first-child { text-align: left; }
td.buy { color: var(--buy); } td.sell { color: var(--sell); }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
`;

let cached: string | undefined;

/**
 * The page's HTML (built once). Query `?exchange=coinbase&symbol=BTC-USD` picks the
 * instrument; without it the first instrument of the repository is shown.
 * @throws {Deno.errors.NotFound} when lightweight-charts is not installed.
 */
export function livePageHtml(): string {
  cached ??= `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AlphaPulse live</title>
<style>${THEME_STYLE}${STYLE}${TRADING_PANEL_STYLE}</style>
<script>${THEME_SCRIPT}</script>
${chartLibraryScript()}
</head>
<body>
<header>
  <h1>AlphaPulse <span id="title"></span></h1>
  <select id="instrument" aria-label="instrument"></select>
  <span id="status">connecting</span>
  <span id="count"></span>
  <button id="theme-toggle" type="button" title="switch between the light and the dark theme">dark</button>
</header>
<main>
  <div id="chart"></div>
  <section>
    <table>
      <thead><tr><th>time (UTC)</th><th>side</th><th>price</th><th>size</th></tr></thead>
      <tbody id="trades"></tbody>
    </table>
  </section>
</main>
${TRADING_PANEL_HTML}
<script>${PAGE_SCRIPT}</script>
<script>${TRADING_PANEL_SCRIPT}</script>
</body>
</html>
`;
  return cached;
}
