/**
 * The collector config file of `deno task collect --config FILE.json`: several venues in one
 * process, one collector (one connection) each, feeding one lake.
 *
 * ```json
 * {
 *   "lake": "data/lake",
 *   "metricsPort": 9464,
 *   "record": "data/recordings",
 *   "venues": [
 *     { "exchange": "coinbase", "symbols": ["BTC-USD", "ETH-USD"] },
 *     { "exchange": "kraken", "symbols": ["BTC-USD"], "channels": ["book-100", "trade"] },
 *     { "exchange": "binance", "symbols": ["BTC-USDT"], "url": "wss://...", "restUrl": "https://..." }
 *   ]
 * }
 * ```
 * @module
 */
import { VENUES } from "../venues/mod.ts";

/**
 * What a collector stores in the lake without book changes: for venues whose feed sends no
 * level-2 changes, and with `--no-book-changes`. Venues that send them
 * (`VenueSpec.bookChanges`) store every kind. Venue bars (Alpaca's) are few and go to the
 * lake's `bars` table.
 */
export const LAKE_KINDS_BY_DEFAULT = ["trade", "quote", "book_snapshot", "bar", "status"] as const;

/**
 * The sink queue's capacity (events) of a collector storing book changes in the lake (the
 * default for venues that send them, `VenueSpec.bookChanges`). Book changes are most of a
 * feed's messages; in a flood the lake writes them more slowly than they arrive and the
 * queue fills. With the raw transport (the default) the collector then stops reading the
 * venue until a flush made room (TCP flow control holds the rest in the kernel's and the
 * venue's buffers): nothing is dropped, and what the collector holds stays within this
 * capacity, so it bounds memory, not what is stored. Only with `transport: "native"` (the
 * runtime's `WebSocket` cannot stop reading), or after a pause of `MAX_READ_PAUSE_MS`
 * (`read_pauses.ts`), are book changes dropped past it, before trades (counted, a `gap`
 * status per instrument).
 *
 * Before the pauses, the low figures of `collect_rss_10x1000_book_changes` (`deno task bench
 * collect`: 145-157 MB with 50,000 against 195 MB with 200,000) were reached while the
 * queue dropped 81 % of the flood's book changes (243,812 of 300,011, 56,199 rows stored).
 * With the pauses every one of the 300,011 is stored and the peak was 172.7-187.3 MB over
 * 5 runs (load average 5-12 on 2 cores; the same stream without book changes: 140-144 MB);
 * 20,000 events did no better (177-189 MB, the flood taking twice as long), so what is
 * left above the run without book changes is the lake's writes, not the queue.
 */
export const BOOK_CHANGES_QUEUE_CAPACITY = 50_000;

/** One venue of a config file. */
export interface VenueConfig {
  /** Venue name, one of `VENUES`. */
  readonly exchange: string;
  /** Canonical symbols. */
  readonly symbols: readonly string[];
  /** Venue channels (the venue's defaults when omitted). */
  readonly channels?: readonly string[];
  /** Websocket URL (the venue's public feed when omitted). */
  readonly url?: string;
  /** REST base URL (Binance snapshots; the venue's public API when omitted). */
  readonly restUrl?: string;
  /** Watchdog: restart a connection silent this long, ms. */
  readonly watchdogMs?: number;
  /** Websocket client: `raw` (default, our RFC 6455 client) or `native` (`WebSocket`). */
  readonly transport?: "raw" | "native";
}

/** A parsed config file. */
export interface CollectConfig {
  /** Parquet lake root. */
  readonly lake?: string;
  /** Metrics endpoint: a port, or `HOST:PORT`. */
  readonly metricsPort?: number | string;
  /** Recording directory. */
  readonly record?: string;
  /** Stop after this long (`60s`). */
  readonly duration?: string;
  readonly venues: readonly VenueConfig[];
}

const TOP_KEYS = new Set(["lake", "metricsPort", "record", "duration", "venues"]);
const VENUE_KEYS = new Set([
  "exchange",
  "symbols",
  "channels",
  "url",
  "restUrl",
  "watchdogMs",
  "transport",
]);

/**
 * Parses and checks a config file's text. `source` names the file in error messages.
 *
 * @example
 * ```ts
 * import { parseCollectConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 * const config = parseCollectConfig(
 *   '{"venues":[{"exchange":"coinbase","symbols":["BTC-USD"]}]}',
 *   "collect.json",
 * );
 * assert.equal(config.venues[0].exchange, "coinbase");
 * assert.throws(() => parseCollectConfig('{"venues":[]}', "collect.json"), SyntaxError);
 * ```
 * @throws {SyntaxError} naming the file and the offending field, for anything invalid.
 */
