/**
 * The collector's static module graph (`deno info --json collectors/main.ts`) holds no
 * nodejs-polars: a collector loads Polars (about 35 MB of code once used) only when its
 * lake needs it (a partition with files from before the process, compaction, bars; see
 * `lib/lake/partition_writer.ts`), through dynamic imports. The same walk over
 * `lib/lake/mod.ts`, which does import Polars, shows that the walk finds it when it is
 * there.
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

interface InfoModule {
  readonly specifier: string;
  readonly dependencies?: readonly {
    readonly specifier: string;
    readonly isDynamic?: boolean;
    readonly code?: { readonly specifier: string };
  }[];
}

/** The npm packages reached from `entry` by static imports only. */
async function staticNpmPackages(entry: string): Promise<Set<string>> {
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stderr: "inherit",
  }).output();
  assert.ok(success, `deno info ${entry} failed`);
  const info = JSON.parse(new TextDecoder().decode(stdout)) as {
    roots: string[];
    modules: InfoModule[];
  };
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const packages = new Set<string>();
  const stack = [...info.roots];
  while (stack.length > 0) {
    const specifier = stack.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dep of modules.get(specifier)?.dependencies ?? []) {
      const target = dep.code?.specifier;
      if (dep.isDynamic || target === undefined) continue;
      const npm = /^npm:\/?(@?[^@]+)/.exec(target);
      if (npm) packages.add(npm[1]);
      else stack.push(target);
    }
  }
  return packages;
}

Deno.test("the collector's static module graph has no nodejs-polars (the lake's mod.ts has)", async () => {
  const lake = await staticNpmPackages("lib/lake/mod.ts");
  assert.ok(lake.has("nodejs-polars"), `lib/lake/mod.ts: ${[...lake].join(", ")}`);
  const collector = await staticNpmPackages("collectors/main.ts");
  assert.ok(
    !collector.has("nodejs-polars"),
    `collectors/main.ts statically imports nodejs-polars: ${[...collector].join(", ")}`,
  );
});
