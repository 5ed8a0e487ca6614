/**
 * COPY text format helpers: encoding values the way PostgreSQL's `COPY ... FROM STDIN`
 * (text format) reads them, streaming a batch through npm:postgres, classifying errors.
 * @module
 */
import type postgres from "postgres";
import { MICROS_PER_SECOND } from "../market/time.ts";
import { escapeText } from "../market/event_digest.ts";

/** Anything that runs a query: the pool, a reserved connection or a transaction. */
export type Queryable = postgres.Sql | postgres.ReservedSql | postgres.TransactionSql;

/** Escapes text for a COPY text field (backslash, tab, newline, carriage return). */
export const copyText: (value: string) => string = escapeText;

/**
 * Formats microseconds since the epoch as timestamptz text (`2021-04-17 16:43:37.089723+00`).
 * Each instance caches the text of the last second, so consecutive timestamps cost one
 * concatenation: keep one formatter per column.
 */
export class TimestampFormatter {
  #second = NaN;
  #prefix = "";

  /** The COPY text of `micros`. */
  format(micros: number): string {
    const second = Math.floor(micros / MICROS_PER_SECOND);
    if (second !== this.#second) {
      this.#second = second;
      const iso = new Date(second * 1000).toISOString();
      this.#prefix = iso.slice(0, 10) + " " + iso.slice(11, 19) + ".";
    }
    const frac = micros - second * MICROS_PER_SECOND;
    return this.#prefix + (frac >= 100_000 ? String(frac) : String(frac).padStart(6, "0")) +
      "+00";
  }
}

const encoder = new TextEncoder();
const DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));

/**
 * A growable byte buffer that writes COPY text directly as UTF-8, without building one
 * string per row (the string path spends most of its time in the garbage collector).
 */
