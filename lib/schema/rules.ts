/**
 * The one set of validation rules of every store, with one vocabulary of rejection reasons
 * ({@linkcode Rejection}): the Parquet lake and the PostgreSQL buffer writer refuse the same
 * rows for the same reason. A row that fails is counted per reason and never stored (and
 * never thrown).
 *
 * The rules, checked in this order:
 *
 * 1. `exchange`: a lower-case, path-safe word (`isValidExchange`);
 * 2. `symbol`: a path-safe symbol, or `*` (connection-wide) in the event log only
 *    (`instrument.ts`);
 * 3. `ts`, `recv_ts`: integer microseconds (safe integers), at or after 2000-01-01 (no
 *    placeholder such as year 1) and at most one day after the wall clock;
 * 4. per table: a trade's non-empty `id`, `price` > 0 and `size` > 0 (finite), `side` of
 *    buy/sell/unknown; a quote's finite prices and sizes >= 0 or NaN (not given by the
 *    venue); a book's `levels` (pairs, or parallel price and size lists of equal length) of
 *    finite prices and finite sizes >= 0, and `sequence`/`checksum`/`first_sequence` that
 *    are missing or safe integers; a bar's finite prices (`price`), finite volume >= 0
 *    (`size`), positive integer `interval` and integer `trades` >= 0; a status's text
 *    `status` and `reason`; a stored row's signed 32-bit `digest`;
 * 5. an action log row ({@linkcode actionRowRejection}): source and run as exchange and
 *    symbol, `ts` an integer of microseconds from 0 (a run's clock starts at the epoch before
 *    its first event) to one day after the wall clock, and a well-formed entry (`action`).
 *
 * {@linkcode rejectionDetail} turns a reason into a human sentence for logs.
 *
 * @module
 */
import { MIN_VALID_MICROS } from "../market/time.ts";
import type { Bar, MarketEvent, Trade } from "../market/types.ts";
import { isStorableSymbol, isValidExchange } from "./instrument.ts";
import { type TableName, tableOfEvent } from "./tables.ts";

/** Why a row was refused: the same words in every store. */
export type Rejection =
  /** Not an event kind any table stores. */
  | "kind"
  | "exchange"
  | "symbol"
  | "ts"
  | "recv_ts"
  /** A stored row's digest is not a signed 32-bit integer. */
  | "digest"
  | "id"
  /** A price is not finite (or, for a trade, not > 0). */
  | "price"
  /** A size or volume is not finite, or negative (or, for a trade, not > 0). */
  | "size"
  | "side"
  /** Book levels are not lists of [price, size], or prices and sizes differ in length. */
  | "levels"
  /** A sequence, first sequence or checksum is neither missing nor a safe integer. */
  | "sequence"
  /** A status or its reason is not text. */
  | "status"
  /** A bar's interval is not a positive integer of microseconds. */
  | "interval"
  /** A bar's trade count is not an integer >= 0. */
  | "trades"
  /**
   * An action log row's action, payload, `prev` or `hash` is malformed (not text, payload not
   * a JSON object, hashes not 16 hex digits), or its `seq` not an integer >= 1.
   */
  | "action";

/** Every {@linkcode Rejection}. */
export const REJECTIONS: readonly Rejection[] = Object.freeze(
  [
    "kind",
    "exchange",
    "symbol",
    "ts",
    "recv_ts",
    "digest",
    "id",
    "price",
    "size",
    "side",
    "levels",
    "sequence",
    "status",
    "interval",
    "trades",
    "action",
  ] as const,
);

/** How far after the wall clock a time may be (clock skew), microseconds: one day. */
export const MAX_FUTURE_MICROS = 86_400_000_000;

/** The latest storable time when the wall clock reads `now` (microseconds). */
export function latestValidMicros(now: number): number {
  return now + MAX_FUTURE_MICROS;
}

/** Whether `value` is a time the stores keep (see the module documentation). */
export function isValidTime(value: unknown, latest: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= MIN_VALID_MICROS &&
    (value as number) <= latest;
}

