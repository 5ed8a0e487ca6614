/**
 * The server's security and limit settings from command-line flags and environment
 * variables (flags win). Secrets are read from files or the environment, never from flags,
 * so they do not show in `ps`; nothing here logs a secret.
 * @module
 */
import { type ApiToken, Authenticator, type Scope, SCOPES } from "./auth/authenticator.ts";
import { importJwtKey, type JwtAlgorithm } from "./auth/jwt.ts";
import type { ConnectionLimits } from "./limits.ts";
import type { StartServerOptions } from "./start.ts";

/** The flags {@linkcode loadServerSecurity} reads (names as on the command line). */
export const SECURITY_FLAGS = {
  "api-tokens-file": { type: "string" },
  "jwt-alg": { type: "string" },
  "jwt-secret-file": { type: "string" },
  "jwt-public-key-file": { type: "string" },
  "jwt-audience": { type: "string" },
  "jwt-issuer": { type: "string" },
  "allowed-origins": { type: "string" },
  "allowed-hosts": { type: "string" },
  "max-connections": { type: "string" },
  "max-connections-per-address": { type: "string" },
  "max-queries": { type: "string" },
  "query-timeout": { type: "string" },
  "header-timeout": { type: "string" },
  "idle-timeout": { type: "string" },
  "write-timeout": { type: "string" },
  "connection-guard": { type: "boolean" },
  "no-connection-guard": { type: "boolean" },
} as const;

/** Usage lines for {@linkcode SECURITY_FLAGS}. */
export const SECURITY_USAGE = `
  --api-tokens-file F     API tokens, one per line: TOKEN SCOPES [NAME] (SCOPES: read,trade)
                          (env ALPHAPULSE_API_TOKENS_FILE, or ALPHAPULSE_API_TOKENS with the
                          same lines separated by newlines or ';')
  --jwt-alg ALG           accept JWTs signed with HS256 or ES256 (env ALPHAPULSE_JWT_ALG)
  --jwt-secret-file F     HS256 secret, at least 32 bytes (env ALPHAPULSE_JWT_SECRET)
  --jwt-public-key-file F ES256 public key, PEM or JWK (env ALPHAPULSE_JWT_PUBLIC_KEY)
  --jwt-audience AUD      required "aud" (default alphapulse; env ALPHAPULSE_JWT_AUDIENCE)
  --jwt-issuer ISS        required "iss" when set (env ALPHAPULSE_JWT_ISSUER)
  --allowed-origins A,B   browser origins allowed cross-origin, with CORS
                          (env ALPHAPULSE_ALLOWED_ORIGINS)
  --allowed-hosts A,B     Host names requests may use (default on loopback: localhost,
                          127.0.0.1, [::1]; env ALPHAPULSE_ALLOWED_HOSTS)
  --max-connections N     most WebSocket/SSE streams open (default 5000)
  --max-connections-per-address N   ... from one address (default 100)
  --max-queries N         most /api queries running at once (default 8; beyond: 503)
  --query-timeout S       seconds a query worker may take to answer (default 30; beyond:
                          504, the worker is replaced)
  --header-timeout S      seconds a new connection has to send its request head (default 10;
                          on a non-loopback bind, or with --connection-guard)
  --idle-timeout S        seconds a keep-alive connection may wait for its next request
                          (default 60; same conditions)
  --write-timeout S       seconds a write may wait for a client that does not read before the
                          connection is closed (default 10; same conditions)
  --connection-guard      header/idle timeouts and TCP connection caps also on loopback (on by
                          default on any other bind; --no-connection-guard turns it off)`;

/** What {@linkcode loadServerSecurity} returns, ready for `startServer`. */
export interface ServerSecurity {
  readonly auth: Authenticator;
  readonly allowedOrigins?: string[];
  readonly allowedHosts?: string[];
  readonly limits: ConnectionLimits;
  /** Most `/api/*` queries at once (undefined: the app's default). */
  readonly maxConcurrentQueries?: number;
  /** Seconds flags, as milliseconds (undefined: the defaults). */
  readonly timeouts: {
    readonly queryMs?: number;
    readonly headerMs?: number;
    readonly idleMs?: number;
    readonly writeMs?: number;
  };
  /** `--connection-guard` / `--no-connection-guard` (undefined: the bind decides). */
  readonly connectionGuard?: boolean;
  /** A line for the startup log: what is configured, no secrets. */
  readonly summary: string;
}

type Values = Readonly<Record<string, string | boolean | string[] | undefined>>;
type Env = (name: string) => string | undefined;

/**
 * Parses API token lines (`TOKEN SCOPES [NAME]`, `#` comments).
 * @throws {RangeError} naming the line (never the token) when one is malformed.
 */
export function parseApiTokens(text: string, source: string): ApiToken[] {
  const out: ApiToken[] = [];
  const lines = text.split(/\n|;/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith("#")) continue;
    const [token, scopes = "read", name] = line.split(/\s+/);
    const list = scopes.split(",").filter(Boolean);
    for (const s of list) {
      if (!SCOPES.includes(s as Scope)) {
        throw new RangeError(`${source} entry ${i + 1}: unknown scope "${s}"`);
      }
    }
    out.push({ token, scopes: list as Scope[], name: name ?? `${source}#${i + 1}` });
  }
  return out;
}

