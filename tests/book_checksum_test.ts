import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { krakenChecksum, OrderBook } from "../lib/book/mod.ts";
import { parseDecimal } from "../lib/market/decimal.ts";

/** Kraken's algorithm on text, with `node:zlib`'s CRC-32: the independent reference. */
function reference(book: OrderBook, priceDecimals: number, sizeDecimals: number): number {
  const text = (value: number, decimals: number) =>
    value.toFixed(decimals).replace(".", "").replace(/^0+/, "");
  let all = "";
  for (const [levels] of [[book.top(10).asks], [book.top(10).bids]]) {
    for (const [price, size] of levels) {
      all += text(price, priceDecimals) + text(size, sizeDecimals);
    }
  }
  return crc32(all);
}

Deno.test("krakenChecksum matches the text algorithm for numbers of every length", () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  for (let round = 0; round < 2000; round++) {
    const priceDecimals = Math.floor(rnd() * 11);
    const sizeDecimals = Math.floor(rnd() * 11);
    // Values from 1 digit to 15 significant digits (some past 2^53 once scaled).
    const value = (decimals: number) => {
      const digits = 1 + Math.floor(rnd() * 15);
      const int = Math.floor(rnd() * 10 ** digits);
      return parseDecimal((Math.max(int, 1) / 10 ** decimals).toFixed(decimals));
    };
    const book = new OrderBook();
    const n = 1 + Math.floor(rnd() * 15);
    for (let i = 0; i < n; i++) {
      book.update("bid", value(priceDecimals), value(sizeDecimals));
      book.update("ask", value(priceDecimals), value(sizeDecimals));
    }
    // Past 2^53 once scaled: the toFixed fallback.
    if (round % 10 === 0) book.update("bid", 2 ** 60, 1);
    assert.equal(
      krakenChecksum(book, { priceDecimals, sizeDecimals }),
      reference(book, priceDecimals, sizeDecimals),
      `round ${round}`,
    );
  }
  assert.throws(
    () => krakenChecksum(new OrderBook(), { priceDecimals: 1.5, sizeDecimals: 8 }),
    RangeError,
  );
});
