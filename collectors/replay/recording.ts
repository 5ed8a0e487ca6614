/**
 * Our own recording format: every raw frame a collector received, with its local receive
 * time in nanoseconds, plus connect and send markers, as gzip-compressed JSON lines:
 *
 * ```text
 * {"t":"header","format":"alphapulse-recording","version":1,"exchange":"alpaca","ns":"..."}
 * {"t":"connect","ns":"1714564800123456789","conn":"alpaca#1","data":"wss://..."}
 * {"t":"send","ns":"1714564800124000000","conn":"alpaca#1","data":"{\"action\":...}"}
 * {"t":"recv","ns":"1714564800125123456","conn":"alpaca#1","data":"[{\"T\":\"t\",...}]"}
 * ```
 *
 * `ns` is decimal text (nanoseconds since the epoch exceed 2^53), read at receive from
 * `performance.timeOrigin + performance.now()` (sub-microsecond resolution). Sent frames that
 * carry a secret (Alpaca's auth) are recorded redacted.
 *
 * Files are named `<exchange>-<UTC start, YYYYMMDDTHHMMSS.mmmZ>-<seq>.jsonl.gz`, so names sort
 * by time. A file is written as `<name>.tmp` and renamed when it is closed (rotation or
 * shutdown): only files without `.tmp` are complete. Files rotate at UTC hour boundaries and
 * after `maxBytes` compressed bytes. A `.tmp` left by a killed process holds a gzip stream
 * without its end; it is never replayed automatically.
 * @module
 */
import { join } from "node:path";
import type { RecordingItem } from "./frame.ts";
import { readLines, type ReadLinesOptions } from "./_lines.ts";

/** The `format` value of our header line. */
export const RECORDING_FORMAT = "alphapulse-recording";
/** The file name extension of a complete recording. */
export const RECORDING_EXTENSION = ".jsonl.gz";

const ORIGIN_MS = Math.floor(performance.timeOrigin);
const ORIGIN_NS = BigInt(ORIGIN_MS) * 1_000_000n +
  BigInt(Math.round((performance.timeOrigin - ORIGIN_MS) * 1e6));

/** Wall-clock time in nanoseconds since the epoch (sub-microsecond resolution). */
export function nowNanos(): bigint {
  return ORIGIN_NS + BigInt(Math.round(performance.now() * 1e6));
}

/** Options for {@linkcode RecordingWriter}. */
export interface RecordingWriterOptions {
  /** Directory for the files (created if missing). */
  readonly dir: string;
  /** Venue name: the file name prefix and the header's `exchange`. */
  readonly exchange: string;
  /** Start a new file after this many compressed bytes (default 128 MiB). */
  readonly maxBytes?: number;
  /**
   * Start a new file at every multiple of this many milliseconds since the epoch (default
   * one hour: files cut at UTC hour boundaries); 0 disables time rotation.
   */
  readonly rotateEveryMs?: number;
  /** Hand buffered lines to the compressor once they reach this many characters (64 KiB). */
  readonly chunkChars?: number;
  /** JSON-line logger for write failures (default: stderr). */
  readonly log?: (record: Record<string, unknown>) => void;
}

/** Counters of a {@linkcode RecordingWriter}. */
export interface RecordingStats {
  /** Lines recorded (headers excluded). */
  lines: number;
  /** Files completed (closed and renamed). */
  files: number;
  /** Compressed bytes written. */
  bytes: number;
  /** Failed writes, renames or opens (each logged; recording goes on with the next file). */
  errors: number;
}

const encoder = new TextEncoder();

/** One file being written: open -> writes -> close, serialised on one promise chain. */
class Segment {
  readonly finalPath: string;
  readonly tmpPath: string;
  #lines: string[] = [];
  #chars = 0;
  #chain: Promise<void>;
  #writer?: WritableStreamDefaultWriter<Uint8Array>;
  #piped?: Promise<void>;
  bytes = 0;

  constructor(
    path: string,
    header: string,
    readonly onError: (what: string, error: unknown) => void,
  ) {
    this.finalPath = path;
    this.tmpPath = path + ".tmp";
    this.#lines.push(header);
    this.#chain = this.#open().catch((error) => this.onError(`open ${this.tmpPath}`, error));
  }

