/**
 * Recognising recordings by what they contain (issue 12): cryptofeed's current COINBASE feed
 * (Coinbase Advanced Trade frames under an `"exchange":"COINBASE"` header), every shared
 * recording under a name that says nothing, replays nobody understood, and an unknown
 * recording. Expected counts come from the fixture's own lists or the recordings' raw lines.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import { detectVenue, venueOfFrame } from "../collectors/replay/detect.ts";
import { formatFor } from "../collectors/replay/formats.ts";
import { replayFiles } from "../collectors/replay/replay.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { CoinbaseAdvancedAdapter } from "../collectors/venues/coinbase_advanced.ts";
import type { Bar, MarketEvent } from "../lib/market/types.ts";
import { withTempDir } from "./support/temp_dir.ts";

const DATA = new URL("../../shared/data/", import.meta.url);
const REPLAY = new URL("../collectors/replay/main.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

/** Trades of the fixture: [trade_id, product, price, size, taker side]. */
const TRADES = [
  ["1001", "BTC-USD", "60000.01", "0.005", "BUY"],
  ["1002", "BTC-USD", "60000.50", "0.1", "SELL"],
  ["77", "ETH-USD", "3000.25", "1.5", "BUY"],
  ["1003", "BTC-USD", "60001", "0.25", "BUY"],
] as const;
/** Candles of the fixture: [product, start (s), open, high, low, close, volume]. */
const CANDLES = [
  ["BTC-USD", "1714564800", "60000", "60010", "59990", "60001", "12.5"],
  ["ETH-USD", "1714564800", "3000", "3001", "2999.5", "3000.25", "40"],
] as const;

/**
 * A cryptofeed JSONL recording of its COINBASE feed as cryptofeed records it today: Advanced
 * Trade frames (documented shapes, `exchange-protocols.md`), Advanced REST URL.
 */
function advancedRecording(): string {
  let seq = 0;
  let t = 1714564800.5;
  const frame = (channel: string, events: unknown[]) =>
    JSON.stringify({
      t: "recv",
      conn: "COINBASE.ws.1",
      ts: t += 0.1,
      data: JSON.stringify({
        channel,
        client_id: "",
        timestamp: "2024-05-01T12:00:00.123456Z",
        sequence_num: seq++,
        events,
      }),
    });
  const trade = ([id, product, price, size, side]: readonly string[]) => ({
    trade_id: id,
    product_id: product,
    price,
    size,
    side,
    time: "2024-05-01T12:00:00.1Z",
  });
  const lines = [
    JSON.stringify({ t: "header", format: 2, exchange: "COINBASE", config: {} }),
    JSON.stringify({
      t: "http",
      conn: "COINBASE.http.sync",
      ts: t,
      url: "https://api.coinbase.com/api/v3/brokerage/market/products",
      data: JSON.stringify({ products: [] }),
    }),
    JSON.stringify({
      t: "connect",
      conn: "COINBASE.ws.1",
      ts: t,
      addr: "wss://advanced-trade-ws.coinbase.com",
    }),
    frame("subscriptions", [{
      subscriptions: { level2: ["BTC-USD"], market_trades: ["BTC-USD"] },
    }]),
    frame("l2_data", [{
      type: "snapshot",
      product_id: "BTC-USD",
      updates: [
        {
          side: "bid",
          event_time: "2024-05-01T12:00:00Z",
          price_level: "59999",
          new_quantity: "1",
        },
        {
          side: "offer",
          event_time: "2024-05-01T12:00:00Z",
          price_level: "60002",
          new_quantity: "2",
        },
      ],
    }]),
    frame("market_trades", [{ type: "snapshot", trades: TRADES.slice(0, 2).map(trade) }]),
    frame("ticker", [{
      type: "update",
      tickers: [{
        type: "ticker",
        product_id: "BTC-USD",
        price: "60000.5",
        best_bid: "59999",
        best_ask: "60002",
      }],
    }]),
    frame("l2_data", [{
      type: "update",
      product_id: "BTC-USD",
      updates: [
        {
          side: "bid",
          event_time: "2024-05-01T12:00:01Z",
          price_level: "59999.5",
          new_quantity: "0.5",
        },
      ],
    }]),
    frame("candles", [{
      type: "snapshot",
      candles: CANDLES.map(([product_id, start, open, high, low, close, volume]) => ({
        start,
        high,
        low,
        open,
        close,
        volume,
        product_id,
      })),
    }]),
    frame("market_trades", [{ type: "update", trades: TRADES.slice(2).map(trade) }]),
    frame("heartbeats", [{ current_time: "2024-05-01T12:00:02Z", heartbeat_counter: 1 }]),
  ];
  return lines.join("\n") + "\n";
}

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("replay_detect_", fn);

async function cli(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", REPLAY, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = decoder.decode(out.stdout).trim();
  return {
    code: out.code,
    summary: stdout ? JSON.parse(stdout.split("\n").at(-1)!) : undefined,
    stderr: decoder.decode(out.stderr),
  };
}

