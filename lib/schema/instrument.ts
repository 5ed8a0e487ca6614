/**
 * What names an instrument in every store: the exchange and symbol rules, and the one
 * representation of **connection-wide** rows.
 *
 * A feed status that concerns a whole connection (a disconnect, an unreadable frame, a gap
 * in a venue's connection-wide sequence) is not about one symbol: the collectors give it
 * the symbol {@linkcode CONNECTION_WIDE} (`*`). Both stores keep it as `*`; the lake's
 * folder for it is `symbol=%2A`, the Hive (URL) encoding of `*`, which DuckDB and Polars
 * decode back to `*` when they read the lake with hive partitioning, and which
 * {@linkcode symbolFromDir} maps back for our own listings. No real symbol can collide with
 * it: a symbol starts with a letter or digit and never contains `%`.
 *
 * @module
 */

/** The symbol of a connection-wide row (a status about every symbol of a connection). */
export const CONNECTION_WIDE = "*";

/** The lake folder name (after `symbol=`) of {@linkcode CONNECTION_WIDE} rows. */
export const CONNECTION_WIDE_DIR = "%2A";

/** Exchanges are lower-case words: letters, digits, `_` and `-`. */
const EXCHANGE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Symbols are path-safe: letters, digits, `.`, `_` and `-` (`BTC-USD`, `BRK.B`). */
const SYMBOL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const validExchanges = new Map<string, boolean>();
const validSymbols = new Map<string, boolean>();

/** A pattern test memoised per name: this runs for every row written. */
function testName(cache: Map<string, boolean>, pattern: RegExp, name: unknown): name is string {
  if (typeof name !== "string") return false;
  let ok = cache.get(name);
  if (ok === undefined) {
    ok = pattern.test(name);
    if (cache.size >= 10_000) cache.clear();
    cache.set(name, ok);
  }
  return ok;
}

/** Whether `exchange` is a storable exchange name (path-safe, lower case). */
export function isValidExchange(exchange: unknown): exchange is string {
  return testName(validExchanges, EXCHANGE_PATTERN, exchange);
}

/**
 * Whether `symbol` names one instrument (path-safe: letters, digits, `.`, `_`, `-`,
 * starting with a letter or digit). {@linkcode CONNECTION_WIDE} is not one; see
 * {@linkcode isStorableSymbol}.
 */
export function isValidSymbol(symbol: unknown): symbol is string {
  return testName(validSymbols, SYMBOL_PATTERN, symbol);
}

/** Whether `symbol` is {@linkcode CONNECTION_WIDE}. */
export function isConnectionWide(symbol: unknown): boolean {
  return symbol === CONNECTION_WIDE;
}

/**
 * Whether a row with `symbol` can be stored in a table that does (`connectionWide`) or does
 * not accept connection-wide rows.
 */
export function isStorableSymbol(symbol: unknown, connectionWide: boolean): symbol is string {
  return isValidSymbol(symbol) || (connectionWide && symbol === CONNECTION_WIDE);
}

/** The lake folder name (after `symbol=`) of a storable symbol. */
export function symbolDir(symbol: string): string {
  return symbol === CONNECTION_WIDE ? CONNECTION_WIDE_DIR : symbol;
}

/**
 * The symbol of a lake folder name (after `symbol=`), or `undefined` when the folder is not
 * one the lake writes.
 */
export function symbolFromDir(name: string): string | undefined {
  if (name === CONNECTION_WIDE_DIR) return CONNECTION_WIDE;
  return isValidSymbol(name) ? name : undefined;
}