/**
 * The header checks every row has: exchange, symbol (`*` allowed where `connectionWide`),
 * venue time and receive time, each at most `latest` (see {@linkcode latestValidMicros}).
 */
export function headerRejection(
  exchange: unknown,
  symbol: unknown,
  ts: unknown,
  recvTs: unknown,
  latest: number,
  connectionWide = false,
): Rejection | undefined {
  if (!isValidExchange(exchange)) return "exchange";
  if (!isStorableSymbol(symbol, connectionWide)) return "symbol";
  return timesRejection(ts, recvTs, latest);
}

/** The venue time and receive time of a row (see {@linkcode isValidTime}). */
export function timesRejection(
  ts: unknown,
  recvTs: unknown,
  latest: number,
): Rejection | undefined {
  if (!isValidTime(ts, latest)) return "ts";
  if (!isValidTime(recvTs, latest)) return "recv_ts";
  return undefined;
}

/** A trade's values after the header: price, size and side (the id is checked apart). */
export function tradeValuesRejection(
  price: unknown,
  size: unknown,
  side: unknown,
): Rejection | undefined {
  if (!(typeof price === "number" && price > 0 && price < Infinity)) return "price";
  if (!(typeof size === "number" && size > 0 && size < Infinity)) return "size";
  if (side !== "buy" && side !== "sell" && side !== "unknown") return "side";
  return undefined;
}

/** Whether `id` is a storable trade id: non-empty text. */
export function isValidTradeId(id: unknown): id is string {
  return typeof id === "string" && id.length > 0;
}

/** A trade (header included). */
export function tradeRejection(t: Trade, latest: number): Rejection | undefined {
  return headerRejection(t.exchange, t.symbol, t.ts, t.recvTs, latest) ??
    (isValidTradeId(t.id) ? undefined : "id") ??
    tradeValuesRejection(t.price, t.size, t.side);
}

/** A quote's prices (finite) and sizes (finite and >= 0, or NaN: not given). */
export function quoteValuesRejection(
  bidPrice: unknown,
  bidSize: unknown,
  askPrice: unknown,
  askSize: unknown,
): Rejection | undefined {
  if (!isFiniteNumber(bidPrice) || !isFiniteNumber(askPrice)) return "price";
  if (!isQuoteSize(bidSize) || !isQuoteSize(askSize)) return "size";
  return undefined;
}

