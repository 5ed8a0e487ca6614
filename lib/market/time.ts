/**
 * Timestamps: microseconds since the Unix epoch as a `number` (see `types.ts` for why).
 * @module
 */

/** Microseconds in one millisecond. */
export const MICROS_PER_MILLI = 1_000;
/** Microseconds in one second. */
export const MICROS_PER_SECOND = 1_000_000;

/** The earliest venue time we accept (2000-01-01), catching `0001-01-01` placeholders. */
export const MIN_VALID_MICROS: number = Date.UTC(2000, 0, 1) * MICROS_PER_MILLI;

/**
 * Parses an RFC 3339 UTC timestamp with an optional fraction of up to 9 digits
 * (`2021-04-17T16:43:37.089723Z`) to microseconds since the epoch. Digits past the sixth
 * (nanoseconds) are truncated. Returns `NaN` for text that is not such a timestamp.
 *
 * @example
 * ```ts
 * import { parseIsoMicros } from "./time.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseIsoMicros("2021-04-17T16:43:37.089723Z"), 1618677817089723);
 * ```
 */
export function parseIsoMicros(text: string): number {
  // Fixed layout: YYYY-MM-DDTHH:MM:SS[.fffffffff]Z
  if (text.length < 20 || text.charCodeAt(10) !== 84 /* T */) return NaN;
  const seconds = Date.parse(text.slice(0, 19) + "Z");
  if (Number.isNaN(seconds)) return NaN;
  let micros = 0;
  let i = 19;
  if (text.charCodeAt(i) === 46 /* . */) {
    i++;
    let scale = 100_000;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      micros += (c - 48) * scale;
      scale /= 10;
    }
    micros = Math.floor(micros);
  }
  if (i !== text.length - 1 || text.charCodeAt(i) !== 90 /* Z */) return NaN;
  return seconds * MICROS_PER_MILLI + micros;
}

/** Epoch seconds with a fraction (`1618677817.061845`) to microseconds. */
export function secondsToMicros(seconds: number): number {
  return Math.round(seconds * MICROS_PER_SECOND);
}

/** Microseconds since the epoch to a `Date` (millisecond precision). */
export function microsToDate(micros: number): Date {
  return new Date(Math.floor(micros / MICROS_PER_MILLI));
}

/** Microseconds since the epoch to ISO text with all six fraction digits. */
export function microsToIso(micros: number): string {
  const ms = Math.floor(micros / MICROS_PER_MILLI);
  const iso = new Date(ms).toISOString(); // ...SS.mmmZ
  const sub = String(micros - ms * MICROS_PER_MILLI).padStart(3, "0");
  return iso.slice(0, 23) + sub + "Z";
}

/** Current wall-clock time in microseconds (sub-millisecond from `performance`). */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * MICROS_PER_MILLI);
}

const UNITS: Record<string, number> = {
  us: 1,
  ms: 1_000,
  s: 1_000_000,
  m: 60_000_000,
  h: 3_600_000_000,
  d: 86_400_000_000,
};

/**
 * Parses a duration such as `250ms`, `1s`, `5m`, `1h`, `1d` to microseconds.
 * @throws {SyntaxError} for text that is not `<positive integer><unit>`.
 */
export function parseDuration(text: string): number {
  const m = /^(\d+)(us|ms|s|m|h|d)$/.exec(text.trim());
  if (!m || Number(m[1]) <= 0) {
    throw new SyntaxError(`invalid duration "${text}": use e.g. 500ms, 1s, 5m, 1h, 1d`);
  }
  return Number(m[1]) * UNITS[m[2]];
}
