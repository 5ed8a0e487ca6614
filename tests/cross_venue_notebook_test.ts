/**
 * Executes notebooks/03-cross-venue.ipynb headless with the Deno kernel on a synthetic
 * two-venue market with a planted delay (`laggedVenueTrades`), written to a temporary lake.
 * The notebook is not told the delay; it must find it, and name the right venue as leader.
 *
 * Needs `jupyter nbconvert` and the Deno kernel (scripts/install_deps.sh).
 */
import assert from "node:assert/strict";
import { ParquetLake } from "../lib/lake/mod.ts";
import { laggedVenueTrades } from "../lib/simulator/mod.ts";
import { cellErrors, executeNotebook, outputsOfType, visibleText } from "./support/jupyter.ts";

const NOTEBOOK = new URL("../notebooks/03-cross-venue.ipynb", import.meta.url).pathname;
/** The planted delay: 7 steps of the notebook's 50 ms clock. */
const DELAY_US = 350_000;

Deno.test("cross-venue notebook recovers the planted delay", async () => {
  const root = await Deno.makeTempDir({ prefix: "alphapulse-nb03-" });
  try {
    const market = laggedVenueTrades({
      startTs: Date.UTC(2024, 0, 2) * 1000,
      durationUs: 600_000_000,
      delayUs: DELAY_US,
      seed: 11,
      leader: { exchange: "venue-b" },
      follower: { exchange: "venue-a" },
    });
    const lake = await ParquetLake.open({ root });
    try {
      const all = [...market.leader, ...market.follower];
      assert.equal(await lake.writeTrades(all), all.length);
    } finally {
      await lake.close();
    }
    const notebook = await executeNotebook(NOTEBOOK, {
      env: { ALPHAPULSE_LAKE: root },
      timeoutMs: 240_000,
      complete: (nb) => /leads/.test(visibleText(nb)),
    });
    const errors = cellErrors(notebook).map(({ cell, output }) =>
      `cell ${cell}: ${output.ename}: ${output.evalue}`
    );
    assert.deepEqual(errors, []);
    const text = visibleText(notebook);
    assert.match(
      text,
      new RegExp(
        `${market.leader.length} trades on venue-b|${market.follower.length} trades on venue-a`,
      ),
    );
    const found =
      /\*\*(\S+)\*\* leads \*\*(\S+)\*\* by \d+ steps of 50 ms = (\d+) ms \(correlation ([0-9.]+)\)/
        .exec(text);
    assert.ok(found, text);
    assert.equal(found[1], "venue-b");
    assert.equal(found[2], "venue-a");
    assert.equal(Number(found[3]) * 1000, DELAY_US);
    assert.ok(Number(found[4]) > 0.2);
    assert.ok(outputsOfType(notebook, "text/html").some((h) => h.includes("alphapulse-chart")));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
