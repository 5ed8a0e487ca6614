import assert from "node:assert/strict";
import { zstdDecompressSync } from "node:zlib";
import {
  parseRecordingLine,
  readRecording,
  RecordingWriter,
} from "../collectors/replay/recording.ts";
import { CryptofeedJsonlParser } from "../collectors/replay/cryptofeed_jsonl.ts";
import { expandRecordingPaths, formatFor } from "../collectors/replay/formats.ts";
import { readLines } from "../collectors/replay/_lines.ts";
import { replayFiles } from "../collectors/replay/replay.ts";
import type { RecordedFrame } from "../collectors/replay/frame.ts";
import { Collector } from "../collectors/runtime/collector.ts";
import { FeedDiagnostics } from "../collectors/runtime/diagnostics.ts";
import { AlpacaAdapter } from "../collectors/venues/alpaca.ts";
import { venueBookKeeper } from "../collectors/venues/mod.ts";
import type { Trade } from "../lib/market/types.ts";
import { startFakeAlpacaServer } from "./fakes/alpaca_server.ts";
import { MemorySink, until } from "./support/live.ts";

const DATA = new URL("../../shared/data/", import.meta.url).pathname;
const quiet = { log: () => {} };

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Deterministic, poorly compressible text so the gzip output grows and files rotate. */
function noise(seed: number, length: number): string {
  let x = seed * 2654435761 >>> 0;
  let s = "";
  while (s.length < length) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += (x >>> 8).toString(36);
  }
  return s.slice(0, length);
}

