/**
 * This process's TCP sockets found by their two ends, through libc (FFI, Linux): what
 * `_tcp_reset.ts` (resetting a connection Deno keeps) and `_direct_send.ts` (writing a
 * WebSocket's frames straight to its socket) need, since Deno gives no file descriptor for a
 * served connection. A socket is found among `/proc/self/fd` by `getsockname`/`getpeername`
 * (about 1 us a descriptor); lookups asked for within one turn of the event loop share one pass.
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
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** libc's socket calls, as {@linkcode libc} returns them. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const AF_INET = 2;
const AF_INET6 = 10;

let library: Deno.DynamicLibrary<typeof SYMBOLS> | null | undefined;

/** libc, or `null` where it cannot be used (not Linux, no FFI permission). */
export function libc(): Libc | null {
  if (library !== undefined) return library?.symbols ?? null;
  library = null;
  if (Deno.build.os !== "linux") return null;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  try {
    library = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch { /* stays null */ }
  return library?.symbols ?? null;
}

/** The calling thread's `errno` (read right after the failing call). */
export function errno(lib: Libc): number {
  const at = lib.__errno_location();
  return at === null ? 0 : new Deno.UnsafePointerView(at).getInt32();
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

/** The key {@linkcode findSockets} matches a socket's ends by. */
function keyOf(ends: TcpEnds): string {
  return `${ends.localPort}|${ends.peer.port}|${canonicalHost(ends.peer.hostname)}`;
}

/** The descriptor of every socket among `wanted` (keys of {@linkcode keyOf}) found now. */
function scan(lib: Libc, wanted: Set<string>): Map<string, number> {
  const address = new Uint8Array(128);
  const length = new Uint32Array(1);
  const lengthBytes = new Uint8Array(length.buffer);
  const name = (fd: number, which: "getsockname" | "getpeername") => {
    length[0] = address.length;
    return lib[which](fd, address, lengthBytes) === 0 ? addressKey(address) : undefined;
  };
  const found = new Map<string, number>();
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc/self/fd");
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (found.size === wanted.size) break;
    const fd = Number(entry.name);
    if (!Number.isInteger(fd)) continue;
    const local = name(fd, "getsockname"); // fails fast (ENOTSOCK) on files and pipes
    if (local === undefined) continue;
    const peer = name(fd, "getpeername");
    if (peer === undefined) continue;
    const key = `${local.slice(0, local.indexOf("|"))}|${peer}`;
    if (wanted.has(key)) found.set(key, fd);
  }
  return found;
}

let pending: Map<string, ((fd: number | undefined) => void)[]> | undefined;

/**
 * Finds the socket with these ends on the next turn of the event loop, and calls `use` with its
 * descriptor within that turn (`undefined` when no socket has them), so the caller acts on it
 * before anything else of this process can close it. Resolves with what `use` returned;
 * `undefined` at once where FFI cannot be used, and (with a warning) when `use` throws.
 */
export function withSocket<T>(
  ends: TcpEnds,
  use: (fd: number | undefined, lib: Libc) => T,
): Promise<T | undefined> {
  const lib = libc();
  if (!lib) return Promise.resolve(undefined);
  const { promise, resolve } = Promise.withResolvers<T | undefined>();
  if (!pending) {
    const batch = pending = new Map();
    setTimeout(() => {
      pending = undefined;
      const found = scan(lib, new Set(batch.keys()));
      for (const [key, users] of batch) for (const user of users) user(found.get(key));
    }, 0);
  }
  const key = keyOf(ends);
  const users = pending.get(key) ?? [];
  users.push((fd) => {
    try {
      resolve(use(fd, lib));
    } catch (error) {
      console.warn(`socket lookup: acting on the socket of ${key} failed: ${error}`);
      resolve(undefined);
    }
  });
  pending.set(key, users);
  return promise;
}
