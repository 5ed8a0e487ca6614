/**
 * Authentication, scopes, Origin/Host allow-lists and CORS of the server: plain Requests
 * against the app, and real WebSocket/SSE clients against a running server.
 */
import assert from "node:assert/strict";
import type { Trade } from "../lib/market/types.ts";
import { MemoryRepository } from "../lib/repositories/mod.ts";
import {
  Authenticator,
  ConfigurationError,
  createApp,
  FORBIDDEN_CLOSE_CODE,
  importJwtKey,
  OriginPolicy,
  startServer,
  StreamHub,
  UNAUTHORIZED_CLOSE_CODE,
  verifyJwt,
} from "../server/mod.ts";
import { b64url, compact, es256KeyPair, hs256Signer } from "./support/jwt_sign.ts";

const T0 = Date.UTC(2021, 3, 17, 16, 0) * 1000;
const SECRET = "a-test-secret-of-at-least-32-bytes!!";
const READ_TOKEN = "read-token-0123456789";
const TRADE_ONLY_TOKEN = "trade-token-0123456789";
const NOW = Math.floor(Date.now() / 1000);

function trade(i: number): Trade {
  return {
    kind: "trade",
    exchange: "coinbase",
    symbol: "BTC-USD",
    ts: T0 + i * 1_000_000,
    recvTs: T0 + i * 1_000_000 + 500,
    id: String(1000 + i),
    price: 60_000 + i,
    size: 0.5,
    side: "buy",
  };
}

async function hsAuth(): Promise<Authenticator> {
  return await Authenticator.create({
    tokens: [
      { token: READ_TOKEN, scopes: ["read"], name: "notebook" },
      { token: TRADE_ONLY_TOKEN, scopes: ["trade"], name: "trader" },
    ],
    jwt: { key: await importJwtKey("HS256", SECRET), audience: "alphapulse" },
  });
}

const valid = { sub: "alice", aud: "alphapulse", exp: NOW + 600, scope: "read" };

Deno.test("verifyJwt: HS256 accepts a valid token and refuses every RFC 8725 attack", async (t) => {
  const sign = await hs256Signer(SECRET);
  const key = await importJwtKey("HS256", SECRET);
  const opts = { audience: "alphapulse", leewaySeconds: 0 };
  const refused = async (token: string | Promise<string>, why: RegExp) =>
    await assert.rejects(verifyJwt(await token, key, opts), why);

  await t.step("valid", async () => {
    const claims = await verifyJwt(await sign(valid), key, opts);
    assert.equal(claims.sub, "alice");
  });
  await t.step("expired", () => refused(sign({ ...valid, exp: NOW - 5 }), /expired/));
  await t.step("no exp", () => refused(sign({ ...valid, exp: undefined }), /exp missing/));
  await t.step(
    "not yet valid",
    () => refused(sign({ ...valid, nbf: NOW + 600 }), /not yet valid/),
  );
  await t.step("wrong audience", async () => {
    await refused(await sign({ ...valid, aud: "someone-else" }), /audience/);
    await refused(await sign({ ...valid, aud: undefined }), /audience/);
  });
  await t.step("audience list containing ours is accepted", async () => {
    await verifyJwt(await sign({ ...valid, aud: ["x", "alphapulse"] }), key, opts);
  });
  await t.step("alg none (unsigned)", async () => {
    const token = `${b64url(JSON.stringify({ alg: "none" }))}.${b64url(JSON.stringify(valid))}.`;
    await refused(token, /algorithm "none"/);
  });
  await t.step("tampered payload", async () => {
    const [h, , s] = (await sign(valid)).split(".");
    const forged = b64url(JSON.stringify({ ...valid, scope: "read trade" }));
    await refused(`${h}.${forged}.${s}`, /bad signature/);
  });
  await t.step("signed with another secret", async () => {
    const other = await hs256Signer("another-secret-of-at-least-32-bytes!");
    await refused(await other(valid), /bad signature/);
  });
  await t.step("crit header", () => refused(sign(valid, { crit: ["exp"] }), /critical/));
  await t.step("a short HS256 secret is refused at configuration", async () => {
    await assert.rejects(importJwtKey("HS256", "short"), RangeError);
  });
});

