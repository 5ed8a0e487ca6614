/**
 * `deno task bench research` (or `research_notebook` alone): `research_notebook_first_frame`
 * (ms), how long after the Deno Jupyter kernel starts a notebook shows its first frame.
 *
 * A tiny notebook, in a temporary folder of this checkout's `data/` (so `@alphapulse/lib`
 * resolves as in `notebooks/`), is executed headless by `jupyter nbconvert --execute` over a
 * small lake (`ALPHAPULSE_LAKE`: 1,000 trades). Its cells print, from inside the kernel:
 * when it runs its first cell, when the library's import is done, and when `show()` of the
 * first trades frame has returned; each measured from the kernel process's start (its age by
 * `/proc/self/stat` and `/proc/uptime`, 10 ms resolution). `value` is the time to the first
 * frame; `import_ms` the import alone (from the first cell's start); `nbconvert_ms` the whole
 * nbconvert run (Python and Jupyter start-up included). Each run starts a fresh kernel; the
 * figure is the best of `BENCH_NOTEBOOK_RUNS` (default 3), `first_run_ms` the first.
 * @module
 */
import { ParquetLake } from "../lib/lake/mod.ts";
import type { Trade } from "../lib/market/types.ts";
import { emit } from "./_figure.ts";

const round = (x: number) => Number(x.toPrecision(4));

/** Milliseconds since the kernel process started (printed by every timing cell). */
const AGE = `const __age = () => {
  const stat = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  const uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
  return Math.round((uptime - Number(stat[19]) / 100) * 1000);
};`;

const CELLS = [
  `${AGE}\nconsole.log(JSON.stringify({ mark: "first_cell", ms: __age() }));`,
  `import { openRepository, show } from "@alphapulse/lib";\n` +
  `console.log(JSON.stringify({ mark: "imported", ms: __age() }));`,
  `const repo = await openRepository({ kind: "lake" });\n` +
  `const trades = await repo.trades({ exchange: "bench", symbol: "BTC-USD" }).polars();\n` +
  `await show(trades.head(10));\n` +
  `console.log(JSON.stringify({ mark: "first_frame", ms: __age(), rows: trades.height }));`,
];

function notebook(): string {
  return JSON.stringify({
    cells: CELLS.map((source) => ({
      cell_type: "code",
      execution_count: null,
      metadata: {},
      outputs: [],
      source,
    })),
    metadata: {
      kernelspec: { display_name: "Deno", language: "typescript", name: "deno" },
      language_info: { name: "typescript" },
    },
    nbformat: 4,
    nbformat_minor: 5,
  });
}

async function smallLake(root: string): Promise<void> {
  const lake = await ParquetLake.open({ root });
  const t0 = Date.UTC(2024, 0, 2) * 1000;
  const trades: Trade[] = Array.from({ length: 1_000 }, (_, i) => ({
    kind: "trade",
    exchange: "bench",
    symbol: "BTC-USD",
    ts: t0 + i * 1_000_000,
    recvTs: t0 + i * 1_000_000 + 300,
    id: String(i),
    price: 40_000 + (i % 17) * 0.5,
    size: 0.001 * (1 + (i % 5)),
    side: i % 2 === 0 ? "buy" : "sell",
  }));
  await lake.writeEvents(trades);
  await lake.close();
}

/** One headless run: the marks the cells printed, and nbconvert's wall time. */
async function once(folder: string, lake: string): Promise<Record<string, number>> {
  const t0 = performance.now();
  const out = await new Deno.Command("jupyter", {
    args: [
      "nbconvert",
      "--to",
      "notebook",
      "--execute",
      "--stdout",
      "--ExecutePreprocessor.kernel_name=deno",
      "--ExecutePreprocessor.timeout=120",
      "first_frame.ipynb",
    ],
    cwd: folder,
    env: { ALPHAPULSE_LAKE: lake },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const wall = performance.now() - t0;
  if (!out.success) {
    throw new Error(`nbconvert failed:\n${new TextDecoder().decode(out.stderr).slice(-3_000)}`);
  }
  const executed = JSON.parse(new TextDecoder().decode(out.stdout));
  const marks: Record<string, number> = { nbconvert: wall };
  for (const cell of executed.cells) {
    for (const output of cell.outputs ?? []) {
      if (output.output_type !== "stream") continue;
      const text = Array.isArray(output.text) ? output.text.join("") : String(output.text);
      for (const line of text.split("\n")) {
        if (!line.startsWith("{")) continue;
        const mark = JSON.parse(line);
        marks[mark.mark] = mark.ms;
        if (mark.rows !== undefined) marks.rows = mark.rows;
      }
    }
  }
  for (const m of ["first_cell", "imported", "first_frame"]) {
    if (marks[m] === undefined) throw new Error(`the notebook printed no "${m}" mark`);
  }
  if (marks.rows !== 1_000) throw new Error(`the notebook read ${marks.rows} trades, not 1000`);
  return marks;
}

/** Runs the figure above. */
export async function run(): Promise<void> {
  const runs = Number(Deno.env.get("BENCH_NOTEBOOK_RUNS") ?? 3);
  const data = new URL("../data/", import.meta.url).pathname;
  await Deno.mkdir(data, { recursive: true });
  const folder = await Deno.makeTempDir({ dir: data, prefix: "bench-notebook-" });
  try {
    await smallLake(`${folder}/lake`);
    await Deno.writeTextFile(`${folder}/first_frame.ipynb`, notebook());
    const all: Record<string, number>[] = [];
    for (let i = 0; i < runs; i++) all.push(await once(folder, `${folder}/lake`));
    const best = all.reduce((a, b) => (b.first_frame < a.first_frame ? b : a));
    emit({
      name: "research_notebook_first_frame",
      unit: "ms",
      value: best.first_frame,
      first_cell_ms: best.first_cell,
      import_ms: best.imported - best.first_cell,
      nbconvert_ms: round(best.nbconvert),
      first_run_ms: all[0].first_frame,
      runs,
      loadavg: Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" "),
    });
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
}

if (import.meta.main) await run();
