/**
 * Origin and Host allow-lists and CORS. A foreign `Origin` (another site's page talking to
 * this server through the user's browser) is refused on every route, streams included; a
 * `Host` outside the list is refused too, which stops DNS rebinding (an attacker's name
 * resolving to 127.0.0.1). CORS headers go only to configured origins.
 * @module
 */

/** Options for {@linkcode OriginPolicy}. */
export interface OriginPolicyOptions {
  /**
   * Origins (`https://notebook.example.com`) allowed to call from a browser, with CORS.
   * Same-origin requests (the live page) are always allowed.
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * Host names (or `name:port`) requests may be addressed to; `undefined` allows any.
   * See {@linkcode defaultAllowedHosts}.
   */
  readonly allowedHosts?: readonly string[];
}

/** Whether `hostname` is a loopback interface name or address. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * The Host allow-list used when none is configured: on a loopback bind, the loopback
 * names (`localhost`, `127.0.0.1`, `[::1]`) and the bind address; on any other bind,
 * `undefined` (any Host: authentication is required there).
 */
export function defaultAllowedHosts(bindHostname: string): string[] | undefined {
  if (!isLoopback(bindHostname)) return undefined;
  const bind = bindHostname.includes(":") && !bindHostname.startsWith("[")
    ? `[${bindHostname}]`
    : bindHostname;
  return [...new Set(["localhost", "127.0.0.1", "[::1]", bind.toLowerCase()])];
}

/** Why a request was refused. */
export interface OriginRefusal {
  readonly status: 403;
  readonly message: string;
}

function normaliseOrigin(origin: string): string {
  const url = new URL(origin);
  if (url.origin === "null") throw new RangeError(`not an http(s) origin: ${origin}`);
  return url.origin;
}

/**
 * Checks `Origin` and `Host` and adds CORS headers.
 *
 * @example
 * ```ts
 * import { OriginPolicy } from "./origin.ts";
 * import assert from "node:assert/strict";
 * const policy = new OriginPolicy({ allowedHosts: ["localhost"] });
 * const req = new Request("http://localhost/", { headers: { origin: "https://evil.example" } });
 * assert.equal(policy.check(req)?.status, 403);
 * ```
 */
export class OriginPolicy {
  readonly #origins: ReadonlySet<string>;
  readonly #hosts: ReadonlySet<string> | undefined;

  /** @throws {RangeError} for an allowed origin that is not an http(s) URL origin. */
  constructor(options: OriginPolicyOptions = {}) {
    this.#origins = new Set((options.allowedOrigins ?? []).map(normaliseOrigin));
    this.#hosts = options.allowedHosts
      ? new Set(options.allowedHosts.map((h) => h.trim().toLowerCase()).filter(Boolean))
      : undefined;
  }

  /** Whether `origin` is one of the configured (cross-origin) origins. */
  allowsOrigin(origin: string): boolean {
    return this.#origins.has(origin);
  }

  /** Returns why `req` is refused, or `undefined` when it may proceed. */
  check(req: Request): OriginRefusal | undefined {
    const url = new URL(req.url);
    if (this.#hosts && !this.#hosts.has(url.hostname) && !this.#hosts.has(url.host)) {
      return { status: 403, message: `host not allowed: ${url.hostname}` };
    }
    const origin = req.headers.get("origin");
    if (origin === null) return undefined; // not a browser cross-site request
    if (this.#origins.has(origin)) return undefined;
    let sameHost = false;
    try {
      sameHost = new URL(origin).host === url.host;
    } catch { /* "null" or garbage: foreign */ }
    return sameHost ? undefined : { status: 403, message: "origin not allowed" };
  }

  /** The answer to a CORS preflight (`OPTIONS` with `Origin`), or `undefined`. */
  preflight(req: Request): Response | undefined {
    const origin = req.headers.get("origin");
    if (req.method !== "OPTIONS" || origin === null || !this.#origins.has(origin)) return;
    return new Response(null, {
      status: 204,
      headers: {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": "GET, HEAD",
        "access-control-allow-headers": "authorization, content-type",
        "access-control-max-age": "600",
        "vary": "Origin",
      },
    });
  }

  /**
   * Adds CORS headers to `res` when the request's `Origin` (read before handling it: an
   * upgraded request's headers are gone) is a configured origin.
   */
  decorate(origin: string | null, res: Response): Response {
    if (origin === null || !this.#origins.has(origin) || res.status === 101) return res;
    try {
      res.headers.set("access-control-allow-origin", origin);
      res.headers.append("vary", "Origin");
      res.headers.set("access-control-expose-headers", "x-next-cursor, link");
      return res;
    } catch {
      // Immutable headers (e.g. a fetched response): copy.
      const headers = new Headers(res.headers);
      headers.set("access-control-allow-origin", origin);
      headers.append("vary", "Origin");
      headers.set("access-control-expose-headers", "x-next-cursor, link");
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
    }
  }
}