/** Book levels as `[price, size]` pairs (the model's form). */
export function levelPairsRejection(levels: unknown): Rejection | undefined {
  if (!Array.isArray(levels)) return "levels";
  for (let i = 0; i < levels.length; i++) {
    const reason = levelPairRejection(levels[i]);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/**
 * One book level as a `[price, size]` pair: what {@linkcode levelPairsRejection} checks of
 * each level, for a loop that checks levels as it copies them.
 */
export function levelPairRejection(level: unknown): Rejection | undefined {
  if (!Array.isArray(level) || level.length !== 2) return "levels";
  if (!isFiniteNumber(level[0])) return "price";
  if (!isSize(level[1])) return "size";
  return undefined;
}

/** Book levels as parallel price and size lists (a stored row's form). */
export function levelListsRejection(prices: unknown, sizes: unknown): Rejection | undefined {
  if (!isNumberList(prices) || !isNumberList(sizes) || prices.length !== sizes.length) {
    return "levels";
  }
  for (let i = 0; i < prices.length; i++) {
    if (!isFiniteNumber(prices[i])) return "price";
    if (!isSize(sizes[i])) return "size";
  }
  return undefined;
}

/** Optional integers of a book row or event: each missing (`null`/`undefined`) or safe. */
export function sequenceRejection(...values: unknown[]): Rejection | undefined {
  for (const v of values) {
    if (v !== null && v !== undefined && !Number.isSafeInteger(v)) return "sequence";
  }
  return undefined;
}

/** A status and its reason (`undefined` reason allowed: stored as empty text). */
export function statusValuesRejection(status: unknown, reason: unknown): Rejection | undefined {
  if (typeof status !== "string" || (reason !== undefined && typeof reason !== "string")) {
    return "status";
  }
  return undefined;
}

/** A bar's values after the header. */
export function barValuesRejection(b: Bar): Rejection | undefined {
  if (![b.open, b.high, b.low, b.close].every(isFiniteNumber)) return "price";
  if (!isSize(b.volume)) return "size";
  if (!(Number.isSafeInteger(b.interval) && b.interval > 0)) return "interval";
  if (!(Number.isSafeInteger(b.trades) && b.trades >= 0)) return "trades";
  if (!(isFiniteNumber(b.vwap) || Number.isNaN(b.vwap))) return "price";
  return undefined;
}

/** A stored row's digest: a signed 32-bit integer. */
export function digestRejection(digest: unknown): Rejection | undefined {
  return Number.isInteger(digest) && ((digest as number) | 0) === digest ? undefined : "digest";
}

/**
 * Why `event` cannot be stored, or `undefined` when it can: the rules of its table (see the
 * module documentation). `latest` comes from {@linkcode latestValidMicros}.
 *
 * @example
 * ```ts
 * import { eventRejection, latestValidMicros } from "./rules.ts";
 * import assert from "node:assert/strict";
 * const t0 = 1_700_000_000_000_000;
 * const status = {
 *   kind: "status", exchange: "coinbase", symbol: "*", ts: t0, recvTs: t0,
 *   status: "disconnected", reason: "socket closed",
 * } as const;
 * const latest = latestValidMicros(Date.now() * 1000);
 * assert.equal(eventRejection(status, latest), undefined);
 * assert.equal(eventRejection({ ...status, kind: "quote" } as never, latest), "symbol");
 * ```
 */
export function eventRejection(event: MarketEvent, latest: number): Rejection | undefined {
  if (event === null || typeof event !== "object") return "kind";
  const spec = tableOfEvent(event.kind);
  if (spec === undefined) return "kind";
  const header = headerRejection(
    event.exchange,
    event.symbol,
    event.ts,
    event.recvTs,
    latest,
    spec.connectionWide,
  );
  if (header) return header;
  switch (event.kind) {
    case "trade":
      return (isValidTradeId(event.id) ? undefined : "id") ??
        tradeValuesRejection(event.price, event.size, event.side);
    case "quote":
      return quoteValuesRejection(event.bidPrice, event.bidSize, event.askPrice, event.askSize);
    case "book_snapshot":
      return levelPairsRejection(event.bids) ?? levelPairsRejection(event.asks) ??
        sequenceRejection(event.sequence, event.checksum);
    case "book_change":
      return levelPairsRejection(event.bids) ?? levelPairsRejection(event.asks) ??
        sequenceRejection(event.firstSequence, event.sequence, event.checksum);
    case "bar":
      return barValuesRejection(event);
    case "status":
      return statusValuesRejection(event.status, event.reason);
  }
}

/**
 * A sentence that explains `reason` for `event` in a log line (the buffer writer also keeps
 * its counts by these sentences in `WriterStats.rejected`).
 */
export function rejectionDetail(reason: Rejection, event: MarketEvent): string {
  const e = event as unknown as LooseEvent;
  switch (reason) {
    case "kind":
      return "unknown event kind";
    case "exchange":
      return e.exchange === "" ? "exchange empty" : "exchange not a lower-case path-safe word";
    case "symbol":
      return e.symbol === ""
        ? "symbol empty"
        : e.symbol === "*"
        ? "connection-wide symbol * outside the event log"
        : "symbol not path-safe";
    case "ts":
      return timeDetail(e.ts);
    case "recv_ts":
      return "receive " + timeDetail(e.recvTs);
    case "digest":
      return "digest not a signed 32-bit integer";
    case "id":
      return "trade id empty";
    case "side":
      return "side invalid";
    case "levels":
      return "levels not lists of [price, size]";
    case "sequence":
      return "sequence or checksum not an integer";
    case "status":
      return "status or reason not text";
    case "interval":
      return "bar interval invalid";
    case "trades":
      return "bar trade count invalid";
    case "action":
      return "action log entry malformed";
    case "price":
      return priceDetail(e);
    case "size":
      return sizeDetail(e);
  }
}

/** Any event's fields, read without trusting their types (a refused row may hold anything). */
interface LooseEvent {
  readonly kind?: unknown;
  readonly exchange?: unknown;
  readonly symbol?: unknown;
  readonly ts?: unknown;
  readonly recvTs?: unknown;
  readonly price?: unknown;
  readonly size?: unknown;
}

function priceDetail(e: LooseEvent): string {
  switch (e.kind) {
    case "trade":
      return Number.isNaN(e.price) ? "price NaN" : "price not positive and finite";
    case "quote":
      return "quote value not finite";
    case "bar":
      return "bar value not finite";
    default:
      return "level not finite";
  }
}

function sizeDetail(e: LooseEvent): string {
  switch (e.kind) {
    case "trade": {
      const size = e.size as number;
      return Number.isNaN(size) ? "size NaN" : size < 0 ? "size negative" : "size not positive";
    }
    case "quote":
      return "quote size negative or infinite";
    case "bar":
      return "bar volume negative or not finite";
    default:
      return "level size negative or not finite";
  }
}

function timeDetail(micros: unknown): string {
  if (typeof micros !== "number" || Number.isNaN(micros)) return "time NaN";
  if (micros < MIN_VALID_MICROS) return "time before 2000-01-01 (placeholder such as year 1)";
  if (!Number.isSafeInteger(micros)) {
    return micros === Infinity
      ? "time more than one day in the future"
      : "time is not an integer of microseconds";
  }
  return "time more than one day in the future";
}

/** The table `event` is stored in, or `undefined` (see `tables.ts`). */
export function tableNameOf(event: MarketEvent): TableName | undefined {
  return event === null || typeof event !== "object" ? undefined : tableOfEvent(event.kind)?.name;
}

/** An array, or a typed array such as `Float64Array` (read like an array). */
function isNumberList(value: unknown): value is ArrayLike<unknown> {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && value - value === 0;
}

function isQuoteSize(value: unknown): value is number {
  return isSize(value) || Number.isNaN(value);
}

function isSize(value: unknown): value is number {
  return typeof value === "number" && value >= 0 && value < Infinity;
}

/** The fields of an action log row that {@linkcode actionRowRejection} checks. */
export interface ActionRowFields {
  readonly source: unknown;
  readonly run: unknown;
  readonly seq: unknown;
  readonly ts: unknown;
  readonly action: unknown;
  readonly payload: unknown;
  readonly prev: unknown;
  readonly hash: unknown;
}

const HASH_PATTERN = /^[0-9a-f]{16}$/;

/**
 * Why an action log row cannot be stored, or `undefined`: `source` a path-safe exchange
 * word, `run` a path-safe symbol, `ts` a safe integer from 0 to `latest`, `seq` an integer
 * >= 1, `action` non-empty text, `payload` the text of a JSON object (`{...}`), `prev` and
 * `hash` 16 lower-case hex digits. The chain itself is checked by whoever reads the log
 * (`verifyActionLog`), not by the stores.
 */
export function actionRowRejection(row: ActionRowFields, latest: number): Rejection | undefined {
  if (row === null || typeof row !== "object") return "kind";
  if (!isValidExchange(row.source)) return "exchange";
  if (!isStorableSymbol(row.run, false)) return "symbol";
  if (!(Number.isSafeInteger(row.ts) && (row.ts as number) >= 0 && (row.ts as number) <= latest)) {
    return "ts";
  }
  if (!(Number.isSafeInteger(row.seq) && (row.seq as number) >= 1)) return "action";
  if (typeof row.action !== "string" || row.action.length === 0) return "action";
  const p = row.payload;
  if (typeof p !== "string" || !p.startsWith("{") || !p.endsWith("}")) return "action";
  if (typeof row.prev !== "string" || !HASH_PATTERN.test(row.prev)) return "action";
  if (typeof row.hash !== "string" || !HASH_PATTERN.test(row.hash)) return "action";
  return undefined;
}
