/**
 * The paper-trading panel of the live page, in headless chromium, over a server with a live
 * sim runner attached (tests/support/trading_desk.ts works out its orders and fills by hand).
 * With `SCREENSHOT_DIR` set, the panel's screenshots are written there.
 */
import assert from "node:assert/strict";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import { Authenticator, startServer, StreamHub } from "../server/mod.ts";
import { type BrowserPage, pageEventually, withChromium } from "./support/chromium.ts";
import { book, startDesk } from "./support/trading_desk.ts";

const READ = "read-only-token-0123456789";
const TRADE = "trade-token-0123456789abcdef";

const table = (id: string) =>
  `[...(document.getElementById('${id}')?.rows ?? [])]
    .map((r) => [...r.cells].map((c) => c.textContent))`;

async function screenshot(page: BrowserPage, name: string): Promise<void> {
  const png = await page.screenshot();
  assert.deepEqual([...png.slice(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
  const dir = Deno.env.get("SCREENSHOT_DIR");
  if (dir) await Deno.writeFile(`${dir}/${name}.png`, png);
}

Deno.test("live page: the trading panel shows positions, orders, fills and PnL, live; kill stops (chromium)", async () => {
  const desk = await startDesk();
  const auth = await Authenticator.create({
    tokens: [
      { token: READ, scopes: ["read"] },
      { token: TRADE, scopes: ["read", "trade"] },
    ],
  });
  const repository = new MemoryRepository();
  const server = await startServer({
    repository,
    hub: new StreamHub(),
    port: 0,
    auth,
    trading: desk.runner,
  });
  try {
    await withChromium(async (page) => {
      await page.viewport(1280, 900);
      await page.navigate(`${server.url}#token=${READ}`);
      const refused = await pageEventually<string>(
        page,
        "document.getElementById('tr-status')?.textContent ?? ''",
        (s) => s.includes("trade-scope"),
        "the panel's refusal",
      );
      assert.match(refused, /trade-scope token/);

      await page.navigate(`${server.url}?x=1#token=${TRADE}`);
      await pageEventually<boolean>(
        page,
        "window.alphapulseTrading?.events > 0 && !document.getElementById('trading').hidden",
        (ok) => ok === true,
        "the panel's snapshot",
      );
      // Hand-worked (see trading_desk.ts): +0.5 at mark 100; orders 2, 3, 4 open; 1 fill.
      const positions = await pageEventually<string[][]>(
        page,
        table("tr-positions"),
        (rows) => rows.length === 1,
        "the position row",
      );
      assert.deepEqual(positions, [["sim A", "0.5", "100", "50"]]);
      const orders = await page.evaluate<string[][]>(table("tr-orders"));
      assert.deepEqual(orders.map((r) => r.slice(0, 5)), [
        ["4", "sell", "102", "1", "0"],
        ["3", "buy", "98", "2", "0"],
        ["2", "buy", "99", "1", "0"],
      ]);
      const fills = await page.evaluate<string[][]>(table("tr-fills"));
      assert.deepEqual(fills.map((r) => r.slice(1)), [["1", "buy", "101", "0.5", "0.0505"]]);
      assert.equal(
        await page.evaluate<string>("document.getElementById('tr-pnl').textContent"),
        "-0.55",
      );

      desk.feed.write([book(2_000_000)]); // buy 0.25 @ 101, filled at once
      const live = await pageEventually<string[][]>(
        page,
        table("tr-fills"),
        (rows) => rows.length === 2,
        "the live fill",
      );
      assert.deepEqual(live[0].slice(1), ["5", "buy", "101", "0.25", "0.02525"]);
      assert.deepEqual(await page.evaluate<string[][]>(table("tr-positions")), [[
        "sim A",
        "0.75",
        "100",
        "75",
      ]]);
      // PnL: -75.75 - 0.07575 fees + 75 = -0.82575, shown to 2 decimals.
      await pageEventually<string>(
        page,
        "document.getElementById('tr-pnl').textContent",
        (s) => s === "-0.83",
        "the live PnL",
      );
      await screenshot(page, "trading_panel_light");
      await page.colorScheme("dark"); // the page and its panel in the dark theme
      await screenshot(page, "trading_panel_dark");
      await page.colorScheme("light");

      await page.evaluate(
        "window.confirm = () => true, document.getElementById('tr-kill').click()",
      );
      const rec = await desk.run;
      assert.equal(rec.reason, "kill switch (server)");
      assert.deepEqual(await desk.broker.openOrders(), []);
      const status = await pageEventually<string>(
        page,
        "document.getElementById('tr-status').textContent",
        (s) => s.startsWith("stopped"),
        "the stopped panel",
      );
      assert.equal(status, "stopped: kill switch (server)");
      assert.deepEqual(await page.evaluate<string[][]>(table("tr-orders")), []);
      await screenshot(page, "trading_panel_killed");
    });
  } finally {
    await server.shutdown();
    if (!desk.runner.done) desk.runner.stop();
    await desk.run;
    await desk.feed.close();
  }
});
