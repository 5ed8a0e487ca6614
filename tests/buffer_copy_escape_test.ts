/**
 * COPY text escaping on every path of the buffer writer: every character COPY's text format
 * treats specially (backslash, tab, newline, carriage return; and `\N`, `\.`, a raw control
 * character, non-ASCII text as controls) in every free-text column (trade ids, the event
 * log's status and reason) of every table, through the fast path (COPY
 * straight into the table), the slow path (a conflicting batch replayed through a
 * temporary table) and the spill path (segments written while PostgreSQL is down, replayed
 * by a later writer). Every row is read back from PostgreSQL and compared with the text
 * that was sent, and with its UTF-8 bytes as the server stores them.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { startPostgres } from "./support/postgres.ts";
import { migrate } from "../lib/buffer/migrate.ts";
import { PostgresWriter } from "../lib/buffer/writer.ts";
import type { MarketEvent, Trade } from "../lib/market/types.ts";

const T0 = Date.UTC(2024, 7, 8, 12) * 1000;
const SECOND = 1_000_000;

/** Text COPY reads specially, and controls around it. */
const SPECIALS = [
  "a\\b", // a backslash before a letter COPY would read as an escape (\b: backspace)
  "a\\tb", // a backslash before `t`: must stay two characters, not a tab
  "a\tb",
  "a\nb",
  "a\rb",
  "\r\n",
  "\\",
  "end\\", // a trailing backslash would swallow the column separator
  "\\N", // COPY's null marker as text
  "\\.", // COPY's end-of-data marker as text
  "\\\\",
  "\t\n\r\\",
  "x\u0008y", // a raw backspace (not escaped; COPY keeps it)
  "\u0001",
  "\u007f",
  "é",
  "日本\t語",
  "😀\\",
  "12345", // plain ASCII takes the byte loop
];

/**
 * Two instruments (the cached exchange/symbol text path). Their names cannot carry COPY's
 * special characters: the one rule set (`lib/schema/`) refuses names that are not path-safe
 * in every store, and `tests/schema_test.ts` checks that refusal.
 */
const INSTRUMENTS = [
  { exchange: "coinbase", symbol: "BTC-USD" },
  { exchange: "kraken_v2-x", symbol: "BRK.B_1-X" },
];

interface Part {
  readonly trades: Trade[];
  readonly events: MarketEvent[];
}

/** Rows of every table for part `p` (0, 1, 2), at times no other part uses. */
function part(p: number): Part {
  const trades: Trade[] = [];
  const events: MarketEvent[] = [];
  let k = 0;
  for (const inst of INSTRUMENTS) {
    for (const s of SPECIALS) {
      // Odd microseconds in both times: the fraction's digits are written by hand.
      const ts = T0 + (p * 1_000 + k++) * SECOND + 1_000 * k + 7;
      const h = { ...inst, ts, recvTs: ts + 100_017 };
      trades.push({
        kind: "trade",
        ...h,
        id: `${p}:${s}`,
        price: 100 + k,
        size: 1,
        side: "buy",
      });
      // The id alone, without a prefix: a special character first and last.
      trades.push({
        kind: "trade",
        ...h,
        ts: ts + 1,
        id: p === 0 ? s : `${s}${p}`,
        price: 101,
        size: 2,
        side: "sell",
      });
      events.push(
        { kind: "quote", ...h, bidPrice: 1, bidSize: 2, askPrice: 3, askSize: 4 },
        { kind: "book_snapshot", ...h, bids: [[1, 1]], asks: [[2, 1]], sequence: k },
        { kind: "book_change", ...h, bids: [[1, 0]], asks: [], sequence: k },
        {
          kind: "bar",
          ...h,
          interval: 60 * SECOND,
          open: 1,
          high: 2,
          low: 1,
          close: 2,
          volume: 3,
          vwap: 1.5,
          trades: 2,
        },
        { kind: "status", ...h, status: "gap", reason: s },
      );
    }
  }
  return { trades, events };
}

const hex = (text: string) =>
  Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");

/** `[exchange, symbol, text, text, ts, recvTs]` of each input row of `table`, sorted. */
function expected(parts: readonly Part[], table: string): string[][] {
  const out: string[][] = [];
  for (const { trades, events } of parts) {
    if (table === "trades") {
      for (const t of trades) {
        out.push([t.exchange, t.symbol, t.id, "", String(t.ts), String(t.recvTs)]);
      }
      continue;
    }
    for (const e of events) {
      const kind = {
        quote: "quotes",
        book_snapshot: "book_snapshots",
        book_change: "book_changes",
        bar: "bars",
        status: "event_log",
      }[e.kind as string];
      if (kind !== table) continue;
      const text = e.kind === "status" ? [e.status, e.reason ?? ""] : ["", ""];
      out.push([e.exchange, e.symbol, ...text, String(e.ts), String(e.recvTs)]);
    }
  }
  return out.map((r) => r.map(String)).sort(compareRows);
}

