/**
 * Applies deliberate bugs one at a time and runs the tests named next to each, to check that
 * the tests bite. The file is always restored (also on Ctrl-C), the tests run with `--no-check`
 * so a bug must be caught by behaviour rather than by the type checker, and a test run that
 * outlives its time limit counts as caught (a hang is a failure a person would notice).
 *
 * @module
 */
import type { Mutation } from "./types.ts";

/** How one mutation ended. */
export type MutationOutcome = "caught" | "missed" | "stale";

/** One mutation's result. */
export interface MutationResult {
  readonly id: string;
  readonly outcome: MutationOutcome;
  /** Why a mutation is stale, or which test run caught it (exit code or "timeout"). */
  readonly detail: string;
  readonly ms: number;
}

/** The summary line of a run. */
export interface MutationSummary {
  readonly bugs: number;
  readonly caught: number;
  readonly missed: string[];
  readonly stale: string[];
  readonly score: number;
}

/** Runs test files, resolving to whether they passed. */
export type TestRunner = (
  tests: readonly string[],
  options: { readonly root: string; readonly timeoutMs: number },
) => Promise<{ readonly passed: boolean; readonly detail: string }>;

/** Options of {@linkcode runMutations}. */
export interface RunMutationsOptions {
  /** The project root the mutation files are relative to. */
  readonly root: string;
  /** Time limit of one test run, in milliseconds. */
  readonly timeoutMs?: number;
  /** Runs the tests; `deno test -A --no-check` by default. */
  readonly runTests?: TestRunner;
  /** Called after each mutation (progress). */
  readonly onResult?: (result: MutationResult, index: number, total: number) => void;
}

/**
 * Checks that `find` occurs exactly once in `text`.
 * @returns undefined when it does, otherwise why not.
 */
export function staleReason(text: string, find: string): string | undefined {
  if (find.length === 0) return "empty find text";
  const first = text.indexOf(find);
  if (first < 0) return "find text not in the file";
  if (text.indexOf(find, first + 1) >= 0) return "find text occurs more than once";
  return undefined;
}

/** `deno test -A --no-check` on the given files, killed after the time limit. */
export const denoTestRunner: TestRunner = async (tests, { root, timeoutMs }) => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-prompt", "--no-check", ...tests],
    cwd: root,
    stdout: "null",
    stderr: "null",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, timeoutMs);
  const status = await child.status;
  clearTimeout(timer);
  if (timedOut) return { passed: false, detail: "timeout" };
  return { passed: status.success, detail: `exit ${status.code}` };
};

/** Applies each mutation in turn, runs its tests and restores the file. */
export async function runMutations(
  mutations: readonly Mutation[],
  options: RunMutationsOptions,
): Promise<{ results: MutationResult[]; summary: MutationSummary }> {
  const runTests = options.runTests ?? denoTestRunner;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const results: MutationResult[] = [];
  for (const [index, mutation] of mutations.entries()) {
    const result = await runOne(mutation, { root: options.root, timeoutMs, runTests });
    results.push(result);
    options.onResult?.(result, index, mutations.length);
  }
  return { results, summary: summarize(results) };
}

/** The summary of a set of results; stale mutations count as bugs not caught. */
export function summarize(results: readonly MutationResult[]): MutationSummary {
  const caught = results.filter((r) => r.outcome === "caught").length;
  return {
    bugs: results.length,
    caught,
    missed: results.filter((r) => r.outcome === "missed").map((r) => r.id),
    stale: results.filter((r) => r.outcome === "stale").map((r) => r.id),
    score: results.length === 0 ? 0 : Math.round((caught / results.length) * 1000) / 1000,
  };
}

/** Restores every file that is mutated right now when the process is interrupted. */
const applied = new Map<string, string>();
let signalsHooked = false;

function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  const restoreAndExit = () => {
    for (const [path, original] of applied) Deno.writeTextFileSync(path, original);
    console.error("mutate: interrupted; every mutated file restored");
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", restoreAndExit);
  Deno.addSignalListener("SIGTERM", restoreAndExit);
}

async function runOne(
  mutation: Mutation,
  opts: { root: string; timeoutMs: number; runTests: TestRunner },
): Promise<MutationResult> {
  const started = performance.now();
  const path = `${opts.root}/${mutation.file}`;
  const elapsed = () => Math.round(performance.now() - started);
  let original: string;
  try {
    original = await Deno.readTextFile(path);
  } catch {
    return { id: mutation.id, outcome: "stale", detail: `no file ${mutation.file}`, ms: 0 };
  }
  const stale = staleReason(original, mutation.find);
  if (stale) return { id: mutation.id, outcome: "stale", detail: stale, ms: 0 };
  if (mutation.tests.length === 0) {
    return { id: mutation.id, outcome: "stale", detail: "no tests named", ms: 0 };
  }
  hookSignals();
  applied.set(path, original);
  try {
    await Deno.writeTextFile(path, original.replace(mutation.find, () => mutation.replace));
    const run = await opts.runTests(mutation.tests, opts);
    return {
      id: mutation.id,
      outcome: run.passed ? "missed" : "caught",
      detail: run.detail,
      ms: elapsed(),
    };
  } finally {
    await Deno.writeTextFile(path, original);
    applied.delete(path);
  }
}