export class CopyBuffer {
  #buf = new Uint8Array(1 << 16);
  #len = 0;
  readonly #cache = new Map<string, Uint8Array>();
  #second = [NaN, NaN];
  #prefix = [new Uint8Array(17), new Uint8Array(17)];

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  /** One ASCII byte (a separator: 9 = tab, 10 = newline). */
  byte(code: number): void {
    if (this.#len === this.#buf.length) this.#ensure(1);
    this.#buf[this.#len++] = code;
  }

  /** Text that repeats (exchange, symbol, side): escaped and encoded once, then copied. */
  cached(value: string): void {
    let bytes = this.#cache.get(value);
    if (bytes === undefined) {
      bytes = encoder.encode(copyText(value));
      if (this.#cache.size > 10_000) this.#cache.clear();
      this.#cache.set(value, bytes);
    }
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  /** Any text, escaped; ASCII without special characters takes a byte loop. */
  text(value: string): void {
    const n = value.length;
    this.#ensure(n);
    const buf = this.#buf;
    let len = this.#len;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c < 32 || c > 126 || c === 92) return this.#slowText(value);
      buf[len++] = c;
    }
    this.#len = len;
  }

  #slowText(value: string): void {
    const bytes = encoder.encode(copyText(value));
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  /** A number in the shortest text that reads back to the same double. */
  number(value: number): void {
    if (value >= 0 && value < 10 && Number.isInteger(value)) {
      this.#ensure(1);
      this.#buf[this.#len++] = 48 + value;
      return;
    }
    const text = String(value);
    const n = text.length;
    this.#ensure(n);
    const buf = this.#buf;
    let len = this.#len;
    for (let i = 0; i < n; i++) buf[len++] = text.charCodeAt(i);
    this.#len = len;
  }

  /**
   * Microseconds since the epoch as timestamptz text (`2021-04-17 16:43:37.089723+00`).
   * `column` (0 or 1) selects one of two caches of the current second's text.
   */
  timestamp(micros: number, column: 0 | 1): void {
    // The text up to the minute is cached per column: one toISOString per minute.
    const second = Math.floor(micros / MICROS_PER_SECOND);
    const minute = Math.floor(second / 60);
    const prefix = this.#prefix[column];
    if (minute !== this.#second[column]) {
      this.#second[column] = minute;
      const iso = new Date(minute * 60_000).toISOString();
      encoder.encodeInto(iso.slice(0, 10) + " " + iso.slice(11, 17), prefix);
    }
    this.#ensure(29);
    const buf = this.#buf;
    let len = this.#len;
    for (let i = 0; i < 17; i++) buf[len++] = prefix[i];
    const sec = DIGITS[second - minute * 60];
    buf[len++] = sec.charCodeAt(0);
    buf[len++] = sec.charCodeAt(1);
    buf[len++] = 46; // .
    let frac = micros - second * MICROS_PER_SECOND;
    const d01 = DIGITS[Math.floor(frac / 10_000)];
    frac %= 10_000;
    const d23 = DIGITS[Math.floor(frac / 100)];
    const d45 = DIGITS[frac % 100];
    buf[len++] = d01.charCodeAt(0);
    buf[len++] = d01.charCodeAt(1);
    buf[len++] = d23.charCodeAt(0);
    buf[len++] = d23.charCodeAt(1);
    buf[len++] = d45.charCodeAt(0);
    buf[len++] = d45.charCodeAt(1);
    buf[len++] = 43; // +
    buf[len++] = 48;
    buf[len++] = 48;
    this.#len = len;
  }

  /** Appends preformatted COPY text (already escaped). */
  raw(text: string): void {
    this.#ensure(text.length * 3);
    this.#len += encoder.encodeInto(text, this.#buf.subarray(this.#len)).written;
  }

  /** Takes the bytes written so far and empties the buffer (keeping its memory). */
  take(): Uint8Array {
    const out = this.#buf.slice(0, this.#len);
    this.#len = 0;
    return out;
  }
}

/** Streams COPY text chunks into `statement` (`copy t (a, b) from stdin`); resolves when done. */
export async function copyIn(
  sql: Queryable,
  statement: string,
  chunks: readonly Uint8Array[],
): Promise<void> {
  const stream = await sql.unsafe(statement).writable();
  await new Promise<void>((resolve, reject) => {
    // `on`, not `once`: a broken connection can report more than one error.
    stream.on("error", reject);
    stream.once("finish", resolve);
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
}

/** SQLSTATE codes and npm:postgres codes that mean the server or connection is unavailable. */
const UNAVAILABLE = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
]);

/**
 * Whether an error means "the database is not reachable right now" (retry, spill), as
 * opposed to the server rejecting the data (which retrying cannot fix).
 */
export function isUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof e?.code === "string") {
    if (UNAVAILABLE.has(e.code)) return true;
    // A five-character SQLSTATE the server sent is a real answer, not an outage.
    if (/^[0-9A-Z]{5}$/.test(e.code)) return false;
  }
  const name = typeof e?.name === "string" ? e.name : "";
  const message = typeof e?.message === "string" ? e.message : "";
  return name === "ConnectionRefused" || name === "ConnectionReset" ||
    name === "BrokenPipe" || /ECONNREFUSED|ECONNRESET|EPIPE|connection/i.test(message);
}

let guards = 0;
function swallowTeardown(event: PromiseRejectionEvent): void {
  if (isUnavailable(event.reason)) event.preventDefault();
}

/**
 * npm:postgres 3.4.7 under Deno can leave a connection's teardown errors (ECONNRESET,
 * EPIPE, `57P01 terminating connection`) as unhandled rejections when the server dies in
 * the middle of a stream, which would end the process. While a guard is held, such
 * rejections (and only those: connection-unavailable errors) are ignored; the writer sees
 * the same failure through the query it awaits. Returns the release function.
 */
export function guardConnectionTeardown(): () => void {
  if (guards++ === 0) globalThis.addEventListener("unhandledrejection", swallowTeardown);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--guards === 0) globalThis.removeEventListener("unhandledrejection", swallowTeardown);
  };
}

/** SQLSTATE of a unique violation. */
export const UNIQUE_VIOLATION = "23505";
/** SQLSTATE of a check violation (also "no partition of relation found for row"). */
export const CHECK_VIOLATION = "23514";
