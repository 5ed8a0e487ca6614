/**
 * The list routes (`/api/trades`, `/api/quotes`, `/api/book_snapshots`) and the bar cap:
 * bounded work per request. `limit`, `order` and `cursor` are pushed down into the
 * repository (a page costs the same anywhere in a range of any size), the next page's
 * cursor comes back in `x-next-cursor` (and a `Link: rel="next"`), and large ranges stream
 * page by page as NDJSON or Arrow IPC without holding the range in memory.
 * @module
 */
import { tableToIPC } from "apache-arrow";
import type { Bar } from "../lib/market/types.ts";
import type {
  ListQuery,
  MarketDataRepository,
  Page,
  PagedResult,
  QueryResult,
} from "../lib/repositories/repository.ts";
import { parseBookSnapshotQuery, parseRangeQuery } from "./params.ts";
import { HttpError } from "./router.ts";

/** The list routes' tables. */
export type ListTable = "trades" | "quotes" | "book_snapshots";

/** Response formats of the list routes. */
export type ListFormat = "json" | "ndjson" | "arrow";

/** Limits of the list routes. */
export const LIST_LIMITS = {
  /** Rows of a JSON page without `limit`. */
  default: 1_000,
  /** Most rows of one JSON page. */
  max: 100_000,
  /** Rows read per page while streaming NDJSON or Arrow. */
  streamPage: 10_000,
  /** Most rows one streamed response may carry (`limit` up to this). */
  streamMax: 100_000_000,
} as const;

/** Most bars one `/api/bars` response may carry (time or activity bars). */
export const MAX_BAR_ROWS = 1_000_000;

/** The checked parameters of a list route. */
export interface ListOptions {
  readonly query: ListQuery;
  readonly format: ListFormat;
}

function badRequest(param: string, message: string): HttpError {
  return new HttpError(400, `${param}: ${message}`, { param });
}

/**
 * `format` (`json`, `ndjson`, `arrow`; or `Accept: application/x-ndjson` /
 * `application/vnd.apache.arrow.stream`), `limit` (JSON: 1 to 100,000, default 1,000;
 * streams: up to 100,000,000, default the whole range), `order` and `cursor`, plus the
 * table's range parameters.
 */
export function parseListOptions(
  table: ListTable,
  params: URLSearchParams,
  accept: string | null,
): ListOptions {
  const format = formatOf(params, accept);
  const range = table === "book_snapshots"
    ? parseBookSnapshotQuery(params)
    : parseRangeQuery(params);
  const max = format === "json" ? LIST_LIMITS.max : LIST_LIMITS.streamMax;
  const limitText = params.get("limit")?.trim();
  let limit: number | undefined = format === "json" ? LIST_LIMITS.default : undefined;
  if (limitText) {
    limit = /^\d+$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= max)) {
      throw badRequest("limit", `must be an integer from 1 to ${max}`);
    }
  }
  const order = params.get("order")?.trim() || "asc";
  if (order !== "asc" && order !== "desc") throw badRequest("order", `must be "asc" or "desc"`);
  const cursor = params.get("cursor")?.trim() || undefined;
  if (cursor !== undefined && !/^[A-Za-z0-9_-]{1,2048}$/.test(cursor)) {
    throw badRequest("cursor", "not a cursor returned by this API");
  }
  return { query: { ...range, limit, order, ...(cursor ? { cursor } : {}) }, format };
}

function formatOf(params: URLSearchParams, accept: string | null): ListFormat {
  const format = params.get("format")?.trim();
  if (format) {
    if (format === "json" || format === "ndjson" || format === "arrow") return format;
    throw badRequest("format", `unknown format "${format}"; use json, ndjson or arrow`);
  }
  if (accept?.includes("application/x-ndjson")) return "ndjson";
  if (accept?.includes("application/vnd.apache.arrow")) return "arrow";
  return "json";
}

/** Reads one page of `table` (the repository call of a list route). */
function read(
  repository: MarketDataRepository,
  table: ListTable,
  query: ListQuery,
): PagedResult<unknown> {
  if (table === "trades") return repository.trades(query);
  if (table === "quotes") return repository.quotes(query);
  return repository.bookSnapshots(query);
}

/** Turns a repository's `RangeError`/`TypeError` about paging (a bad cursor) into a 400. */
async function orBadCursor<T>(task: () => Promise<T>): Promise<T> {
  try {
    return await task();
  } catch (error) {
    if (error instanceof RangeError && /^cursor:/.test(error.message)) {
      throw badRequest("cursor", error.message.slice("cursor: ".length));
    }
    throw error;
  }
}

/**
 * The response of a list route: one JSON page with `x-next-cursor` and `Link` when more
 * rows follow, or an NDJSON / Arrow IPC stream of the whole range (or `limit` rows).
 */
export async function listResponse(
  repository: MarketDataRepository,
  table: ListTable,
  url: URL,
  accept: string | null,
): Promise<Response> {
  const { query, format } = parseListOptions(table, url.searchParams, accept);
  if (format !== "json") return streamResponse(repository, table, query, format);
  const page = await orBadCursor(() => read(repository, table, query).page());
  const headers: Record<string, string> = {};
  if (page.cursor !== undefined) {
    headers["x-next-cursor"] = page.cursor;
    const next = new URL(url);
    next.searchParams.set("cursor", page.cursor);
    headers["link"] = `<${next.pathname}${next.search}>; rel="next"`;
  }
  return jsonArrayResponse(page.frame.height, (from, to) => page.rowsBetween(from, to), headers);
}

