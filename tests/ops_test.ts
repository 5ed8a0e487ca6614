/**
 * The operations kit in ops/: alert rules checked and unit-tested with promtool (Debian's
 * `prometheus` package), the example Prometheus configuration checked, and the systemd units
 * and example configuration consistent with the programs they run.
 */
import assert from "node:assert/strict";

const OPS = new URL("../ops/", import.meta.url);
const ROOT = new URL("../", import.meta.url);

async function promtool(...args: string[]): Promise<string> {
  const out = await new Deno.Command("promtool", { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  return text;
}

Deno.test("promtool: the alert rules are valid and their unit tests pass", async () => {
  assert.match(
    await promtool("check", "rules", new URL("prometheus/alerts.yml", OPS).pathname),
    /SUCCESS: 13 rules found/,
  );
  assert.match(
    await promtool("test", "rules", new URL("prometheus/alerts_test.yml", OPS).pathname),
    /SUCCESS/,
  );
});

Deno.test("promtool: the example Prometheus configuration is valid", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = await Deno.readTextFile(new URL("prometheus/prometheus.yml", OPS));
    await Deno.writeTextFile(`${dir}/token`, "scrape-token-0123456789\n");
    await Deno.copyFile(new URL("prometheus/alerts.yml", OPS), `${dir}/alerts.yml`);
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      config.replace("/etc/prometheus/alphapulse-token", `${dir}/token`),
    );
    assert.match(await promtool("check", "config", `${dir}/prometheus.yml`), /SUCCESS/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("systemd units run existing programs with flags they know and variables set", async () => {
  const env = await Deno.readTextFile(new URL("alphapulse.env.example", OPS));
  const defined = new Set(
    [...env.matchAll(/^#?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]),
  );
  const units = ["server", "collector", "exporter"];
  for (const name of units) {
    const unit = await Deno.readTextFile(new URL(`systemd/alphapulse-${name}.service`, OPS));
    for (const section of ["[Unit]", "[Service]", "[Install]"]) {
      assert.ok(unit.includes(section), `${name}: ${section}`);
    }
    assert.match(unit, /^EnvironmentFile=\/etc\/alphapulse\/alphapulse\.env$/m);
    const execs = [...unit.matchAll(/^ExecStart(?:Pre)?=(.+)$/gm)].map((m) => m[1]);
    assert.ok(execs.length > 0, `${name}: ExecStart`);
    for (const exec of execs) {
      const words = exec.split(/\s+/);
      const script = words[words.indexOf("-A") + 1];
      const source = await Deno.readTextFile(new URL(script, ROOT));
      for (const flag of words.filter((w) => w.startsWith("--"))) {
        assert.ok(source.includes(flag), `${name}: ${script} has no ${flag}`);
      }
      for (const [, variable] of exec.matchAll(/\$\{([A-Z0-9_]+)\}/g)) {
        assert.ok(defined.has(variable), `${name}: ${variable} not in alphapulse.env.example`);
      }
    }
  }
});

Deno.test("every ALPHAPULSE_ setting in the example configuration is read somewhere", async () => {
  const env = await Deno.readTextFile(new URL("alphapulse.env.example", OPS));
  const names = [...env.matchAll(/^#?(ALPHAPULSE_[A-Z0-9_]+)=/gm)].map((m) => m[1]);
  assert.ok(names.length > 10);
  let code = "";
  for (const file of ["server/config.ts", "lib/cli/config.ts"]) {
    code += await Deno.readTextFile(new URL(file, ROOT));
  }
  for (const name of ["server", "collector", "exporter"]) {
    code += await Deno.readTextFile(new URL(`systemd/alphapulse-${name}.service`, OPS));
  }
  for (const name of names) assert.ok(code.includes(name), `${name} is read by nothing`);
});

/** A TCP port free a moment ago. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("a real Prometheus scrapes the server's /metrics with a bearer token", async () => {
  const { startServer, StreamHub, Authenticator } = await import("../server/mod.ts");
  const { MemoryRepository } = await import("../lib/repositories/mod.ts");
  const token = "prometheus-token-0123456789";
  const hub = new StreamHub();
  const server = await startServer({
    repository: new MemoryRepository([]),
    hub,
    port: 0,
    auth: await Authenticator.create({ tokens: [{ token, scopes: ["read"] }] }),
  });
  const dir = await Deno.makeTempDir({ prefix: "alphapulse-prometheus-" });
  const promPort = freePort();
  await Deno.writeTextFile(`${dir}/token`, token);
  await Deno.writeTextFile(
    `${dir}/prometheus.yml`,
    [
      "global: { scrape_interval: 1s }",
      "scrape_configs:",
      "  - job_name: alphapulse-server",
      `    authorization: { type: Bearer, credentials_file: ${dir}/token }`,
      `    static_configs: [{ targets: ["127.0.0.1:${server.port}"] }]`,
    ].join("\n"),
  );
  const child = new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const query = async (q: string) => {
    const res = await fetch(
      `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`,
    );
    const body = await res.json();
    return body.data?.result as { metric: Record<string, string>; value: [number, string] }[];
  };
  try {
    let up: string | undefined;
    for (let i = 0; i < 300 && up !== "1"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      up = await query('up{job="alphapulse-server"}').then(
        (r) => r?.[0]?.value[1],
        () => undefined,
      );
    }
    assert.equal(up, "1", "Prometheus scraped the server (token accepted, exposition parsed)");
    // A scrape is counted after its response: the second scrape carries the first.
    let scrapes: Awaited<ReturnType<typeof query>> = [];
    for (let i = 0; i < 100 && !scrapes?.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      scrapes = await query(
        'http_requests_total{job="alphapulse-server",route="/metrics",status="200"}',
      );
    }
    assert.ok(Number(scrapes[0].value[1]) >= 1, "the server counted Prometheus's scrapes");
    const start = await query('process_start_time_seconds{job="alphapulse-server"}');
    assert.ok(Number(start[0].value[1]) > 1e9);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await server.shutdown();
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});
