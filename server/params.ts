/**
 * Query parameters of the API and stream routes, validated into the repository's query
 * types. Every problem becomes a 400 {@linkcode HttpError} naming the parameter.
 * @module
 */
import { MIN_VALID_MICROS, parseDuration, parseIsoMicros } from "../lib/market/time.ts";
import { normalizeSymbol } from "../lib/market/symbols.ts";
import type { MarketEventKind } from "../lib/market/types.ts";
import {
  type ActivityBarQuery,
  type ActivityMeasure,
  type BarQuery,
  type BookSnapshotQuery,
  INSTRUMENT_TABLES,
  type InstrumentsOptions,
  isInstrumentTable,
  type RangeQuery,
} from "../lib/repositories/repository.ts";
import type { StreamFilter } from "./hub.ts";
import { HttpError } from "./router.ts";

const EVENT_KINDS: ReadonlySet<string> = new Set<MarketEventKind>([
  "trade",
  "quote",
  "book_snapshot",
  "book_change",
  "bar",
  "status",
]);

/**
 * Latest time we accept, epoch microseconds: 2^53 - 1 (in the year 2255), the last integer a
 * double holds exactly. Text beyond it would be rounded (`9007199254740993` reads as 2^53).
 */
const MAX_MICROS = Number.MAX_SAFE_INTEGER;

function badRequest(param: string, message: string): HttpError {
  return new HttpError(400, `${param}: ${message}`, { param });
}

/**
 * Parses a time parameter: epoch microseconds (`1618677817089723`) or ISO 8601
 * (`2021-04-17T16:43:37.089723Z`, `2021-04-17`, `2021-04-17T18:00:00+02:00`).
 * @throws {HttpError} 400 for anything else, with a hint when the number looks like
 * seconds or milliseconds.
 */
export function parseTimeParam(param: string, text: string): number {
  const value = text.trim();
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n < MIN_VALID_MICROS || n > MAX_MICROS) {
      const hint = n < 1e11
        ? " (this looks like seconds)"
        : n < 1e14
        ? " (this looks like milliseconds)"
        : "";
      throw badRequest(
        param,
        `"${value}" is not epoch microseconds from 2000-01-01 to ${MAX_MICROS}${hint}; ` +
          `use microseconds or ISO 8601 such as 2021-04-17T16:00:00Z`,
      );
    }
    return n;
  }
  const calendar = calendarProblem(value);
  if (calendar !== undefined) throw badRequest(param, `"${value}" ${calendar}`);
  let micros = parseIsoMicros(value);
  if (
    Number.isNaN(micros) && /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)
  ) {
    const ms = Date.parse(value.length === 10 ? value + "T00:00:00Z" : value.replace(" ", "T"));
    micros = ms * 1000;
  }
  if (!Number.isFinite(micros)) {
    throw badRequest(
      param,
      `"${value}" is not a time; use ISO 8601 (2021-04-17T16:00:00Z) or epoch microseconds`,
    );
  }
  if (micros > MAX_MICROS) {
    throw badRequest(param, `"${value}" is after the year 2255 (not exact in microseconds)`);
  }
  return micros;
}

/**
 * Why the date and time fields of ISO text are out of range (`Date.parse` rolls
 * `2021-02-30` over to March 2 instead of refusing it), or `undefined` when they are fine
 * or the text is not ISO-like (then it fails to parse later).
 */
function calendarProblem(text: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(text);
  if (m === null) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12) return `has no month ${m[2]}`;
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > days) return `is not a date: ${m[1]}-${m[2]} has ${days} days`;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59)) {
    return "is not a time of day (hours 00-23, minutes and seconds 00-59)";
  }
  return undefined;
}

function required(query: URLSearchParams, param: string): string {
  const value = query.get(param)?.trim();
  if (!value) throw badRequest(param, "required");
  return value;
}

function exchangeOf(text: string, param: string): string {
  const value = text.trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9_.-]{0,63}$/.test(value)) {
    throw badRequest(param, `"${text}" is not a venue name such as coinbase`);
  }
  return value;
}

function symbolOf(text: string, param: string): string {
  const value = text.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9/_:.-]{0,63}$/.test(value)) {
    throw badRequest(param, `"${text}" is not a symbol such as BTC-USD`);
  }
  return normalizeSymbol(value);
}

/** `exchange`, `symbol`, `start`, `end` (start before end) as a {@linkcode RangeQuery}. */
export function parseRangeQuery(query: URLSearchParams): RangeQuery {
  const exchange = exchangeOf(required(query, "exchange"), "exchange");
  const symbol = symbolOf(required(query, "symbol"), "symbol");
  const startText = query.get("start");
  const endText = query.get("end");
  const start = startText ? parseTimeParam("start", startText) : undefined;
  const end = endText ? parseTimeParam("end", endText) : undefined;
  if (start !== undefined && end !== undefined && start >= end) {
    throw badRequest("end", "must be after start");
  }
  return {
    exchange,
    symbol,
    ...(start !== undefined ? { start } : {}),
    ...(end !== undefined ? { end } : {}),
  };
}

/** Most bars one request may ask for when both ends are given. */
export const MAX_BARS = 1_000_000;

/** A {@linkcode RangeQuery} plus `interval` (default `1m`, e.g. `1s`, `5m`, `1h`, `1d`). */
export function parseBarQuery(query: URLSearchParams): BarQuery {
  const range = parseRangeQuery(query);
  const intervalText = query.get("interval")?.trim() || "1m";
  let interval: number;
  try {
    interval = parseDuration(intervalText);
  } catch (error) {
    throw badRequest("interval", (error as Error).message);
  }
  if (!Number.isSafeInteger(interval)) {
    throw badRequest("interval", `"${intervalText}" is too long`);
  }
  if (range.start !== undefined && range.end !== undefined) {
    const bars = (range.end - range.start) / interval;
    if (bars > MAX_BARS) {
      throw badRequest(
        "interval",
        `the range holds up to ${Math.ceil(bars)} bars of ${intervalText}, more than ` +
          `${MAX_BARS}; use a larger interval or a shorter range`,
      );
    }
  }
  return { ...range, interval };
}

