/**
 * `deno task soak` for 75 s (20 s warm-up, 15 s median windows): connect/subscribe/disconnect
 * churn against a server in a child process ends with the server's resident memory at most
 * 20 % above where it started (a growth bound: a run whose heap settles lower than its start
 * window, -23 % once, is not a leak) (the full 10-minute run is `deno task soak`).
 */
import assert from "node:assert/strict";

Deno.test("a short soak of stream churn ends at most 20 % above the starting RSS", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "scripts/soak.ts",
      "--minutes",
      "1.25",
      "--clients",
      "40",
      "--warmup",
      "20",
    ],
    cwd: new URL("../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.trim().split("\n").at(-1)!;
  const report = JSON.parse(line);
  // The churn really ran: every slot turned over many times, nearly all turns succeeded.
  assert.ok(report.websockets > 40 * 5, line);
  assert.ok(report.sse > 0 && report.stalled > 0, line);
  assert.ok(report.errors <= (report.websockets + report.sse) / 100, line);
  // The bound, from the reported samples (not the script's own verdict).
  const start = report.rss_start_bytes;
  const end = report.rss_end_bytes;
  assert.ok(start > 10e6 && end > 10e6, line);
  assert.ok(end - start <= start * 0.2, `RSS ${start} -> ${end}: ${line}`);
  assert.ok(report.rss_peak_bytes >= Math.max(start, end), line);
  assert.equal(report.pass, true, line);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
});