function list(text: string | undefined): string[] | undefined {
  const items = text?.split(",").map((s) => s.trim()).filter(Boolean);
  return items?.length ? items : undefined;
}

function integer(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`--${name} must be a positive integer, got "${text}"`);
  }
  return n;
}

/**
 * Builds the server's security settings from parsed flags and the environment.
 * @throws {RangeError} for bad values (a short secret, an unknown algorithm or scope).
 * @throws {Deno.errors.NotFound} for a missing secret or key file.
 */
export async function loadServerSecurity(
  values: Values,
  env: Env = (name) => Deno.env.get(name),
): Promise<ServerSecurity> {
  const str = (flag: string, variable: string) =>
    (values[flag] as string | undefined) ?? env(variable);
  const tokens: ApiToken[] = [];
  const tokensFile = str("api-tokens-file", "ALPHAPULSE_API_TOKENS_FILE");
  if (tokensFile) tokens.push(...parseApiTokens(await Deno.readTextFile(tokensFile), tokensFile));
  const inline = env("ALPHAPULSE_API_TOKENS");
  if (inline) tokens.push(...parseApiTokens(inline, "ALPHAPULSE_API_TOKENS"));

  const alg = str("jwt-alg", "ALPHAPULSE_JWT_ALG");
  let jwt;
  if (alg !== undefined) {
    if (alg !== "HS256" && alg !== "ES256") {
      throw new RangeError(`--jwt-alg must be HS256 or ES256, got "${alg}"`);
    }
    const material = alg === "HS256"
      ? await secret(values["jwt-secret-file"], env("ALPHAPULSE_JWT_SECRET"), "HS256 secret")
      : await secret(
        values["jwt-public-key-file"],
        env("ALPHAPULSE_JWT_PUBLIC_KEY"),
        "ES256 public key",
      );
    jwt = {
      key: await importJwtKey(alg as JwtAlgorithm, material),
      audience: str("jwt-audience", "ALPHAPULSE_JWT_AUDIENCE") ?? "alphapulse",
      issuer: str("jwt-issuer", "ALPHAPULSE_JWT_ISSUER"),
    };
  }
  const auth = await Authenticator.create({ tokens, jwt });
  const allowedOrigins = list(str("allowed-origins", "ALPHAPULSE_ALLOWED_ORIGINS"));
  const allowedHosts = list(str("allowed-hosts", "ALPHAPULSE_ALLOWED_HOSTS"));
  const limits = {
    maxConnections: integer(values["max-connections"] as string | undefined, "max-connections"),
    maxConnectionsPerAddress: integer(
      values["max-connections-per-address"] as string | undefined,
      "max-connections-per-address",
    ),
  };
  const maxConcurrentQueries = integer(values["max-queries"] as string | undefined, "max-queries");
  const ms = (flag: string) => {
    const n = integer(values[flag] as string | undefined, flag);
    return n === undefined ? undefined : n * 1000;
  };
  const timeouts = {
    queryMs: ms("query-timeout"),
    headerMs: ms("header-timeout"),
    idleMs: ms("idle-timeout"),
    writeMs: ms("write-timeout"),
  };
  const parts = [
    auth.enabled
      ? `auth: ${tokens.length} API token(s)${jwt ? `, JWT ${alg} aud=${jwt.audience}` : ""}`
      : "auth: none (loopback only)",
    `origins: ${allowedOrigins?.join(",") ?? "same-origin only"}`,
    `hosts: ${allowedHosts?.join(",") ?? "default"}`,
  ];
  return {
    auth,
    allowedOrigins,
    allowedHosts,
    limits,
    maxConcurrentQueries,
    timeouts,
    connectionGuard: values["no-connection-guard"] === true
      ? false
      : values["connection-guard"] === true
      ? true
      : undefined,
    summary: parts.join("; "),
  };
}

async function secret(
  file: string | boolean | string[] | undefined,
  fromEnv: string | undefined,
  what: string,
): Promise<string> {
  if (typeof file === "string") return (await Deno.readTextFile(file)).trim();
  if (fromEnv) return fromEnv;
  throw new RangeError(`--jwt-alg needs the ${what} (a file flag or its environment variable)`);
}

/** The `startServer` options that `security` decides (auth, origins, caps, timeouts). */
export function securityOptions(security: ServerSecurity): Partial<StartServerOptions> {
  return {
    auth: security.auth,
    allowedOrigins: security.allowedOrigins,
    allowedHosts: security.allowedHosts,
    limits: security.limits,
    maxConcurrentQueries: security.maxConcurrentQueries,
    connectionGuard: security.connectionGuard,
    headerTimeoutMs: security.timeouts.headerMs,
    idleTimeoutMs: security.timeouts.idleMs,
    writeTimeoutMs: security.timeouts.writeMs,
  };
}