const ACTIVITY_MEASURES: readonly ActivityMeasure[] = ["ticks", "volume", "dollars"];

/**
 * The bar query of `/api/bars`: time bars ({@linkcode parseBarQuery}) unless `by` is given,
 * then tick, volume or dollar bars: `by=ticks|volume|dollars` with a positive `threshold`
 * (a whole number for `ticks`); `interval` is then not allowed.
 */
export function parseAnyBarQuery(
  query: URLSearchParams,
): { time: BarQuery } | { activity: ActivityBarQuery } {
  const by = query.get("by")?.trim();
  if (!by) {
    if (query.has("threshold")) throw badRequest("threshold", "only with by=ticks|volume|dollars");
    return { time: parseBarQuery(query) };
  }
  if (!(ACTIVITY_MEASURES as readonly string[]).includes(by)) {
    throw badRequest("by", `unknown measure "${by}"; use ${ACTIVITY_MEASURES.join(", ")}`);
  }
  if (query.has("interval")) throw badRequest("interval", `not allowed with by=${by}`);
  const thresholdText = required(query, "threshold");
  const threshold = /^\d+(\.\d+)?([eE][+-]?\d+)?$/.test(thresholdText)
    ? Number(thresholdText)
    : NaN;
  if (!(threshold > 0 && Number.isFinite(threshold))) {
    throw badRequest("threshold", `"${thresholdText}" is not a positive number`);
  }
  if (by === "ticks" && !Number.isSafeInteger(threshold)) {
    throw badRequest("threshold", "must be a whole number of trades for by=ticks");
  }
  return { activity: { ...parseRangeQuery(query), by: by as ActivityMeasure, threshold } };
}

/** Most levels per side `/api/book_snapshots` may ask for. */
export const MAX_BOOK_DEPTH = 1_000;

/** A {@linkcode RangeQuery} plus an optional `depth` (levels per side, 1 to 1,000). */
export function parseBookSnapshotQuery(query: URLSearchParams): BookSnapshotQuery {
  const range = parseRangeQuery(query);
  const depthText = query.get("depth")?.trim();
  if (!depthText) return range;
  const depth = /^\d+$/.test(depthText) ? Number(depthText) : NaN;
  if (!(depth >= 1 && depth <= MAX_BOOK_DEPTH)) {
    throw badRequest("depth", `must be an integer from 1 to ${MAX_BOOK_DEPTH}`);
  }
  return { ...range, depth };
}

/** `table` of `/api/instruments`: `trades` (the default), `quotes` or `book_snapshots`. */
export function parseInstrumentsOptions(query: URLSearchParams): InstrumentsOptions {
  const table = query.get("table")?.trim();
  if (!table) return {};
  if (!isInstrumentTable(table)) {
    throw badRequest("table", `unknown table "${table}"; use ${INSTRUMENT_TABLES.join(", ")}`);
  }
  return { table };
}

/** Options of the list routes (`/api/trades`, `/api/quotes`, `/api/book_snapshots`). */
export interface TradeListOptions {
  /** Most rows returned (default 1,000, at most 100,000). */
  readonly limit: number;
  /** `asc`: the first trades of the range, oldest first; `desc`: the latest, newest first. */
  readonly order: "asc" | "desc";
}

/** Default and maximum `limit` of `/api/trades`. */
export const TRADE_LIMITS = { default: 1_000, max: 100_000 } as const;

/** `limit` and `order` of the list routes. */
export function parseTradeListOptions(query: URLSearchParams): TradeListOptions {
  const limitText = query.get("limit")?.trim();
  let limit: number = TRADE_LIMITS.default;
  if (limitText) {
    limit = /^\d+$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= TRADE_LIMITS.max)) {
      throw badRequest("limit", `must be an integer from 1 to ${TRADE_LIMITS.max}`);
    }
  }
  const order = query.get("order")?.trim() || "asc";
  if (order !== "asc" && order !== "desc") throw badRequest("order", `must be "asc" or "desc"`);
  return { limit, order };
}

function list(query: URLSearchParams, param: string): string[] | undefined {
  const values = query.getAll(param).flatMap((v) => v.split(",")).map((v) => v.trim())
    .filter((v) => v !== "");
  return values.length ? values : undefined;
}

/**
 * The stream filter: `exchange` and `symbol` (comma-separated or repeated) and
 * `kinds=trade,quote` (`trade`, `quote`, `book_snapshot`, `book_change`, `bar`, `status`).
 * Absent parameters mean "any".
 */
export function parseStreamFilter(query: URLSearchParams): StreamFilter {
  const exchanges = list(query, "exchange")?.map((e) => exchangeOf(e, "exchange"));
  const symbols = list(query, "symbol")?.map((s) => symbolOf(s, "symbol"));
  const kinds = list(query, "kinds") ?? list(query, "kind");
  for (const kind of kinds ?? []) {
    if (!EVENT_KINDS.has(kind)) {
      throw badRequest("kinds", `unknown kind "${kind}"; use ${[...EVENT_KINDS].join(", ")}`);
    }
  }
  return {
    ...(exchanges ? { exchanges: new Set(exchanges) } : {}),
    ...(symbols ? { symbols: new Set(symbols) } : {}),
    ...(kinds ? { kinds: new Set(kinds as MarketEventKind[]) } : {}),
  };
}
