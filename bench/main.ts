/**
 * `deno task bench [group]`: runs `bench/<group>.ts` (each exports
 * `async function run(): Promise<void>` printing one JSON object per line), or every
 * group in this folder when no group is named. `ALIASES` name groups of groups.
 * @module
 */

/**
 * Group names that run other groups (`books`: the research book benchmarks; `research`: the
 * pipeline, then the notebook's first frame).
 */
const ALIASES: Record<string, readonly string[]> = {
  books: ["research_books"],
  research: ["research", "research_notebook"],
};

const here = new URL(".", import.meta.url);

async function groups(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(here)) {
    const m = /^([a-z][a-z0-9_]*)\.ts$/.exec(entry.name);
    if (entry.isFile && m && m[1] !== "main") names.push(m[1]);
  }
  return names.sort();
}

const available = await groups();
const requested = Deno.args.length
  ? Deno.args.flatMap((name) => ALIASES[name] ?? [name])
  : available;
for (const group of requested) {
  if (!available.includes(group)) {
    console.error(`unknown bench group "${group}"; available: ${available.join(", ")}`);
    Deno.exit(2);
  }
}
for (const group of requested) {
  const module = await import(new URL(`./${group}.ts`, here).href);
  if (typeof module.run !== "function") {
    console.error(`bench/${group}.ts does not export run()`);
    Deno.exit(2);
  }
  await module.run();
}
