/**
 * The paper-trading panel of the live page: positions, open orders, recent fills and PnL of
 * the runner attached to the server, kept current from `/api/trading/stream`, and a kill
 * button (`POST /api/trading/kill`). Hidden when no runner is attached (the stream answers
 * 404); with authentication on, the page's `#token=` must hold the `trade` scope.
 * @module
 */

/** The panel's markup (hidden until the stream answers). */
export const TRADING_PANEL_HTML = `
<section id="trading" hidden aria-label="paper trading">
  <header>
    <h2>Paper trading <span id="tr-strategy"></span></h2>
    <span id="tr-status">connecting</span>
    <span class="figure">PnL <b id="tr-pnl">–</b></span>
    <span class="figure">cash <b id="tr-cash">–</b></span>
    <span class="figure" id="tr-counts"></span>
    <button id="tr-kill" type="button" title="cancel every open order and stop the runner">Kill</button>
  </header>
  <div class="tr-grid">
    <div><h3>Positions</h3><table>
      <thead><tr><th>instrument</th><th>position</th><th>mark</th><th>value</th></tr></thead>
      <tbody id="tr-positions"></tbody></table></div>
    <div><h3>Open orders</h3><table>
      <thead><tr><th>id</th><th>side</th><th>price</th><th>size</th><th>filled</th><th>status</th></tr></thead>
      <tbody id="tr-orders"></tbody></table></div>
    <div><h3>Recent fills</h3><table>
      <thead><tr><th>time (UTC)</th><th>order</th><th>side</th><th>price</th><th>size</th><th>fee</th></tr></thead>
      <tbody id="tr-fills"></tbody></table></div>
  </div>
</section>
`;

/** The panel's style (added to the page's). */
export const TRADING_PANEL_STYLE = `
#trading { margin: 0 16px 16px; border: 1px solid var(--border); border-radius: 6px; }
#trading > header { border-bottom: 1px solid var(--border); flex-wrap: wrap; }
#trading h2 { font-size: 15px; margin: 0; }
#trading h3 { font-size: 13px; margin: 4px 0; color: var(--muted); }
#tr-status { padding: 2px 8px; border-radius: 10px; background: var(--panel); font-size: 12px; }
#tr-status.live { background: var(--live-bg); color: var(--live); }
#tr-status.down { background: var(--down-bg); color: var(--down); }
#trading .figure { font-size: 13px; color: var(--muted); } #trading .figure b { color: var(--text); }
#trading b.up { color: var(--buy); } #trading b.down { color: var(--sell); }
#tr-kill { margin-left: auto; background: #b3261e; color: #fff; border: 0; border-radius: 4px;
  padding: 4px 12px; cursor: pointer; } #tr-kill:disabled { background: #bbb; cursor: default; }
.tr-grid { display: grid; grid-template-columns: 1fr 1.3fr 1.5fr; gap: 16px; padding: 8px 16px; }
@media (max-width: 900px) { .tr-grid { grid-template-columns: 1fr; } }
`;

