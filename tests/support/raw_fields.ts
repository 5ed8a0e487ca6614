/**
 * Reading a venue frame's raw values for tests, independently of the code under test
 * (`lib/market/decimal.ts`, `lib/market/time.ts`): decimal text through `Number`, ISO times
 * through `Date.UTC` and the fraction's digits, epoch-seconds text by its digits. A test
 * compares an adapter's events with what these read from the same frame.
 * @module
 */

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$/;

/**
 * `YYYY-MM-DDTHH:MM:SS[.fraction]Z` to epoch microseconds, the fraction cut (not rounded)
 * after six digits, as the venues' nanosecond times are stored.
 */
export function isoTextMicros(text: string): number {
  const m = ISO.exec(text);
  if (m === null) throw new TypeError(`not an ISO UTC time: ${text}`);
  const [, y, mo, d, h, mi, s, fraction = ""] = m;
  const ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  return ms * 1_000 + Number(fraction.slice(0, 6).padEnd(6, "0"));
}

/** Epoch seconds text with at most six decimals (`"1618678142.557535"`) to microseconds. */
export function secondsTextMicros(text: string): number {
  const [int, fraction = ""] = text.split(".");
  if (!/^\d+$/.test(int) || !/^\d{0,6}$/.test(fraction)) {
    throw new TypeError(`not epoch seconds with at most 6 decimals: ${text}`);
  }
  return Number(int) * 1_000_000 + Number(fraction.padEnd(6, "0"));
}

/** Epoch microseconds to ISO text with six fraction digits (for building venue frames). */
export function microsIsoText(micros: number): string {
  const seconds = Math.floor(micros / 1_000_000);
  const fraction = String(micros - seconds * 1_000_000).padStart(6, "0");
  return new Date(seconds * 1_000).toISOString().replace(".000Z", `.${fraction}Z`);
}

/** A decimal text as a number; throws on anything `Number` does not read as finite. */
export function decimalText(text: unknown): number {
  const n = typeof text === "string" && text.trim() === text && text !== "" ? Number(text) : NaN;
  if (!Number.isFinite(n)) throw new TypeError(`not a decimal text: ${String(text)}`);
  return n;
}

/** `[[price, size, ...], ...]` decimal texts as `[price, size]` numbers. */
export function textLevels(raw: readonly (readonly unknown[])[]): [number, number][] {
  return raw.map((l) => [decimalText(l[0]), decimalText(l[1])]);
}
