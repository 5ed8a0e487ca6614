/**
 * Runs a notebook headless with the Deno Jupyter kernel (`jupyter nbconvert --execute`) and
 * hands back the executed notebook, so tests can assert on what a researcher would see.
 *
 * A missing `jupyter`, nbconvert or Deno kernel is an error, never a skip: run
 * `scripts/install_deps.sh` to install them.
 *
 * @example
 * ```ts ignore
 * import { cellErrors, executeNotebook } from "./jupyter.ts";
 * const notebook = await executeNotebook("notebooks/01-quickstart.ipynb", {
 *   env: { ALPHAPULSE_LAKE: "/tmp/lake" },
 * });
 * console.log(cellErrors(notebook)); // []
 * ```
 * @module
 */

/** One output of a code cell, as nbformat 4 stores it. */
export interface NotebookOutput {
  readonly output_type: "stream" | "display_data" | "execute_result" | "error" | string;
  /** Stream name (`stdout`, `stderr`) for `stream` outputs. */
  readonly name?: string;
  /** Stream text; nbformat may split it into lines. */
  readonly text?: string | string[];
  /** Rich data by MIME type (`text/html`, `text/plain`, ...). */
  readonly data?: Record<string, unknown>;
  /** Exception name, for `error` outputs. */
  readonly ename?: string;
  /** Exception message, for `error` outputs. */
  readonly evalue?: string;
  /** Formatted traceback lines, for `error` outputs. */
  readonly traceback?: string[];
}

/** One notebook cell. */
export interface NotebookCell {
  readonly cell_type: "code" | "markdown" | "raw" | string;
  readonly source: string | string[];
  readonly outputs?: NotebookOutput[];
}

/** An nbformat 4 notebook. */
export interface Notebook {
  readonly cells: NotebookCell[];
  readonly metadata: Record<string, unknown>;
  readonly nbformat: number;
  readonly nbformat_minor: number;
}

/** Options for {@linkcode executeNotebook}. */
export interface ExecuteNotebookOptions {
  /** Extra environment variables for the kernel (added to this process's environment). */
  readonly env?: Record<string, string>;
  /**
   * Upper bound for the whole run in milliseconds (default 300 000). Each cell gets this as
   * its nbconvert timeout; the nbconvert process is killed a little after it.
   */
  readonly timeoutMs?: number;
  /** Kernel name (default `deno`). */
  readonly kernelName?: string;
  /**
   * Whether an executed notebook has every output it should. The Deno kernel (2.9) can
   * publish a cell's output after the cell's `idle` status, and nbclient then drops it
   * without a word (seen in a few percent of runs: a display missing, no error anywhere).
   * When this returns `false` the notebook is executed again, up to `attempts` times in
   * all, and the last run is returned. Cell errors are never retried.
   */
  readonly complete?: (notebook: Notebook) => boolean;
  /** Runs in all when `complete` says an output is missing (default 3). */
  readonly attempts?: number;
}

/** nbconvert failed: a cell raised, a cell timed out, or the kernel did not start. */
export class NotebookExecutionError extends Error {
  /** nbconvert's standard error, which names the failing cell and its traceback. */
  readonly stderr: string;
  constructor(message: string, stderr: string) {
    // The useful part is the failing cell and its error, after nbconvert's own traceback.
    const cell = stderr.indexOf("CellExecutionError");
    super(`${message}\n${cell >= 0 ? stderr.slice(cell) : stderr.slice(-4_000)}`);
    this.name = "NotebookExecutionError";
    this.stderr = stderr;
  }
}

const KERNEL_STARTUP_SECONDS = 120;
const KILL_GRACE_MS = 15_000;
const IOPUB_TIMEOUT_SECONDS = 15;

let kernelReady: Promise<void> | undefined;

/**
 * Makes sure the Deno kernel is registered with Jupyter and points at an existing `deno`,
 * registering it with `deno jupyter --install` otherwise. Runs once per process.
 * @throws {Error} when `jupyter` is not installed or the kernel cannot be registered.
 */
export function ensureDenoKernel(): Promise<void> {
  kernelReady ??= registerDenoKernel().catch((error) => {
    kernelReady = undefined;
    throw error;
  });
  return kernelReady;
}

async function registerDenoKernel(): Promise<void> {
  if (await denoKernelUsable()) return;
  const install = await run(Deno.execPath(), ["jupyter", "--install"]);
  if (install.code !== 0) {
    throw new Error(`deno jupyter --install failed (exit ${install.code}):\n${install.stderr}`);
  }
  if (!await denoKernelUsable()) {
    throw new Error("the deno kernel is still missing from `jupyter kernelspec list`");
  }
}

async function denoKernelUsable(): Promise<boolean> {
  const list = await run("jupyter", ["kernelspec", "list", "--json"]);
  if (list.code !== 0) {
    throw new Error(`jupyter kernelspec list failed (exit ${list.code}):\n${list.stderr}`);
  }
  const specs = JSON.parse(list.stdout).kernelspecs as Record<
    string,
    { spec: { argv: string[] } }
  >;
  const argv0 = specs.deno?.spec.argv[0];
  if (argv0 === undefined) return false;
  try {
    return (await Deno.stat(argv0)).isFile;
  } catch {
    return false;
  }
}

