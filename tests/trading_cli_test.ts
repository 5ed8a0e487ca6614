/** `deno task trade`: a run to the end of its feed, and SIGTERM as the kill switch. */
import assert from "node:assert/strict";
import { verifyActionLog } from "../lib/backtest/mod.ts";

async function trade(args: string[], signalAfterMs?: number) {
  const log = await Deno.makeTempFile({ suffix: ".jsonl" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/trade.ts", "--strategy", "market-maker", "--log", log, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (signalAfterMs !== undefined) {
    await new Promise((r) => setTimeout(r, signalAfterMs));
    child.kill("SIGTERM");
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const lines = (await Deno.readTextFile(log)).split("\n").filter(Boolean);
  await Deno.remove(log);
  return { summary: JSON.parse(text), lines };
}

Deno.test("trade: sim broker to the end of the synthetic feed, nothing left open", async () => {
  const { summary, lines } = await trade([
    "--broker",
    "sim",
    "--synthetic",
    "400",
    "--rate",
    "1e6",
  ]);
  assert.equal(summary.reason, "end of data");
  assert.equal(summary.events, 400);
  assert.equal(summary.open_at_broker, 0);
  assert.equal(verifyActionLog(lines).ok, true);
  const actions = lines.map((l) => JSON.parse(l).action);
  assert.equal(actions.filter((a) => a === "order").length, summary.orders);
});

Deno.test("trade: SIGTERM pulls the kill switch", async () => {
  const { summary, lines } = await trade(["--synthetic", "50000", "--rate", "200"], 3000);
  assert.equal(summary.reason, "SIGTERM");
  assert.equal(summary.open_at_broker, 0);
  assert.ok(lines.some((l) => JSON.parse(l).action === "kill"));
});

Deno.test("trade: alpaca-paper is refused for now", async () => {
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "scripts/trade.ts",
      "--strategy",
      "market-maker",
      "--broker",
      "alpaca-paper",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.notEqual(child.code, 0);
});
