/** `deno task trade`: a run to the end of its feed, and SIGTERM as the kill switch. */
import assert from "node:assert/strict";
import { verifyActionLog } from "../lib/backtest/mod.ts";
import { startAlpacaPaperFake } from "./fakes/alpaca_paper_fake.ts";

async function trade(args: string[], signalAfterMs?: number, env: Record<string, string> = {}) {
  const log = await Deno.makeTempFile({ suffix: ".jsonl" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/trade.ts", "--strategy", "market-maker", "--log", log, ...args],
    stdout: "piped",
    stderr: "piped",
    env,
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

Deno.test("trade: the live path (exchange simulator -> collector -> runner -> sim broker)", async () => {
  const { summary, lines } = await trade([
    "--simulator",
    "--duration",
    "3s",
    "--params",
    '{"size":0.01,"maxPosition":0.05}',
  ]);
  assert.equal(summary.reason, "stopped");
  assert.ok(summary.events > 0 && summary.orders > 0, JSON.stringify(summary));
  assert.equal(summary.open_at_broker, 0);
  assert.equal(verifyActionLog(lines).ok, true);
  const start = JSON.parse(lines[0]);
  assert.equal(start.data.config.broker, "sim");
  assert.equal(start.data.config.clock, "wall");
});

Deno.test("trade: SIGTERM pulls the kill switch", async () => {
  const { summary, lines } = await trade(["--synthetic", "50000", "--rate", "200"], 3000);
  assert.equal(summary.reason, "SIGTERM");
  assert.equal(summary.open_at_broker, 0);
  assert.ok(lines.some((l) => JSON.parse(l).action === "kill"));
});

Deno.test("trade: alpaca-paper needs its keys from the environment", async () => {
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "scripts/trade.ts",
      "--strategy",
      "market-maker",
      "--broker",
      "alpaca-paper",
      "--synthetic",
      "10",
    ],
    stdout: "piped",
    stderr: "piped",
    env: { ALPACA_API_KEY: "", ALPACA_API_SECRET: "" },
  }).output();
  assert.notEqual(child.code, 0);
  assert.match(
    new TextDecoder().decode(child.stderr),
    /needs ALPACA_API_KEY and ALPACA_API_SECRET/,
  );
});

Deno.test("trade: alpaca-paper against the fake, keys never printed or logged", async () => {
  const key = "PKCLI0000KEY";
  const secret = "cli-secret-0000-never-printed";
  const fake = startAlpacaPaperFake({ key, secret });
  try {
    const log = await Deno.makeTempFile({ suffix: ".jsonl" });
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "scripts/trade.ts",
        "--strategy",
        "market-maker",
        "--broker",
        "alpaca-paper",
        "--symbols",
        "BTC/USD",
        "--base-url",
        fake.baseUrl,
        "--synthetic",
        "50",
        "--rate",
        "500",
        "--log",
        log,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { ALPACA_API_KEY: key, ALPACA_API_SECRET: secret },
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    const logText = await Deno.readTextFile(log);
    await Deno.remove(log);
    assert.equal(out.code, 0, stderr);
    const summary = JSON.parse(stdout.trim().split("\n").at(-1)!);
    assert.equal(summary.broker, "alpaca-paper");
    assert.ok(fake.orders.length > 0);
    assert.ok(fake.orders.every((o) => o.symbol === "BTC/USD"));
    // The clean stop cancelled what was still open at the venue.
    assert.equal(summary.open_at_broker, 0);
    for (const text of [stdout, stderr, logText]) {
      assert.ok(!text.includes(key) && !text.includes(secret));
    }
  } finally {
    await fake.shutdown();
  }
});

Deno.test("trade --serve: the run's positions over HTTP, and POST /api/trading/kill stops it", async () => {
  const token = "cli-trade-token-0123456789";
  const log = await Deno.makeTempFile({ suffix: ".jsonl" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "scripts/trade.ts",
      "--strategy",
      "market-maker",
      "--log",
      log,
      "--synthetic",
      "100000",
      "--rate",
      "2000",
      "--serve",
      "0",
    ],
    stdout: "piped",
    stderr: "piped",
    env: { ALPHAPULSE_API_TOKENS: `${token} read,trade cli` },
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  let url: string | undefined;
  while (url === undefined) {
    const { value, done } = await lines.read();
    if (done) break;
    err += value;
    url = /serving the run at (\S+)/.exec(err)?.[1];
  }
  const rest = (async () => {
    while (!(await lines.read()).done) { /* drain */ }
  })();
  try {
    assert.ok(url, err);
    const auth = { authorization: `Bearer ${token}` };
    const anonymous = await fetch(`${url}api/trading/pnl`);
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    let pnl;
    for (let i = 0; i < 200; i++) {
      pnl = await (await fetch(`${url}api/trading/pnl`, { headers: auth })).json();
      if (pnl.openOrders > 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(pnl.running && pnl.openOrders > 0, JSON.stringify(pnl));
    const kill = await fetch(`${url}api/trading/kill`, { method: "POST", headers: auth });
    assert.equal(kill.status, 200);
    assert.equal((await kill.json()).stopped, true);
    const status = await child.status;
    assert.equal(status.code, 0, err);
    const summary = JSON.parse((await stdout).trim().split("\n").at(-1)!);
    assert.equal(summary.reason, "kill switch (server)");
    assert.equal(summary.open_at_broker, 0);
    assert.ok(summary.events < 100_000, "stopped before the feed's end");
    const entries = (await Deno.readTextFile(log)).split("\n").filter(Boolean);
    assert.equal(verifyActionLog(entries).ok, true);
    assert.ok(entries.some((l) => JSON.parse(l).action === "kill"));
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await rest;
    await Deno.remove(log);
  }
});
