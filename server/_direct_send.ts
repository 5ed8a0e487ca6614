/**
 * Writes a served WebSocket's text frames straight to its TCP socket with libc `send` (FFI,
 * Linux), in place of `WebSocket.send`: the fan-out's hot path. `WebSocket.send` copies the
 * text into Rust and again into the frame and writes it from a task of its own, so no socket is
 * written until the JavaScript of the whole fan-out has run (in a `perf` profile of the fan-out
 * benchmark 9.5 % of the server's CPU was in libc, mostly `memmove`, `malloc` and `free`; 1.8 %
 * with direct writes). Here a frame
 * is built once for every subscriber of a batch and written at once. Measured with 1,000
 * clients at 10,000 trades/s (`deno task bench server`, alternated with the code before on one
 * host): `server_fanout_1000_p99` 15.7-16.9 ms against 20.9-24.1 ms, server CPU 11.4-12.2 us a
 * message against 14.1-15.9 us (user CPU 2.5-3.5 us against 4.4-6.0 us).
 *
 * The frames stay whole, so the stream Deno also writes to (pongs, pings, the close frame)
 * never interleaves with them: a frame is written only while the socket's send queue (read with
 * `SIOCOUTQ`), with the frame, stays within a quarter of the socket's buffer and nothing of
 * Deno's is waiting (`bufferedAmount` 0); otherwise {@linkcode DirectSocket.write} answers `"full"` and the
 * caller sends through `WebSocket.send`, whose buffering and back-pressure then apply as
 * before. Deno's own control frames on the same stream (pongs, its idle pings, the close frame)
 * are whole frames between ours; one Deno could write only in part (a full socket) is finished
 * as soon as the socket takes bytes again, long before its queue is down to the quarter at which
 * ours resume. The descriptor is used only while the WebSocket is open: Deno closes it only
 * after its `readyState` has left `OPEN` (Deno 2.9.6's `01_websocket.js`), so it cannot be one
 * reused for another connection; its socket cookie is checked again whenever the queue is read.
 * @module
 */
import { errno, type Libc, type TcpEnds, withSocket } from "./_socket_fds.ts";

const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_COOKIE = 57;
const SIOCOUTQ = 0x5411;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const EAGAIN = 11;
const EINTR = 4;

/** What {@linkcode DirectSocket.write} did with a frame. */
export type DirectWrite =
  /** Written whole. */
  | "sent"
  /** Nothing written: the socket's queue is too long for a frame of this size to be sure to fit. */
  | "full"
  /**
   * The socket cannot be written directly any more: nothing written (it is another socket, or
   * failed), or, in the one case the checks rule out, part of the frame, when the stream is
   * broken (see {@linkcode DirectSocket.torn}).
   */
  | "failed";

/** A WebSocket's TCP socket, written with `send`. */
export class DirectSocket {
  readonly #lib: Libc;
  readonly #fd: number;
  readonly #cookie: bigint;
  /** Bytes in the socket's send queue when it was last read. */
  #queued = 0;
  /** Bytes sent since then. */
  #sent = 0;
  /** Most bytes the queue may hold before a frame is written: a quarter of `SO_SNDBUF`. */
  #room = 0;
  /** Whether something else may have written since the queue was read: read it first. */
  #stale = true;
  #failed = false;
  #torn = false;
  readonly #word = new Uint8Array(8);
  readonly #wordLength = new Uint32Array(1);

  /** Made by {@linkcode findDirectSocket}. */
  constructor(lib: Libc, fd: number) {
    this.#lib = lib;
    this.#fd = fd;
    this.#cookie = this.#option(SO_COOKIE) ?? -1n;
    this.#failed = this.#cookie < 0n || !this.#refresh();
  }

  /** Whether a write failed or found another socket: direct writes have stopped for good. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Whether part of a frame was written: the stream is broken and the connection must end. */
  get torn(): boolean {
    return this.#torn;
  }

  /**
   * Says that something else wrote to the socket (a message through `WebSocket.send`): the next
   * {@linkcode write} reads the queue first instead of trusting what it last read.
   */
  invalidate(): void {
    this.#stale = true;
  }

  #option(name: number): bigint | undefined {
    this.#word.fill(0);
    this.#wordLength[0] = 8;
    const ok = this.#lib.getsockopt(
      this.#fd,
      SOL_SOCKET,
      name,
      this.#word,
      new Uint8Array(this.#wordLength.buffer),
    );
    return ok === 0 ? new DataView(this.#word.buffer).getBigUint64(0, true) : undefined;
  }

  /** Reads the queue and the buffer size; `false` when the socket is not the one found. */
  #refresh(): boolean {
    if (this.#option(SO_COOKIE) !== this.#cookie) return false;
    const sndbuf = this.#option(SO_SNDBUF);
    if (sndbuf === undefined || this.#lib.ioctl(this.#fd, BigInt(SIOCOUTQ), this.#word) !== 0) {
      return false;
    }
    this.#queued = new DataView(this.#word.buffer).getInt32(0, true);
    this.#sent = 0;
    this.#room = Number(sndbuf) / 4;
    this.#stale = false;
    return true;
  }

  /**
   * Writes `frame` whole, or nothing: only while the queue, with the frame, stays within a
   * quarter of the socket's buffer and within `limit` bytes. The queue is read again only when
   * what was written here since it was last read could have filled that room, or after
   * {@linkcode invalidate}, so a client that keeps up costs one `send` a frame.
   */
  write(frame: Uint8Array, limit = Infinity): DirectWrite {
    if (this.#failed) return "failed";
    if (this.#stale || this.#queued + this.#sent + frame.length > Math.min(this.#room, limit)) {
      if (!this.#refresh()) return this.#fail();
      if (this.#queued + frame.length > Math.min(this.#room, limit)) return "full";
    }
    const length = BigInt(frame.length);
    let n = Number(this.#lib.send(this.#fd, frame, length, MSG_DONTWAIT | MSG_NOSIGNAL));
    if (n < 0 && errno(this.#lib) === EINTR) {
      n = Number(this.#lib.send(this.#fd, frame, length, MSG_DONTWAIT | MSG_NOSIGNAL));
    }
    if (n === frame.length) {
      this.#sent += n;
      return "sent";
    }
    if (n < 0) return errno(this.#lib) === EAGAIN ? "full" : this.#fail();
    this.#torn = n > 0;
    return this.#fail();
  }

  #fail(): "failed" {
    this.#failed = true;
    return "failed";
  }
}

/**
 * The socket of the WebSocket connection with these ends, to write directly; `undefined` where
 * FFI cannot be used or no socket has them.
 */
export async function findDirectSocket(ends: TcpEnds): Promise<DirectSocket | undefined> {
  const found = await withSocket(
    ends,
    (fd, lib) => fd === undefined ? undefined : new DirectSocket(lib, fd),
  );
  return found && !found.failed ? found : undefined;
}

const encoder = new TextEncoder();

/** A final, unmasked text frame (RFC 6455 5.2) carrying `text`, as a server sends it. */
export function textFrame(text: string): Uint8Array {
  const payload = encoder.encode(text);
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const frame = new Uint8Array(head + n);
  frame[0] = 0x81; // FIN, opcode 1 (text)
  if (n < 126) {
    frame[1] = n;
  } else if (n < 65_536) {
    frame[1] = 126;
    frame[2] = n >>> 8;
    frame[3] = n & 0xff;
  } else {
    frame[1] = 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(n));
  }
  frame.set(payload, head);
  return frame;
}
