/**
 * Resets TCP connections of this process by their two ends, through libc (FFI, Linux): the
 * server's last resort for a WebSocket client that never reads. Deno 2.9.6 has no public way
 * to drop a served WebSocket's connection, and it keeps the connection open while its
 * pending read and write wait: the peer's zero window holds the write forever, so a client
 * that never reads kept its socket, its file descriptor and ~4 MB of kernel buffer for as long
 * as it stayed connected. Here the socket is found among this process's descriptors
 * (`_socket_fds.ts`), given `SO_LINGER` 0 and `shutdown(SHUT_RDWR)`: the pending write fails,
 * the read ends, Deno closes the descriptor itself and the kernel answers the peer with a
 * reset. The descriptor is never closed here, so it cannot be one Deno reuses.
 * @module
 */
import { libc, type TcpEnds, withSocket } from "./_socket_fds.ts";

export type { TcpEnds };

const SOL_SOCKET = 1;
const SO_LINGER = 13;
const SHUT_RDWR = 2;
const LINGER_RESET = new Uint8Array(new Int32Array([1, 0]).buffer); // on, 0 s: reset on close

/** Whether this process can reset connections (Linux, FFI permission, libc found). */
export function canResetTcp(): boolean {
  return libc() !== null;
}

/**
 * Resets the connection with these ends on the next turn of the event loop. Resolves whether
 * it was found and reset: `false` where FFI cannot be used, and when the connection has
 * already gone.
 */
export async function resetTcpConnection(ends: TcpEnds): Promise<boolean> {
  const reset = await withSocket(ends, (fd, lib) => {
    if (fd === undefined) return false;
    lib.setsockopt(fd, SOL_SOCKET, SO_LINGER, LINGER_RESET, LINGER_RESET.length);
    return lib.shutdown(fd, SHUT_RDWR) === 0;
  });
  return reset ?? false;
}
