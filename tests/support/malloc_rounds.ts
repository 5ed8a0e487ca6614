/**
 * Allocates, writes and frees 48 columns of 8 MB (a 1M-row book series' worth) twice, and
 * prints the minor page faults of the second round: near zero where the first round's freed
 * memory was reused, ~96,000 where it was returned to the system and faulted in again.
 * `keep` as the first argument applies `keepFreedMemory()` first. Run with
 * `--v8-flags=--expose-gc,--no-concurrent-array-buffer-sweeping` (a collection then frees the
 * arrays' memory before it returns).
 * @module
 */
import process from "node:process";
import { keepFreedMemory } from "../../lib/lake/_malloc_policy.ts";

const applied = Deno.args[0] === "keep" ? keepFreedMemory() : false;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

function round(): number {
  const before = process.resourceUsage().minorPageFault;
  const columns = Array.from({ length: 48 }, () => new Float64Array(2 ** 20));
  for (const c of columns) for (let i = 0; i < c.length; i += 512) c[i] = i;
  return process.resourceUsage().minorPageFault - before;
}

round();
gc!();
console.log(JSON.stringify({ applied, faults: round() }));
