/**
 * The walking skeleton's Must-hold checks on the real recorded Coinbase session:
 * adapter -> books -> Parquet lake, through `replayFiles` and the `deno task replay` CLI.
 */
import { lakeRowCounts } from "./support/lake_trades.ts";
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import pl from "nodejs-polars";
import { replayFiles } from "../collectors/replay/replay.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import type { BookKeeper } from "../lib/book/book_keeper.ts";
import { LakeSink, ParquetLake } from "../lib/lake/mod.ts";
import { venueBookKeeper } from "../collectors/venues/mod.ts";

const CAPTURE = new URL("../../shared/data/coinbase-exchange-ws-20210417.txt", import.meta.url)
  .pathname;

/** An independent, deliberately simple reading of the capture: Maps and plain loops. */
async function referenceOf(path: string) {
  const books = new Map<string, { bids: Map<string, number>; asks: Map<string, number> }>();
  const tradeIds = new Set<string>();
  for (const line of (await Deno.readTextFile(path)).split("\n")) {
    if (!/^\d/.test(line)) continue;
    const msg = JSON.parse(line.slice(line.indexOf(": ") + 2));
    if (msg.type === "snapshot") {
      const book = { bids: new Map<string, number>(), asks: new Map<string, number>() };
      for (const [p, s] of msg.bids) book.bids.set(String(Number(p)), Number(s));
      for (const [p, s] of msg.asks) book.asks.set(String(Number(p)), Number(s));
      books.set(msg.product_id, book);
    } else if (msg.type === "l2update") {
      const book = books.get(msg.product_id)!;
      for (const [side, p, s] of msg.changes) {
        const levels = side === "buy" ? book.bids : book.asks;
        if (Number(s) === 0) levels.delete(String(Number(p)));
        else levels.set(String(Number(p)), Number(s));
      }
    } else if (msg.type === "match" || msg.type === "last_match") {
      tradeIds.add(`${msg.product_id}/${msg.trade_id}`);
    }
  }
  const best = new Map<string, { bid: number; ask: number }>();
  for (const [product, book] of books) {
    best.set(product, {
      bid: Math.max(...[...book.bids.keys()].map(Number)),
      ask: Math.min(...[...book.asks.keys()].map(Number)),
    });
  }
  return { best, tradeIds };
}

async function lakeTradeKeys(root: string): Promise<string[]> {
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  const reader = await conn.runAndReadAll(
    `SELECT symbol || '/' || id AS k FROM read_parquet('${root}/trades/**/*.parquet',
       hive_partitioning = true) ORDER BY k`,
  );
  const keys = reader.getRowObjects().map((r) => String(r.k));
  conn.closeSync();
  db.closeSync();
  return keys;
}