Deno.test("recording: rotated gzip files, .tmp until closed, every line back in order with ns times", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const writer = new RecordingWriter({
      dir,
      exchange: "coinbase",
      maxBytes: 8 * 1024,
      chunkChars: 2 * 1024,
      ...quiet,
    });
    const url = "wss://ws-feed.exchange.coinbase.com";
    const conn = writer.connect(url);
    writer.send(conn, '{"type":"subscribe"}');
    const frames: string[] = [];
    for (let i = 0; i < 300; i++) {
      const frame = JSON.stringify({ type: "x", n: i, text: noise(i, 1000), quote: 'a"b\\c\n' });
      frames.push(frame);
      writer.recv(conn, frame);
      if (i % 10 === 9) await writer.flush();
    }
    // While open, the current file is a .tmp and replay does not see it.
    const open = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.ok(open.some((n) => n.endsWith(".jsonl.gz.tmp")), "current file is .tmp");
    const visible = await expandRecordingPaths([dir]);
    assert.ok(visible.every((p) => !p.endsWith(".tmp")));
    await writer.close();

    const files = await expandRecordingPaths([dir]);
    assert.ok(files.length > 1, `rotated into ${files.length} files`);
    assert.equal(writer.stats.files, files.length);
    assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp")), []);
    for (const f of files) {
      assert.match(f, /\/coinbase-\d{8}T\d{6}\.\d{3}Z-\d{4}\.jsonl\.gz$/);
      assert.equal(formatFor(f).name, "alphapulse");
    }
    assert.deepEqual([...files].sort(), files, "names sort in write order");

    const items: RecordedFrame[] = [];
    for (const f of files) {
      for (const item of await collect(readRecording(f))) {
        assert.notEqual(item.kind, "unreadable");
        items.push(item as RecordedFrame);
      }
    }
    assert.deepEqual(items.slice(0, 2).map((i) => [i.kind, i.data]), [
      ["connect", url],
      ["send", '{"type":"subscribe"}'],
    ]);
    assert.deepEqual(items.slice(2).map((i) => i.data), frames, "every frame, exact, in order");
    for (let i = 1; i < items.length; i++) assert.ok(items[i].recvTs >= items[i - 1].recvTs);

    // Raw lines carry nanosecond text; microseconds are its exact truncation.
    const [header, first] = await collect(readLines(files[0]));
    assert.equal(JSON.parse(header).format, "alphapulse-recording");
    const ns = JSON.parse(first).ns as string;
    assert.match(ns, /^\d{19}$/);
    assert.equal((parseRecordingLine(first, 2) as RecordedFrame).recvTs, Number(ns.slice(0, -3)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recording: files also rotate at time boundaries", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A 1 ms period stands in for the hourly one: lines 2 ms apart land in different files.
    const writer = new RecordingWriter({ dir, exchange: "kraken", rotateEveryMs: 1, ...quiet });
    const conn = writer.connect("wss://ws.kraken.com");
    await new Promise((r) => setTimeout(r, 2));
    writer.recv(conn, "[1]");
    await new Promise((r) => setTimeout(r, 2));
    writer.recv(conn, "[2]");
    await writer.close();
    const files = await expandRecordingPaths([dir]);
    assert.equal(files.length, 3);
    const data = [];
    for (const f of files) {
      for (const item of await collect(readRecording(f))) data.push((item as RecordedFrame).data);
    }
    assert.deepEqual(data, ["wss://ws.kraken.com", "[1]", "[2]"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recording: a live Alpaca session replays to the same trades, and holds no secret", async () => {
  const SECRET = "recording-secret-7d1e";
  const script = Array.from({ length: 200 }, (_, i) => ({
    T: "t",
    i: 5000 + i,
    S: "BTC/USD",
    p: 60000 + i,
    s: 0.01,
    t: "2024-03-12T10:27:48.858228144Z",
    tks: i % 2 ? "B" : "S",
  }));
  const server = startFakeAlpacaServer({ key: "key", secret: SECRET, script, intervalMs: 1 });
  const dir = await Deno.makeTempDir();
  const diagnostics = new FeedDiagnostics(quiet);
  const live = new MemorySink();
  const collector = new Collector({
    exchange: "alpaca-crypto",
    url: server.url,
    symbols: ["BTC-USD"],
    sinks: [live],
    diagnostics,
    adapter: new AlpacaAdapter({
      diagnostics,
      market: "crypto",
      credentials: { key: "key", secret: SECRET },
      ...quiet,
    }),
    recorder: new RecordingWriter({ dir, exchange: "alpaca-crypto", ...quiet }),
    connection: { ...quiet, backoff: { initialMs: 10, maxMs: 20 } },
    flushEveryMs: 50,
  });
  const liveTrades = () => live.events.filter((e): e is Trade => e.kind === "trade");
  try {
    collector.start();
    await until(() => liveTrades().length >= 50, "trades");
    server.dropClients();
    await server.finished;
    await until(() => liveTrades().length >= script.length, "all trades");
    await collector.stop();

    const files = await expandRecordingPaths([dir]);
    assert.equal(files.length, 1);
    const items = (await collect(readRecording(files[0]))) as RecordedFrame[];
    assert.equal(items.filter((i) => i.kind === "connect").length, 2, "two connections");
    const sent = items.filter((i) => i.kind === "send").map((i) => i.data);
    assert.ok(sent.some((d) => d.includes('"action":"auth"') && d.includes("<redacted>")));
    assert.ok(sent.some((d) => d.includes('"action":"subscribe"')));
    const text = (await collect(readLines(files[0]))).join("\n");
    assert.ok(!text.includes(SECRET), "the secret is not recorded");

    // The exchange comes from the file name; frames go through the same adapter as live.
    const replayed = new MemorySink();
    const summary = await replayFiles({
      files,
      sinks: [replayed],
      diagnostics: new FeedDiagnostics(quiet),
    });
    const ids = (sink: MemorySink) =>
      sink.events.filter((e): e is Trade => e.kind === "trade").map((t) => t.id);
    assert.deepEqual(ids(replayed), ids(live));
    assert.equal(summary.trades, script.length);
    assert.equal(summary.errors, 0);
    const firstLive = liveTrades()[0];
    const firstReplayed = replayed.events.find((e) => e.kind === "trade")!;
    assert.equal(firstReplayed.exchange, "alpaca-crypto");
    assert.ok(Math.abs(firstReplayed.recvTs - firstLive.recvTs) < 1000, "receive times agree");
  } finally {
    await collector.stop();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cryptofeed JSONL: parallel connections are not reconnects; a repeated conn is", () => {
  const parser = new CryptofeedJsonlParser();
  const line = (o: unknown) => JSON.stringify(o);
  assert.equal(parser.parse(line({ t: "header", exchange: "KRAKEN" }), 1), undefined);
  const c1 = parser.parse(
    line({ t: "connect", conn: "A", ts: 1.5, addr: "wss://ws.kraken.com" }),
    2,
  );
  assert.equal(c1?.kind, "connect");
  assert.equal(
    parser.parse(line({ t: "connect", conn: "B", ts: 2, addr: "wss://x" }), 3),
    undefined,
  );
  assert.equal(
    parser.parse(line({ t: "connect", conn: "A", ts: 3, addr: "wss://x" }), 4)?.kind,
    "connect",
  );
  assert.deepEqual(parser.parse(line({ t: "recv", conn: "B", ts: 4.25, data: "[1]" }), 5), {
    kind: "recv",
    recvTs: 4_250_000,
    data: "[1]",
    source: "B",
  });
  assert.equal(parser.parse("{oops", 6)?.kind, "unreadable");
  assert.equal(parser.parse(line({ t: "recv", conn: "B", data: "[1]" }), 7)?.kind, "unreadable");
});

Deno.test("cryptofeed JSONL: the zstd Kraken session replays like the text captures of it", async () => {
  const jsonl = `${DATA}kraken-v1-cryptofeed-v3-format-20210417.jsonl.zst`;
  assert.equal(formatFor(jsonl).name, "cryptofeed-jsonl");
  const books = (exchange: string) => venueBookKeeper(exchange);
  const run = (file: string) =>
    replayFiles({ files: [file], books, diagnostics: new FeedDiagnostics(quiet) });
  const combined = await run(jsonl);
  const bookText = await run(`${DATA}kraken-v1-book-ws-20210417.txt`);
  const tradeText = await run(`${DATA}kraken-v1-trade-ws-20210417.txt`);
  assert.ok(combined.checksum_ok > 0);
  assert.equal(combined.checksum_failed, 0);
  assert.equal(combined.checksum_ok, bookText.checksum_ok);
  assert.equal(combined.book_updates, bookText.book_updates);
  assert.equal(combined.snapshots, bookText.snapshots);
  assert.equal(combined.trades, tradeText.trades);

  // Every recv line is a message (an independent count from the decompressed file).
  const lines = new TextDecoder().decode(zstdDecompressSync(Deno.readFileSync(jsonl))).split("\n");
  const recv = lines.filter((l) => l.startsWith('{"t":"recv"')).length;
  assert.equal(combined.messages, recv);
});
