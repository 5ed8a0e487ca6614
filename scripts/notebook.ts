/**
 * `deno task notebook [--execute] [NOTEBOOK...]`
 *
 * Registers the Deno Jupyter kernel, then opens the notebooks in JupyterLab or Jupyter
 * Notebook when one is installed. With `--execute`, or when neither is installed, runs the
 * notebooks headless (`jupyter nbconvert --execute`) and writes executed copies and HTML
 * renderings to `data/notebooks/`.
 * @module
 */
import { parseArgs, runMain } from "../lib/cli/args.ts";

const USAGE = `usage: deno task notebook [--execute] [NOTEBOOK.ipynb...]

  --execute   run the notebooks headless and write executed copies to data/notebooks/`;

async function has(command: string, ...args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

async function run(command: string, args: string[], cwd?: string): Promise<void> {
  const status = await new Deno.Command(command, { args, cwd, stdin: "inherit" }).spawn().status;
  if (!status.success) throw new Error(`${command} ${args.join(" ")} failed (${status.code})`);
}

if (import.meta.main) {
  await runMain(async () => {
    const { values, positionals } = parseArgs(Deno.args, {
      execute: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    }, USAGE);
    if (values.help) return console.log(USAGE);
    const root = new URL("..", import.meta.url).pathname;
    const notebooks = positionals.length > 0
      ? positionals.map((p) => Deno.realPathSync(p))
      : [...Deno.readDirSync(`${root}notebooks`)]
        .filter((e) => e.name.endsWith(".ipynb"))
        .map((e) => `${root}notebooks/${e.name}`)
        .sort();
    if (!(await has("jupyter", "--version"))) {
      throw new RangeError(
        "jupyter is not installed: run `bash scripts/install_deps.sh` (Debian) or install JupyterLab",
      );
    }
    await run(Deno.execPath(), ["jupyter", "--install", "--force"]);
    const ui = !values.execute &&
      (await has("jupyter", "lab", "--version")
        ? "lab"
        : await has("jupyter", "notebook", "--version")
        ? "notebook"
        : undefined);
    if (ui) {
      await run("jupyter", [ui, "--notebook-dir", `${root}notebooks`]);
      return;
    }
    if (!values.execute) {
      console.log("No JupyterLab or Notebook UI installed: executing the notebooks headless.");
    }
    const out = `${root}data/notebooks`;
    await Deno.mkdir(out, { recursive: true });
    for (const nb of notebooks) {
      const dir = nb.slice(0, nb.lastIndexOf("/"));
      const common = ["--execute", "--ExecutePreprocessor.kernel_name=deno", "--output-dir", out];
      await run("jupyter", ["nbconvert", "--to", "notebook", ...common, nb], dir);
      await run("jupyter", ["nbconvert", "--to", "html", ...common, nb], dir);
    }
    console.log(`executed notebooks and HTML renderings in ${out}`);
  });
}
