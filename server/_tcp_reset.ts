/**
 * Resets TCP connections of this process by their two ends, through libc (FFI, Linux): the
 * server's last resort for a WebSocket client that never reads. Deno 2.9.6 has no public way
 * to drop a served WebSocket's connection, and it keeps the connection open while its
 * pending read and write wait: the peer's zero window holds the write forever, so a client
 * that never reads kept its socket, its file descriptor and ~4 MB of kernel buffer for as long
 * as it stayed connected. Here the socket is found among this process's descriptors by
 * `getsockname`/`getpeername`, given `SO_LINGER` 0 and `shutdown(SHUT_RDWR)`: the pending
 * write fails, the read ends, Deno closes the descriptor itself and the kernel answers the
 * peer with a reset. The descriptor is never closed here, so it cannot be one Deno reuses.
 *
 * Requests are batched: every connection asked for within one turn of the event loop is found
 * in one pass over the descriptors (about 1 us a descriptor).
 * @module
 */

/** The two ends of one TCP connection, as this process sees them. */
export interface TcpEnds {
  /** This process's port (the server's listening port). */
  readonly localPort: number;
  /** The peer's address, as `Deno.serve` reports it in `info.remoteAddr`. */
  readonly peer: { readonly hostname: string; readonly port: number };
}

const SYMBOLS = {
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
} as const;
const SOL_SOCKET = 1;
const SO_LINGER = 13;
const SHUT_RDWR = 2;
const AF_INET = 2;
const AF_INET6 = 10;

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

/** libc, or `null` where it cannot be used (not Linux, no FFI permission). */
function library(): Deno.DynamicLibrary<typeof SYMBOLS> | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return libc;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return libc;
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch { /* stays null */ }
  return libc;
}

/** Whether this process can reset connections (Linux, FFI permission, libc found). */
export function canResetTcp(): boolean {
  return library() !== null;
}

/** A canonical text of an IP address (`URL` normalises IPv6 text). */
function canonicalHost(hostname: string): string {
  const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  if (!bare.includes(":")) return bare;
  try {
    return new URL(`http://[${bare}]/`).hostname;
  } catch {
    return bare;
  }
}

/** `port|host` of a `sockaddr_in`/`sockaddr_in6`, or `undefined` for other families. */
function addressKey(address: Uint8Array): string | undefined {
  const family = address[0] | (address[1] << 8);
  const port = (address[2] << 8) | address[3];
  if (family === AF_INET) return `${port}|${address.subarray(4, 8).join(".")}`;
  if (family !== AF_INET6) return undefined;
  const groups: string[] = [];
  for (let i = 8; i < 24; i += 2) groups.push(((address[i] << 8) | address[i + 1]).toString(16));
  return `${port}|${canonicalHost(groups.join(":"))}`;
}

function keyOf(ends: TcpEnds): string {
  return `${ends.localPort}|${ends.peer.port}|${canonicalHost(ends.peer.hostname)}`;
}

/** Resets every connection among `wanted` (keys of {@linkcode keyOf}); returns those reset. */
function resetMatching(
  lib: Deno.DynamicLibrary<typeof SYMBOLS>,
  wanted: Set<string>,
): Set<string> {
  const address = new Uint8Array(128);
  const length = new Uint32Array(1);
  const lengthBytes = new Uint8Array(length.buffer);
  const name = (fd: number, which: "getsockname" | "getpeername") => {
    length[0] = address.length;
    return lib.symbols[which](fd, address, lengthBytes) === 0 ? addressKey(address) : undefined;
  };
  const linger = new Uint8Array(new Int32Array([1, 0]).buffer); // on, 0 s: reset on close
  const reset = new Set<string>();
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc/self/fd");
  } catch {
    return reset;
  }
  for (const entry of entries) {
    if (wanted.size === 0) break;
    const fd = Number(entry.name);
    if (!Number.isInteger(fd)) continue;
    const local = name(fd, "getsockname"); // fails fast (ENOTSOCK) on files and pipes
    if (local === undefined) continue;
    const peer = name(fd, "getpeername");
    if (peer === undefined) continue;
    const key = `${local.slice(0, local.indexOf("|"))}|${peer}`;
    if (!wanted.delete(key)) continue;
    lib.symbols.setsockopt(fd, SOL_SOCKET, SO_LINGER, linger, linger.length);
    if (lib.symbols.shutdown(fd, SHUT_RDWR) === 0) reset.add(key);
  }
  return reset;
}

let pending: Map<string, (reset: boolean) => void> | undefined;

/**
 * Resets the connection with these ends on the next turn of the event loop. Resolves whether
 * it was found and reset: `false` where FFI cannot be used, and when the connection has
 * already gone.
 */
export function resetTcpConnection(ends: TcpEnds): Promise<boolean> {
  const lib = library();
  if (!lib) return Promise.resolve(false);
  const { promise, resolve } = Promise.withResolvers<boolean>();
  const key = keyOf(ends);
  if (!pending) {
    const batch = pending = new Map();
    setTimeout(() => {
      pending = undefined;
      const reset = resetMatching(lib, new Set(batch.keys()));
      for (const [key, done] of batch) done(reset.has(key));
    }, 0);
  }
  const earlier = pending.get(key);
  pending.set(key, (reset) => {
    earlier?.(reset);
    resolve(reset);
  });
  return promise;
}
