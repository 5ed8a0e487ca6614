/**
 * Book events kept as columns (`lib/lake/book_columns.ts`) and their digest hashed without
 * its text (`bookDigest`): the digest equals the canonical text's digest on every book
 * event of the recorded sessions (so rows written before this path still deduplicate
 * against rows written by it), and the stored rows equal the rows `eventRow` makes.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { replayFiles } from "../collectors/replay/replay.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { BookColumns, eventRow, LakeSink, ParquetLake } from "../lib/lake/mod.ts";
import {
  bookDigest,
  bookDigestIn,
  bookText,
  digestOf,
  storedBookLevels,
} from "../lib/market/event_digest.ts";
import type { BookChange, BookSnapshot, EventSink, MarketEvent } from "../lib/market/mod.ts";
import { eventRejection, latestValidMicros } from "../lib/schema/rules.ts";

const SESSIONS = [
  "../shared/data/coinbase-exchange-ws-20210417.txt",
  "../shared/data/kraken-v1-book-ws-20210417.txt",
  "../shared/data/binance-spot-btcusdt-20240808.gz",
];

class Capture implements EventSink {
  readonly events: MarketEvent[] = [];
  write(events: readonly MarketEvent[]): void {
    for (const e of events) this.events.push(e);
  }
  flush(): Promise<number> {
    return Promise.resolve(0);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function recordedBookEvents(): Promise<(BookSnapshot | BookChange)[]> {
  const capture = new Capture();
  for (const file of SESSIONS) {
    await replayFiles({
      files: [file],
      sinks: [capture],
      diagnostics: new FeedDiagnostics({ context: { task: "test" }, log: () => {} }),
    });
  }
  return capture.events.filter((e): e is BookSnapshot | BookChange =>
    e.kind === "book_snapshot" || e.kind === "book_change"
  );
}

const books = await recordedBookEvents();

Deno.test("bookDigest equals the digest of the canonical text on every recorded book event", () => {
  const kinds = new Set(books.map((e) => e.kind));
  assert.deepEqual([...kinds].sort(), ["book_change", "book_snapshot"]);
  assert.ok(books.length > 1000, `${books.length} book events`);
  for (const depth of [1, 50, 1000]) {
    for (const e of books) {
      const lists = storedBookLevels(e, depth);
      const optionals = e.kind === "book_change"
        ? [e.firstSequence, e.sequence, e.checksum]
        : [e.sequence, e.checksum];
      assert.equal(bookDigest(lists, optionals), digestOf(bookText(lists, optionals)));
    }
  }
});

Deno.test("bookDigest equals the text digest on numbers String writes in every form", () => {
  // Integers, decimals up to 15 digits, tiny and huge (exponent form), -0, NaN, infinities.
  let seed = 11;
  const random = () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
  const values = [0, -0, 1e-6, 1e-7, 9.99e-7, 999999999999999, 1e15, 1e21, 0.1 + 0.2, NaN];
  values.push(Infinity, -Infinity, 5e-324, 2 ** 53, -123.456, 0.000123, 1 / 3, 60_000.12);
  for (let i = 0; i < 20_000; i++) {
    const scale = 10 ** Math.floor(random() * 30 - 12);
    values.push(Math.round(random() * 1e6) / 10 ** (i % 12), (random() - 0.5) * scale);
  }
  for (let i = 0; i + 4 <= values.length; i += 4) {
    const lists = {
      bidPrices: values.slice(i, i + 2),
      bidSizes: values.slice(i + 2, i + 3),
      askPrices: [],
      askSizes: values.slice(i + 3, i + 4),
    };
    const optionals = [i % 3 === 0 ? null : i, undefined, 4_294_967_295];
    assert.equal(
      bookDigest(lists, optionals),
      digestOf(bookText(lists, optionals)),
      JSON.stringify(lists),
    );
  }
});

Deno.test("bookDigest equals the text digest when numbers repeat, evict each other and share slots", () => {
  // The digest hashes numbers from a cache of their text: numbers hashed again (hits),
  // more numbers than the cache holds (evictions), 0 and -0 (one text), long texts.
  let seed = 5;
  const random = () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
  const pool = [0, -0, 0.1 + 0.2, -1e-7, 1e21, 5e-324, -Number.MAX_VALUE, 60_000.5, 0.25];
  for (let i = 0; i < 20_000; i++) pool.push(Math.round(random() * 1e7) / 100, random() * 1e3);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 2_000; i++) {
      const pick = () => pool[Math.floor(random() * (round === 0 ? 40 : pool.length))];
      const lists = {
        bidPrices: Array.from({ length: 5 }, pick),
        bidSizes: Array.from({ length: 5 }, pick),
        askPrices: [pick()],
        askSizes: [pick()],
      };
      const optionals = [i, i % 2 ? null : -0];
      assert.equal(
        bookDigest(lists, optionals),
        digestOf(bookText(lists, optionals)),
        JSON.stringify(lists),
      );
    }
  }
});

Deno.test("BookColumns hold what eventRow makes of each recorded book event", () => {
  for (const kind of ["book_snapshots", "book_changes"] as const) {
    const columns = new BookColumns(kind, 10);
    const events = books.filter((e) =>
      (e.kind === "book_snapshot") === (kind === "book_snapshots")
    );
    for (const e of events) columns.append(e);
    assert.equal(columns.length, events.length);
    events.forEach((e, i) => {
      const row = eventRow(e as BookSnapshot, { depth: 10 });
      const b = [columns.bidOffsets.values[i], columns.bidOffsets.values[i + 1]];
      const a = [columns.askOffsets.values[i], columns.askOffsets.values[i + 1]];
      assert.deepEqual(
        {
          digest: columns.digest.values[i],
          bidPrices: [...columns.bidPrices.values.subarray(b[0], b[1])],
          bidSizes: [...columns.bidSizes.values.subarray(b[0], b[1])],
          askPrices: [...columns.askPrices.values.subarray(a[0], a[1])],
          askSizes: [...columns.askSizes.values.subarray(a[0], a[1])],
          sequence: Number.isNaN(columns.sequence.values[i]) ? null : columns.sequence.values[i],
          ts: columns.ts.values[i],
        },
        {
          digest: row.digest,
          bidPrices: row.bidPrices,
          bidSizes: row.bidSizes,
          askPrices: row.askPrices,
          askSizes: row.askSizes,
          sequence: row.sequence,
          ts: row.ts,
        },
      );
    });
  }
});

Deno.test("LakeSink stores book events as the row path does; a rewrite stores nothing twice", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The row path: writeEventRows with eventRow's rows, into a lake of its own.
    const rowsLake = await ParquetLake.open({ root: `${dir}/rows` });
    const snapshots = books.filter((e): e is BookSnapshot => e.kind === "book_snapshot");
    const changes = books.filter((e): e is BookChange => e.kind === "book_change");
    await rowsLake.writeEventRows("book_snapshots", snapshots.map((e) => eventRow(e)));
    await rowsLake.writeEventRows("book_changes", changes.map((e) => eventRow(e)));
    await rowsLake.close();
    // The column path: a LakeSink, half the events, a flush, all of them, a flush.
    const lake = await ParquetLake.open({ root: `${dir}/columns` });
    const sink = new LakeSink(lake);
    sink.write(books.slice(0, books.length >> 1));
    assert.equal(sink.pending, books.length >> 1);
    await sink.flush();
    sink.write(books);
    const second = await sink.flush();
    assert.equal(second, books.length - (books.length >> 1) - duplicatesIn(books));
    assert.equal(sink.pending, 0);
    await sink.close();
    await lake.close();
    for (const table of ["book_snapshots", "book_changes"]) {
      const read = (root: string) =>
        pl.scanParquet(`${root}/${table}/**/*.parquet`, { hivePartitioning: true })
          .sort(["exchange", "symbol", "ts", "recv_ts", "digest"])
          .collect();
      const [expected, actual] = await Promise.all([read(`${dir}/rows`), read(`${dir}/columns`)]);
      assert.ok(expected.height > 0);
      assert.deepEqual(actual.toRecords(), expected.toRecords(), table);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Events of `events` whose key (exchange, symbol, ts, recvTs, digest) an earlier one has. */
function duplicatesIn(events: readonly (BookSnapshot | BookChange)[]): number {
  const seen = new Set<string>();
  let n = 0;
  for (const e of events) {
    const r = eventRow(e);
    const key = `${e.kind}|${r.exchange}|${r.symbol}|${r.ts}|${r.recvTs}|${r.digest}`;
    if (seen.has(key)) n++;
    else seen.add(key);
  }
  return n;
}

Deno.test("BookColumns sort and cut unsorted snapshots as eventRow does, and refuse bad levels whole", () => {
  let seed = 5;
  const random = () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
  const side = (n: number) =>
    Array.from({ length: n }, (_, k): [number, number] => [
      Math.round(random() * 20) / 4, // ties: the sort must be stable, as storedBookLevels'
      k + 0.5,
    ]);
  const events: BookSnapshot[] = Array.from({ length: 200 }, (_, i) => ({
    kind: "book_snapshot",
    exchange: "kraken",
    symbol: "BTC-USD",
    ts: 1_000 + i,
    recvTs: 2_000 + i,
    bids: i % 3 === 0 ? side(i % 13).sort((a, b) => b[0] - a[0]) : side(i % 13),
    asks: i % 4 === 0 ? side(i % 9).sort((a, b) => a[0] - b[0]) : side(i % 9),
    sequence: i % 5 === 0 ? undefined : i,
  }));
  const columns = new BookColumns("book_snapshots", 6);
  columns.reserve(100, 300, 300); // room for some: appending past it grows the arrays
  for (const e of events) {
    columns.append(e);
    const bad = { ...e, asks: [...e.asks, null as unknown as [number, number]] };
    assert.throws(() => columns.append(bad));
  }
  assert.equal(columns.length, events.length);
  events.forEach((e, i) => {
    const row = eventRow(e, { depth: 6 });
    const b = [columns.bidOffsets.values[i], columns.bidOffsets.values[i + 1]];
    const a = [columns.askOffsets.values[i], columns.askOffsets.values[i + 1]];
    assert.deepEqual(
      [
        columns.digest.values[i],
        [...columns.bidPrices.values.subarray(b[0], b[1])],
        [...columns.bidSizes.values.subarray(b[0], b[1])],
        [...columns.askPrices.values.subarray(a[0], a[1])],
        [...columns.askSizes.values.subarray(a[0], a[1])],
      ],
      [row.digest, row.bidPrices, row.bidSizes, row.askPrices, row.askSizes],
    );
    assert.equal(row.digest, digestOf(bookText(row, [row.sequence, row.checksum])));
  });
});

Deno.test("bookDigestIn of a range equals bookDigest of the range's lists", () => {
  const prices = [1, 100.5, 100.25, 7e-7, 3];
  const sizes = [2, 0.25, 1e21, 4, 5];
  for (let start = 0; start <= 5; start++) {
    for (let end = start; end <= 5; end++) {
      const levels = { bidPrices: prices, bidSizes: sizes, askPrices: sizes, askSizes: prices };
      const ranges = { bidStart: start, bidEnd: end, askStart: 5 - end, askEnd: 5 - start };
      const one = {
        bidPrices: prices.slice(start, end),
        bidSizes: sizes.slice(start, end),
        askPrices: sizes.slice(5 - end, 5 - start),
        askSizes: prices.slice(5 - end, 5 - start),
      };
      assert.equal(
        bookDigestIn(levels, ranges, [start, null]),
        digestOf(bookText(one, [start, null])),
      );
    }
  }
});

Deno.test("BookColumns.appendChecked refuses what eventRejection refuses, with its reason, and keeps the rest as append does", () => {
  // Bad levels anywhere (also past the depth and after an out-of-order level), bad headers and
  // optionals: appendChecked checks levels as it copies them and must give eventRejection's
  // first reason, leaving the columns unchanged.
  let seed = 3;
  const random = () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
  const latest = latestValidMicros(Date.now() * 1000);
  const bads: unknown[] = [NaN, Infinity, -1, "1", null, [1], [1, 2, 3], undefined];
  const side = (n: number, sign: number) =>
    Array.from({ length: n }, (_, k): unknown => [100 + sign * (k + 1) / 4, k % 3]);
  for (const kind of ["book_snapshots", "book_changes"] as const) {
    const checked = new BookColumns(kind, 4);
    const plain = new BookColumns(kind, 4);
    const reasons = new Set<string>();
    for (let i = 0; i < 3_000; i++) {
      const bids = side(Math.floor(random() * 8), -1) as unknown[];
      const asks = side(Math.floor(random() * 8), 1) as unknown[];
      if (random() < 0.3) bids.reverse(); // out of order: the sorted path
      const spoil = (levels: unknown[]) => {
        if (levels.length === 0 || random() < 0.5) return;
        const at = Math.floor(random() * levels.length);
        const bad = bads[Math.floor(random() * bads.length)];
        const level = levels[at] as unknown[];
        const which = random();
        levels[at] = Array.isArray(bad) || bad === null || bad === undefined
          ? bad
          : which < 0.5
          ? [bad, level[1]]
          : [level[0], bad];
      };
      if (random() < 0.4) spoil(bids);
      if (random() < 0.4) spoil(asks);
      const event = {
        kind: kind === "book_snapshots" ? "book_snapshot" : "book_change",
        exchange: random() < 0.03 ? "Bad Exchange" : "kraken",
        symbol: "BTC-USD",
        ts: random() < 0.03 ? 5 : 1_700_000_000_000_000 + i,
        recvTs: 1_700_000_000_000_001 + i,
        bids: random() < 0.02 ? "no" : bids,
        asks,
        sequence: random() < 0.03 ? 1.5 : i,
        checksum: random() < 0.02 ? NaN : undefined,
        firstSequence: kind === "book_changes" && random() < 0.03 ? -0.5 : undefined,
      } as unknown as BookSnapshot | BookChange;
      const expected = eventRejection(event, latest);
      const before = [checked.length, checked.bidPrices.length, checked.askPrices.length];
      assert.equal(checked.appendChecked(event, latest), expected, JSON.stringify(event));
      if (expected === undefined) plain.append(event);
      else {
        reasons.add(expected);
        assert.deepEqual(
          [checked.length, checked.bidPrices.length, checked.askPrices.length],
          before,
        );
      }
    }
    assert.deepEqual([...reasons].sort(), [
      "exchange",
      "levels",
      "price",
      "sequence",
      "size",
      "ts",
    ]);
    assert.ok(plain.length > 500, `${plain.length} accepted`);
    for (const name of ["digest", "bidOffsets", "bidPrices", "bidSizes", "askPrices"] as const) {
      assert.deepEqual([...checked[name].view()], [...plain[name].view()], name);
    }
  }
});

Deno.test("bookDigest equals the text digest on decimals of few fraction digits, small and past 2^31", () => {
  // The digest writes a decimal k / 10^d itself: two fraction digits tried first (trailing
  // zeros stripped), 32-bit digits for k below 2^31, floating point above, "0.0…" below 1.
  let seed = 17;
  const random = () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
  const values: number[] = [2_147_483_647 / 100, 2_147_483_648 / 100, 1e12 - 0.01, 1e12, 0.01];
  for (let i = 0; i < 30_000; i++) {
    const digits = 1 + Math.floor(random() * 15); // significant digits of k
    const k = Math.floor(random() * 10 ** digits);
    const d = Math.floor(random() * 11);
    values.push((random() < 0.2 ? -1 : 1) * k / 10 ** d);
  }
  for (let i = 0; i + 3 <= values.length; i += 3) {
    const lists = {
      bidPrices: [values[i]],
      bidSizes: [values[i + 1]],
      askPrices: [values[i + 2]],
      askSizes: [],
    };
    assert.equal(bookDigest(lists, []), digestOf(bookText(lists, [])), JSON.stringify(lists));
  }
});