/**
 * Executes every cell of the notebook at `path` with the Deno kernel, working directory the
 * notebook's folder (so `../lib/...` imports and the project's `deno.json` resolve as in an
 * interactive session), and returns the executed notebook with its outputs. The notebook
 * file itself is not modified.
 *
 * @throws {NotebookExecutionError} when a cell raises or times out, or the kernel dies.
 * @throws {Error} when `jupyter nbconvert` or the Deno kernel is not installed.
 */
export async function executeNotebook(
  path: string,
  options: ExecuteNotebookOptions = {},
): Promise<Notebook> {
  const attempts = options.complete ? options.attempts ?? 3 : 1;
  if (!(Number.isInteger(attempts) && attempts >= 1)) {
    throw new RangeError(`attempts must be a positive integer, got ${attempts}`);
  }
  let notebook = await executeOnce(path, options);
  for (let attempt = 2; attempt <= attempts && !options.complete!(notebook); attempt++) {
    console.warn(
      `executeNotebook: ${path} is missing outputs (published late by the kernel?), ` +
        `executing again (attempt ${attempt} of ${attempts})`,
    );
    notebook = await executeOnce(path, options);
  }
  return notebook;
}

async function executeOnce(path: string, options: ExecuteNotebookOptions): Promise<Notebook> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${timeoutMs}`);
  const kernelName = options.kernelName ?? "deno";
  if (kernelName === "deno") await ensureDenoKernel();

  const absolute = await Deno.realPath(path);
  const slash = absolute.lastIndexOf("/");
  const folder = absolute.slice(0, slash);
  const file = absolute.slice(slash + 1);
  const outDir = await Deno.makeTempDir({ prefix: "alphapulse-nb-" });
  try {
    const result = await run("jupyter", [
      "nbconvert",
      "--to",
      "notebook",
      "--execute",
      `--output-dir=${outDir}`,
      "--output=executed.ipynb",
      `--ExecutePreprocessor.kernel_name=${kernelName}`,
      `--ExecutePreprocessor.timeout=${Math.ceil(timeoutMs / 1000)}`,
      `--ExecutePreprocessor.startup_timeout=${KERNEL_STARTUP_SECONDS}`,
      // After a cell's reply nbclient waits this long (default 4 s) for the cell's remaining
      // outputs and its idle status, then moves on; a loaded machine needs longer.
      `--ExecutePreprocessor.iopub_timeout=${IOPUB_TIMEOUT_SECONDS}`,
      file,
    ], { cwd: folder, env: options.env, killAfterMs: timeoutMs + KILL_GRACE_MS });
    if (result.code !== 0) {
      const why = result.killed ? `timed out after ${timeoutMs} ms` : `exit ${result.code}`;
      throw new NotebookExecutionError(`nbconvert failed for ${path} (${why})`, result.stderr);
    }
    return JSON.parse(await Deno.readTextFile(`${outDir}/executed.ipynb`)) as Notebook;
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
}

/** The text of a multi-line nbformat field (`source`, `text`, a MIME value). */
export function joinText(value: unknown): string {
  if (Array.isArray(value)) return value.join("");
  return typeof value === "string" ? value : "";
}

/** Every `error` output of the notebook, with the index of its cell. */
export function cellErrors(
  notebook: Notebook,
): { cell: number; output: NotebookOutput }[] {
  const errors: { cell: number; output: NotebookOutput }[] = [];
  notebook.cells.forEach((cell, index) => {
    for (const output of cell.outputs ?? []) {
      if (output.output_type === "error") errors.push({ cell: index, output });
    }
  });
  return errors;
}

/** All values of one MIME type across the notebook's rich outputs, as text. */
export function outputsOfType(notebook: Notebook, mime: string): string[] {
  const found: string[] = [];
  for (const cell of notebook.cells) {
    for (const output of cell.outputs ?? []) {
      if (output.data && mime in output.data) found.push(joinText(output.data[mime]));
    }
  }
  return found;
}

/**
 * The text a reader sees, in cell order: printed streams plus the `text/markdown` (or else
 * `text/plain`) form of rich outputs.
 */
export function visibleText(notebook: Notebook): string {
  const parts: string[] = [];
  for (const output of notebook.cells.flatMap((cell) => cell.outputs ?? [])) {
    if (output.output_type === "stream") parts.push(joinText(output.text));
    else if (output.data) {
      parts.push(joinText(output.data["text/markdown"] ?? output.data["text/plain"]) + "\n");
    }
  }
  return parts.join("");
}

/** Everything the notebook printed to stdout and stderr, in cell order. */
export function streamText(notebook: Notebook): string {
  return notebook.cells
    .flatMap((cell) => cell.outputs ?? [])
    .filter((output) => output.output_type === "stream")
    .map((output) => joinText(output.text))
    .join("");
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  killed: boolean;
}

async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; killAfterMs?: number } = {},
): Promise<RunResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        `\`${command}\` is not installed (needed to run notebooks): run scripts/install_deps.sh`,
      );
    }
    throw error;
  }
  let killed = false;
  const timer = options.killAfterMs === undefined ? undefined : setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
  }, options.killAfterMs);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
      killed,
    };
  } finally {
    clearTimeout(timer);
  }
}
