/**
 * The import rules of the code base (see `README.md`, "Edges that keep the house simple"):
 * every relative import of every TypeScript module is read from the source and checked
 * against the forbidden edges, and the folder graph must have no cycle.
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const FOLDERS = ["lib", "collectors", "server", "scripts", "bench", "tests"];

/**
 * Forbidden edges: a module under `from` must not import a module under any of `to`
 * (folder prefixes relative to the project root); `except` lists allowed targets.
 */
const RULES: readonly {
  from: string;
  to: readonly string[];
  except?: readonly string[];
  why: string;
}[] = [
  {
    from: "collectors/venues/",
    to: ["collectors/", "lib/lake/", "lib/buffer/", "lib/repositories/", "server/"],
    except: ["collectors/venues/"],
    why: "venue adapters are pure parsers: no runtime, no store, no server",
  },
  {
    from: "lib/",
    to: ["collectors/", "server/", "scripts/", "bench/", "tests/", "apps/"],
    why: "the library never depends on programs, benchmarks or tests",
  },
  {
    from: "lib/market/",
    to: ["lib/", "collectors/", "server/", "scripts/", "bench/", "tests/"],
    except: ["lib/market/"],
    why: "the market model depends on nothing of ours",
  },
  {
    from: "lib/schema/",
    to: ["lib/", "collectors/", "server/"],
    except: ["lib/schema/", "lib/market/"],
    why: "the table descriptions sit on the market model only",
  },
  {
    from: "bench/",
    to: ["tests/"],
    why: "benchmarks do not borrow from the tests",
  },
];

/** Relative imports and re-exports of a module's text, as paths from the project root. */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  const pattern =
    /^\s*(?:import|export)\s[^;]*?\bfrom\s+["'](\.{1,2}\/[^"']+)["']|^\s*import\s+["'](\.{1,2}\/[^"']+)["']/gm;
  for (const m of text.matchAll(pattern)) {
    const spec = m[1] ?? m[2];
    const url = new URL(spec, `file://${ROOT}/${file}`);
    out.push(url.pathname.slice(ROOT.length + 1));
  }
  // Dynamic imports count too.
  for (const m of text.matchAll(/\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g)) {
    out.push(new URL(m[1], `file://${ROOT}/${file}`).pathname.slice(ROOT.length + 1));
  }
  return out;
}

/** Every `.ts` module under the checked folders with its imports. */
async function moduleGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  async function walk(dir: string): Promise<void> {
    for await (const e of Deno.readDir(`${ROOT}/${dir}`)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory && e.name !== "node_modules" && !e.name.startsWith(".")) {
        await walk(path);
      } else if (e.isFile && e.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(`${ROOT}/${path}`);
        // JSDoc examples (` * import ...`) are not imports of the module.
        const code = text.replace(/\/\*\*[\s\S]*?\*\//g, "");
        graph.set(path, importsOf(path, code));
      }
    }
  }
  for (const folder of FOLDERS) {
    try {
      await walk(folder);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return graph;
}

/** The violations of {@linkcode RULES} in `graph`, one line each. */
function violations(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = [];
  for (const [file, imports] of graph) {
    for (const rule of RULES) {
      if (!file.startsWith(rule.from)) continue;
      for (const target of imports) {
        const allowed = rule.except?.some((p) => target.startsWith(p)) ?? false;
        if (!allowed && rule.to.some((p) => target.startsWith(p))) {
          out.push(`${file} -> ${target} (${rule.why})`);
        }
      }
    }
  }
  return out.sort();
}

/** The folder of a module (`lib/lake/parquet_lake.ts` -> `lib/lake`). */
const folderOf = (file: string) => file.slice(0, file.lastIndexOf("/"));

/** Cycles of the folder graph: every strongly connected set of more than one folder. */
function folderCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const edges = new Map<string, Set<string>>();
  for (const [file, imports] of graph) {
    const from = folderOf(file);
    if (!edges.has(from)) edges.set(from, new Set());
    for (const target of imports) {
      const to = folderOf(target);
      if (to !== from) edges.get(from)!.add(to);
    }
  }
  // Tarjan's strongly connected components.
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!idx.has(v)) visit(v);
  return out;
}

Deno.test("architecture: no module imports across a forbidden edge", async () => {
  const graph = await moduleGraph();
  assert.ok(graph.size > 100, `read ${graph.size} modules`);
  assert.deepEqual(violations(graph), []);
});

Deno.test("architecture: the folder graph has no cycle", async () => {
  assert.deepEqual(folderCycles(await moduleGraph()), []);
});

Deno.test("architecture: lib/ holds no command-line program", async () => {
  const programs: string[] = [];
  for (const file of (await moduleGraph()).keys()) {
    if (!file.startsWith("lib/")) continue;
    if (/\bimport\.meta\.main\b/.test(await Deno.readTextFile(`${ROOT}/${file}`))) {
      programs.push(file);
    }
  }
  assert.deepEqual(programs, []);
});

Deno.test("architecture: the checker sees a forbidden edge and a cycle", () => {
  // The rules are not vacuous: a made-up graph with one bad edge of each kind fails.
  const graph = new Map<string, string[]>([
    ["collectors/venues/x.ts", ["collectors/runtime/diagnostics.ts"]],
    ["lib/market/types.ts", ["lib/schema/tables.ts"]],
    ["lib/schema/tables.ts", ["lib/market/types.ts"]],
    ["lib/lake/a.ts", ["server/main.ts"]],
    ["bench/b.ts", ["tests/support/postgres.ts"]],
  ]);
  assert.equal(violations(graph).length, 4);
  assert.deepEqual(folderCycles(graph), [["lib/market", "lib/schema"]]);
});