/** Rows converted and written per slice of a JSON or NDJSON body. */
const SLICE_ROWS = 2_000;

/**
 * A JSON array written slice by slice ({@linkcode SLICE_ROWS} rows per read of the body):
 * a page of 100,000 rows never blocks the event loop for its whole conversion at once.
 */
export function jsonArrayResponse(
  count: number,
  slice: (from: number, to: number) => unknown[],
  headers: Record<string, string> = {},
): Response {
  const encoder = new TextEncoder();
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= count) {
        controller.enqueue(encoder.encode(count === 0 ? "[]" : "]"));
        controller.close();
        return;
      }
      const to = Math.min(count, at + SLICE_ROWS);
      const text = slice(at, to).map((row) => JSON.stringify(row)).join(",");
      controller.enqueue(encoder.encode((at === 0 ? "[" : ",") + text));
      at = to;
    },
  });
  return new Response(body, {
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/**
 * Streams a range page by page: each page is read (limit {@linkcode LIST_LIMITS.streamPage}),
 * written and released before the next is read, so memory stays one page whatever the range.
 * The first page is read before the response starts, so a bad cursor is still a 400.
 */
async function streamResponse(
  repository: MarketDataRepository,
  table: ListTable,
  query: ListQuery,
  format: "ndjson" | "arrow",
): Promise<Response> {
  let remaining = query.limit ?? Infinity;
  const pageQuery = (cursor: string | undefined): ListQuery => ({
    ...query,
    limit: Math.min(LIST_LIMITS.streamPage, remaining),
    cursor,
  });
  const result = read(repository, table, pageQuery(query.cursor));
  let page: Page<unknown> | undefined = await orBadCursor(() => result.page());
  const encoder = new TextEncoder();
  let schemaSent = false;
  let sliceAt = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Each read of the body gets bytes (or the end): pages without rows are skipped over.
      for (let sent = false; !sent;) {
        if (page === undefined) {
          if (format === "arrow") controller.enqueue(END_OF_STREAM.slice());
          controller.close();
          return;
        }
        const current = page;
        const count = current.frame.height;
        if (format === "ndjson" && sliceAt < count) {
          // One slice per read of the body, so a page never blocks the loop as a whole.
          const to = Math.min(count, sliceAt + SLICE_ROWS);
          const lines = current.rowsBetween(sliceAt, to).map((row) => JSON.stringify(row));
          controller.enqueue(encoder.encode(lines.join("\n") + "\n"));
          sent = true;
          sliceAt = to;
          if (sliceAt < count) return;
        } else if (format === "arrow") {
          const bytes = tableToIPC(await current.arrow(), "stream");
          controller.enqueue(ipcMessages(bytes, !schemaSent));
          sent = schemaSent = true;
        }
        remaining -= count;
        sliceAt = 0;
        page = current.cursor === undefined || remaining <= 0
          ? undefined
          : await read(repository, table, pageQuery(current.cursor)).page();
      }
    },
  });
  const type = format === "ndjson" ? "application/x-ndjson" : "application/vnd.apache.arrow.stream";
  return new Response(body, { headers: { "content-type": type, "cache-control": "no-store" } });
}

/** The Arrow IPC end-of-stream marker: continuation, then a zero length. */
const END_OF_STREAM = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

/**
 * The messages of one page's IPC stream to append to the response: without the schema
 * (unless `withSchema`, for the first page) and without the end-of-stream marker. Each page
 * brings its own dictionary batches, which replace the previous page's (allowed in the
 * stream format).
 */
function ipcMessages(stream: Uint8Array, withSchema: boolean): Uint8Array {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  if (view.getUint32(0, true) !== 0xffffffff) throw new Error("unexpected Arrow IPC framing");
  const from = withSchema ? 0 : 8 + view.getInt32(4, true);
  const end = stream.byteLength - END_OF_STREAM.length;
  return stream.subarray(from, end);
}

/**
 * Checks a bar result's size before it is sent: more than {@linkcode MAX_BAR_ROWS} bars is a
 * 400 naming the parameter to change (activity bars cannot be counted before they are
 * computed; time bars with an open range neither).
 */
export async function boundedBars(
  result: QueryResult<Bar>,
  param: string,
  max: number = MAX_BAR_ROWS,
): Promise<Bar[]> {
  const rows = await result.rows();
  if (rows.length > max) {
    throw badRequest(
      param,
      `the query gives ${rows.length} bars, more than ${max}; use a larger ` +
        `${param} or a shorter range`,
    );
  }
  return rows;
}

/**
 * `res` with its body wrapped so `release` runs once the body is sent to the end, fails or is
 * cancelled (a client gone): a query's slot stays taken while its rows are still being
 * read and written, not only until the headers are ready.
 */
export function holdWhileStreaming(res: Response, release: () => void): Response {
  const source = res.body;
  if (source === null) {
    release();
    return res;
  }
  let released = false;
  const done = () => {
    if (!released) {
      released = true;
      release();
    }
  };
  const reader = source.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: end, value } = await reader.read();
        if (end) {
          done();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        done();
        controller.error(error);
      }
    },
    async cancel(reason) {
      done();
      await reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}
