/**
 * Builds the C fan-out client (`bench/fanout_client.c`) on demand: `cc -O2` into
 * `node_modules/.cache/alphapulse/fanout_client`, rebuilt when the source is newer than the
 * binary. The build goes to a temporary name first and is renamed into place, so processes
 * building at once never run a half-written binary.
 * @module
 */

const SOURCE = new URL("./fanout_client.c", import.meta.url).pathname;
const CACHE = new URL("../node_modules/.cache/alphapulse/", import.meta.url).pathname;

/** The built client, or why there is none. */
export type FanoutClientBuild =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly reason: string };

function mtime(path: string): number | undefined {
  try {
    return Deno.statSync(path).mtime?.getTime();
  } catch {
    return undefined;
  }
}

/**
 * The path of the C client's binary, compiling it if it is missing or older than its source;
 * `{ ok: false }` with the reason when no C compiler is found or the build fails.
 */
export async function buildFanoutClient(
  options: { readonly compiler?: string } = {},
): Promise<FanoutClientBuild> {
  const compiler = options.compiler ?? Deno.env.get("CC") ?? "cc";
  const path = `${CACHE}fanout_client`;
  const built = mtime(path);
  if (built !== undefined && built >= mtime(SOURCE)!) return { ok: true, path };
  Deno.mkdirSync(CACHE, { recursive: true });
  const temporary = `${path}.${Deno.pid}.tmp`;
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(compiler, {
      args: ["-O2", "-o", temporary, SOURCE],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { ok: false, reason: `no C compiler (${compiler}) found` };
    }
    throw error;
  }
  if (!output.success) {
    await Deno.remove(temporary).catch(() => {});
    const message = new TextDecoder().decode(output.stderr).trim().split("\n").slice(0, 5);
    return { ok: false, reason: `${compiler} failed: ${message.join(" | ")}` };
  }
  Deno.renameSync(temporary, path);
  return { ok: true, path };
}
