/**
 * Parsing steps every venue adapter shares: a frame to a JSON object, and `[price, size]`
 * level arrays to exact {@linkcode PriceLevel}s.
 * @module
 */
import { parseDecimal } from "../../lib/market/decimal.ts";
import type { PriceLevel } from "../../lib/market/types.ts";
import type { VenueDiagnostics } from "./venue.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * Parses a frame that must be a JSON object; counts `malformed JSON` or `frame is not a
 * JSON object` and returns `undefined` otherwise.
 */
export function parseJsonObject(frame: string, diagnostics: VenueDiagnostics): Json | undefined {
  let msg: Json;
  try {
    msg = JSON.parse(frame);
  } catch {
    diagnostics.error("malformed JSON", frame);
    return undefined;
  }
  if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
    diagnostics.error("frame is not a JSON object", frame);
    return undefined;
  }
  return msg;
}

/**
 * Parses `[[price, size, ...], ...]` (decimal text) into levels; `undefined` when any level
 * has a price that is not positive or a size that is negative or not a decimal.
 */
export function parseLevels(raw: unknown): PriceLevel[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: PriceLevel[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const price = parseDecimal(raw[i]?.[0]);
    const size = parseDecimal(raw[i]?.[1]);
    if (!(price > 0) || !(size >= 0)) return undefined;
    out[i] = [price, size];
  }
  return out;
}