function compareRows(a: string[], b: string[]): number {
  const x = JSON.stringify(a), y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const TABLES = ["trades", "quotes", "book_snapshots", "book_changes", "bars", "event_log"];

/** The stored rows of `table` as `[exchange, symbol, text, text, ts, recvTs]`; checks bytes. */
async function stored(sql: postgres.Sql, table: string): Promise<string[][]> {
  const text = table === "trades"
    ? "id as a, '' as b"
    : table === "event_log"
    ? "status as a, reason as b"
    : "'' as a, '' as b";
  const rows = await sql.unsafe<Record<string, string>[]>(
    `select exchange, symbol, ${text},
       ((extract(epoch from ts) * 1000000)::bigint)::text as ts,
       ((extract(epoch from recv_ts) * 1000000)::bigint)::text as recv_ts,
       encode(convert_to(exchange || symbol || ${
      table === "trades" ? "id" : table === "event_log" ? "status || reason" : "''"
    }, 'UTF8'), 'hex') as bytes
     from ${table}`,
  );
  return rows.map((r) => {
    // The bytes the server holds are the UTF-8 of the text sent (no driver decoding).
    assert.equal(r.bytes, hex(r.exchange + r.symbol + r.a + r.b), `${table} bytes`);
    return [r.exchange, r.symbol, r.a, r.b, r.ts, r.recv_ts];
  }).sort(compareRows);
}

async function assertStored(sql: postgres.Sql, parts: readonly Part[]): Promise<void> {
  for (const table of TABLES) {
    const want = expected(parts, table);
    assert.ok(want.length > 0, table);
    assert.deepEqual(await stored(sql, table), want, table);
  }
}

Deno.test("COPY escaping: every special character, every table, fast, slow and spill paths", async (t) => {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  const spillDir = await Deno.makeTempDir({ prefix: "alphapulse-escape-spill-" });
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);
  try {
    await migrate(sql);
    const [p0, p1, p2] = [part(0), part(1), part(2)];

    await t.step("fast path: COPY straight into each table", async () => {
      const writer = new PostgresWriter({ url: pg.url, spillDir, log });
      writer.write([...p0.trades, ...p0.events]);
      const n = p0.trades.length + p0.events.length;
      assert.equal(await writer.flush(), n);
      await writer.close();
      assert.equal(writer.stats().conflictBatches, 0, "no batch took the slow path");
      assert.deepEqual(writer.stats().rejected, {});
      await assertStored(sql, [p0]);
    });

    await t.step("slow path: batches that conflict go through a temporary table", async () => {
      // A new writer (empty recent-key window) re-sends part 0 with part 1: every table's
      // batch conflicts and is replayed through the slow path, storing only part 1.
      const writer = new PostgresWriter({ url: pg.url, spillDir, log });
      writer.write([...p0.trades, ...p0.events, ...p1.trades, ...p1.events]);
      assert.equal(await writer.flush(), p1.trades.length + p1.events.length);
      await writer.close();
      assert.equal(writer.stats().conflictBatches, TABLES.length, "one slow batch per table");
      await assertStored(sql, [p0, p1]);
    });

    await t.step(
      "spill path: segments written while down, replayed by a later writer",
      async () => {
        await pg.shutdown();
        const down = new PostgresWriter({ url: pg.url, spillDir, retries: 0, backoffMs: 10, log });
        down.write([...p2.trades, ...p2.events]);
        const n = p2.trades.length + p2.events.length;
        assert.equal(await down.flush(), n);
        await down.close();
        assert.equal(down.stats().spilledRows, n);
        await pg.restart();
        const next = new PostgresWriter({ url: pg.url, spillDir, backoffMs: 10, log });
        assert.ok(await next.replay(), "every segment replayed");
        await next.close();
        assert.equal(next.stats().replayedRows, n);
        assert.equal(next.stats().droppedRows, 0, logs.join("\n"));
        await assertStored(sql, [p0, p1, p2]);
      },
    );
  } finally {
    await sql.end();
    await pg.stop();
    await Deno.remove(spillDir, { recursive: true });
  }
});
