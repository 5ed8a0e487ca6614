/**
 * The browser code that draws chart specs with lightweight-charts: series in panes,
 * markers (`createSeriesMarkers`), and the depth heatmap as a series primitive drawn under
 * its carrier series. Defined once per page under `window.__alphapulseCharts`.
 *
 * After drawing, the container element carries `alphapulseChart` (the chart API),
 * `alphapulseMarkers` (the markers API per series index) and `alphapulseHeatmap` (the
 * heatmap primitive, whose `drawn` is the number of cells of its last paint), so tests and
 * notebooks can read a chart back.
 * @module
 */

/** The global the runtime is defined under. */
export const RUNTIME_GLOBAL = "__alphapulseCharts";

/**
 * Browser source. A page (a long-lived notebook) that holds an older runtime gets this one
 * in its place: charts already drawn stay as they are.
 */
export const RUNTIME_SOURCE = `
if (!window.${RUNTIME_GLOBAL} || !(window.${RUNTIME_GLOBAL}.version >= 2))
window.${RUNTIME_GLOBAL} = (function () {
  function rowsOf(cols) {
    var names = Object.keys(cols), n = cols.time.length, data = new Array(n);
    for (var i = 0; i < n; i++) {
      var row = {};
      for (var k = 0; k < names.length; k++) {
        var v = cols[names[k]][i];
        if (v !== null && v !== undefined) row[names[k]] = v;
      }
      data[i] = row;
    }
    return data;
  }
  function Heatmap(h) {
    var self = this;
    this.h = h;
    this.drawn = 0;
    this.view = {
      zOrder: function () { return "bottom"; },
      renderer: function () { return { draw: function (target) { self.draw(target); } }; },
    };
  }
  Heatmap.prototype.attached = function (p) { this.chart = p.chart; this.series = p.series; };
  Heatmap.prototype.detached = function () { this.chart = this.series = undefined; };
  Heatmap.prototype.updateAllViews = function () {};
  Heatmap.prototype.paneViews = function () { return [this.view]; };
  Heatmap.prototype.draw = function (target) {
    var h = this.h, chart = this.chart, series = this.series;
    if (!chart || !series) return;
    var ts = chart.timeScale(), spacing = ts.options().barSpacing, half = h.step / 2;
    var xs = h.times.map(function (t) { return ts.timeToCoordinate(t); });
    var c = h.cells, n = c.t.length, drawn = 0;
    target.useBitmapCoordinateSpace(function (scope) {
      var ctx = scope.context, hr = scope.horizontalPixelRatio, vr = scope.verticalPixelRatio;
      var colors = [h.bidColor, h.askColor];
      for (var i = 0; i < n; i++) {
        var x = xs[c.t[i]];
        if (x === null) continue;
        var top = series.priceToCoordinate(c.price[i] + half);
        var bottom = series.priceToCoordinate(c.price[i] - half);
        if (top === null || bottom === null) continue;
        var a = Math.sqrt(Math.min(1, c.size[i] / h.fullSize));
        if (!(a > 0)) continue;
        ctx.globalAlpha = 0.08 + 0.92 * a;
        ctx.fillStyle = colors[c.side[i]];
        var left = Math.round((x - spacing / 2) * hr), right = Math.round((x + spacing / 2) * hr);
        var y = Math.round(top * vr);
        ctx.fillRect(left, y, Math.max(1, right - left), Math.max(1, Math.round(bottom * vr) - y));
        drawn++;
      }
      ctx.globalAlpha = 1;
    });
    this.drawn = drawn;
  };
  function render(id, spec, tries) {
    var el = document.getElementById(id);
    var L = window.LightweightCharts;
    if (el && !L) {
      // The library comes with the first chart of a notebook: wait for it a little.
      tries = (tries || 0) + 1;
      if (tries < 200) { setTimeout(function () { render(id, spec, tries); }, 50); return; }
      el.textContent = "lightweight-charts is not on this page: show(chartLibrary()) loads it";
      return;
    }
    if (!el) return;
    var th = spec.theme;
    var chart = L.createChart(el, {
      autoSize: true,
      height: spec.height,
      layout: {
        background: { color: th.background }, textColor: th.text, fontSize: 12,
        panes: { separatorColor: th.border },
      },
      grid: { vertLines: { color: th.grid }, horzLines: { color: th.grid } },
      timeScale: { timeVisible: true, secondsVisible: spec.secondsVisible, borderColor: th.border },
      rightPriceScale: { borderColor: th.border },
      localization: { timeFormatter: function (t) { return new Date(t * 1000).toISOString().replace("T", " ").replace(/\\.000Z$|Z$/, ""); } },
    });
    var markers = {}, heatmap;
    spec.series.forEach(function (s, index) {
      var options = s.options;
      if (s.heatmap) {
        var lo = s.heatmap.minPrice, hi = s.heatmap.maxPrice;
        options = Object.assign({}, options, { autoscaleInfoProvider: function () {
          return { priceRange: { minValue: lo, maxValue: hi } };
        } });
      }
      var series = chart.addSeries(L[s.kind + "Series"], options, s.pane);
      series.setData(rowsOf(s.columns));
      if (s.markers) markers[index] = L.createSeriesMarkers(series, rowsOf(s.markers));
      if (s.heatmap) { heatmap = new Heatmap(s.heatmap); series.attachPrimitive(heatmap); }
    });
    var panes = chart.panes();
    // Stretch factors in pixels: the main pane gets what the others leave.
    var rest = spec.height;
    (spec.paneHeights || []).forEach(function (h, i) {
      if (panes[i + 1]) { panes[i + 1].setStretchFactor(h); rest -= h; }
    });
    if (panes.length > 1) panes[0].setStretchFactor(Math.max(rest, spec.height / 4));
    chart.timeScale().fitContent();
    el.alphapulseChart = chart;
    el.alphapulseMarkers = markers;
    if (heatmap) el.alphapulseHeatmap = heatmap;
  }
  return { version: 2, render: render };
})();`;