  async #open(): Promise<void> {
    const file = await Deno.open(this.tmpPath, { write: true, createNew: true });
    const gzip = new CompressionStream("gzip");
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, controller) => {
        this.bytes += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    this.#piped = gzip.readable.pipeThrough(counter).pipeTo(file.writable);
    this.#writer = gzip.writable.getWriter() as WritableStreamDefaultWriter<Uint8Array>;
  }

  append(line: string, chunkChars: number): void {
    this.#lines.push(line);
    this.#chars += line.length;
    if (this.#chars >= chunkChars) this.flush();
  }

  /** Hands the buffered lines to the compressor; resolves once written. */
  flush(): Promise<void> {
    if (this.#lines.length > 0) {
      const bytes = encoder.encode(this.#lines.join(""));
      this.#lines = [];
      this.#chars = 0;
      this.#chain = this.#chain.then(async () => {
        if (this.#writer === undefined) return; // the open failed (logged)
        await this.#writer.write(bytes);
      }).catch((error) => this.onError(`write ${this.tmpPath}`, error));
    }
    return this.#chain;
  }

  /** Flushes, ends the gzip stream, closes the file and renames it to its final name. */
  close(): Promise<boolean> {
    this.flush();
    const done = this.#chain.then(async () => {
      if (this.#writer === undefined) return false;
      await this.#writer.close();
      await this.#piped;
      await Deno.rename(this.tmpPath, this.finalPath);
      return true;
    }).catch((error) => {
      this.onError(`close ${this.tmpPath}`, error);
      return false;
    });
    this.#chain = done.then(() => {});
    return done;
  }
}

/**
 * Writes a collector's raw frames to rotated, gzip-compressed JSON-line files. Recording
 * calls are synchronous and cheap (a line is buffered); compression and file I/O happen
 * asynchronously in order.
 *
 * @example
 * ```ts
 * import { RecordingWriter } from "./recording.ts";
 * const dir = await Deno.makeTempDir();
 * const writer = new RecordingWriter({ dir, exchange: "coinbase" });
 * const conn = writer.connect("wss://ws-feed.exchange.coinbase.com");
 * writer.send(conn, '{"type":"subscribe"}');
 * writer.recv(conn, '{"type":"heartbeat"}');
 * await writer.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RecordingWriter {
  readonly dir: string;
  readonly exchange: string;
  readonly #maxBytes: number;
  readonly #rotateEveryMs: number;
  readonly #chunkChars: number;
  readonly #log: (record: Record<string, unknown>) => void;
  #segment?: Segment;
  #rotateAtMs = Infinity;
  #sequence = 0;
  #connections = 0;
  #closing: Promise<unknown>[] = [];
  #closed = false;
  /** Counters so far. */
  readonly stats: RecordingStats = { lines: 0, files: 0, bytes: 0, errors: 0 };

  constructor(options: RecordingWriterOptions) {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(options.exchange)) {
      throw new TypeError(`exchange must be a lower-case name, got "${options.exchange}"`);
    }
    this.dir = options.dir;
    this.exchange = options.exchange;
    this.#maxBytes = options.maxBytes ?? 128 * 1024 * 1024;
    this.#rotateEveryMs = options.rotateEveryMs ?? 3_600_000;
    this.#chunkChars = options.chunkChars ?? 64 * 1024;
    if (!(this.#maxBytes > 0) || !(this.#rotateEveryMs >= 0)) {
      throw new RangeError("maxBytes must be positive and rotateEveryMs not negative");
    }
    this.#log = options.log ??
      ((record) => console.error(JSON.stringify({ time: new Date().toISOString(), ...record })));
    Deno.mkdirSync(this.dir, { recursive: true });
  }

  /** Records a new connection to `url`; returns its id for the following lines. */
  connect(url: string): string {
    const conn = `${this.exchange}#${++this.#connections}`;
    this.#line("connect", conn, url);
    return conn;
  }

  /** Records a frame we sent (pass the redacted text for frames carrying secrets). */
  send(conn: string, frame: string): void {
    this.#line("send", conn, frame);
  }

  /** Records a received frame; call it as the frame arrives (the time is read here). */
  recv(conn: string, frame: string): void {
    this.#line("recv", conn, frame);
  }

  #line(kind: string, conn: string, data: string): void {
    if (this.#closed) return;
    const now = performance.now();
    const ns = ORIGIN_NS + BigInt(Math.round(now * 1e6));
    let segment = this.#segment;
    if (
      segment === undefined || performance.timeOrigin + now >= this.#rotateAtMs ||
      segment.bytes >= this.#maxBytes
    ) {
      segment = this.#rotate(ns, performance.timeOrigin + now);
    }
    this.stats.lines++;
    segment.append(
      `{"t":"${kind}","ns":"${ns}","conn":${JSON.stringify(conn)},"data":${
        JSON.stringify(data)
      }}\n`,
      this.#chunkChars,
    );
  }

  #rotate(ns: bigint, ms: number): Segment {
    if (this.#segment !== undefined) this.#finish(this.#segment);
    const stamp = new Date(Math.floor(ms)).toISOString().replace(/[-:]/g, "");
    const seq = String(++this.#sequence).padStart(4, "0");
    const path = join(this.dir, `${this.exchange}-${stamp}-${seq}${RECORDING_EXTENSION}`);
    const header = JSON.stringify({
      t: "header",
      format: RECORDING_FORMAT,
      version: 1,
      exchange: this.exchange,
      ns: String(ns),
    }) + "\n";
    this.#segment = new Segment(path, header, (what, error) => {
      this.stats.errors++;
      this.#log({ level: "error", msg: `recording: ${what} failed`, error: String(error) });
    });
    const every = this.#rotateEveryMs;
    this.#rotateAtMs = every > 0 ? (Math.floor(ms / every) + 1) * every : Infinity;
    return this.#segment;
  }

  #finish(segment: Segment): void {
    const closing = segment.close().then((ok) => {
      this.stats.bytes += segment.bytes;
      if (ok) this.stats.files++;
    });
    this.#closing.push(closing);
    closing.then(() => {
      this.#closing = this.#closing.filter((c) => c !== closing);
    });
  }

  /** The file being written (its final name), if any. */
  get currentFile(): string | undefined {
    return this.#segment?.finalPath;
  }

  /** Hands everything recorded so far to the compressor and waits for the writes. */
  async flush(): Promise<void> {
    await this.#segment?.flush();
  }

  /** Completes the current file (renamed from `.tmp`); later lines are ignored. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#segment !== undefined) this.#finish(this.#segment);
    this.#segment = undefined;
    await Promise.all(this.#closing);
  }
}

/** Nanosecond text to microseconds (exact: the last three digits are dropped). */
function nanosTextToMicros(ns: unknown): number {
  if (typeof ns !== "string" || !/^\d{4,22}$/.test(ns)) return NaN;
  return Number(ns.slice(0, -3));
}