Deno.test("verifyJwt: ES256 with PEM or JWK keys; HS256 alg confusion is refused", async () => {
  const pair = await es256KeyPair();
  const opts = { audience: "alphapulse" };
  for (const material of [pair.pem, pair.jwk]) {
    const key = await importJwtKey("ES256", material);
    const claims = await verifyJwt(await pair.sign(valid), key, opts);
    assert.equal(claims.sub, "alice");
    // Algorithm confusion: an HS256 token whose HMAC key is the (public) ES256 key text.
    const confused = await hs256Signer(material);
    await assert.rejects(verifyJwt(await confused(valid), key, opts), /algorithm "HS256"/);
    // An ES256 token for an HS256-configured server is refused by alg too.
    await assert.rejects(
      verifyJwt(await pair.sign(valid), await importJwtKey("HS256", SECRET), opts),
      /algorithm "ES256"/,
    );
  }
  const other = await es256KeyPair();
  await assert.rejects(
    verifyJwt(await other.sign(valid), await importJwtKey("ES256", pair.pem), opts),
    /bad signature/,
  );
});

Deno.test("REST: tokens and JWTs with the read scope pass; everything else is refused", async (t) => {
  const repository = new MemoryRepository([trade(0), trade(1)]);
  const app = createApp({ repository, hub: new StreamHub(), auth: await hsAuth() });
  const sign = await hs256Signer(SECRET);
  const get = (path: string, headers: Record<string, string> = {}) =>
    app(new Request(`http://localhost${path}`, { headers }));
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const path = "/api/trades?exchange=coinbase&symbol=BTC-USD";

  await t.step("no credential: 401 with WWW-Authenticate", async () => {
    const res = await get(path);
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate")!, /^Bearer/);
    assert.equal((await res.json()).error, "authentication required");
  });
  await t.step("API token with read: 200 and the rows", async () => {
    const res = await get(path, bearer(READ_TOKEN));
    assert.equal(res.status, 200);
    assert.equal((await res.json()).length, 2);
  });
  await t.step("unknown token: 401", async () => {
    assert.equal((await get(path, bearer("not-a-token-0123456789"))).status, 401);
  });
  await t.step("token without read: 403 insufficient_scope", async () => {
    const res = await get(path, bearer(TRADE_ONLY_TOKEN));
    assert.equal(res.status, 403);
    assert.match(res.headers.get("www-authenticate")!, /insufficient_scope/);
  });
  await t.step("JWT valid: 200; expired, early, wrong aud, alg none, tampered: 401", async () => {
    assert.equal((await get(path, bearer(await sign(valid)))).status, 200);
    const bad = [
      await sign({ ...valid, exp: NOW - 120 }),
      await sign({ ...valid, nbf: NOW + 600 }),
      await sign({ ...valid, aud: "other" }),
      `${b64url(JSON.stringify({ alg: "none" }))}.${b64url(JSON.stringify(valid))}.`,
      (await sign(valid)).replace(/\.[^.]+\./, `.${b64url(JSON.stringify({ ...valid }))}x.`),
    ];
    for (const token of bad) {
      const res = await get(path, bearer(token));
      assert.equal(res.status, 401, token);
      await res.body?.cancel();
    }
    const noScope = await get(path, bearer(await sign({ ...valid, scope: "trade" })));
    assert.equal(noScope.status, 403);
  });
  await t.step("/health and / stay public; /sse and unknown paths need a token", async () => {
    assert.equal((await get("/health")).status, 200);
    assert.equal((await get("/")).status, 200);
    assert.equal((await get("/sse")).status, 401);
    assert.equal((await get("/api/nothing")).status, 401);
  });
});

