/**
 * A very small Hono-like router: exact-path GET routes, JSON helpers and errors turned
 * into JSON responses. Handlers take a plain `Request`, so tests need no network.
 * @module
 */

/** What a handler receives. */
export interface RequestContext {
  readonly req: Request;
  readonly url: URL;
  /** The query string, parsed. */
  readonly query: URLSearchParams;
}

/** A route handler. */
export type Handler = (ctx: RequestContext) => Response | Promise<Response>;

/**
 * An error a handler throws to answer with a status and a JSON body
 * `{ "error": message, ...details }`.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(status: number, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.details = details;
  }
}

const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
};

/** A JSON response (non-finite numbers become `null`). */
export function json(body: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(JSON_HEADERS);
  for (const [k, v] of new Headers(init.headers)) headers.set(k, v);
  return new Response(JSON.stringify(body), { ...init, headers });
}

/** An HTML response. */
export function html(body: string, init: ResponseInit = {}): Response {
  const headers = new Headers({ "content-type": "text/html; charset=utf-8" });
  for (const [k, v] of new Headers(init.headers)) headers.set(k, v);
  return new Response(body, { ...init, headers });
}

/**
 * Routes requests by method and exact path. Unknown paths answer 404, known paths with
 * another method 405, an {@linkcode HttpError} its status, anything else 500 (logged).
 * `HEAD` runs the `GET` handler without the body.
 *
 * @example
 * ```ts
 * import { json, Router } from "./router.ts";
 * import assert from "node:assert/strict";
 * const router = new Router().get("/ping", () => json({ pong: true }));
 * const res = await router.fetch(new Request("http://x/ping"));
 * assert.deepEqual(await res.json(), { pong: true });
 * ```
 */
export class Router {
  #routes = new Map<string, Map<string, Handler>>();

  /** Adds a GET route for an exact path. */
  get(path: string, handler: Handler): this {
    return this.on("GET", path, handler);
  }

  /** Adds a route for a method and exact path. */
  on(method: string, path: string, handler: Handler): this {
    if (!path.startsWith("/")) throw new TypeError(`route path must start with "/": ${path}`);
    let byMethod = this.#routes.get(path);
    if (!byMethod) this.#routes.set(path, byMethod = new Map());
    byMethod.set(method.toUpperCase(), handler);
    return this;
  }

  /** The paths with a route. */
  paths(): string[] {
    return [...this.#routes.keys()];
  }

  /** Answers one request. */
  fetch = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const byMethod = this.#routes.get(url.pathname);
    if (!byMethod) return json({ error: "not found", path: url.pathname }, { status: 404 });
    const head = req.method === "HEAD";
    const handler = byMethod.get(head ? "GET" : req.method);
    if (!handler) {
      return json({ error: `method ${req.method} not allowed` }, {
        status: 405,
        headers: { allow: [...byMethod.keys()].join(", ") },
      });
    }
    let res: Response;
    try {
      res = await handler({ req, url, query: url.searchParams });
    } catch (error) {
      if (error instanceof HttpError) {
        res = json({ error: error.message, ...error.details }, { status: error.status });
      } else {
        console.error(`${req.method} ${url.pathname}${url.search} failed:`, error);
        res = json({ error: "internal server error" }, { status: 500 });
      }
    }
    if (!head) return res;
    await res.body?.cancel();
    return new Response(null, { status: res.status, headers: res.headers });
  };
}
