import assert from "node:assert/strict";
import {
  formatDecimal,
  microsToIso,
  normalizeSymbol,
  parseDecimal,
  parseDuration,
  parseIsoMicros,
} from "../lib/market/mod.ts";

Deno.test("symbols normalise to BASE-QUOTE", () => {
  assert.equal(normalizeSymbol("XBT/USD"), "BTC-USD");
  assert.equal(normalizeSymbol("BTCUSDT"), "BTC-USDT");
  assert.equal(normalizeSymbol("btcusdt"), "BTC-USDT");
  assert.equal(normalizeSymbol("XDG/EUR"), "DOGE-EUR");
  assert.equal(normalizeSymbol("ETH-USD"), "ETH-USD");
  assert.equal(normalizeSymbol("SPY"), "SPY");
});

Deno.test("decimals: exact up to 15 significant digits, rejected beyond or malformed", () => {
  assert.equal(parseDecimal("0.00001305"), 0.00001305);
  assert.equal(parseDecimal("45285.20000000"), 45285.2);
  assert.equal(parseDecimal("123456789012345"), 123456789012345);
  assert.ok(Number.isNaN(parseDecimal("1234567890123456")));
  assert.ok(Number.isNaN(parseDecimal("0.-10000")));
  for (const bad of ["", "-", ".", "1.", ".5", "1e5", " 1", "1,5", "NaN", "Infinity"]) {
    assert.ok(Number.isNaN(parseDecimal(bad)), bad);
  }
  assert.ok(Number.isNaN(parseDecimal(undefined as unknown as string)));
  // Distinct prices never collide, and format back to the venue's text.
  assert.equal(formatDecimal(parseDecimal("0.10000000"), 8), "0.10000000");
  assert.notEqual(parseDecimal("64000.00000001"), parseDecimal("64000.00000002"));
});

Deno.test("time: ISO text to microseconds and back, nanoseconds truncated", () => {
  assert.equal(parseIsoMicros("2021-04-17T16:43:37.089723Z"), 1_618_677_817_089_723);
  assert.equal(parseIsoMicros("2021-04-17T16:43:37.089723456Z"), 1_618_677_817_089_723);
  assert.equal(parseIsoMicros("2021-04-17T16:43:37Z"), 1_618_677_817_000_000);
  assert.ok(Number.isNaN(parseIsoMicros("2021-04-17 16:43:37Z")));
  assert.ok(Number.isNaN(parseIsoMicros("garbage")));
  assert.equal(microsToIso(1_618_677_817_089_723), "2021-04-17T16:43:37.089723Z");
  assert.equal(parseDuration("1m"), 60_000_000);
  assert.throws(() => parseDuration("1 minute"), SyntaxError);
});
