/**
 * A websocket client (RFC 6455) over a plain TCP or TLS connection (`Deno.connect`,
 * `Deno.connectTls`) for market-data feeds: it reads large chunks and cuts them into frames
 * itself, so a frame costs one UTF-8 decode instead of a `MessageEvent` dispatched through
 * the event system (about three times fewer CPU cycles per frame than `WebSocket` here).
 * It speaks what venue feeds need: text and binary messages (fragmented or not), ping/pong,
 * the close handshake; no extensions are negotiated (no compression).
 *
 * It has the part of the `WebSocket` API the collector uses (`readyState`, `send`, `close`,
 * `onopen`, `onmessage`, `onclose`, `onerror`), so {@linkcode FeedConnection} can use
 * either, and one thing `WebSocket` cannot do: {@linkcode RawWebSocket.pause} stops reading
 * (after the message being delivered) until {@linkcode RawWebSocket.resume}, so the kernel's
 * receive buffer and then the server's send buffer hold what a slow consumer cannot take
 * (TCP flow control). While paused nothing is read, pings included: the server's pings are
 * answered only after `resume`, so a pause must stay shorter than the server's pong
 * deadline (the collector bounds it, `Collector`'s `maxReadPauseMs`).
 * @module
 */

/** The event handed to `onmessage`; the same object is reused for every message. */
export interface RawMessageEvent {
  /** The message text (binary messages are decoded as UTF-8 too). */
  data: string;
  /** The message's bytes as received, valid during the `onmessage` call only. */
  bytes: Uint8Array | undefined;
}

/** The event handed to `onclose`. */
export interface RawCloseEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** Options for {@linkcode RawWebSocket}. */
export interface RawWebSocketOptions {
  /** Largest message accepted, bytes (default 64 MiB); bigger ones close with 1009. */
  readonly maxMessageBytes?: number;
  /** How long `close()` waits for the server's close frame, ms (default 1,000). */
  readonly closeTimeoutMs?: number;
  /**
   * Extra certificate authorities (PEM) trusted for `wss://`, besides the system's (a local
   * server with its own CA, as in the tests).
   */
  readonly caCerts?: readonly string[];
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/**
 * A client websocket on a raw connection.
 *
 * @example
 * ```ts ignore
 * import { RawWebSocket } from "./raw_websocket.ts";
 * const socket = new RawWebSocket("wss://ws-feed.exchange.coinbase.com");
 * socket.onopen = () => socket.send('{"type":"subscribe",...}');
 * socket.onmessage = (event) => console.log(event.data);
 * ```
 */
export class RawWebSocket {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;

  readonly url: string;
  onopen: (() => void) | null = null;
  onmessage: ((event: RawMessageEvent) => void) | null = null;
  onclose: ((event: RawCloseEvent) => void) | null = null;
  onerror: ((event: { message: string }) => void) | null = null;

  #state = CONNECTING;
  #conn?: Deno.Conn;
  #writing: Promise<unknown> = Promise.resolve();
  readonly #maxMessageBytes: number;
  readonly #closeTimeoutMs: number;
  readonly #caCerts: string[] | undefined;
  #closeTimer?: ReturnType<typeof setTimeout>;
  #closeSent = false;
  #closeEvent?: RawCloseEvent;
  readonly #event: RawMessageEvent = { data: "", bytes: undefined };
  readonly #decoder = new TextDecoder();
  /** Fragments of a message in progress. */
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  /** Set while paused: the read loop waits for it before the next frame. */
  #paused?: PromiseWithResolvers<void>;

  constructor(url: string, options: RawWebSocketOptions = {}) {
    const parsed = new URL(url);
    if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
      throw new TypeError(`websocket URL must start with ws:// or wss://, got ${url}`);
    }
    this.url = url;
    this.#maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 1_000;
    this.#caCerts = options.caCerts === undefined ? undefined : [...options.caCerts];
    this.#run(parsed);
  }

  /** `CONNECTING` (0), `OPEN` (1), `CLOSING` (2) or `CLOSED` (3), as `WebSocket`. */
  get readyState(): number {
    return this.#state;
  }

  /** True between {@linkcode RawWebSocket.pause} and {@linkcode RawWebSocket.resume}. */
  get paused(): boolean {
    return this.#paused !== undefined;
  }

