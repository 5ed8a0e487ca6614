import assert from "node:assert/strict";
import {
  BookKeeper,
  connectionSequenceIntegrity,
  krakenChecksum,
  OrderBook,
} from "../lib/book/mod.ts";
import type { BookChange, BookSnapshot, PriceLevel } from "../lib/market/types.ts";

const header = (symbol = "BTC-USDT") => ({ exchange: "test", symbol, ts: 1, recvTs: 2 });

function snapshot(
  bids: PriceLevel[],
  asks: PriceLevel[],
  extra: Partial<BookSnapshot> = {},
): BookSnapshot {
  return { ...header(), kind: "book_snapshot", bids, asks, ...extra };
}

function change(
  bids: PriceLevel[],
  asks: PriceLevel[],
  extra: Partial<BookChange> = {},
): BookChange {
  return { ...header(), kind: "book_change", bids, asks, ...extra };
}

Deno.test("BookKeeper: a crossed book is reset, unreadable, and ignores changes until a snapshot", () => {
  const keeper = new BookKeeper({ exchange: "coinbase", integrity: null });
  assert.equal(keeper.apply(snapshot([[100, 1]], [[101, 1]])), undefined);
  const held = keeper.book("BTC-USDT")!;
  assert.equal(held.bestBid, 100);
  const status = keeper.apply(change([[101, 2]], []));
  assert.equal(status?.kind, "status");
  assert.equal(status?.status, "reset");
  assert.equal(status?.symbol, "BTC-USDT");
  assert.match(status!.reason, /crossed/);
  assert.equal(keeper.book("BTC-USDT"), undefined);
  assert.equal(keeper.isValid("BTC-USDT"), false);
  // A reference held from before cannot show stale levels.
  assert.ok(Number.isNaN(held.bestBid));
  assert.equal(keeper.apply(change([[99, 1]], [])), undefined);
  assert.equal(keeper.stats.ignored, 1);
  keeper.apply(snapshot([[98, 1]], [[99, 1]]));
  assert.equal(keeper.book("BTC-USDT")?.bestAsk, 99);
  assert.deepEqual(
    { ...keeper.stats },
    {
      snapshots: 2,
      changes: 1,
      crossed: 1,
      checksumOk: 0,
      checksumFailed: 0,
      checksumUnverified: 0,
      gaps: 0,
      stale: 0,
      ignored: 1,
      absentDeletes: 0,
      resets: 1,
    },
  );
});

Deno.test("BookKeeper: Binance U/u chaining after the snapshot", async (t) => {
  const start = () => {
    const keeper = new BookKeeper({ integrity: "binance-update-id" });
    keeper.apply(snapshot([[100, 1]], [[102, 1]], { sequence: 100 }));
    return keeper;
  };
  await t.step("stale diffs are skipped, the first applied one straddles", () => {
    const keeper = start();
    assert.equal(
      keeper.apply(change([[100, 5]], [], { firstSequence: 90, sequence: 100 })),
      undefined,
    );
    assert.equal(keeper.stats.stale, 1);
    assert.equal(keeper.book("BTC-USDT")?.bestBidSize, 1);
    assert.equal(
      keeper.apply(change([[101, 1]], [], { firstSequence: 95, sequence: 105 })),
      undefined,
    );
    assert.equal(
      keeper.apply(change([], [[101.5, 1]], { firstSequence: 106, sequence: 110 })),
      undefined,
    );
    assert.equal(keeper.book("BTC-USDT")?.bestAsk, 101.5);
    assert.equal(keeper.stats.gaps, 0);
  });
  await t.step("a first diff that starts after lastUpdateId + 1 is a gap", () => {
    const keeper = start();
    const status = keeper.apply(change([[101, 1]], [], { firstSequence: 102, sequence: 105 }));
    assert.equal(status?.status, "reset");
    assert.match(status!.reason, /straddle/);
    assert.equal(keeper.stats.gaps, 1);
    assert.equal(keeper.book("BTC-USDT"), undefined);
  });
  await t.step("a hole between diffs is a gap", () => {
    const keeper = start();
    keeper.apply(change([[101, 1]], [], { firstSequence: 100, sequence: 105 }));
    const status = keeper.apply(change([[101, 2]], [], { firstSequence: 107, sequence: 108 }));
    assert.match(status!.reason, /U=107 after u=105/);
    assert.equal(keeper.stats.gaps, 1);
    assert.equal(keeper.stats.changes, 1);
  });
  await t.step(
    "after the first diff, only U = previous u + 1 chains: overlap and holes are gaps",
    () => {
      for (const [U, gap] of [[106, false], [104, true], [105, true], [107, true]] as const) {
        const keeper = start();
        keeper.apply(change([[101, 1]], [], { firstSequence: 99, sequence: 105 }));
        const status = keeper.apply(change([[101, 2]], [], { firstSequence: U, sequence: 110 }));
        assert.equal(status?.status, gap ? "reset" : undefined, `U=${U} after u=105`);
        assert.equal(keeper.stats.gaps, gap ? 1 : 0);
        assert.equal(keeper.book("BTC-USDT")?.bestBidSize, gap ? undefined : 2);
      }
    },
  );
});