Deno.test("cryptofeed's COINBASE feed (Advanced Trade frames) replays as coinbase-advanced without --exchange", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/COINBASE-20240501.jsonl`;
    await Deno.writeTextFile(file, advancedRecording());
    const run = await cli(file, "--out", `${dir}/lake`);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.summary.errors, 0, run.stderr);
    assert.equal(run.summary.trades, TRADES.length);
    assert.equal(run.summary.snapshots, 1);
    assert.equal(run.summary.not_understood, undefined);
    const instance = await DuckDBInstance.create(":memory:");
    const con = await instance.connect();
    const rows = (await con.runAndReadAll(
      `SELECT exchange, symbol, id, price, size, side FROM read_parquet(
         '${dir}/lake/trades/**/*.parquet', hive_partitioning = true) ORDER BY symbol, id`,
    )).getRowsJS();
    con.closeSync();
    instance.closeSync();
    assert.deepEqual(
      rows,
      TRADES.map(([id, product, price, size, side]) => [
        "coinbase-advanced",
        product,
        id,
        Number(price),
        Number(size),
        side.toLowerCase(),
      ]).sort((a, b) => `${a[1]}/${a[2]}` < `${b[1]}/${b[2]}` ? -1 : 1),
    );
  });
});

Deno.test("coinbase-advanced: candles become five-minute bars", () => {
  const adapter = new CoinbaseAdvancedAdapter({
    diagnostics: new FeedDiagnostics({ log: () => {} }),
  });
  const out: MarketEvent[] = [];
  const line = advancedRecording().split("\n").find((l) => l.includes("candles"))!;
  adapter.parse(JSON.parse(line).data, 1, out);
  const bars = out.filter((e): e is Bar => e.kind === "bar");
  assert.deepEqual(
    bars.map((b) => [b.symbol, b.ts, b.interval, b.open, b.high, b.low, b.close, b.volume]),
    CANDLES.map(([p, start, o, h, l, c, v]) => [
      p,
      Number(start) * 1e6,
      5 * 60 * 1e6,
      Number(o),
      Number(h),
      Number(l),
      Number(c),
      Number(v),
    ]),
  );
});

Deno.test("every shared recording is recognised by its content under a name that says nothing", async () => {
  await withDir(async (dir) => {
    const cases: [string, string, string][] = [
      ["coinbase-exchange-ws-20210417.txt", "capture.txt", "coinbase"],
      ["kraken-v1-book-ws-20210417.txt", "capture.txt", "kraken"],
      ["kraken-v1-trade-ws-20210417.txt", "capture.txt", "kraken"],
      ["kraken-v1-cryptofeed-v3-format-20210417.jsonl.zst", "capture.jsonl.zst", "kraken"],
      ["binance-spot-btcusdt-20240808.gz", "capture.gz", "binance"],
    ];
    for (const [name, anonymous, venue] of cases) {
      const file = `${dir}/${anonymous}`;
      await Deno.copyFile(new URL(name, DATA), file);
      const detection = await detectVenue(formatFor(file).read(file, {}), anonymous);
      assert.equal(detection.exchange, venue, `${name}: ${JSON.stringify(detection.votes)}`);
    }
    // Venues without a shared recording: frames of their documented shapes.
    assert.equal(
      venueOfFrame(
        '[{"T":"t","i":1,"S":"AAPL","x":"V","p":180.5,"s":10,"t":"2024-01-02T15:00:00Z"}]',
      ),
      "alpaca",
    );
    assert.equal(
      venueOfFrame('[{"T":"o","S":"BTC/USD","t":"2024-01-02T15:00:00Z","b":[],"a":[],"r":true}]'),
      "alpaca-crypto",
    );
    assert.equal(
      venueOfFrame('{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD"}]}'),
      "kraken",
    );
    assert.equal(venueOfFrame('{"stream":"btcusdt@trade","data":{"e":"trade"}}'), "binance");
  });
});

Deno.test("a replay that understands nothing says so, names the likely venue and exits 4", async () => {
  const capture = new URL("coinbase-exchange-ws-20210417.txt", DATA).pathname;
  const run = await cli(capture, "--exchange", "kraken", "--dry-run");
  assert.equal(run.code, 4, run.stderr);
  assert.equal(run.summary.trades, 0);
  assert.deepEqual(run.summary.not_understood, {
    exchange: "kraken",
    usable_events: 0,
    likely: "coinbase",
  });
  assert.match(run.stderr, /not understood as kraken: 9946 of 9946 messages rejected/);
  assert.match(run.stderr, /try --exchange coinbase/);
  // In-process, the same summary.
  const summary = await replayFiles({
    files: [capture],
    exchange: "binance",
    diagnostics: new FeedDiagnostics({ log: () => {} }),
  });
  assert.equal(summary.not_understood?.likely, "coinbase");
});

Deno.test("an unrecognised recording exits non-zero naming the venues and formats known", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/mystery.txt`;
    await Deno.writeTextFile(
      file,
      "wss://example.org/feed <-> 1618677816.8\n" +
        '1618677817.0: {"kind":"tick","sym":"X","px":1}\n'.repeat(20),
    );
    const run = await cli(file, "--dry-run");
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /cannot tell the venue of .*mystery\.txt/);
    for (
      const known of [
        "coinbase-advanced",
        "kraken",
        "binance",
        "alpaca",
        "cryptofeed-jsonl",
        "hftbacktest",
      ]
    ) {
      assert.ok(run.stderr.includes(known), `${known} named`);
    }
  });
});
