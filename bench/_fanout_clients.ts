/**
 * WebSocket clients for the fan-out benchmark, run as a child process (`bench/_fanout.ts`)
 * so the server does not compete with its own clients in one event loop.
 *
 * Opens `--count` WebSockets to `--url` (`ws://host:port/`), client `i` subscribed to the
 * trades of `SYM<(offset + i) % symbols>-USD`, and prints `ready` once all are open. Then
 * follows commands on stdin, one a line:
 * - `start`: forget what was measured so far;
 * - `stop`: print one JSON line with the events and messages received since `start`, a latency
 *   histogram
 *   (publish to receive, per event, 0.1 ms buckets: `[[bucket, count], ...]`), the order
 *   breaks (a per-symbol `id` that is not the previous one plus 1) and the sockets closed;
 * - `exit`: close every socket and exit.
 *
 * Latency is `receive time - recvTs`, both `performance.timeOrigin + performance.now()`
 * (`scripts/load_server.ts` stamps `recvTs` just before `hub.write`). Messages are scanned
 * for `"recvTs":` and `"id":"` rather than `JSON.parse`d: the figure is the server's delivery,
 * not the client's parser.
 *
 * `--api bytes` (the default) reads each socket with {@linkcode ByteSocket}: the server's
 * text frames are cut from `Deno.connect` reads and scanned as bytes, never decoded to
 * strings (decoding was a third of the clients' CPU), so the 1,000 clients cost their process
 * less of the 2 cores they share with the server they measure. Every event is still counted
 * and order-checked, and a message whose events cannot all be read (a `{` without its
 * `"recvTs":N,"id":"N"`) ends the process with an error rather than being skipped.
 * `--api raw` uses the collectors' RFC 6455 client (`collectors/runtime/raw_websocket.ts`),
 * `--api websocket` the runtime's `WebSocket`.
 * @module
 */
import { parseArgs } from "node:util";
import { RawWebSocket } from "../collectors/runtime/raw_websocket.ts";
import { upgradeRequest } from "./_fanout.ts";

const BUCKET_MS = 0.1;
const BUCKETS = 50_000; // 5 s; later arrivals land in the last bucket

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    count: { type: "string", default: "500" },
    offset: { type: "string", default: "0" },
    symbols: { type: "string", default: "10" },
    api: { type: "string", default: "bytes" },
  },
});
const count = Number(values.count);
const offset = Number(values.offset);
const symbols = Number(values.symbols);

let histogram = new Uint32Array(BUCKETS);
let events = 0;
let messages = 0;
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
  messages++;
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

const RECV_TS = new TextEncoder().encode('"recvTs":');
const ID = new TextEncoder().encode(',"id":"');
const V = 0x76; // "v" occurs only in "recvTs" among a trade's keys and load values

function expect(bytes: Uint8Array, at: number, literal: Uint8Array): void {
  for (let i = 0; i < literal.length; i++) {
    if (bytes[at + i] !== literal[i]) {
      throw new Error(`unexpected message: ${new TextDecoder().decode(bytes.slice(0, 200))}`);
    }
  }
}

/**
 * {@linkcode scan} over a message's bytes, in one pass: every `{` opens an event, which must
 * hold `"recvTs":N,"id":"M"` (found by its `v`, the only one among a trade's keys and the
 * load server's values).
 */
function scanBytes(bytes: Uint8Array, last: { id: number }): void {
  const now = (performance.timeOrigin + performance.now()) * 1000;
  let objects = 0;
  let found = 0;
  const n = bytes.length;
  for (let at = 0; at < n; at++) {
    const b = bytes[at];
    if (b === 0x7b) objects++;
    if (b !== V) continue;
    expect(bytes, at - 4, RECV_TS);
    let stamp = 0;
    let i = at + 5;
    for (let c = bytes[i]; c >= 48 && c <= 57; c = bytes[++i]) stamp = stamp * 10 + (c - 48);
    expect(bytes, i, ID);
    let id = 0;
    i += ID.length;
    for (let c = bytes[i]; c >= 48 && c <= 57; c = bytes[++i]) id = id * 10 + (c - 48);
    if (last.id >= 0 && id !== last.id + 1) breaks++;
    last.id = id;
    const bucket = Math.min(BUCKETS - 1, Math.max(0, Math.floor((now - stamp) / 1000 / BUCKET_MS)));
    histogram[bucket]++;
    found++;
    at = i;
  }
  if (found !== objects) throw new Error(`${objects} events in a message, ${found} read`);
  events += found;
  messages++;
}

