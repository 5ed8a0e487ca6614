/** Server security settings from flags and environment: parsed, validated, never logged. */
import assert from "node:assert/strict";
import { loadServerSecurity, parseApiTokens } from "../server/config.ts";
import { hs256Signer } from "./support/jwt_sign.ts";

const SECRET = "env-secret-of-at-least-thirty-two-bytes";

Deno.test("parseApiTokens: TOKEN SCOPES [NAME] lines, comments, default read, bad scope", () => {
  const tokens = parseApiTokens(
    "# tokens\nabcdefghijklmnop0 read,trade bot\n\nqrstuvwxyz0123456\n",
    "f",
  );
  assert.deepEqual(tokens, [
    { token: "abcdefghijklmnop0", scopes: ["read", "trade"], name: "bot" },
    { token: "qrstuvwxyz0123456", scopes: ["read"], name: "f#4" },
  ]);
  assert.throws(() => parseApiTokens("abcdefghijklmnop0 admin", "f"), /entry 1: unknown scope/);
});

Deno.test("loadServerSecurity: tokens file, inline tokens and an HS256 JWT from env", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/tokens`, "file-token-0123456789 read notebook\n");
    const env: Record<string, string> = {
      ALPHAPULSE_API_TOKENS: "env-token-0123456789 trade",
      ALPHAPULSE_JWT_ALG: "HS256",
      ALPHAPULSE_JWT_SECRET: SECRET,
      ALPHAPULSE_ALLOWED_ORIGINS: "https://a.example, https://b.example",
    };
    const security = await loadServerSecurity(
      {
        "api-tokens-file": `${dir}/tokens`,
        "jwt-audience": "desk",
        "max-connections": "7",
        "max-queries": "3",
        "query-timeout": "12",
        "idle-timeout": "90",
        "write-timeout": "4",
        "connection-guard": true,
      },
      (name) => env[name],
    );
    assert.equal(security.auth.enabled, true);
    assert.equal(
      (await security.auth.authenticate("file-token-0123456789", "read")).subject,
      "notebook",
    );
    await assert.rejects(security.auth.authenticate("env-token-0123456789", "read"), /scope/);
    const jwt = await (await hs256Signer(SECRET))({
      aud: "desk",
      exp: Date.now() / 1000 + 60,
      scope: "read",
    });
    assert.equal((await security.auth.authenticate(jwt, "read")).subject, "jwt");
    assert.deepEqual(security.allowedOrigins, ["https://a.example", "https://b.example"]);
    assert.equal(security.limits.maxConnections, 7);
    assert.equal(security.maxConcurrentQueries, 3);
    assert.deepEqual(security.timeouts, {
      queryMs: 12_000,
      headerMs: undefined,
      idleMs: 90_000,
      writeMs: 4_000,
    });
    assert.equal(security.connectionGuard, true);
    for (const secret of [SECRET, "file-token", "env-token"]) {
      assert.ok(!security.summary.includes(secret), "the summary names no secret");
    }
    assert.match(security.summary, /2 API token\(s\), JWT HS256 aud=desk/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadServerSecurity: nothing configured is open; bad settings are RangeErrors", async () => {
  const none = await loadServerSecurity({}, () => undefined);
  assert.equal(none.auth.enabled, false);
  await assert.rejects(loadServerSecurity({ "jwt-alg": "none" }, () => undefined), RangeError);
  await assert.rejects(loadServerSecurity({ "jwt-alg": "HS256" }, () => undefined), /secret/);
  await assert.rejects(
    loadServerSecurity(
      { "jwt-alg": "HS256" },
      (n) => n === "ALPHAPULSE_JWT_SECRET" ? "short" : undefined,
    ),
    /at least 32 bytes/,
  );
  await assert.rejects(
    loadServerSecurity({}, (n) => n === "ALPHAPULSE_API_TOKENS" ? "short read" : undefined),
    /shorter than 16/,
  );
  await assert.rejects(
    loadServerSecurity({ "api-tokens-file": "/nonexistent/tokens" }, () => undefined),
    Deno.errors.NotFound,
  );
});
