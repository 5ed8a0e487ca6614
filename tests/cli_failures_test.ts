/**
 * Everyday failures of the programs end with one clear line on stderr and the exit code
 * documented in README "Exit codes". Each program runs as a real subprocess.
 */
import assert from "node:assert/strict";
import { EXIT, exitReportOf } from "../lib/cli/exit_codes.ts";

interface Outcome {
  readonly code: number;
  readonly stderrLines: string[];
}

async function run(script: string, args: string[], env: Record<string, string> = {}) {
  const lake = await Deno.makeTempDir({ prefix: "alphapulse-cli-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, ...args],
      env: { ALPHAPULSE_LAKE: lake, NO_COLOR: "1", ...env },
      stdout: "null",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    return {
      code: out.code,
      stderrLines: stderr.split("\n").filter((l) => l.trim() !== ""),
    } satisfies Outcome;
  } finally {
    await Deno.remove(lake, { recursive: true });
  }
}

function assertOneLine(outcome: Outcome, code: number, pattern: RegExp): void {
  assert.equal(outcome.stderrLines.length, 1, outcome.stderrLines.join("\n"));
  assert.match(outcome.stderrLines[0], pattern);
  assert.match(outcome.stderrLines[0], /^error: /);
  assert.equal(outcome.code, code);
}

/** A TCP port nothing listens on: bound, then released. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("replay of a missing file: one line, exit 66", async () => {
  const out = await run("collectors/replay/main.ts", ["/nonexistent/recording.jsonl"]);
  assertOneLine(out, EXIT.NO_INPUT, /No such file or directory.*\/nonexistent\/recording\.jsonl/);
});

Deno.test("serve on a port in use: one line naming the address, exit 71", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const out = await run("server/main.ts", ["--port", String(port)]);
    assertOneLine(out, EXIT.CANNOT_LISTEN, new RegExp(`127\\.0\\.0\\.1:${port}.*in use`));
  } finally {
    listener.close();
  }
});

Deno.test("serve beyond loopback without credentials refuses: one line, exit 78", async () => {
  const out = await run("server/main.ts", ["--hostname", "0.0.0.0", "--port", "0"]);
  assertOneLine(out, EXIT.CONFIG, /refusing to listen on 0\.0\.0\.0 without authentication/);
});

Deno.test("serve with a missing API tokens file: one line, exit 66", async () => {
  const out = await run("server/main.ts", ["--api-tokens-file", "/nonexistent/tokens"]);
  assertOneLine(out, EXIT.NO_INPUT, /\/nonexistent\/tokens/);
});

Deno.test("db:migrate and export with the database down: one line, exit 69", async () => {
  const url = `postgres://alpha:pulse@127.0.0.1:${freePort()}/alphapulse`;
  for (const script of ["scripts/migrate.ts", "scripts/export.ts"]) {
    const out = await run(script, [], { DATABASE_URL: url });
    assertOneLine(out, EXIT.UNAVAILABLE, /ECONNREFUSED/);
    assert.ok(!out.stderrLines[0].includes("pulse@"), "the password is not printed");
  }
});

Deno.test("collect --url notaurl: one usage line, exit 2", async () => {
  const out = await run("collectors/main.ts", [
    "--exchange",
    "coinbase",
    "--symbols",
    "BTC-USD",
    "--url",
    "notaurl",
  ]);
  assertOneLine(out, EXIT.USAGE, /--url must be a ws:\/\/ or wss:\/\/ URL, got "notaurl"/);
});

Deno.test("exitReportOf: codes by error kind; unexpected errors are left to the stack", () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
    code: "ECONNREFUSED",
  });
  assert.deepEqual(exitReportOf(refused), {
    message: "connect ECONNREFUSED 127.0.0.1:5432",
    code: 69,
  });
  assert.equal(exitReportOf(new AggregateError([refused, refused]))?.code, 69);
  assert.equal(exitReportOf(new Deno.errors.ConnectionRefused("x"))?.code, 69);
  assert.equal(exitReportOf(new Deno.errors.NotFound("a\nb"))?.message, "a");
  assert.equal(exitReportOf(new Deno.errors.AddrInUse("x"))?.code, 71);
  assert.equal(exitReportOf(new Deno.errors.PermissionDenied("x"))?.code, 77);
  assert.equal(exitReportOf(new RangeError("bad"))?.code, 2);
  assert.equal(exitReportOf(Object.assign(new Error("locked"), { exitCode: 75 }))?.code, 75);
  assert.equal(exitReportOf(new TypeError("x is not a function")), undefined);
  assert.equal(exitReportOf(new Error("boom")), undefined);
  assert.equal(exitReportOf("a string"), undefined);
});
