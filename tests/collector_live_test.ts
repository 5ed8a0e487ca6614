/**
 * The live path over a real websocket: simulator (Coinbase protocol) -> FeedConnection ->
 * pipeline -> books -> sink, including a dropped connection.
 */
import assert from "node:assert/strict";
import { Collector } from "../collectors/runtime/collector.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { BookKeeper } from "../lib/book/book_keeper.ts";
import type { Trade } from "../lib/market/mod.ts";
import { startCoinbaseSimulator } from "../lib/simulator/mod.ts";
import { MemorySink, until } from "./support/live.ts";

Deno.test("collector keeps a valid book, duplicates no trade and reports every id gap across a reconnect", async () => {
  const sim = startCoinbaseSimulator({ seed: 3, speed: 20, batchMs: 20 });
  const sink = new MemorySink();
  const books = new BookKeeper({ exchange: "coinbase", integrity: null });
  const collector = new Collector({
    exchange: "coinbase",
    url: sim.url,
    symbols: ["BTC-USD", "ETH-USD"],
    sinks: [sink],
    books,
    flushEveryMs: 50,
    connection: { log: () => {}, backoff: { initialMs: 10, maxMs: 50 } },
    diagnostics: new FeedDiagnostics({ log: () => {} }),
  });
  try {
    collector.start();
    const trades = () => sink.events.filter((e): e is Trade => e.kind === "trade");
    await until(() => trades().length >= 20 && books.isValid("BTC-USD"), "trades and a book");
    const book = books.book("BTC-USD")!;
    assert.ok(book.bestBid < book.bestAsk);

    sim.dropClients();
    await until(() => collector.connection.stats.reconnects >= 1, "a reconnect");
    const before = trades().length;
    await until(() => trades().length >= before + 20 && books.isValid("BTC-USD"), "more trades");
    const summary = await collector.stop();

    // Trades are unique, and every break in a symbol's id sequence (trades made while
    // disconnected) was reported to consumers as a gap.
    const ids = trades().map((t) => `${t.symbol}/${t.id}`);
    assert.equal(new Set(ids).size, ids.length);
    for (const symbol of ["BTC-USD", "ETH-USD"]) {
      const seq = trades().filter((t) => t.symbol === symbol).map((t) => Number(t.id));
      const breaks = seq.filter((id, i) => i > 0 && id !== seq[i - 1] + 1).length;
      const gaps = sink.events.filter((e) =>
        e.kind === "status" && e.status === "gap" && e.symbol === symbol
      ).length;
      assert.ok(breaks <= gaps, `${symbol}: ${breaks} id breaks, ${gaps} gaps reported`);
    }
    assert.equal(summary.trades, trades().length);
    assert.equal(summary.crossed, 0);
    assert.equal(summary.errors, 0);
    assert.ok(
      sink.events.some((e) => e.kind === "status" && e.status === "disconnected"),
      "consumers are told about the reconnect",
    );
    assert.ok(books.stats.snapshots >= 4, "books rebuilt from fresh snapshots");
  } finally {
    await collector.stop();
    await sim.shutdown();
  }
});
