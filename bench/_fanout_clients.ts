/**
 * WebSocket clients for the fan-out benchmark, run as a child process (`bench/_fanout.ts`)
 * so the server does not compete with its own clients in one event loop.
 *
 * Opens `--count` WebSockets to `--url` (`ws://host:port/`), client `i` subscribed to the
 * trades of `SYM<(offset + i) % symbols>-USD`, and prints `ready` once all are open. Then
 * follows commands on stdin, one a line:
 * - `start`: forget what was measured so far;
 * - `stop`: print one JSON line with the events received since `start`, a latency histogram
 *   (publish to receive, per event, 0.1 ms buckets: `[[bucket, count], ...]`), the order
 *   breaks (a per-symbol `id` that is not the previous one plus 1) and the sockets closed;
 * - `exit`: close every socket and exit.
 *
 * Latency is `receive time - recvTs`, both `performance.timeOrigin + performance.now()`
 * (`scripts/load_server.ts` stamps `recvTs` just before `hub.write`). Messages are scanned
 * for `"recvTs":` and `"id":"` rather than `JSON.parse`d: the figure is the server's delivery,
 * not the client's parser.
 *
 * `--api raw` (the default) uses the collectors' RFC 6455 client over `Deno.connect`
 * (`collectors/runtime/raw_websocket.ts`: one read takes every frame the kernel holds for a
 * socket, no `MessageEvent` per message), so the 1,000 clients cost their process less of the
 * 2 cores they share with the server they measure. `--api websocket` uses the runtime's
 * `WebSocket` instead.
 * @module
 */
import { parseArgs } from "node:util";
import { RawWebSocket } from "../collectors/runtime/raw_websocket.ts";

const BUCKET_MS = 0.1;
const BUCKETS = 50_000; // 5 s; later arrivals land in the last bucket

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    count: { type: "string", default: "500" },
    offset: { type: "string", default: "0" },
    symbols: { type: "string", default: "10" },
    api: { type: "string", default: "raw" },
  },
});
const count = Number(values.count);
const offset = Number(values.offset);
const symbols = Number(values.symbols);

let histogram = new Uint32Array(BUCKETS);
let events = 0;
let breaks = 0;
let closed = 0;

/** The decimal integer starting at `at` in `text` (digits only; no allocation). */
function digits(text: string, at: number): number {
  let n = 0;
  for (let c = text.charCodeAt(at); c >= 48 && c <= 57; c = text.charCodeAt(++at)) {
    n = n * 10 + (c - 48);
  }
  return n;
}

function scan(text: string, last: { id: number }): void {
  const now = (performance.timeOrigin + performance.now()) * 1000;
  let at = 0;
  while ((at = text.indexOf('"id":"', at)) >= 0) {
    at += 6;
    const id = digits(text, at);
    if (last.id >= 0 && id !== last.id + 1) breaks++;
    last.id = id;
    const stamp = digits(text, text.lastIndexOf('"recvTs":', at) + 9);
    const bucket = Math.min(BUCKETS - 1, Math.max(0, Math.floor((now - stamp) / 1000 / BUCKET_MS)));
    histogram[bucket]++;
    events++;
  }
}

const closers: (() => void)[] = [];
const opening: Promise<void>[] = [];
for (let i = 0; i < count; i++) {
  const symbol = `SYM${(offset + i) % symbols}-USD`;
  const url = `${values.url}ws?kinds=trade&symbol=${symbol}`;
  const last = { id: -1 };
  const ws = values.api === "websocket" ? new WebSocket(url) : new RawWebSocket(url);
  ws.onmessage = (m: { data: unknown }) => scan(m.data as string, last);
  ws.onclose = () => closed++;
  closers.push(() => ws.close());
  opening.push(
    new Promise((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`client ${i} failed to connect`));
    }),
  );
  if (opening.length % 50 === 0) await Promise.all(opening.slice(-50));
}
await Promise.all(opening);
console.log("ready");

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let pending = "";
for await (const chunk of lines) {
  pending += chunk;
  let end;
  while ((end = pending.indexOf("\n")) >= 0) {
    const command = pending.slice(0, end).trim();
    pending = pending.slice(end + 1);
    if (command === "start") {
      histogram = new Uint32Array(BUCKETS);
      events = 0;
      breaks = 0;
    } else if (command === "stop") {
      const sparse: [number, number][] = [];
      histogram.forEach((n, b) => n && sparse.push([b, n]));
      console.log(JSON.stringify({ events, breaks, closed, histogram: sparse }));
    } else if (command === "exit") {
      for (const close of closers) close();
      Deno.exit(0);
    }
  }
}
Deno.exit(0);
