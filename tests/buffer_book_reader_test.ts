/**
 * `readBookColumns` (lib/buffer/book_reader.ts), the exporter's reader of book rows: the
 * columns it fills hold the rows the row reader (`readEventRows`, a second decoder of the
 * same COPY) reads, the ones the lake's rules accept, in the same order and with the
 * stored digests; the rows the rules refuse (a NULL level, lists of different lengths)
 * come back apart, and pages continue after the last row read, kept or not.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { startPostgres } from "./support/postgres.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import { readEventRows } from "../lib/buffer/event_reader.ts";
import { readBookColumns } from "../lib/buffer/book_reader.ts";
import { type BookColumns, type BookKind, eventRowRejection } from "../lib/lake/mod.ts";
import type { BookChange, BookSnapshot, PriceLevel } from "../lib/market/types.ts";

const T0 = Date.UTC(2024, 7, 8, 1) * 1000;
const instrument = { exchange: "kraken", symbol: "BTC-USD" };

function events(): (BookSnapshot | BookChange)[] {
  const out: (BookSnapshot | BookChange)[] = [];
  const levels = (n: number, from: number, step: number): PriceLevel[] =>
    Array.from({ length: n }, (_, k) => [from + k * step, 0.125 * (k + 1)]);
  for (let i = 0; i < 40; i++) {
    const ts = T0 + i * 1_000_000;
    out.push({
      kind: "book_snapshot",
      ...instrument,
      ts,
      recvTs: ts + 5,
      bids: levels(i % 4 === 0 ? 3 : 10, 100 - i, -0.5),
      asks: levels(10 - (i % 3), 101 + i, 0.5),
      ...(i % 5 === 0 ? {} : { sequence: 1_000 + i }),
      ...(i % 7 === 0 ? { checksum: 2 ** 40 + i } : {}),
    });
    out.push({
      kind: "book_change",
      ...instrument,
      ts,
      recvTs: ts + 6,
      bids: levels(i % 3, 99 - i, -1),
      asks: levels(1, 102 + i, 1),
      ...(i % 2 ? { firstSequence: 10 * i, sequence: 10 * i + 3 } : {}),
    });
  }
  return out;
}

/** Row `i` of `columns` as a plain row, as `readEventRows` gives it. */
function rowOf(columns: BookColumns, i: number): Record<string, unknown> {
  const list = (offsets: Int32Array, values: Float64Array) =>
    Array.from(values.subarray(offsets[i], offsets[i + 1]));
  const optional = (v: number) => Number.isNaN(v) ? null : v;
  const row: Record<string, unknown> = {
    exchange: columns.exchange[i],
    symbol: columns.symbol[i],
    ts: columns.ts.values[i],
    recvTs: columns.recvTs.values[i],
    digest: columns.digest.values[i],
    bidPrices: list(columns.bidOffsets.values, columns.bidPrices.values),
    bidSizes: list(columns.bidOffsets.values, columns.bidSizes.values),
    askPrices: list(columns.askOffsets.values, columns.askPrices.values),
    askSizes: list(columns.askOffsets.values, columns.askSizes.values),
    sequence: optional(columns.sequence.values[i]),
    checksum: optional(columns.checksum.values[i]),
  };
  if (columns.kind === "book_changes") {
    row.firstSequence = optional(columns.firstSequence.values[i]);
  }
  return row;
}

Deno.test("readBookColumns: the rows readEventRows reads, refused ones apart, in pages", async () => {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  const dir = await Deno.makeTempDir({ prefix: "book_reader_" });
  try {
    await migrate(sql);
    const writer = new PostgresWriter({ sql, spillDir: `${dir}/spill`, log: () => {} });
    writer.write(events());
    await writer.close();
    // Rows the lake's rules refuse: a NULL level, price and size lists of different lengths.
    for (const table of ["book_snapshots", "book_changes"]) {
      await sql.unsafe(
        `insert into ${table} (exchange, symbol, ts, recv_ts, digest, bid_prices, bid_sizes,
          ask_prices, ask_sizes) values
          ('kraken', 'BTC-USD', to_timestamp(${T0 / 1e6 + 3.5}), to_timestamp(${T0 / 1e6 + 4}),
            7, '{1,NULL}', '{1,2}', '{3}', '{1}'),
          ('kraken', 'BTC-USD', to_timestamp(${T0 / 1e6 + 9.5}), to_timestamp(${T0 / 1e6 + 10}),
            8, '{1,2}', '{1}', '{3}', '{1}')`,
      );
    }
    for (const kind of ["book_snapshots", "book_changes"] as BookKind[]) {
      const expected = await readEventRows(sql, kind, instrument);
      assert.equal(expected.length, 42);
      const kept: Record<string, unknown>[] = [];
      const refused: unknown[] = [];
      let after: { ts: number; recvTs: number; digest: number } | undefined;
      let pages = 0;
      let read = 0;
      do {
        const page = await readBookColumns(sql, kind, { ...instrument, after, limit: 9 });
        pages++;
        read += page.rows;
        assert.equal(page.columns.length + page.rejected.length, page.rows);
        for (let i = 0; i < page.columns.length; i++) kept.push(rowOf(page.columns, i));
        refused.push(...page.rejected);
        after = page.rows < 9 ? undefined : page.last;
      } while (after);
      assert.equal(read, 42);
      assert.equal(pages, 5);
      const valid = expected.filter((r) => eventRowRejection(kind, r) === undefined);
      const invalid = expected.filter((r) => eventRowRejection(kind, r) !== undefined);
      assert.equal(invalid.length, 2, kind);
      assert.deepEqual(kept, valid.map((r) => ({ ...r })));
      assert.equal(refused.length, 2);
      // NaN for the NULL level: compare as text.
      assert.equal(JSON.stringify(refused), JSON.stringify(invalid));
    }
  } finally {
    await sql.end();
    await Deno.remove(dir, { recursive: true });
  }
});
