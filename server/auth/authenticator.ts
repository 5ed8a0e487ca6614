/**
 * Who may call the server: static API tokens and JWTs, each granting scopes.
 * @module
 */
import { type JwtKey, jwtScopes, verifyJwt } from "./jwt.ts";

/** A scope a credential grants. */
export type Scope = "read" | "trade";

/** The scopes the server knows: `read` market data; `trade` for paper-trading routes. */
export const SCOPES: readonly Scope[] = ["read", "trade"];

/** Who made a request. */
export interface Principal {
  /** The token's name or the JWT `sub` (never the secret). */
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
}

/** One static API token. */
export interface ApiToken {
  /** The secret itself (at least 16 characters). */
  readonly token: string;
  readonly scopes: readonly Scope[];
  /** For logs (default `token-N`). */
  readonly name?: string;
}

/** JWT verification settings. */
export interface JwtSettings {
  readonly key: JwtKey;
  /** Required `aud`. */
  readonly audience: string;
  /** Required `iss`, when set. */
  readonly issuer?: string;
  /** Clock skew allowed, seconds (default 30). */
  readonly leewaySeconds?: number;
}

/** Options for {@linkcode Authenticator}. */
export interface AuthenticatorOptions {
  readonly tokens?: readonly ApiToken[];
  readonly jwt?: JwtSettings;
}

/** A credential that was refused; `status` is 401 (unknown/invalid) or 403 (scope). */
export class AuthError extends Error {
  readonly status: 401 | 403;
  constructor(status: 401 | 403, message: string) {
    super(message);
    this.name = "AuthError";
    this.status = status;
  }
}

/** Shortest API token accepted. */
export const MIN_API_TOKEN_LENGTH = 16;

async function digest(text: string): Promise<string> {
  const bytes = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Checks bearer credentials. API tokens are looked up by their SHA-256 digest (the secret
 * itself is not kept, and lookups do not compare secrets byte by byte); anything with two
 * dots is treated as a JWT when JWT settings are given.
 *
 * @example
 * ```ts
 * import { Authenticator } from "./authenticator.ts";
 * import assert from "node:assert/strict";
 * const auth = await Authenticator.create({
 *   tokens: [{ token: "0123456789abcdef-secret", scopes: ["read"], name: "notebook" }],
 * });
 * const who = await auth.authenticate("0123456789abcdef-secret", "read");
 * assert.equal(who.subject, "notebook");
 * ```
 */
export class Authenticator {
  #tokens: Map<string, Principal>;
  #jwt: JwtSettings | undefined;

  private constructor(tokens: Map<string, Principal>, jwt: JwtSettings | undefined) {
    this.#tokens = tokens;
    this.#jwt = jwt;
  }

  /** @throws {RangeError} for a short token or an unknown scope. */
  static async create(options: AuthenticatorOptions): Promise<Authenticator> {
    const tokens = new Map<string, Principal>();
    let n = 0;
    for (const t of options.tokens ?? []) {
      n++;
      if (typeof t.token !== "string" || t.token.length < MIN_API_TOKEN_LENGTH) {
        throw new RangeError(`API token ${t.name ?? n} is shorter than ${MIN_API_TOKEN_LENGTH}`);
      }
      for (const s of t.scopes) {
        if (!SCOPES.includes(s)) throw new RangeError(`unknown scope "${s}"`);
      }
      tokens.set(await digest(t.token), {
        subject: t.name ?? `token-${n}`,
        scopes: new Set(t.scopes),
      });
    }
    return new Authenticator(tokens, options.jwt);
  }

  /** Whether any credential is configured (no: the server runs open). */
  get enabled(): boolean {
    return this.#tokens.size > 0 || this.#jwt !== undefined;
  }

  /**
   * Returns the principal for `credential` when it holds `scope`.
   * @throws {AuthError} 401 for an unknown or invalid credential, 403 for a missing scope.
   */
  async authenticate(credential: string | undefined, scope: Scope): Promise<Principal> {
    if (!credential) throw new AuthError(401, "authentication required");
    let principal = this.#tokens.get(await digest(credential));
    if (!principal && this.#jwt && credential.split(".").length === 3) {
      const { key, audience, issuer, leewaySeconds } = this.#jwt;
      try {
        const claims = await verifyJwt(credential, key, { audience, issuer, leewaySeconds });
        principal = {
          subject: typeof claims.sub === "string" ? claims.sub : "jwt",
          scopes: new Set(jwtScopes(claims)),
        };
      } catch (error) {
        throw new AuthError(401, `invalid token: ${(error as Error).message}`);
      }
    }
    if (!principal) throw new AuthError(401, "invalid token");
    if (!principal.scopes.has(scope)) {
      throw new AuthError(403, `token lacks the "${scope}" scope`);
    }
    return principal;
  }
}
