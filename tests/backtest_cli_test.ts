/**
 * `deno task backtest`: a run over a lake written here, and over the synthetic stream; the
 * report and the action log land where asked and the summary agrees with them.
 */
import assert from "node:assert/strict";
import { LakeSink } from "../lib/lake/mod.ts";
import { LakeRepository } from "../lib/repositories/mod.ts";
import { verifyActionLog } from "../lib/backtest/mod.ts";
import { syntheticTrades } from "./support/lake_trades.ts";

const SCRIPT = new URL("../scripts/backtest.ts", import.meta.url).pathname;

async function cli(args: string[]): Promise<{ code: number; summary: Record<string, unknown> }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", SCRIPT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return { code: out.code, summary: JSON.parse(text.split("\n").at(-1)!) };
}

Deno.test("backtest CLI: a moving-average cross over 1-minute bars of a lake", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const start = Date.UTC(2024, 0, 2) * 1000;
    const trades = syntheticTrades({ start, count: 6000, step: 5_000_000, seed: 3 });
    const sink = await LakeSink.open({ root: `${dir}/lake` });
    sink.write(trades);
    await sink.close();
    const { summary } = await cli([
      "--strategy",
      "ma-cross",
      "--params",
      '{"fast":3,"slow":12}',
      "--lake",
      `${dir}/lake`,
      "--exchange",
      "coinbase",
      "--symbols",
      "BTC-USD",
      "--bars",
      "1m",
      "--out",
      `${dir}/r/report.html`,
    ]);
    // 6000 trades 5 s apart: 30,000 s = 500 one-minute bars.
    assert.equal(summary.events, 500);
    assert.ok((summary.fills as number) > 2);
    const html = await Deno.readTextFile(`${dir}/r/report.html`);
    assert.match(html, /Equity/);
    assert.match(html, /moving-average-cross/);
    const log = await Deno.readTextFile(`${dir}/r/report.jsonl`);
    assert.equal(verifyActionLog(log).ok, true);
    assert.equal(log.trim().split("\n").length, summary.log_entries);
    // Fills at the next bar's open: recompute the 1-minute opens from the trades here.
    const opens = new Map<number, number>();
    for (const t of trades) {
      const minute = Math.floor(t.ts / 60e6) * 60e6;
      if (!opens.has(minute)) opens.set(minute, t.price);
    }
    const fills = log.trim().split("\n").map((l) => JSON.parse(l)).filter((e) =>
      e.action === "fill"
    );
    assert.equal(fills.length, summary.fills);
    for (const f of fills) assert.equal(f.data.price, opens.get(f.ts));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("backtest CLI: the market maker on the synthetic stream, and bad usage", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { summary } = await cli([
      "--strategy",
      "market-maker",
      "--synthetic",
      "5000",
      "--out",
      `${dir}/mm.html`,
      "--log-to-lake",
      "--lake",
      `${dir}/lake`,
    ]);
    assert.equal(summary.events, 5000);
    assert.ok((summary.fills as number) > 0);
    assert.equal(summary.error, null);
    const bytes = await Deno.readFile(`${dir}/mm.jsonl`);
    const sha = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    assert.equal(summary.log_sha256, sha);
    // The lake holds the same log, byte for byte, as the run backtest/<strategy>-<head>.
    const where = summary.lake_log as { source: string; run: string; rows_written: number };
    assert.equal(where.source, "backtest");
    assert.ok(where.run.endsWith(`-${summary.log_head}`), where.run);
    assert.equal(where.rows_written, summary.log_entries);
    const repo = new LakeRepository({ root: `${dir}/lake` });
    try {
      const lines = await repo.actionLog(where);
      assert.equal(lines.join("\n") + "\n", new TextDecoder().decode(bytes));
    } finally {
      await repo.close();
    }
    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", SCRIPT, "--synthetic", "10"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(bad.code, 2);
    assert.match(new TextDecoder().decode(bad.stderr), /--strategy is required/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
