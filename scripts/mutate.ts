/**
 * `deno task mutate [--list] [--only ID,ID] [--area AREA] [--timeout 600s] [--min-score 0.9]`:
 * puts each deliberate bug of `scripts/mutations/` into the code, one at a time, runs the
 * tests named next to it and restores the file; a bug is caught when one of them fails.
 * First runs every named test file once unmutated (a failing baseline would make every bug
 * look caught). Progress goes to stderr, one line per bug; the last line on stdout is
 * `{"bugs":N,"caught":N,"missed":[...],"stale":[...],"score":0.9}`.
 * Exits 1 when the baseline fails, a bug is stale (its text is no longer in the code) or the
 * score is below `--min-score`; 2 for bad arguments.
 * @module
 */
import { parseArgs, runMain } from "../lib/cli/args.ts";
import { parseDuration } from "../lib/market/time.ts";
import { MUTATIONS } from "./mutations/mod.ts";
import { denoTestRunner, runMutations } from "./mutations/runner.ts";

const USAGE =
  "usage: deno task mutate [--list] [--only ID,ID] [--area AREA] [--timeout 600s] [--min-score 0.9]";

await runMain(async () => {
  const { values } = parseArgs(Deno.args, {
    list: { type: "boolean" },
    only: { type: "string" },
    area: { type: "string" },
    timeout: { type: "string", default: "600s" },
    "min-score": { type: "string", default: "0" },
  }, USAGE);
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  let chosen = [...MUTATIONS];
  if (typeof values.only === "string") {
    const ids = new Set(values.only.split(",").map((s) => s.trim()));
    const unknown = [...ids].filter((id) => !MUTATIONS.some((m) => m.id === id));
    if (unknown.length) throw new RangeError(`unknown mutation ids: ${unknown.join(", ")}`);
    chosen = chosen.filter((m) => ids.has(m.id));
  }
  if (typeof values.area === "string") {
    const area = values.area;
    chosen = chosen.filter((m) => m.id.startsWith(`${area}/`));
    if (chosen.length === 0) throw new RangeError(`no mutations in area "${area}"`);
  }
  if (values.list) {
    for (const m of chosen) {
      console.log(`${m.id.padEnd(48)} ${m.file}\n${"".padEnd(48)} ${m.description}`);
    }
    console.log(`${chosen.length} mutations`);
    return;
  }
  const timeoutMs = parseDuration(String(values.timeout)) / 1000;
  const minScore = Number(values["min-score"]);
  if (!(minScore >= 0 && minScore <= 1)) throw new RangeError("--min-score must be in [0, 1]");

  if (chosen.length === 0) throw new RangeError("no mutations to run");
  const files = [...new Set(chosen.flatMap((m) => m.tests))].sort();
  console.error(`mutate: baseline, ${files.length} test files unmutated`);
  const baseline = await denoTestRunner(files, { root, timeoutMs: timeoutMs * 4 });
  if (!baseline.passed) {
    console.error(`mutate: the tests fail without any bug (${baseline.detail}); nothing measured`);
    Deno.exit(1);
  }
  const { summary } = await runMutations(chosen, {
    root,
    timeoutMs,
    onResult: (r, i, n) =>
      console.error(
        `mutate: [${i + 1}/${n}] ${r.outcome.padEnd(6)} ${r.id} (${r.detail}, ${r.ms} ms)`,
      ),
  });
  console.log(JSON.stringify(summary));
  if (summary.stale.length) {
    console.error(`mutate: stale mutations (fix their find text): ${summary.stale.join(", ")}`);
    Deno.exit(1);
  }
  if (summary.score < minScore) {
    console.error(`mutate: score ${summary.score} below --min-score ${minScore}`);
    Deno.exit(1);
  }
});
