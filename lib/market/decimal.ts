/**
 * Decimal text from venues to doubles, without silent precision loss.
 * @module
 */

/** Most significant digits a decimal may have and still round-trip through a double. */
export const MAX_SIGNIFICANT_DIGITS = 15;

/**
 * Parses a venue's decimal text (`"0.00001305"`, `"45285.2"`) to a double. Returns `NaN`
 * for anything that is not a plain finite decimal (`"0.-10000"`, `"1e5"`, `""`, `" 1"`) or
 * that has more than {@linkcode MAX_SIGNIFICANT_DIGITS} significant digits, so callers
 * count it as bad input instead of storing a rounded value.
 *
 * @example
 * ```ts
 * import { parseDecimal } from "./decimal.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseDecimal("0.00001305"), 0.00001305);
 * assert.ok(Number.isNaN(parseDecimal("0.-10000")));
 * ```
 */
export function parseDecimal(text: string): number {
  if (typeof text !== "string") return NaN; // untyped JSON input reaches here
  const n = text.length;
  if (n === 0 || n > 40) return NaN;
  let i = text.charCodeAt(0) === 45 ? 1 : 0; // leading '-'
  if (i === n) return NaN;
  let digits = 0;
  let leading = true;
  let dot = false;
  let lastNonZero = 0; // significant digits counted up to the last non-zero digit
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (dot) return NaN;
      dot = true;
      continue;
    }
    if (c < 48 || c > 57) return NaN;
    if (leading && c === 48) continue;
    leading = false;
    digits++;
    if (c !== 48 || !dot) lastNonZero = digits;
  }
  const last = text.charCodeAt(n - 1);
  if (last === 46 || text.charCodeAt(text.charCodeAt(0) === 45 ? 1 : 0) === 46) return NaN;
  // Trailing zeros after the point carry no information; integer zeros do count.
  if (lastNonZero > MAX_SIGNIFICANT_DIGITS) return NaN;
  return +text;
}

/**
 * Formats a double with exactly `decimals` digits after the point, the text a venue would
 * have sent for an instrument with that precision (`formatDecimal(0.1, 8)` is
 * `"0.10000000"`). Exact for values parsed by {@linkcode parseDecimal}.
 */
export function formatDecimal(value: number, decimals: number): string {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 20) {
    throw new RangeError(`decimals must be an integer in 0..20, got ${decimals}`);
  }
  return value.toFixed(decimals);
}
