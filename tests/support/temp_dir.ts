/**
 * A temporary directory for the length of a test: made with `prefix`, handed to `fn`, and
 * removed with everything in it afterwards (also when `fn` throws).
 * @module
 */

/** Runs `fn` on a new temporary directory named with `prefix`, then removes it. */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