  /**
   * Stops reading: no frame after the one being delivered is handled (no message, no ping
   * answered) until {@linkcode RawWebSocket.resume} or `close`. Before the connection opens
   * it takes effect once it is open (the handshake still completes).
   */
  pause(): void {
    if (this.#state === CLOSED || this.#paused !== undefined) return;
    this.#paused = Promise.withResolvers();
  }

  /** Reads again after {@linkcode RawWebSocket.pause}. */
  resume(): void {
    const paused = this.#paused;
    this.#paused = undefined;
    paused?.resolve();
  }

  /** Sends a text message (ignored unless open). */
  send(text: string): void {
    if (this.#state !== OPEN) return;
    this.#write(frame(1, encoder.encode(text)));
  }

  /** Starts the close handshake; the connection ends when the server answers or times out. */
  close(code = 1000, reason = ""): void {
    // The server's close frame must be read: reading resumes (messages are no longer handed on).
    this.resume();
    if (this.#state === CLOSED || this.#state === CLOSING) return;
    if (this.#state === CONNECTING) {
      this.#finish({ code: 1006, reason: "closed before open", wasClean: false });
      return;
    }
    this.#state = CLOSING;
    this.#sendClose(code, reason);
    this.#closeTimer = setTimeout(
      () => this.#finish({ code, reason, wasClean: false }),
      this.#closeTimeoutMs,
    );
  }

  #sendClose(code: number, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    const text = encoder.encode(reason.slice(0, 100));
    const payload = new Uint8Array(2 + text.length);
    payload[0] = code >> 8;
    payload[1] = code & 255;
    payload.set(text, 2);
    this.#write(frame(8, payload));
  }

  #write(bytes: Uint8Array): void {
    const conn = this.#conn;
    if (conn === undefined) return;
    this.#writing = this.#writing.then(async () => {
      let rest = bytes;
      while (rest.length > 0) rest = rest.subarray(await conn.write(rest));
    }).catch(() => {/* the read loop sees the broken connection */});
  }

  /** Ends the connection and reports the close once. */
  #finish(event: RawCloseEvent): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    clearTimeout(this.#closeTimer);
    this.resume(); // a read loop waiting in a pause ends
    this.#closeEvent = event;
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
    this.onclose?.(event);
  }

  /** Connects and upgrades; `undefined` when the socket was closed meanwhile. */
  async #open(url: URL, buf: Uint8Array): Promise<{ conn: Deno.Conn; len: number } | undefined> {
    const tls = url.protocol === "wss:";
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const port = Number(url.port) || (tls ? 443 : 80);
    const conn = this.#conn = tls
      ? await Deno.connectTls({ hostname, port, caCerts: this.#caCerts })
      : await Deno.connect({ hostname, port });
    if (this.#state !== CONNECTING) { // closed while connecting
      conn.close();
      return undefined;
    }
    const len = await this.#handshake(conn, url, buf);
    if (this.#state !== CONNECTING) return undefined;
    this.#state = OPEN;
    this.onopen?.();
    return { conn, len };
  }

  async #run(url: URL): Promise<void> {
    let buf = new Uint8Array(1 << 18);
    let len = 0;
    try {
      const opened = await this.#open(url, buf);
      if (opened === undefined) return;
      const conn = opened.conn;
      len = opened.len;
      // Frames until the connection ends.
      for (;;) {
        let off = 0;
        while (this.#state !== CLOSED) {
          const avail = len - off;
          if (avail < 2) break;
          const b1 = buf[off + 1];
          let size = b1 & 127;
          let head = 2;
          if (size === 126) {
            if (avail < 4) break;
            size = (buf[off + 2] << 8) | buf[off + 3];
            head = 4;
          } else if (size === 127) {
            if (avail < 10) break;
            size = Number(new DataView(buf.buffer, buf.byteOffset + off + 2, 8).getBigUint64(0));
            head = 10;
          }
          const masked = (b1 & 128) !== 0;
          if (masked) head += 4;
          if (size > this.#maxMessageBytes) {
            this.#protocolError(1009, "message too big");
            return;
          }
          if (avail < head + size) {
            if (head + size > buf.length) {
              // A frame larger than the buffer: grow it.
              const bigger = new Uint8Array(head + size + (1 << 16));
              bigger.set(buf.subarray(off, len));
              buf = bigger;
              len -= off;
              off = 0;
            }
            break;
          }
          const start = off + head;
          const end = start + size;
          if (masked) {
            const m = off + head - 4;
            for (let i = start; i < end; i++) buf[i] ^= buf[m + ((i - start) & 3)];
          }
          this.#frame(buf[off], buf, start, end);
          off = end;
          // Paused (by the consumer of that frame): nothing more is read or handled until
          // resumed; the rest of the buffer waits here, the kernel's buffers hold the others.
          if (this.#paused !== undefined) await this.#paused.promise;
        }
        if (this.#state === CLOSED) return;
        if (off > 0) {
          buf.copyWithin(0, off, len);
          len -= off;
        }
        if (this.#paused !== undefined) await this.#paused.promise; // paused before open
        if (this.#state === CLOSED) return;
        const n = await conn.read(buf.subarray(len));
        if (n === null) {
          this.#finish(
            this.#closeEvent ?? { code: 1006, reason: "connection lost", wasClean: false },
          );
          return;
        }
        len += n;
      }
    } catch (error) {
      if (this.#state === CLOSED) return;
      this.onerror?.({ message: (error as Error).message });
      this.#finish({ code: 1006, reason: (error as Error).message, wasClean: false });
    }
  }

  /**
   * Sends the upgrade request and checks the answer (status 101, `Sec-WebSocket-Accept`);
   * returns how many bytes after the answer it left at the start of `buf`.
   */
  async #handshake(conn: Deno.Conn, url: URL, buf: Uint8Array): Promise<number> {
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await conn.write(encoder.encode(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
        `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        `Sec-WebSocket-Version: 13\r\nUser-Agent: alphapulse\r\n\r\n`,
    ));
    // The handshake answer.
    let len = 0;
    let headerEnd = -1;
    while (headerEnd < 0) {
      if (len === buf.length) throw new Error("handshake answer too long");
      const n = await conn.read(buf.subarray(len));
      if (n === null) throw new Error("connection closed during the handshake");
      len += n;
      headerEnd = indexOfBlankLine(buf, len);
    }
    const head = new TextDecoder().decode(buf.subarray(0, headerEnd));
    const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
    if (status !== "101") throw new Error(`handshake refused: ${head.split("\r\n")[0]}`);
    const accept = /^sec-websocket-accept:\s*(\S+)/im.exec(head)?.[1];
    const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
    if (accept !== btoa(String.fromCharCode(...new Uint8Array(digest)))) {
      throw new Error("handshake: wrong Sec-WebSocket-Accept");
    }
    buf.copyWithin(0, headerEnd + 4, len);
    return len - (headerEnd + 4);
  }

  /** Handles one complete frame `buf[start, end)` with first header byte `b0`. */
  #frame(b0: number, buf: Uint8Array, start: number, end: number): void {
    const fin = (b0 & 128) !== 0;
    const opcode = b0 & 15;
    switch (opcode) {
      case 0: // continuation
      case 1: // text
      case 2: { // binary
        if (opcode !== 0 && this.#fragments.length > 0) {
          return this.#protocolError(1002, "new message inside a fragmented one");
        }
        if (fin && this.#fragments.length === 0) {
          if (opcode === 0) return this.#protocolError(1002, "continuation without a start");
          const bytes = buf.subarray(start, end);
          return this.#deliver(this.#decoder.decode(bytes), bytes);
        }
        this.#fragmentBytes += end - start;
        if (this.#fragmentBytes > this.#maxMessageBytes) {
          return this.#protocolError(1009, "message too big");
        }
        this.#fragments.push(buf.slice(start, end));
        if (!fin) return;
        const whole = new Uint8Array(this.#fragmentBytes);
        let at = 0;
        for (const part of this.#fragments) {
          whole.set(part, at);
          at += part.length;
        }
        this.#fragments = [];
        this.#fragmentBytes = 0;
        return this.#deliver(this.#decoder.decode(whole), whole);
      }
      case 8: { // close
        const code = end - start >= 2 ? (buf[start] << 8) | buf[start + 1] : 1005;
        const reason = end - start > 2 ? this.#decoder.decode(buf.subarray(start + 2, end)) : "";
        const event = { code, reason, wasClean: true };
        if (this.#state === OPEN) {
          this.#state = CLOSING;
          this.#sendClose(code === 1005 ? 1000 : code, "");
        }
        this.#closeEvent = event;
        // Let the answer go out, then end.
        this.#writing.finally(() => this.#finish(event));
        return;
      }
      case 9: // ping: answer with the same payload
        if (this.#state === OPEN) this.#write(frame(10, buf.slice(start, end)));
        return;
      case 10: // pong
        return;
      default:
        return this.#protocolError(1002, `unknown opcode ${opcode}`);
    }
  }

  #deliver(text: string, bytes: Uint8Array): void {
    if (this.#state !== OPEN) return;
    const event = this.#event;
    event.data = text;
    event.bytes = bytes;
    this.onmessage?.(event);
    event.bytes = undefined; // the buffer is reused: no one may keep a view of it
  }

  #protocolError(code: number, reason: string): void {
    this.onerror?.({ message: reason });
    if (this.#state === OPEN) {
      this.#state = CLOSING;
      this.#sendClose(code, reason);
    }
    this.#writing.finally(() => this.#finish({ code, reason, wasClean: false }));
  }
}

/** A masked client frame. */
function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = new Uint8Array(head + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) {
    out[1] = 0x80 | n;
  } else if (n < 65_536) {
    out[1] = 0x80 | 126;
    out[2] = n >> 8;
    out[3] = n & 255;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n));
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, head);
  const body = head + 4;
  for (let i = 0; i < n; i++) out[body + i] = payload[i] ^ mask[i & 3];
  return out;
}

/** Index of `\r\n\r\n` in `buf[0, len)`, or -1. */
function indexOfBlankLine(buf: Uint8Array, len: number): number {
  for (let i = 0; i + 3 < len; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}
