/**
 * A flood of book changes through the `LakeSink` (the benchmark's generated Coinbase stream,
 * `bench/_collect_feed.ts`, parsed by the Coinbase adapter) is stored exactly once: the
 * row count, the level count and sums of prices and sizes per side that DuckDB reads back
 * equal the same figures computed from the stream's JSON, and no key repeats. The sink
 * writes in small pieces (one instrument, a bounded number of rows each), flushes at
 * uneven points while more arrive, and survives a failed flush.
 * @module
 */
import assert from "node:assert/strict";
import { generateCoinbaseStream } from "../bench/_collect_feed.ts";
import { CoinbaseExchangeAdapter } from "../collectors/venues/coinbase_exchange.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { LakeSink, ParquetLake } from "../lib/lake/mod.ts";
import { bookPieces } from "../lib/lake/_book_pieces.ts";
import { BookColumns } from "../lib/lake/book_columns.ts";
import type { MarketEvent } from "../lib/market/mod.ts";
import { duck } from "./support/duck.ts";

interface Totals {
  rows: number;
  bidLevels: number;
  askLevels: number;
  bidPrices: number;
  bidSizes: number;
  askPrices: number;
  askSizes: number;
}

/** The stream's book changes, from its JSON alone (`buy` levels are bids). */
function expectedTotals(frames: readonly string[]): Totals {
  const t: Totals = {
    rows: 0,
    bidLevels: 0,
    askLevels: 0,
    bidPrices: 0,
    bidSizes: 0,
    askPrices: 0,
    askSizes: 0,
  };
  for (const frame of frames) {
    const msg = JSON.parse(frame);
    if (msg.type !== "l2update") continue;
    t.rows++;
    for (const [side, price, size] of msg.changes as [string, string, string][]) {
      if (side === "buy") {
        t.bidLevels++;
        t.bidPrices += Number(price);
        t.bidSizes += Number(size);
      } else {
        t.askLevels++;
        t.askPrices += Number(price);
        t.askSizes += Number(size);
      }
    }
  }
  return t;
}

function close(actual: number, expected: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} != ${expected}`,
  );
}

Deno.test("a flood of book changes through LakeSink is stored exactly once", async () => {
  const frames = generateCoinbaseStream({ messages: 12_000, products: 4, depth: 20, seed: 7 });
  const expected = expectedTotals(frames);
  assert.ok(expected.rows > 11_000);
  const root = await Deno.makeTempDir();
  try {
    const lake = await ParquetLake.open({ root });
    // Small pieces: every instrument's changes take several writes per flush.
    const sink = new LakeSink(lake, { bookPiece: { rows: 700, levels: 1_000 } });
    // The fifth write of book columns fails once (a full disk): that flush keeps its rows.
    const write = lake.writeBookColumns.bind(lake);
    let writes = 0;
    lake.writeBookColumns = (columns) =>
      ++writes === 5 ? Promise.reject(new Error("disk full")) : write(columns);
    let failed = 0;
    const adapter = new CoinbaseExchangeAdapter({ diagnostics: new FeedDiagnostics() });
    let recvTs = Date.now() * 1000;
    let flushes = 0;
    for (let i = 0; i < frames.length; i += 97) {
      const out: MarketEvent[] = [];
      for (const frame of frames.slice(i, i + 97)) adapter.parse(frame, recvTs++, out);
      sink.write(out);
      // Uneven flushes, one left running while the next events arrive.
      if (i % 3_001 < 97) {
        flushes++;
        const flushing = sink.flush().catch(() => void failed++);
        if (flushes % 2 === 0) await flushing;
      }
    }
    await sink.close();
    assert.equal(sink.pending, 0);
    assert.equal(failed, 1);
    await lake.close();
    const [got] = await duck(
      `SELECT count(*) AS rows,
         count(DISTINCT (symbol, ts, recv_ts, digest)) AS keys,
         sum(len(bid_prices)) AS bidLevels, sum(len(ask_prices)) AS askLevels,
         sum(list_sum(bid_prices)) AS bidPrices, sum(list_sum(bid_sizes)) AS bidSizes,
         sum(list_sum(ask_prices)) AS askPrices, sum(list_sum(ask_sizes)) AS askSizes
       FROM read_parquet('${root}/book_changes/**/*.parquet', hive_partitioning = true)`,
    );
    assert.equal(got.rows, expected.rows);
    assert.equal(got.keys, expected.rows, "no key stored twice");
    assert.equal(got.bidLevels, expected.bidLevels);
    assert.equal(got.askLevels, expected.askLevels);
    for (const k of ["bidPrices", "bidSizes", "askPrices", "askSizes"] as const) {
      close(Number(got[k]), expected[k], k);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("bookPieces: every row in one piece of one instrument, within the limits", () => {
  const columns = new BookColumns("book_changes", 50);
  const symbols = ["A-USD", "B-USD", "C-USD"];
  const rows: { symbol: string; bids: [number, number][]; asks: [number, number][] }[] = [];
  for (let i = 0; i < 500; i++) {
    const symbol = symbols[(i * 7) % 3];
    const bids = Array.from({ length: i % 4 }, (_, k): [number, number] => [i + k, k + 1]);
    const asks = Array.from({ length: (i >> 2) % 3 }, (_, k): [number, number] => [i - k, k]);
    rows.push({ symbol, bids, asks });
    columns.append({
      kind: "book_change",
      exchange: "x",
      symbol,
      ts: 1_700_000_000_000_000 + i,
      recvTs: 1_700_000_000_000_000 + i,
      bids,
      asks,
    });
  }
  const seen: string[] = [];
  for (const piece of bookPieces(columns, { rows: 40, levels: 90 })) {
    assert.ok(piece.length <= 40);
    assert.ok(piece.length === 1 || piece.bidPrices.length + piece.askPrices.length <= 90);
    assert.equal(new Set(piece.symbol).size, 1);
    for (let j = 0; j < piece.length; j++) {
      const i = piece.ts.values[j] - 1_700_000_000_000_000;
      const b = piece.bidOffsets.values;
      const a = piece.askOffsets.values;
      assert.deepEqual(
        {
          symbol: piece.symbol[j],
          bids: [...piece.bidPrices.values.subarray(b[j], b[j + 1])].map((p, k) => [
            p,
            piece.bidSizes.values[b[j] + k],
          ]),
          asks: [...piece.askPrices.values.subarray(a[j], a[j + 1])].map((p, k) => [
            p,
            piece.askSizes.values[a[j] + k],
          ]),
        },
        rows[i],
      );
      assert.equal(piece.digest.values[j], columns.digest.values[i]);
      seen.push(`${i}`);
    }
  }
  assert.equal(seen.length, 500);
  assert.equal(new Set(seen).size, 500);
});