export function parseCollectConfig(text: string, source: string): CollectConfig {
  const fail = (message: string): never => {
    throw new SyntaxError(`${source}: ${message}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail(`not valid JSON (${(error as Error).message})`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return fail('expected a JSON object like {"venues": [...]}');
  }
  const top = json as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (!TOP_KEYS.has(key)) fail(`unknown key "${key}" (expected ${[...TOP_KEYS].join(", ")})`);
  }
  const optionalString = (value: unknown, where: string) => nonEmpty(value, where, fail);
  const metricsPort = top.metricsPort;
  if (
    metricsPort !== undefined &&
    !(typeof metricsPort === "string" && metricsPort.length > 0) &&
    !(Number.isInteger(metricsPort) && (metricsPort as number) >= 0 &&
      (metricsPort as number) <= 65_535)
  ) {
    fail('"metricsPort" must be a port number 0..65535 or "HOST:PORT"');
  }
  if (!Array.isArray(top.venues) || top.venues.length === 0) {
    fail('"venues" must be a non-empty array of {"exchange", "symbols", ...}');
  }
  const seen = new Set<string>();
  const venues = (top.venues as unknown[]).map((raw, i) => parseVenue(raw, i, seen, fail));
  return {
    lake: optionalString(top.lake, '"lake"'),
    metricsPort: metricsPort as number | string | undefined,
    record: optionalString(top.record, '"record"'),
    duration: optionalString(top.duration, '"duration"'),
    venues,
  };
}

/** One entry of `venues` (`seen`: the exchanges of the entries before it). */
function parseVenue(
  raw: unknown,
  i: number,
  seen: Set<string>,
  fail: (message: string) => never,
): VenueConfig {
  const where = `venues[${i}]`;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return fail(`${where} must be an object`);
  }
  const v = raw as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (!VENUE_KEYS.has(key)) {
      fail(`${where}: unknown key "${key}" (expected ${[...VENUE_KEYS].join(", ")})`);
    }
  }
  const exchange = v.exchange;
  if (typeof exchange !== "string" || !(exchange in VENUES)) {
    fail(
      `${where}.exchange must be one of ${Object.keys(VENUES).join(", ")}, got ${
        JSON.stringify(exchange)
      }`,
    );
  }
  if (seen.has(exchange as string)) {
    fail(`${where}: "${exchange}" appears twice: list all its symbols in one entry`);
  }
  seen.add(exchange as string);
  const symbols = stringList(v.symbols, `${where}.symbols`, fail, true)!;
  const channels = stringList(v.channels, `${where}.channels`, fail, false);
  const url = nonEmpty(v.url, `${where}.url`, fail);
  if (url !== undefined && !/^wss?:\/\//.test(url)) {
    fail(`${where}.url must start with ws:// or wss://, got "${url}"`);
  }
  const restUrl = nonEmpty(v.restUrl, `${where}.restUrl`, fail);
  if (restUrl !== undefined && !/^https?:\/\//.test(restUrl)) {
    fail(`${where}.restUrl must start with http:// or https://, got "${restUrl}"`);
  }
  const watchdogMs = v.watchdogMs;
  if (watchdogMs !== undefined && !(Number.isInteger(watchdogMs) && (watchdogMs as number) > 0)) {
    fail(`${where}.watchdogMs must be a positive integer (milliseconds)`);
  }
  const transport = v.transport;
  if (transport !== undefined && transport !== "raw" && transport !== "native") {
    fail(`${where}.transport must be "raw" or "native"`);
  }
  return {
    exchange: exchange as string,
    symbols,
    ...(channels === undefined ? {} : { channels }),
    ...(url === undefined ? {} : { url }),
    ...(restUrl === undefined ? {} : { restUrl }),
    ...(watchdogMs === undefined ? {} : { watchdogMs: watchdogMs as number }),
    ...(transport === undefined ? {} : { transport: transport as "raw" | "native" }),
  };
}

/** `value` when a non-empty string, `undefined` when absent; else `fail`s. */
function nonEmpty(
  value: unknown,
  where: string,
  fail: (message: string) => never,
): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0) {
    fail(`${where} must be a non-empty string`);
  }
  return value as string;
}

function stringList(
  value: unknown,
  where: string,
  fail: (message: string) => never,
  required: boolean,
): string[] | undefined {
  if (value === undefined && !required) return undefined;
  if (
    !Array.isArray(value) || value.length === 0 ||
    !value.every((s) => typeof s === "string" && s.length > 0)
  ) {
    return fail(`${where} must be a non-empty array of strings`);
  }
  return value as string[];
}
