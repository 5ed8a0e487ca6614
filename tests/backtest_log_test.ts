/**
 * The action log: hash chain, tamper evidence, `replay`, and byte-identical runs in two
 * separate processes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { backtest, replay, verifyActionLog } from "../lib/backtest/mod.ts";
import { ActionLog, chainHash, GENESIS } from "../lib/backtest/action_log.ts";
import { RUN } from "./support/backtest_run.ts";

Deno.test("entries chain by hash; the stop entry carries SHA-256 of the lines before", () => {
  const log = new ActionLog();
  log.append(5, "start", { strategy: "x" });
  log.append(6, "order", { id: 1, price: NaN });
  const [a, b] = log.lines();
  const bodyA = '{"seq":1,"ts":5,"action":"start","data":{"strategy":"x"}}';
  assert.equal(
    a,
    `${bodyA.slice(0, -1)},"prev":"${GENESIS}","hash":"${chainHash(GENESIS, bodyA)}"}`,
  );
  assert.equal(JSON.parse(b).prev, JSON.parse(a).hash);
  assert.equal(JSON.parse(b).data.price, null);
  assert.equal(log.head, JSON.parse(b).hash);
  const sha = createHash("sha256").update(`${a}\n${b}\n`).digest("hex");
  assert.equal(log.sha256(), sha);
  log.append(7, "stop", { sha256: sha });
  assert.deepEqual(verifyActionLog(log.toJsonl()), { ok: true, entries: 3 });
  const forged = log.toJsonl().replace(sha, "f".repeat(64));
  assert.equal(verifyActionLog(forged).ok, false);
});

Deno.test("the chain hash changes with any one character and does not collide", () => {
  const body = '{"seq":12,"ts":1704067200000123,"action":"fill","data":{"price":50000.5}}';
  const base = chainHash(GENESIS, body);
  assert.match(base, /^[0-9a-f]{16}$/);
  const seen = new Set([base]);
  for (let i = 0; i < body.length; i++) {
    for (const c of ["0", "1", "a", "}", " "]) {
      if (body[i] === c) continue;
      const h = chainHash(GENESIS, body.slice(0, i) + c + body.slice(i + 1));
      assert.ok(!seen.has(h), `collision at ${i}`);
      seen.add(h);
    }
  }
  for (let i = 0; i < 100_000; i++) {
    const h = chainHash(base, `{"seq":${i}}`);
    assert.ok(!seen.has(h));
    seen.add(h);
  }
});

Deno.test("a run logs start, orders, fills, stop; an edit anywhere breaks the chain", async () => {
  const result = await backtest({ ...RUN.config, strategy: RUN.strategy(), feed: RUN.feed() });
  const entries = result.log.entries();
  assert.equal(entries[0].action, "start");
  assert.deepEqual(entries[0].data.params, { ...RUN.strategy().params });
  assert.equal(entries.at(-1)!.action, "stop");
  const fills = entries.filter((e) => e.action === "fill");
  assert.equal(fills.length, result.fills.length);
  assert.ok(fills.length > 10);
  assert.equal(
    entries.filter((e) => e.action === "order").length,
    result.orders.length,
  );
  const lines = [...result.log.lines()];
  assert.equal(verifyActionLog(lines).ok, true);
  const k = Math.floor(lines.length / 2);
  const edited = [...lines];
  edited[k] = edited[k].replace(/"ts":(\d+)/, (_, t) => `"ts":${Number(t) + 1}`);
  assert.deepEqual(verifyActionLog(edited).badLine, k + 1);
  const dropped = lines.filter((_, i) => i !== k);
  assert.deepEqual(verifyActionLog(dropped).badLine, k + 1);
});

Deno.test("replay re-runs the log bit-identically, and notices another parameter", async () => {
  const first = await backtest({ ...RUN.config, strategy: RUN.strategy(), feed: RUN.feed() });
  const text = first.log.toJsonl();
  const verdict = await replay(text, { strategy: RUN.strategy(), feed: RUN.feed() });
  assert.equal(verdict.identical, true);
  assert.equal(verdict.entries, first.log.length);
  assert.deepEqual(verdict.result!.fills, first.fills);
  // Another seed of the latency draws is another run.
  const lines = text.split("\n").filter(Boolean);
  const otherFeed = RUN.feed().slice(0, 15_000);
  const shorter = await replay(lines, { strategy: RUN.strategy(), feed: otherFeed });
  assert.equal(shorter.identical, false);
  assert.ok(shorter.firstDifference! > 1);
  const { marketMaker } = await import("../lib/backtest/mod.ts");
  const other = marketMaker({ exchange: "sim", symbol: "BTC-USD", size: 0.25, maxPosition: 2 });
  const wrong = await replay(lines, { strategy: other, feed: RUN.feed() });
  assert.equal(wrong.identical, false);
  assert.equal(wrong.firstDifference, 1);
});

Deno.test("the same inputs and seed give byte-identical logs and fills in two processes", async () => {
  const script = new URL("./support/backtest_run.ts", import.meta.url).pathname;
  const once = async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return out.stdout;
  };
  const [a, b] = await Promise.all([once(), once()]);
  assert.ok(a.length > 10_000);
  assert.deepEqual(a, b);
  const text = new TextDecoder().decode(a);
  const logText = text.slice(0, text.lastIndexOf("\n", text.length - 2) + 1);
  assert.equal(verifyActionLog(logText).ok, true);
  // And the same bytes as this process makes.
  const here = await backtest({ ...RUN.config, strategy: RUN.strategy(), feed: RUN.feed() });
  assert.equal(logText, here.log.toJsonl());
});
