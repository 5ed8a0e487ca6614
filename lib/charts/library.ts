/**
 * Locates and loads the standalone build of TradingView lightweight-charts from
 * `node_modules`, so every chart works offline: the library is inlined into the HTML,
 * never fetched from a CDN.
 * @module
 */

/** Path of the standalone build inside the package directory. */
const STANDALONE_FILE = "dist/lightweight-charts.standalone.production.js";
const PACKAGE_DIR = "node_modules/lightweight-charts";

/** The loaded library: its source and where it came from. */
export interface ChartLibrary {
  /** The standalone build's JavaScript; defines `window.LightweightCharts`. */
  readonly source: string;
  /** Version from the package's `package.json` (`"5.2.1"`), or `"unknown"`. */
  readonly version: string;
  /** Absolute path of the file that was read. */
  readonly path: string;
}

let cached: ChartLibrary | undefined;

/**
 * Finds `node_modules/lightweight-charts` by walking up from this module's directory and
 * then from the current working directory, and reads the standalone build once (cached).
 *
 * @throws {Deno.errors.NotFound} when the package is not installed, with a hint to run
 * `deno install` in the project root.
 *
 * @example
 * ```ts ignore
 * import { loadChartLibrary } from "./library.ts";
 * const lib = loadChartLibrary();
 * console.log(lib.version, lib.source.length);
 * ```
 */
export function loadChartLibrary(): ChartLibrary {
  if (cached) return cached;
  const searched: string[] = [];
  for (const start of startDirectories()) {
    for (const dir of ancestors(start)) {
      const packageDir = join(dir, PACKAGE_DIR);
      const path = join(packageDir, STANDALONE_FILE);
      searched.push(packageDir);
      const source = readIfExists(path);
      if (source === undefined) continue;
      cached = { source, version: readVersion(join(packageDir, "package.json")), path };
      return cached;
    }
  }
  throw new Deno.errors.NotFound(
    `lightweight-charts is not installed: ${STANDALONE_FILE} was not found in any of\n  ` +
      [...new Set(searched)].join("\n  ") +
      `\nRun \`deno install\` in the AlphaPulse project root (deno.json has ` +
      `"nodeModulesDir": "auto"), then try again.`,
  );
}

function startDirectories(): string[] {
  const dirs: string[] = [];
  const here = new URL(".", import.meta.url);
  if (here.protocol === "file:") dirs.push(decodeURIComponent(here.pathname));
  try {
    dirs.push(Deno.cwd());
  } catch {
    // No read permission for the cwd: the module location is all we have.
  }
  return dirs;
}

function* ancestors(dir: string): Generator<string> {
  let current = dir.replace(/\/+$/, "") || "/";
  while (true) {
    yield current;
    const parent = current.slice(0, current.lastIndexOf("/")) || "/";
    if (parent === current) return;
    current = parent;
  }
}

function join(dir: string, rest: string): string {
  return dir.endsWith("/") ? dir + rest : `${dir}/${rest}`;
}

function readIfExists(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw error;
  }
}

function readVersion(path: string): string {
  try {
    const pkg = JSON.parse(Deno.readTextFileSync(path));
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}
