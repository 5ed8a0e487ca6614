/**
 * The market-data query routes (`/api/instruments`, `/api/bars`, `/api/trades`,
 * `/api/quotes`, `/api/book_snapshots`) as one function of a repository and a request URL:
 * what the app runs on its own thread, and what a query worker (`query_worker.ts`) runs off
 * it. Errors come back as responses (an {@linkcode HttpError} its status, anything else 500).
 * @module
 */
import type { MarketDataRepository } from "../lib/repositories/repository.ts";
import { parseAnyBarQuery, parseInstrumentsOptions } from "./params.ts";
import { boundedBars, jsonArrayResponse, listResponse, type ListTable } from "./queries.ts";
import { HttpError, json } from "./router.ts";

/** The paths {@linkcode marketResponse} answers. */
export const MARKET_PATHS: readonly string[] = [
  "/api/instruments",
  "/api/bars",
  "/api/trades",
  "/api/quotes",
  "/api/book_snapshots",
];

const LIST_TABLES: Record<string, ListTable> = {
  "/api/trades": "trades",
  "/api/quotes": "quotes",
  "/api/book_snapshots": "book_snapshots",
};

/** The response of a market-data route (`url.pathname` one of {@linkcode MARKET_PATHS}). */
export async function marketResponse(
  repository: MarketDataRepository,
  url: URL,
  accept: string | null,
): Promise<Response> {
  try {
    return await route(repository, url, accept);
  } catch (error) {
    if (error instanceof HttpError) {
      return json({ error: error.message, ...error.details }, { status: error.status });
    }
    console.error(`GET ${url.pathname}${url.search} failed:`, error);
    return json({ error: "internal server error" }, { status: 500 });
  }
}

async function route(
  repository: MarketDataRepository,
  url: URL,
  accept: string | null,
): Promise<Response> {
  const path = url.pathname;
  const query = url.searchParams;
  if (path === "/api/instruments") {
    return json(await repository.instruments(parseInstrumentsOptions(query)));
  }
  if (path === "/api/bars") {
    const bars = parseAnyBarQuery(query);
    const rows = "time" in bars
      ? await boundedBars(repository.bars(bars.time), "interval")
      : await boundedBars(repository.activityBars(bars.activity), "threshold");
    return jsonArrayResponse(rows.length, (from, to) => rows.slice(from, to));
  }
  const table = LIST_TABLES[path];
  if (table === undefined) throw new HttpError(404, `not a market-data route: ${path}`);
  return listResponse(repository, table, url, accept);
}
