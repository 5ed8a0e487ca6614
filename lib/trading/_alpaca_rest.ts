/**
 * Alpaca's REST API as the paper broker uses it: key headers, JSON in and out, 429 retried
 * with a doubling back-off, errors as `{ status, message }` (the message cut to 200
 * characters; keys never in it).
 * @module
 */

/** Alpaca's order as JSON (the fields used). */
export interface AlpacaOrder {
  id: string;
  client_order_id: string;
  symbol: string;
  side: "buy" | "sell";
  qty: string | null;
  filled_qty: string;
  filled_avg_price: string | null;
  limit_price: string | null;
  status: string;
}

/** The outcome of one request. */
export interface RestResult {
  readonly ok: boolean;
  readonly status: number;
  readonly json: unknown;
  readonly message: string;
}

/** Options of {@linkcode AlpacaRest}. */
export interface AlpacaRestOptions {
  readonly key: string;
  readonly secret: string;
  readonly baseUrl: string;
  readonly retries: number;
  readonly backoffMs: number;
  /** True once the broker closed: no more retries. */
  readonly closed: () => boolean;
}

/** A small REST client for Alpaca. */
export class AlpacaRest {
  readonly #o: AlpacaRestOptions;

  constructor(options: AlpacaRestOptions) {
    this.#o = options;
  }

  /** Sends one request (retrying 429s). */
  async request(method: string, path: string, body?: unknown): Promise<RestResult> {
    const o = this.#o;
    for (let attempt = 0;; attempt++) {
      const res = await fetch(o.baseUrl + path, {
        method,
        headers: {
          "APCA-API-KEY-ID": o.key,
          "APCA-API-SECRET-KEY": o.secret,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let json: unknown = undefined;
      try {
        json = text === "" ? undefined : JSON.parse(text);
      } catch { /* not JSON: the message is the text */ }
      if (res.status === 429 && attempt < o.retries && !o.closed()) {
        await new Promise((r) => setTimeout(r, o.backoffMs * 2 ** attempt));
        continue;
      }
      const message = res.ok ? "" : String((json as { message?: string })?.message ?? text);
      return { ok: res.ok, status: res.status, json, message: message.slice(0, 200) };
    }
  }
}

/** The runner's order id in a client order id `<run>-<id>` (NaN when not one of ours). */
export function idFromClient(clientOrderId: string): number {
  const m = /-(\d+)$/.exec(clientOrderId);
  return m ? Number(m[1]) : NaN;
}
