/**
 * Tells glibc's malloc to keep the memory this process frees for its next allocations
 * ({@linkcode keepFreedMemory}), instead of returning it to the system and asking for it
 * again.
 *
 * Why: on the benchmark's VM the first touch of a 4 KB page costs about 15 us. A book rebuild
 * writes about 400 MB of fresh columns per million rows (95,000 pages: about 1.4 s of faults
 * against about 0.3 s of work). By default glibc serves an 8 MB column from its own `mmap`
 * and gives it back on `free` (until its dynamic threshold has risen past that size, which
 * depends on what the process freed before), so one rebuild in two paid every fault again
 * (`bench/research_books.ts`, `research_book_rebuild_repeat`: minor faults per call 95,000 /
 * 500 alternating). With this policy every rebuild after the second reuses the memory the
 * previous one freed (about 500 faults).
 *
 * The cost: memory a process freed stays counted in its RSS (up to the trim threshold) until
 * it allocates again or exits. Blocks of 32 MB and more are still mapped and returned one by
 * one. Process-wide; applied once, on Linux with glibc, where the process may use FFI.
 * @module
 */

/** `mallopt` parameters (glibc's `malloc.h`). */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
/** Blocks below this come from the heap (glibc's upper bound for the threshold on 64-bit). */
const MMAP_THRESHOLD = 32 * 2 ** 20;
/** Free memory at the heap's top kept before it is returned. */
const TRIM_THRESHOLD = 2 ** 30;

let applied: boolean | undefined;

/**
 * Applies the policy (once per process); `true` when it is in effect, `false` where it
 * cannot be (not Linux, no FFI permission, no glibc).
 */
export function keepFreedMemory(): boolean {
  if (applied !== undefined) return applied;
  applied = false;
  if (Deno.build.os !== "linux") return applied;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return applied;
  try {
    const libc = Deno.dlopen("libc.so.6", {
      mallopt: { parameters: ["i32", "i32"], result: "i32" },
    });
    // mallopt answers 1 on success; fixing either value also stops glibc's dynamic
    // adjustment of both.
    applied = libc.symbols.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) === 1 &&
      libc.symbols.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) === 1;
  } catch {
    applied = false;
  }
  return applied;
}

/** Whether {@linkcode keepFreedMemory} has put the policy in effect (without applying it). */
export function freedMemoryKept(): boolean {
  return applied === true;
}