/** Parses one line of a recording; `undefined` for blank and header lines. */
export function parseRecordingLine(line: string, lineNo: number): RecordingItem | undefined {
  if (line.length === 0) return undefined;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line);
  } catch {
    return { kind: "unreadable", line: lineNo, text: line, reason: "malformed JSON line" };
  }
  if (o === null || typeof o !== "object") {
    return { kind: "unreadable", line: lineNo, text: line, reason: "line is not an object" };
  }
  if (o.t === "header") {
    return o.format === RECORDING_FORMAT ? undefined : {
      kind: "unreadable",
      line: lineNo,
      text: line,
      reason: "header of another format",
    };
  }
  const recvTs = nanosTextToMicros(o.ns);
  const data = o.data;
  const conn = typeof o.conn === "string" ? o.conn : undefined;
  if (Number.isNaN(recvTs) || typeof data !== "string") {
    return { kind: "unreadable", line: lineNo, text: line, reason: "line without ns or data" };
  }
  switch (o.t) {
    case "recv":
      return { kind: "recv", recvTs, data, source: conn };
    case "send":
      return { kind: "send", recvTs, data, source: conn };
    case "connect":
      return { kind: "connect", recvTs, data, source: data };
    default:
      return { kind: "unreadable", line: lineNo, text: line, reason: "unknown line kind" };
  }
}

/** Reads one of our recording files (gzip by the `.gz` extension). */
export async function* readRecording(
  path: string,
  options: ReadLinesOptions = {},
): AsyncGenerator<RecordingItem> {
  let n = 0;
  for await (const line of readLines(path, options)) {
    const item = parseRecordingLine(line, ++n);
    if (item !== undefined) yield item;
  }
}