Deno.test("Origin and Host allow-lists; CORS only for configured origins", async (t) => {
  const repository = new MemoryRepository([trade(0)]);
  const origins = new OriginPolicy({
    allowedOrigins: ["https://notebook.example"],
    allowedHosts: ["localhost", "127.0.0.1"],
  });
  const app = createApp({ repository, hub: new StreamHub(), origins });
  const get = (url: string, headers: Record<string, string> = {}) =>
    app(new Request(url, { headers }));

  await t.step("no Origin (a program): allowed, no CORS header", async () => {
    const res = await get("http://localhost:8787/api/instruments");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), null);
  });
  await t.step("foreign Origin: 403 on REST, SSE and WS", async () => {
    for (const p of ["/api/instruments", "/sse", "/ws", "/health"]) {
      const res = await get(`http://localhost:8787${p}`, { origin: "https://evil.example" });
      assert.equal(res.status, 403, p);
      assert.equal(res.headers.get("access-control-allow-origin"), null);
    }
    assert.equal((await get("http://localhost:8787/", { origin: "null" })).status, 403);
  });
  await t.step("same origin (the live page): allowed", async () => {
    const res = await get("http://localhost:8787/api/instruments", {
      origin: "http://localhost:8787",
    });
    assert.equal(res.status, 200);
  });
  await t.step("configured origin: allowed, with CORS for that origin only", async () => {
    const res = await get("http://localhost:8787/api/instruments", {
      origin: "https://notebook.example",
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), "https://notebook.example");
    assert.match(res.headers.get("vary")!, /Origin/);
    const preflight = await app(
      new Request("http://localhost:8787/api/trades", {
        method: "OPTIONS",
        headers: { origin: "https://notebook.example" },
      }),
    );
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get("access-control-allow-headers")!, /authorization/);
  });
  await t.step("a Host outside the list (DNS rebinding): 403", async () => {
    const res = await get("http://attacker.example:8787/api/instruments", {
      origin: "http://attacker.example:8787",
    });
    assert.equal(res.status, 403);
    assert.match((await res.json()).error, /host not allowed/);
  });
});

Deno.test("loopback without a secret stays open; other binds refuse to start", async () => {
  const repository = new MemoryRepository([trade(0)]);
  const hub = new StreamHub();
  const server = await startServer({ repository, hub, port: 0 });
  try {
    const res = await fetch(`${server.url}api/instruments`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), null, "no more `*`");
    await res.body?.cancel();
  } finally {
    await server.shutdown();
  }
  const refused = await startServer({ repository, hub, port: 0, hostname: "0.0.0.0" }).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(refused instanceof ConfigurationError);
  assert.equal(refused.exitCode, 78);
  assert.match(refused.message, /refusing to listen on 0\.0\.0\.0 without authentication/);
  const open = await startServer({
    repository,
    hub,
    port: 0,
    hostname: "0.0.0.0",
    auth: await hsAuth(),
  });
  try {
    const res = await fetch(`http://127.0.0.1:${open.port}/api/instruments`);
    assert.equal(res.status, 401);
    await res.body?.cancel();
  } finally {
    await open.shutdown();
  }
});

/** Sends a raw HTTP request and returns the status line (for headers fetch cannot set). */
async function rawStatus(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0)).split("\r\n")[0];
  } finally {
    conn.close();
  }
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error((e as ErrorEvent).message ?? "websocket error"));
  });
}