/**
 * The least a fan-out client needs: the upgrade over `Deno.connect`, then the server's
 * unmasked frames cut from large reads; text messages go to `onmessage` as bytes (a view
 * valid during the call), pings are answered, a close frame ends it. Fragmented messages
 * and anything else unexpected end the process with an error.
 */
class ByteSocket {
  onopen: (() => void) | null = null;
  onmessage: ((bytes: Uint8Array) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: ((error: unknown) => void) | null = null;
  #conn: Deno.Conn | undefined;

  constructor(url: string) {
    this.#run(new URL(url)).catch((error) => this.onerror?.(error));
  }

  close(): void {
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
  }

  async #run(url: URL): Promise<void> {
    const port = Number(url.port);
    const conn = this.#conn = await Deno.connect({ hostname: url.hostname, port });
    await conn.write(upgradeRequest(port, url.pathname + url.search));
    let buf = new Uint8Array(1 << 16);
    let len = 0;
    let head = -1;
    while (head < 0) {
      const n = await conn.read(buf.subarray(len));
      if (n === null) throw new Error("closed during the upgrade");
      len += n;
      head = new TextDecoder().decode(buf.subarray(0, len)).indexOf("\r\n\r\n");
    }
    if (!new TextDecoder().decode(buf.subarray(0, 13)).startsWith("HTTP/1.1 101")) {
      throw new Error(`upgrade refused: ${new TextDecoder().decode(buf.subarray(0, 40))}`);
    }
    buf.copyWithin(0, head + 4, len);
    len -= head + 4;
    this.onopen?.();
    for (;;) {
      const off = this.#frames(buf, len);
      if (off < 0) break;
      buf.copyWithin(0, off, len);
      len -= off;
      if (len === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(len)).catch(() => null);
      if (n === null) break;
      len += n;
    }
    this.close();
    this.onclose?.();
  }

  /** Handles the whole frames in `buf[0, len)`: the offset of the first incomplete one. */
  #frames(buf: Uint8Array, len: number): number {
    let off = 0;
    while (len - off >= 2) {
      const b0 = buf[off];
      let size = buf[off + 1];
      let head = 2;
      if (size === 126) {
        if (len - off < 4) break;
        size = (buf[off + 2] << 8) | buf[off + 3];
        head = 4;
      } else if (size === 127) {
        if (len - off < 10) break;
        size = Number(new DataView(buf.buffer, off + 2, 8).getBigUint64(0));
        head = 10;
      } else if (size > 127) throw new Error("a masked frame from the server");
      if (len - off < head + size) break;
      const payload = buf.subarray(off + head, off + head + size);
      off += head + size;
      if (b0 === 0x81) this.onmessage?.(payload);
      else if (b0 === 0x88) return -1;
      else if (b0 === 0x89) {
        void this.#conn!.write(new Uint8Array([0x8a, 0x80 | size, 0, 0, 0, 0, ...payload]));
      } else throw new Error(`unexpected frame 0x${b0.toString(16)}`);
    }
    return off;
  }
}

const closers: (() => void)[] = [];
const opening: Promise<void>[] = [];
for (let i = 0; i < count; i++) {
  const symbol = `SYM${(offset + i) % symbols}-USD`;
  const url = `${values.url}ws?kinds=trade&symbol=${symbol}`;
  const last = { id: -1 };
  const ws = values.api === "bytes"
    ? new ByteSocket(url)
    : values.api === "websocket"
    ? new WebSocket(url)
    : new RawWebSocket(url);
  if (ws instanceof ByteSocket) ws.onmessage = (bytes) => scanBytes(bytes, last);
  else ws.onmessage = (m: { data: unknown }) => scan(m.data as string, last);
  ws.onclose = () => closed++;
  closers.push(() => ws.close());
  opening.push(
    new Promise((resolve, reject) => {
      ws.onopen = () => {
        resolve();
        // After the open, an unreadable message must fail the run, not vanish.
        if (ws instanceof ByteSocket) {
          ws.onerror = (error) => {
            console.error(`client ${i}: ${error}`);
            Deno.exit(1);
          };
        }
      };
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
      messages = 0;
      breaks = 0;
    } else if (command === "stop") {
      const sparse: [number, number][] = [];
      histogram.forEach((n, b) => n && sparse.push([b, n]));
      console.log(JSON.stringify({ events, messages, breaks, closed, histogram: sparse }));
    } else if (command === "exit") {
      for (const close of closers) close();
      Deno.exit(0);
    }
  }
}
Deno.exit(0);
