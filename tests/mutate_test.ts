/**
 * The mutation runner on a tiny project of its own: a bug that breaks a tested behaviour is
 * caught, one the tests cannot see is missed, one whose text is gone is stale, and every
 * file is back as it was afterwards.
 */
import assert from "node:assert/strict";
import { runMutations, staleReason } from "../scripts/mutations/runner.ts";
import type { Mutation } from "../scripts/mutations/types.ts";

const MODULE = `// adds two numbers
export function add(a: number, b: number): number {
  return a + b;
}
`;
const TEST = `import { add } from "./calc.ts";
Deno.test("add", () => {
  if (add(2, 3) !== 5) throw new Error("add(2, 3) is " + add(2, 3));
});
`;

Deno.test("runMutations: caught, missed and stale, files restored", async () => {
  const root = await Deno.makeTempDir({ prefix: "mutate-" });
  try {
    await Deno.writeTextFile(`${root}/calc.ts`, MODULE);
    await Deno.writeTextFile(`${root}/calc_test.ts`, TEST);
    const mutations: Mutation[] = [
      {
        id: "t/sum-sign",
        description: "subtracts",
        file: "calc.ts",
        find: "a + b",
        replace: "a - b",
        tests: ["calc_test.ts"],
      },
      {
        id: "t/comment",
        description: "changes a comment only",
        file: "calc.ts",
        find: "// adds two numbers",
        replace: "// sums two numbers",
        tests: ["calc_test.ts"],
      },
      {
        id: "t/gone",
        description: "text no longer in the code",
        file: "calc.ts",
        find: "a * b",
        replace: "a / b",
        tests: ["calc_test.ts"],
      },
    ];
    const seen: string[] = [];
    const { results, summary } = await runMutations(mutations, {
      root,
      timeoutMs: 60_000,
      onResult: (r) => seen.push(`${r.id}:${r.outcome}`),
    });
    assert.deepEqual(results.map((r) => r.outcome), ["caught", "missed", "stale"]);
    assert.deepEqual(seen, ["t/sum-sign:caught", "t/comment:missed", "t/gone:stale"]);
    assert.deepEqual(summary, {
      bugs: 3,
      caught: 1,
      missed: ["t/comment"],
      stale: ["t/gone"],
      score: 0.333,
    });
    assert.equal(await Deno.readTextFile(`${root}/calc.ts`), MODULE);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("staleReason: exactly one occurrence required", () => {
  assert.equal(staleReason("a b a", "b"), undefined);
  assert.equal(staleReason("a b a", "a"), "find text occurs more than once");
  assert.equal(staleReason("a b a", "c"), "find text not in the file");
  assert.equal(staleReason("a", ""), "empty find text");
});

Deno.test("every listed mutation names an area, a file, tests and distinct ids", async () => {
  const { MUTATIONS } = await import("../scripts/mutations/mod.ts");
  const areas = [
    "book",
    "venues",
    "runtime",
    "lake",
    "buffer",
    "repositories",
    "server",
    "backtest",
    "trading",
  ];
  const ids = new Set<string>();
  for (const m of MUTATIONS) {
    assert.ok(areas.includes(m.id.split("/")[0]), `${m.id}: unknown area`);
    assert.ok(!ids.has(m.id), `${m.id}: duplicate id`);
    ids.add(m.id);
    assert.ok(m.tests.length > 0, `${m.id}: no tests`);
    for (const t of m.tests) {
      assert.ok((await Deno.stat(new URL(`../${t}`, import.meta.url))).isFile, `${m.id}: ${t}`);
    }
    const text = await Deno.readTextFile(new URL(`../${m.file}`, import.meta.url));
    assert.equal(staleReason(text, m.find), undefined, `${m.id}: stale in ${m.file}`);
    assert.notEqual(m.find, m.replace, `${m.id}: replace equals find`);
  }
});
