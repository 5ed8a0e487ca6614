/**
 * A receive-only WebSocket client over `Deno.connect` (RFC 6455), for benchmarks that hold
 * a thousand connections in one process: each read takes every frame the kernel holds for
 * the socket and hands each text message to `onMessage` as a string. It checks the `101`
 * answer and its `Sec-WebSocket-Accept`, joins fragmented messages, answers pings and
 * closes (masked, as a client must), and fails on frames a server may not send (masked, or
 * with reserved bits or an unknown opcode).
 * @module
 */

/** Callbacks of {@linkcode openRawWebSocket}. */
export interface RawWebSocketHandlers {
  /** Each text message, whole. */
  readonly onMessage: (text: string) => void;
  /** Once, when the connection has ended (close frame, end of stream or protocol error). */
  readonly onClose: () => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

async function expectedAccept(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** A masked client frame (`opcode`, short `payload`), as RFC 6455 requires of clients. */
function clientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  if (payload.length > 125) throw new RangeError("control payloads are at most 125 bytes");
  const mask = crypto.getRandomValues(new Uint8Array(4));
  const out = new Uint8Array(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length;
  out.set(mask, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i] ^ mask[i & 3];
  return out;
}

/**
 * Connects to `url` (`ws://host:port/path?query`), upgrades, and reads until the
 * connection ends. Resolves, once the upgrade has succeeded, with a function that closes
 * the connection (sending a close frame first).
 * @throws {Error} when the server does not answer `101` with the right accept key.
 */
export async function openRawWebSocket(
  url: string,
  handlers: RawWebSocketHandlers,
): Promise<() => void> {
  const u = new URL(url);
  if (u.protocol !== "ws:") throw new TypeError(`only ws:// URLs are supported: ${url}`);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port || 80) });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await conn.write(encoder.encode(
    `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  let buf = new Uint8Array(64 * 1024);
  let have = 0;
  let headEnd = -1;
  while (headEnd < 0) {
    const n = await conn.read(buf.subarray(have));
    if (n === null) throw new Error(`${url}: connection closed during the upgrade`);
    have += n;
    headEnd = decoder.decode(buf.subarray(0, have)).indexOf("\r\n\r\n");
    if (headEnd < 0 && have === buf.length) throw new Error(`${url}: upgrade answer too long`);
  }
  const head = decoder.decode(buf.subarray(0, headEnd));
  const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(head)?.[1];
  if (!/^HTTP\/1\.1 101 /.test(head) || accept !== await expectedAccept(key)) {
    conn.close();
    throw new Error(`${url}: upgrade refused: ${head.split("\r\n")[0]}`);
  }
  buf.copyWithin(0, headEnd + 4, have);
  have -= headEnd + 4;

  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    try {
      conn.close();
    } catch { /* already closed */ }
    handlers.onClose();
  };
  const send = (frame: Uint8Array) => conn.write(frame).catch(end);
  let fragments: Uint8Array[] = [];

  /** Handles the complete frames in `buf[0, have)`; returns the bytes consumed. */
  const frames = (): number => {
    let at = 0;
    while (have - at >= 2) {
      const b0 = buf[at], b1 = buf[at + 1];
      if ((b0 & 0x70) !== 0 || (b1 & 0x80) !== 0) throw new Error("bad frame header");
      let len = b1 & 0x7f;
      let start = at + 2;
      if (len === 126) {
        if (have - at < 4) break;
        len = (buf[at + 2] << 8) | buf[at + 3];
        start = at + 4;
      } else if (len === 127) {
        if (have - at < 10) break;
        len = Number(new DataView(buf.buffer, buf.byteOffset + at + 2, 8).getBigUint64(0));
        start = at + 10;
      }
      if (start + len > buf.length) {
        const bigger = new Uint8Array(Math.max(buf.length * 2, start - at + len));
        bigger.set(buf.subarray(at, have));
        buf = bigger;
        have -= at;
        return -1; // re-parse from the start of the grown buffer
      }
      if (have < start + len) break;
      const opcode = b0 & 0x0f, fin = (b0 & 0x80) !== 0;
      const payload = buf.subarray(start, start + len);
      at = start + len;
      if (opcode === 1 || opcode === 0) {
        if (fin && fragments.length === 0) handlers.onMessage(decoder.decode(payload));
        else {
          fragments.push(payload.slice());
          if (fin) {
            const whole = new Uint8Array(fragments.reduce((n, f) => n + f.length, 0));
            let o = 0;
            for (const f of fragments) whole.set(f, (o += f.length) - f.length);
            fragments = [];
            handlers.onMessage(decoder.decode(whole));
          }
        }
      } else if (opcode === 9) {
        send(clientFrame(10, payload.slice()));
      } else if (opcode === 8) {
        send(clientFrame(8, payload.slice(0, 2))).then(end);
        return at;
      } else if (opcode !== 10 && opcode !== 2) {
        throw new Error(`unexpected opcode ${opcode}`);
      }
    }
    return at;
  };

  (async () => {
    try {
      while (!ended) {
        const used = frames();
        if (used < 0) continue;
        if (used > 0) {
          buf.copyWithin(0, used, have);
          have -= used;
        }
        if (ended) break;
        const n = await conn.read(buf.subarray(have));
        if (n === null) break;
        have += n;
      }
    } catch { /* reset, or a protocol error: the connection ends */ }
    end();
  })();

  return () => {
    if (ended) return;
    send(clientFrame(8, new Uint8Array([0x03, 0xe8]))).then(end);
  };
}