function messages(ws: WebSocket) {
  const got: unknown[] = [];
  let waiters: (() => void)[] = [];
  ws.onmessage = (m) => {
    got.push(JSON.parse(m.data));
    for (const w of waiters) w();
    waiters = [];
  };
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  return {
    got,
    closed,
    /** Waits for `n` messages; fails after 10 s rather than hang. */
    async waitFor(n: number) {
      const deadline = Date.now() + 10_000;
      while (got.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${got.length} of ${n} messages came`);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((r) => {
          waiters.push(r);
          timer = setTimeout(r, 500);
        });
        clearTimeout(timer);
      }
    },
  };
}

Deno.test("WebSocket and SSE: tokens as first message, subprotocol, header; refusals", async (t) => {
  const hub = new StreamHub();
  const server = await startServer({
    repository: new MemoryRepository([]),
    hub,
    port: 0,
    auth: await hsAuth(),
    authTimeoutMs: 300,
  });
  const wsUrl = `ws://127.0.0.1:${server.port}/ws?kinds=trade`;
  try {
    await t.step("token in the first message: acknowledged, then events", async () => {
      const ws = new WebSocket(wsUrl);
      const m = messages(ws);
      await opened(ws);
      ws.send(JSON.stringify({ type: "auth", token: READ_TOKEN }));
      await m.waitFor(1);
      assert.deepEqual(m.got[0], { type: "authenticated" });
      hub.write([trade(1)]);
      await m.waitFor(2);
      assert.deepEqual(m.got[1], [trade(1)]);
      ws.close();
      await m.closed;
    });
    await t.step("no message within the timeout: closed with 4401, nothing sent", async () => {
      const ws = new WebSocket(wsUrl);
      const m = messages(ws);
      await opened(ws);
      hub.write([trade(2)]);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const event = await Promise.race([
        m.closed,
        new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), 10_000)),
      ]);
      clearTimeout(timer);
      if (!event) ws.close();
      assert.ok(event, "the server did not close an unauthenticated socket");
      assert.equal(event.code, UNAUTHORIZED_CLOSE_CODE);
      assert.equal(event.reason, "authentication timeout");
      assert.deepEqual(m.got, []);
    });
    await t.step("bad token message: 4401; token without read: 4403", async () => {
      for (
        const [token, code] of [
          ["wrong-token-0123456789", UNAUTHORIZED_CLOSE_CODE],
          [TRADE_ONLY_TOKEN, FORBIDDEN_CLOSE_CODE],
        ] as const
      ) {
        const ws = new WebSocket(wsUrl);
        const m = messages(ws);
        await opened(ws);
        ws.send(JSON.stringify({ type: "auth", token }));
        assert.equal((await m.closed).code, code);
        assert.deepEqual(m.got, []);
      }
    });
    await t.step(
      "bearer subprotocol: streams at once, answers the alphapulse protocol",
      async () => {
        const jwt = await (await hs256Signer(SECRET))(valid);
        const ws = new WebSocket(wsUrl, ["alphapulse", `bearer.${jwt}`]);
        const m = messages(ws);
        await opened(ws);
        assert.equal(ws.protocol, "alphapulse");
        for (let i = 0; i < 2_000 && hub.stats().clients === 0; i++) {
          await new Promise((r) => setTimeout(r, 5));
        }
        assert.equal(hub.stats().clients, 1, "a header-authenticated socket streams at once");
        hub.write([trade(3)]);
        await m.waitFor(1);
        assert.deepEqual(m.got[0], [trade(3)]);
        ws.close();
        await m.closed;
      },
    );
    await t.step("Authorization header on the upgrade; a bad one is refused with 401", async () => {
      const WS = WebSocket as unknown as new (
        url: string,
        init: { headers: Record<string, string> },
      ) => WebSocket;
      const ws = new WS(wsUrl, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
      const m = messages(ws);
      await opened(ws);
      ws.close();
      await m.closed;
      const status = await rawStatus(
        server.port,
        `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\nSec-WebSocket-Version: 13\r\n` +
          `Authorization: Bearer expired.token.here\r\n\r\n`,
      );
      assert.match(status, / 401 /);
    });
    await t.step("foreign Origin and foreign Host are refused on the upgrade", async () => {
      const upgrade = `Upgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\nSec-WebSocket-Version: 13\r\n`;
      assert.match(
        await rawStatus(
          server.port,
          `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n${upgrade}` +
            `Authorization: Bearer ${READ_TOKEN}\r\n\r\n`,
        ),
        / 403 /,
      );
      assert.match(
        await rawStatus(
          server.port,
          `GET /ws HTTP/1.1\r\nHost: rebind.example:${server.port}\r\n${upgrade}\r\n`,
        ),
        / 403 /,
      );
    });
    await t.step(
      "SSE: 401 without a token, events with one, 403 from a foreign origin",
      async () => {
        const url = `http://127.0.0.1:${server.port}/sse?kinds=trade`;
        const none = await fetch(url);
        assert.equal(none.status, 401);
        await none.body?.cancel();
        const foreign = await fetch(url, {
          headers: { authorization: `Bearer ${READ_TOKEN}`, origin: "https://evil.example" },
        });
        assert.equal(foreign.status, 403);
        await foreign.body?.cancel();
        const res = await fetch(url, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
        assert.equal(res.status, 200);
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        while (!text.includes("\n\n")) text += (await reader.read()).value;
        hub.write([trade(4)]);
        while (!text.includes("data: ")) text += (await reader.read()).value;
        while (!text.slice(text.indexOf("data: ")).includes("\n\n")) {
          text += (await reader.read()).value;
        }
        const line = text.split("\n").find((l) => l.startsWith("data: "))!;
        assert.deepEqual(JSON.parse(line.slice(6)), [trade(4)]);
        await reader.cancel();
      },
    );
  } finally {
    await server.shutdown();
    await hub.close();
  }
});

Deno.test("compact() helper builds three base64url parts (sanity of the test signer)", async () => {
  const token = await compact({ alg: "HS256" }, { a: 1 }, () => Promise.resolve(new Uint8Array(2)));
  assert.equal(token.split(".").length, 3);
  assert.equal(token.split(".")[2], "AAA");
});