Deno.test("replay of the recorded Coinbase session", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-lake-" });
  const reference = await referenceOf(CAPTURE);
  try {
    let keeper: BookKeeper | undefined;
    const lake = await ParquetLake.open({ root });
    const summary = await replayFiles({
      files: [CAPTURE],
      sinks: [new LakeSink(lake)],
      books: (exchange) => (keeper = venueBookKeeper(exchange)),
      diagnostics: new FeedDiagnostics({ log: () => {} }),
    });

    const counts = await lakeRowCounts(root);
    await t.step("counts match the capture", () => {
      assert.equal(summary.messages, 9_946);
      assert.equal(summary.trades, 107);
      assert.equal(reference.tradeIds.size, 107);
      assert.equal(summary.snapshots, 10);
      assert.equal(summary.book_updates, 9_719);
      assert.equal(summary.crossed, 0);
      assert.equal(summary.gaps, 0);
      assert.equal(summary.errors, 0);
      // Every event of the capture is stored: ticker messages (sizes not given in 2021) as
      // quotes, snapshots (top 50 levels), every level2 update as a book change.
      assert.deepEqual(counts, {
        trades: 107,
        quotes: 107,
        book_snapshots: 10,
        book_changes: 9_719,
      });
      assert.equal(summary.rows_written, Object.values(counts).reduce((a, b) => a + b, 0));
    });

    await t.step("final best bid/ask equal an independent implementation", () => {
      assert.equal(reference.best.size, 10);
      for (const [product, best] of reference.best) {
        const book = keeper!.book(product);
        assert.ok(book, `no valid book for ${product}`);
        assert.equal(book.bestBid, best.bid, `${product} bid`);
        assert.equal(book.bestAsk, best.ask, `${product} ask`);
      }
    });

    await t.step("the lake holds exactly those trades, readable by DuckDB and Polars", async () => {
      assert.deepEqual(await lakeTradeKeys(root), [...reference.tradeIds].sort());
      const df = pl.scanParquet(`${root}/trades/**/*.parquet`, { hivePartitioning: true })
        .collectSync();
      assert.equal(df.height, 107);
      assert.deepEqual(
        [...new Set(df.getColumn("symbol").toArray() as string[])].sort(),
        [...reference.best.keys()].sort(),
      );
    });

    await t.step("replaying the same file again does not duplicate trades", async () => {
      const again = await replayFiles({
        files: [CAPTURE],
        sinks: [new LakeSink(lake)],
        diagnostics: new FeedDiagnostics({ log: () => {} }),
      });
      assert.equal(again.trades, 107);
      assert.equal(again.rows_written, 0);
      assert.equal((await lakeTradeKeys(root)).length, 107);
    });
    await lake.close();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("bad lines in a capture are counted, survived, and never reach the lake", async () => {
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-bad-" });
  try {
    const match = (id: number, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        type: "match",
        trade_id: id,
        side: "buy",
        size: "1.5",
        price: "100.25",
        product_id: "BTC-USD",
        time: "2021-04-17T16:43:37.000001Z",
        ...extra,
      });
    const lines = [
      "wss://ws-feed.pro.coinbase.com <-> 1618677816.8",
      `1618677817.0: ${match(1)}`,
      "this line is not a capture line",
      '1618677817.1: {"type":"match","trade_id":',
      '1618677817.2: {"type":"martian"}',
      `1618677817.3: ${match(2, { size: "0.-10000" })}`,
      `1618677817.4: ${match(3, { time: "0001-01-01T00:00:00.000000Z" })}`,
      `1618677817.5: ${match(4, { price: "NaN" })}`,
      `1618677817.6: ${match(5)}`,
      "",
    ];
    const capture = `${dir}/bad.txt`;
    await Deno.writeTextFile(capture, lines.join("\n"));
    const lake = await ParquetLake.open({ root: `${dir}/lake` });
    const logged: string[] = [];
    const summary = await replayFiles({
      files: [capture],
      sinks: [new LakeSink(lake)],
      diagnostics: new FeedDiagnostics({ log: (l) => logged.push(l) }),
    });
    await lake.close();
    assert.equal(summary.errors, 6);
    assert.equal(summary.trades, 2);
    assert.equal(summary.trades_lost, 3, "the unreadable matches 2, 3 and 4, counted once");
    assert.equal(summary.gaps, 1);
    assert.deepEqual(
      await lakeRowCounts(`${dir}/lake`),
      { trades: 2, event_log: 1 },
      "the two valid trades and the trade-id gap between them, nothing else",
    );
    assert.equal(summary.rows_written, 3);
    assert.deepEqual(await lakeTradeKeys(`${dir}/lake`), ["BTC-USD/1", "BTC-USD/5"]);
    assert.ok(logged.length >= 4 && logged.length <= 6);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task replay prints the JSON summary as its last line", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-cli-" });
  try {
    const cli = new URL("../collectors/replay/main.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, CAPTURE, "--out", root],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
    const summary = JSON.parse(last);
    assert.deepEqual(Object.keys(summary), [
      "messages",
      "trades",
      "snapshots",
      "book_updates",
      "gaps",
      "checksum_ok",
      "checksum_failed",
      "crossed",
      "errors",
      "rows_written",
      // Coinbase trade ids are checked in replay as live (VENUES.coinbase.tradeIds).
      "trades_lost",
      "trades_duplicate",
      "trades_recovered",
    ]);
    assert.equal(summary.trades, 107);
    assert.deepEqual(
      [summary.trades_lost, summary.trades_duplicate, summary.trades_recovered],
      [0, 0, 0],
    );
    const counts = await lakeRowCounts(root);
    assert.equal(counts.trades, 107);
    assert.equal(summary.rows_written, Object.values(counts).reduce((a, b) => a + b, 0));
    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(bad.code, 2);
    assert.match(new TextDecoder().decode(bad.stderr), /usage: deno task replay/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