Deno.test("BookKeeper: a connection-wide sequence resets every book on a hole", () => {
  const keeper = new BookKeeper({ integrity: connectionSequenceIntegrity("sequence_num") });
  const a = { ...header("BTC-USD") };
  const b = { ...header("ETH-USD") };
  keeper.apply({ ...a, kind: "book_snapshot", bids: [[1, 1]], asks: [[2, 1]], sequence: 1 });
  keeper.apply({ ...b, kind: "book_snapshot", bids: [[1, 1]], asks: [[2, 1]], sequence: 2 });
  // Two events of one message share its number; a message the adapter consumed (3) is
  // accounted for by firstSequence.
  assert.equal(
    keeper.apply({ ...a, kind: "book_change", bids: [], asks: [], sequence: 4, firstSequence: 3 }),
    undefined,
  );
  assert.equal(
    keeper.apply({ ...b, kind: "book_change", bids: [], asks: [], sequence: 4, firstSequence: 4 }),
    undefined,
  );
  const status = keeper.apply({ ...a, kind: "book_change", bids: [], asks: [], sequence: 6 });
  assert.equal(status?.symbol, "*");
  assert.equal(keeper.stats.gaps, 1);
  assert.deepEqual(keeper.symbols(), []);
  // After a reconnect the chain starts afresh.
  keeper.invalidate();
  keeper.apply({ ...a, kind: "book_snapshot", bids: [[1, 1]], asks: [[2, 1]], sequence: 1 });
  assert.deepEqual(keeper.symbols(), ["BTC-USD"]);
});

Deno.test("BookKeeper: Kraken checksums, depth and decimals from the snapshot", () => {
  const keeper = new BookKeeper({ integrity: "kraken-crc32" });
  const bids: PriceLevel[] = [[0.05005, 0.000005], [0.05004, 1]];
  const asks: PriceLevel[] = [[0.0501, 0.001], [0.0502, 2], [0.0503, 3]];
  const expected = new OrderBook({ depth: 2 });
  expected.applySnapshot(bids, asks);
  const decimals = { priceDecimals: 5, sizeDecimals: 8 };
  const sum = krakenChecksum(expected, decimals);
  keeper.apply(snapshot(bids, asks, { depth: 2, ...decimals, checksum: sum }));
  assert.equal(keeper.stats.checksumOk, 1);
  assert.equal(keeper.book("BTC-USDT")?.askDepth, 2);
  // Deleting the best ask must not revive 0.0503: it was truncated away.
  expected.applyChange([], [[0.0501, 0]]);
  assert.equal(expected.askDepth, 1);
  keeper.apply(change([], [[0.0501, 0]], { checksum: krakenChecksum(expected, decimals) }));
  assert.equal(keeper.stats.checksumOk, 2);
  const status = keeper.apply(change([[0.05004, 1.5]], [], { checksum: 12345 }));
  assert.match(status!.reason, /checksum mismatch/);
  assert.equal(keeper.stats.checksumFailed, 1);
  assert.equal(keeper.book("BTC-USDT"), undefined);
});

Deno.test("BookKeeper: status events and invalidate; absent deletes counted", () => {
  const keeper = new BookKeeper({ integrity: null });
  keeper.apply(snapshot([[1, 1]], [[2, 1]]));
  keeper.apply(change([[0.5, 0]], []));
  assert.equal(keeper.stats.absentDeletes, 1);
  keeper.apply({ ...header(), kind: "status", status: "gap", reason: "trade ids" });
  assert.equal(keeper.isValid("BTC-USDT"), true); // trade gaps do not touch books
  keeper.apply({ ...header(), kind: "status", status: "reset", reason: "bad frame" });
  assert.equal(keeper.isValid("BTC-USDT"), false);
  keeper.apply(snapshot([[1, 1]], [[2, 1]]));
  keeper.invalidate("*");
  assert.equal(keeper.isValid("BTC-USDT"), false);
  assert.equal(keeper.stats.resets, 2);
  assert.throws(() => new BookKeeper({ depth: 0, integrity: null }), RangeError);
});