/** Browser code of the panel (state in `window.alphapulseTrading`, for debugging and tests). */
export const TRADING_PANEL_SCRIPT = String.raw`
(function () {
  "use strict";
  var MAX_FILLS = 50;
  var $ = function (id) { return document.getElementById(id); };
  var TOKEN = new URLSearchParams(location.hash.slice(1)).get("token");
  var auth = TOKEN ? { authorization: "Bearer " + TOKEN } : {};
  var st = { attached: false, running: false, strategy: "", broker: "", orders: {}, fills: [],
    positions: [], pnl: null, reason: "", events: 0, retry: 1000 };
  window.alphapulseTrading = st;
  var pending = false;

  function num(x, digits) {
    if (x == null || x !== x) return "–";
    return Number(x).toLocaleString("en-US", { maximumFractionDigits: digits == null ? 8 : digits });
  }
  function setStatus(text, cls) { var s = $("tr-status"); s.textContent = text; s.className = cls || ""; }
  function fill(tbody, rows) {
    tbody.textContent = "";
    rows.forEach(function (cells) {
      var tr = document.createElement("tr");
      cells.forEach(function (c) {
        var td = document.createElement("td");
        td.textContent = c[0];
        if (c[1]) td.className = c[1];
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  }
  function render() {
    pending = false;
    $("tr-strategy").textContent = st.strategy ? st.strategy + " on " + st.broker : "";
    var p = st.pnl;
    var pnl = $("tr-pnl");
    pnl.textContent = p ? num(p.pnl, 2) : "–";
    pnl.className = p && p.pnl > 0 ? "up" : p && p.pnl < 0 ? "down" : "";
    $("tr-cash").textContent = p ? num(p.cash, 2) : "–";
    $("tr-counts").textContent = p ? p.orders + " orders, " + p.fills + " fills" : "";
    fill($("tr-positions"), st.positions.map(function (x) {
      return [[x.exchange + " " + x.symbol], [num(x.position), x.position > 0 ? "buy" : "sell"],
        [num(x.mark)], [num(x.position * x.mark, 2)]];
    }));
    var open = Object.keys(st.orders).map(function (k) { return st.orders[k]; })
      .sort(function (a, b) { return b.id - a.id; });
    fill($("tr-orders"), open.map(function (o) {
      return [[String(o.id)], [o.side, o.side], [num(o.price)], [num(o.size)], [num(o.filled)], [o.status]];
    }));
    fill($("tr-fills"), st.fills.map(function (f) {
      return [[new Date(f.ts / 1000).toISOString().slice(11, 23)], [String(f.orderId)], [f.side, f.side],
        [num(f.price)], [num(f.size)], [num(f.fee, 6)]];
    }));
    $("tr-kill").disabled = !st.running;
    if (!st.running && st.attached) setStatus("stopped" + (st.reason ? ": " + st.reason : ""), "down");
  }
  function later() { if (!pending) { pending = true; setTimeout(render, 0); } }

  function apply(event, data) {
    st.events++;
    if (event === "snapshot") {
      st.orders = {};
      data.orders.forEach(function (o) { st.orders[o.id] = o; });
      st.fills = data.fills; st.positions = data.positions; st.pnl = data.pnl;
      st.strategy = data.strategy; st.broker = data.broker; st.running = data.pnl.running;
    } else if (event === "order") {
      if (data.status === "open" || data.status === "pending") st.orders[data.id] = data;
      else delete st.orders[data.id];
    } else if (event === "fill") {
      st.fills.unshift(data);
      if (st.fills.length > MAX_FILLS) st.fills.length = MAX_FILLS;
    } else if (event === "positions") {
      st.positions = data;
    } else if (event === "pnl") {
      st.pnl = data; st.running = data.running;
    } else if (event === "stopped") {
      st.running = false; st.reason = data.reason || "";
    }
    later();
  }

  function retry() {
    setStatus("disconnected, retrying in " + Math.round(st.retry / 1000) + "s", "down");
    setTimeout(connect, st.retry);
    st.retry = Math.min(st.retry * 2, 30000);
  }

  async function connect() {
    var res;
    try { res = await fetch("/api/trading/stream", { headers: auth }); } catch (e) { return retry(); }
    if (res.status === 404) return; // no runner attached to this server
    $("trading").hidden = false;
    st.attached = true;
    if (res.status === 401 || res.status === 403) {
      setStatus("open the page as /#token=... with a trade-scope token", "down");
      return;
    }
    if (!res.ok) return retry();
    st.retry = 1000;
    setStatus("live", "live");
    var reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    var buffer = "";
    for (;;) {
      var chunk;
      try { chunk = await reader.read(); } catch (e) { break; }
      if (chunk.done) break;
      buffer += chunk.value;
      var end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        var block = buffer.slice(0, end), event = "message", data = "";
        buffer = buffer.slice(end + 2);
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event: ") === 0) event = line.slice(7);
          else if (line.indexOf("data: ") === 0) data += line.slice(6);
        });
        if (data) apply(event, JSON.parse(data));
      }
    }
    if (st.running) retry(); else later();
  }

  $("tr-kill").onclick = async function () {
    if (!confirm("Cancel every open order and stop the runner?")) return;
    $("tr-kill").disabled = true;
    var res = await fetch("/api/trading/kill", { method: "POST", headers: auth });
    var body = await res.json().catch(function () { return {}; });
    if (!res.ok) setStatus("kill failed: " + (body.error || res.status), "down");
  };
  connect();
})();
`;
