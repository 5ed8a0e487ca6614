/**
 * Lowers the calling thread's scheduling priority (Linux `setpriority` on its thread id,
 * through FFI): a query worker's JavaScript thread then yields the CPU to the server's event
 * loop on a busy machine. Polars' and DuckDB's thread pools are shared by the whole process
 * and keep their priority (lowering them would slow a collector's lake writes too).
 * @module
 */

/**
 * Sets the calling thread's nice value to `nice` (0 to 19). Returns whether it did: `false`
 * off Linux, without FFI permission, or when the call fails; nothing else changes then.
 */
export function niceThisThread(nice: number): boolean {
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) {
    throw new RangeError(`nice must be an integer from 0 to 19: ${nice}`);
  }
  if (Deno.build.os !== "linux" || nice === 0) return false;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
  let libc: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS);
    const tid = libc.symbols.syscall(SYS_GETTID);
    return libc.symbols.setpriority(PRIO_PROCESS, Number(tid), nice) === 0;
  } catch {
    return false;
  } finally {
    libc?.close();
  }
}

const SYMBOLS = {
  syscall: { parameters: ["i64"], result: "i64" },
  setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
} as const;
/** `SYS_gettid` on x86-64 and arm64. */
const SYS_GETTID = Deno.build.arch === "aarch64" ? 178n : 186n;
const PRIO_PROCESS = 0;
