/**
 * JSON Web Token verification with Web Crypto (`crypto.subtle`), following RFC 8725
 * (JWT Best Current Practices): exactly one configured algorithm (HS256 or ES256), so
 * `alg: none` and algorithm confusion are rejected; `exp` required, `nbf` and `aud` checked.
 * @module
 */

/** The algorithms this server verifies. */
export type JwtAlgorithm = "HS256" | "ES256";

/** The verified claims the server uses. */
export interface JwtClaims {
  readonly [claim: string]: unknown;
  readonly sub?: string;
  readonly exp: number;
  readonly nbf?: number;
  readonly aud?: string | string[];
  readonly iss?: string;
  readonly scope?: string;
  readonly scp?: string | string[];
}

/** A verification key: one algorithm and its Web Crypto key. */
export interface JwtKey {
  readonly alg: JwtAlgorithm;
  readonly key: CryptoKey;
}

/** What {@linkcode verifyJwt} checks besides the signature. */
export interface JwtVerifyOptions {
  /** The audience this server is (the token's `aud` must be or contain it). */
  readonly audience: string;
  /** When set, the token's `iss` must equal it. */
  readonly issuer?: string;
  /** Allowed clock skew in seconds for `exp` and `nbf` (default 30). */
  readonly leewaySeconds?: number;
  /** Current time in epoch seconds (default: now). */
  readonly now?: number;
}

/** A token that failed verification; `message` says why, without echoing the token. */
export class JwtError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JwtError";
  }
}

/** Shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the hash size). */
export const MIN_HS256_SECRET_BYTES = 32;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Decodes base64url without padding; throws {@linkcode JwtError} on anything else. */
export function base64UrlDecode(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new JwtError("malformed base64url");
  }
  const b64 = text.replaceAll("-", "+").replaceAll("_", "/");
  const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function decodeJson(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(base64UrlDecode(segment)));
  } catch {
    throw new JwtError(`malformed ${what}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new JwtError(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Imports a verification key.
 * - `HS256`: the shared secret (at least 32 bytes).
 * - `ES256`: a P-256 public key as PEM (`-----BEGIN PUBLIC KEY-----`, SPKI) or a JWK JSON
 *   object (`{"kty":"EC","crv":"P-256","x":...,"y":...}`).
 * @throws {RangeError} for a short secret or a key that is not a P-256 public key.
 */
export async function importJwtKey(alg: JwtAlgorithm, material: string): Promise<JwtKey> {
  if (alg === "HS256") {
    const bytes = encoder.encode(material);
    if (bytes.length < MIN_HS256_SECRET_BYTES) {
      throw new RangeError(
        `the HS256 secret must be at least ${MIN_HS256_SECRET_BYTES} bytes (got ${bytes.length})`,
      );
    }
    const key = await crypto.subtle.importKey(
      "raw",
      bytes,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    return { alg, key };
  }
  if (alg !== "ES256") throw new RangeError(`unsupported JWT algorithm: ${alg}`);
  const params = { name: "ECDSA", namedCurve: "P-256" };
  const text = material.trim();
  try {
    if (text.startsWith("{")) {
      const jwk = JSON.parse(text) as JsonWebKey;
      if (jwk.kty !== "EC" || jwk.crv !== "P-256" || jwk.d !== undefined) {
        throw new RangeError("not a P-256 public JWK");
      }
      const { kty, crv, x, y } = jwk;
      const key = await crypto.subtle.importKey("jwk", { kty, crv, x, y }, params, false, [
        "verify",
      ]);
      return { alg, key };
    }
    const pem = /-----BEGIN PUBLIC KEY-----([\s\S]+?)-----END PUBLIC KEY-----/.exec(text);
    if (!pem) throw new RangeError("expected a PEM public key or a JWK");
    const der = Uint8Array.from(atob(pem[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
    const key = await crypto.subtle.importKey("spki", der, params, false, ["verify"]);
    return { alg, key };
  } catch (error) {
    throw new RangeError(`the ES256 public key is not usable: ${(error as Error).message}`);
  }
}

/**
 * Verifies a compact JWS token and returns its claims.
 *
 * Rejected: a header `alg` other than the key's (so `none`, and HS256 tokens signed with
 * an ES256 public key), a `crit` header, a bad signature, a missing or passed `exp`, a
 * future `nbf`, an `aud` without `options.audience`, an `iss` other than `options.issuer`.
 * @throws {JwtError} saying which check failed.
 */
export async function verifyJwt(
  token: string,
  key: JwtKey,
  options: JwtVerifyOptions,
): Promise<JwtClaims> {
  const parts = token.split(".");
  if (parts.length !== 3) throw new JwtError("not a compact JWS (three dot-separated parts)");
  const [h, p, s] = parts;
  const header = decodeJson(h, "header");
  if (header.alg !== key.alg) {
    throw new JwtError(`algorithm ${JSON.stringify(header.alg)} not accepted (need ${key.alg})`);
  }
  if (header.crit !== undefined) throw new JwtError("critical header parameters not supported");
  const signature = base64UrlDecode(s);
  const signed = encoder.encode(`${h}.${p}`);
  let valid: boolean;
  if (key.alg === "HS256") {
    valid = await crypto.subtle.verify("HMAC", key.key, signature, signed);
  } else {
    // JWS ES256 signatures are r || s, 32 bytes each: what Web Crypto verifies.
    if (signature.length !== 64) throw new JwtError("bad signature");
    valid = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      key.key,
      signature,
      signed,
    );
  }
  if (!valid) throw new JwtError("bad signature");
  const claims = decodeJson(p, "payload");
  checkClaims(claims, options);
  return claims as unknown as JwtClaims;
}

function checkClaims(claims: Record<string, unknown>, options: JwtVerifyOptions): void {
  const now = options.now ?? Date.now() / 1000;
  const leeway = options.leewaySeconds ?? 30;
  const { exp, nbf, aud, iss } = claims;
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw new JwtError("exp missing");
  if (now >= exp + leeway) throw new JwtError("token expired");
  if (nbf !== undefined) {
    if (typeof nbf !== "number" || !Number.isFinite(nbf)) throw new JwtError("nbf malformed");
    if (now < nbf - leeway) throw new JwtError("token not yet valid");
  }
  const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audiences.includes(options.audience)) throw new JwtError("wrong audience");
  if (options.issuer !== undefined && iss !== options.issuer) throw new JwtError("wrong issuer");
}

/** The scopes a token grants: `scope` (space-separated, RFC 8693) or `scp` (list). */
export function jwtScopes(claims: JwtClaims): string[] {
  const out: string[] = [];
  if (typeof claims.scope === "string") out.push(...claims.scope.split(" "));
  if (typeof claims.scp === "string") out.push(...claims.scp.split(" "));
  if (Array.isArray(claims.scp)) out.push(...claims.scp.filter((s) => typeof s === "string"));
  return out.filter(Boolean);
}
