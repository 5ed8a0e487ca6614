import assert from "node:assert/strict";

/** The second round's faults of `tests/support/malloc_rounds.ts` in a fresh process. */
async function secondRound(
  mode: "keep" | "default",
): Promise<{ applied: boolean; faults: number }> {
  const script = new URL("./support/malloc_rounds.ts", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-env",
      "--v8-flags=--expose-gc,--no-concurrent-array-buffer-sweeping",
      script,
      mode,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

Deno.test("keepFreedMemory: columns freed by one rebuild are reused by the next, not faulted in again", async () => {
  const kept = await secondRound("keep");
  assert.equal(kept.applied, true);
  // 48 x 8 MB is 98,304 pages of 4 KB: a reused round touches almost none afresh.
  assert.ok(kept.faults < 20_000, `${kept.faults} faults with the policy`);
  // Without it glibc gives the columns back and the second round faults them in again: the
  // case the policy exists for (and what shows this test can fail).
  const plain = await secondRound("default");
  assert.equal(plain.applied, false);
  assert.ok(plain.faults > 50_000, `${plain.faults} faults without the policy`);
});
